// Invalid input: refused with a clear StorageError in German and English, before anything is written.
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { newSharedStore, openDevice } from '../../support/store-fixture';
import { rejection } from '../../support/storage-error';
import { walk } from '../../support/temp';

describe('invalid input', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const refused: [string, (r: PracticeReplica) => Promise<unknown>, RegExp][] = [
    ['a collection with capitals', (r) => r.put('Clients', 'k', {}), /collection/],
    ['an empty collection', (r) => r.put('', 'k', {}), /collection/],
    ['an id with a slash', (r) => r.put('clients', 'a/b', {}), /id/],
    ['an id of 129 characters', (r) => r.put('clients', 'x'.repeat(129), {}), /id/],
    ['an array as data', (r) => r.put('clients', 'k2', [] as never), /JSON object/],
    ['NaN in the data', (r) => r.put('clients', 'k2', { n: NaN }), /JSON/],
    ['a function in the data', (r) => r.put('clients', 'k2', { f: (() => 1) as never }), /JSON/],
    ['a Date in the data', (r) => r.put('clients', 'k2', { d: new Date() as never }), /JSON/],
    ['data that contains itself', (r) => r.put('clients', 'k2', cyclic as never), /itself/],
    ['a __proto__ key', (r) => r.put('clients', 'k2', JSON.parse('{"__proto__": {"admin": true}}')), /__proto__/],
    ['a constructor key', (r) => r.put('clients', 'k2', { constructor: 1 }), /constructor/],
    ['data over 1 MiB', (r) => r.put('clients', 'k2', { big: 'x'.repeat(1024 * 1024) }), /1 MiB/],
    ['a baseVersion that is no version', (r) => r.put('clients', 'k1', { a: 1 }, { baseVersion: 'not-a-version' }), /version/],
    ['an attachment without a file name', (r) => r.putAttachment(new Uint8Array(3), { name: '', mediaType: 'application/pdf' }), /file name/],
    ['an attachment with a bad media type', (r) => r.putAttachment(new Uint8Array(3), { name: 'a.pdf', mediaType: 'pdf' }), /media type/],
    ['an attachment reference out of the folder', (r) => r.getAttachment({ id: '../../etc/passwd', name: 'x', mediaType: 'a/b', size: 1 }), /attachment reference/],
  ];

  test.each(refused)('%s is refused before anything is written', async (_what, call, re) => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'k1', { name: 'Anna' });
    const journal = () => walk(d.localRoot).filter((f) => f.startsWith('journal')).length + walk(d.localRoot).filter((f) => f.includes('/log/')).length;
    const before = journal();
    const e = await rejection(call(d.replica));
    expect(e.code).toBe('invalid-input');
    expect(e.text.en).toMatch(re);
    expect(journal()).toBe(before);
    expect((await d.replica.get('clients', 'k1'))!.data).toEqual({ name: 'Anna' });
    await d.store.close();
  });

  test('a closed replica refuses with closed', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'k1', { name: 'Anna' });
    await d.store.close();
    await expect(d.replica.get('clients', 'k1')).rejects.toMatchObject({ code: 'closed' });
  });

  test('a stale baseVersion is refused with version-mismatch naming the current version', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    const v1 = await d.replica.put('clients', 'k1', { n: 1 });
    const v2 = await d.replica.put('clients', 'k1', { n: 2 }, { baseVersion: v1.version });
    const e = await rejection(d.replica.put('clients', 'k1', { n: 3 }, { baseVersion: v1.version }));
    expect(e.code).toBe('version-mismatch');
    expect(e.details?.currentVersion).toBe(v2.version);
    expect(e.text.de).toContain(v2.version);
    await expect(d.replica.remove('clients', 'k1', { baseVersion: v1.version })).rejects.toMatchObject({ code: 'version-mismatch' });
    expect((await d.replica.get('clients', 'k1'))!.data).toEqual({ n: 2 });
    await d.store.close();
  });
});
