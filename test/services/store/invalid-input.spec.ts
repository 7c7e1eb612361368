// Bad input and faults: a clear StorageError in German and English, and nothing acknowledged is lost.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { StorageError } from '../../../src/host-api/storage';
import { createHeader, unwrapStoreKey } from '../../../src/services/crypto/store-crypto';
import { ReplicaFolder } from '../../../src/services/store/replica-folder';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { TEST_KDF, newSharedStore, openDevice } from '../../support/store-fixture';
import { badFileCorpus } from '../../reliability/faults';
import { tempDir, walk } from '../../support/temp';

async function rejection(p: Promise<unknown>): Promise<StorageError> {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  expect(StorageError.is(e)).toBe(true);
  const se = e as StorageError;
  expect(se.text.de.length).toBeGreaterThan(10);
  expect(se.text.en.length).toBeGreaterThan(10);
  expect(se.message).not.toMatch(/\bE[A-Z]{3,}:/); // never a raw Node error
  return se;
}

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
    await d.replica.close();
  });

  test('a closed replica refuses with closed', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'k1', { name: 'Anna' });
    await d.replica.close();
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
    await d.replica.close();
  });

  test('a second process on the same replica gets a clear "already open"', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    const e = await rejection(PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' }));
    expect(e.text.en).toContain('already open');
    await d.replica.close();
  });

  test('a wrong passphrase unwraps nothing; the right one does', async () => {
    const { header, storeKey } = await createHeader('richtiges Passwort', 't', TEST_KDF);
    expect(await unwrapStoreKey(header, 'falsches Passwort')).toBeUndefined();
    expect((await unwrapStoreKey(header, 'richtiges Passwort'))!.equals(storeKey)).toBe(true);
  });

  test('a header is written once: never over an existing store, never left half-written', async () => {
    const dir = tempDir();
    const { header } = await createHeader('pw', 't', TEST_KDF);
    await ReplicaFolder.writeHeader(dir, header);
    const { header: other } = await createHeader('pw', 't', TEST_KDF);
    await expect(ReplicaFolder.writeHeader(dir, other)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(fs.readdirSync(dir)).toEqual(['practice-store.json']);
    expect(await ReplicaFolder.readHeader(dir)).toEqual({ kind: 'ok', header });
  });
});

describe('files in the shared folder that are not what they should be', () => {
  test('each is reported and ignored, named by verify (with its reason), never applied, never deleted', async () => {
    const r = await badFileCorpus();
    expect(r.failures).toEqual([]);
    expect(r.kinds).toEqual(expect.arrayContaining(['truncated', 'flipped bits', 'wrong key', 'other store', 'future version', 'huge', 'zero bytes', 'folder where a file should be', 'symlink out of the folder']));
  });

  test('a store of a newer format version is refused, and nothing is changed', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'practice-store.json'), JSON.stringify({ format: 'practice-store', version: 2, storeId: 'x' }));
    expect(await ReplicaFolder.readHeader(dir)).toEqual({ kind: 'newer', version: 2 });
    expect(fs.readdirSync(dir)).toEqual(['practice-store.json']);
  });
});

describe('snapshots', () => {
  test('a damaged snapshot is reported and skipped; the state comes from the log files, nothing lost', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.importRecords(Array.from({ length: 1200 }, (_, i) => ({ collection: 'clients', id: `k${i}`, data: { i } })));
    await d.replica.writeSnapshot();
    await d.replica.close();
    const snap = walk(d.localRoot).find((f) => f.startsWith('snapshots'))!;
    const bytes = fs.readFileSync(path.join(d.localRoot, snap));
    bytes[bytes.length - 20]! ^= 0x40;
    fs.writeFileSync(path.join(d.localRoot, snap), bytes); // a flipped bit (name no longer matches, tag fails)
    const again = await PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' });
    expect(again.badFiles.map((b) => b.path)).toContain(snap);
    expect(await again.list('clients')).toHaveLength(1200);
    expect((await again.verify()).problems.map((p) => p.path)).toEqual([snap]);
    await again.close();
  });
});

describe('faults while writing', () => {
  test('a full disk (a real 1 MiB tmpfs) refuses the change clearly; every acknowledged change survives', async () => {
    const mnt = tempDir('cs-tmpfs-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const store = await newSharedStore();
      const d = await openDevice(store, 'PC1', { localRoot: path.join(mnt, 'replica') });
      const acked: string[] = [];
      let error: StorageError | undefined;
      for (let i = 0; i < 2000 && !error; i++) {
        try {
          await d.replica.put('notes', `n${i}`, { text: 'x'.repeat(2000), i });
          acked.push(`n${i}`);
        } catch (e) {
          error = e as StorageError;
        }
      }
      expect(error).toBeDefined();
      expect(error!.code).toBe('unavailable');
      expect(error!.text.de).toContain('voll');
      expect(error!.text.en).toContain('full');
      await d.replica.close();
      // reopen on the still-full disk: reading needs no space
      const again = await PracticeReplica.open({ localRoot: path.join(mnt, 'replica'), header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' });
      expect(again.badFiles).toEqual([]);
      for (const id of acked) expect((await again.get("notes", id))?.data?.i).toBe(Number(id.slice(1)));
      await again.close().catch(() => undefined);
    } finally {
      execFileSync('umount', ['-l', mnt]);
    }
  });

  test('the shared folder vanishing between two writes: work goes on, nothing lost, pushed on return', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'k1', { n: 1 });
    expect((await d.replica.flush({ timeoutMs: 3000 })).pending).toBe(0);
    fs.renameSync(store.shared, store.shared + '-away');
    await d.replica.put('clients', 'k2', { n: 2 });
    expect((await d.replica.flush({ timeoutMs: 500 })).pending).toBe(1);
    expect(d.exchange.syncStatus.state).toBe('offline');
    expect(fs.existsSync(store.shared)).toBe(false); // a write never recreates a vanished shared folder
    fs.renameSync(store.shared + '-away', store.shared);
    expect((await d.replica.flush({ timeoutMs: 3000 })).pending).toBe(0);
    const fresh = await openDevice(store, 'PC2');
    await fresh.exchange.exchange();
    expect((await fresh.replica.list('clients')).map((r) => r.data)).toEqual([{ n: 1 }, { n: 2 }]);
    await d.replica.close();
    await fresh.replica.close();
  });
});

