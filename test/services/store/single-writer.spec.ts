// One process writes a replica: a second one is refused, and a lost lock stops writing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { newSharedStore, openDevice } from '../../support/store-fixture';
import { rejection } from '../../support/storage-error';
import { waitFor } from '../../support/temp';

describe('single writer', () => {
  test('a second process on the same replica gets a clear "already open"', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    const e = await rejection(PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' }));
    expect(e.text.en).toContain('already open');
    await d.store.close();
  });

  test('a lost lock stops writing, says so, and never crashes the host', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'before', { ok: true });
    fs.rmSync(path.join(d.localRoot, 'replica.lock'), { recursive: true, force: true }); // another process broke it
    await waitFor(() => d.replica.readOnly, 15000, 'lock loss noticed');
    await expect(d.replica.put('clients', 'after', {})).rejects.toMatchObject({ code: 'read-only' });
    expect((await d.replica.get('clients', 'before'))!.data).toEqual({ ok: true });
    await d.store.close();
  }, 30000);
});
