// A snapshot never stands in for log files it does not contain (issue #14). Whoever holds a store key
// (a former employee with the old passphrase) can write a snapshot that authenticates, names the
// real log files in its `covers` and holds other records. A PC believes only log files it verified
// itself: a new PC reads every log file, never another PC's snapshot; a PC sends no snapshots; and a
// local replica loads only its own snapshot, and only when it holds every log file it names.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Keyring } from '../../../src/services/crypto/keyring';
import type { Snapshot, SnapshotRecord } from '../../../src/services/store/format';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { ReplicaFolder } from '../../../src/services/store/replica-folder';
import { newSharedStore, openDevice, syncAll, type Device } from '../../support/store-fixture';
import { walk } from '../../support/temp';

type Store = Awaited<ReturnType<typeof newSharedStore>>;

/** A snapshot made with the store key by someone who is no PC of the practice: real covers, other records. */
async function forge(store: Store, root: string, device: string, seq: number, real: Device, forged = 400): Promise<string> {
  const keyring = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
  const files = real.replica.ownLogFiles();
  const covers: Snapshot['covers'] = {
    [real.id]: { ranges: [[1, files.length]], hashes: Object.fromEntries(files.map((f) => [String(f.seq), f.hash])) },
  };
  const records: SnapshotRecord[] = Array.from({ length: forged }, (_, i) => {
    const ver = `0mx16lgj${String.fromCharCode(97 + (i % 26))}.${String(i).padStart(4, '0')}.${real.id}`;
    return { col: 'clients', id: `gefaelscht-${i}`, versions: [[ver, [], '2026-01-01T00:00:00.000Z', real.name, false, `${real.id}:1`]], heads: { [ver]: { name: `Gefälscht ${i}`, note: 'x'.repeat(200) } } };
  });
  const f = await new ReplicaFolder(root, store.header.storeId, keyring).writeSnapshot({ t: 'snapshot', v: 1, device, seq, createdAt: new Date().toISOString(), covers, records });
  return path.join('snapshots', f.device, `${String(f.seq).padStart(10, '0')}-${f.hash}`);
}

async function storeWithRealRecords(): Promise<{ store: Store; a: Device }> {
  const store = await newSharedStore();
  const a = await openDevice(store, 'PC1');
  for (let i = 0; i < 3; i++) {
    await a.replica.put('clients', `echt-${i}`, { name: `Echt ${i}` });
    await a.replica.sealNow(); // one log file each
  }
  await a.exchange.exchange();
  expect(a.replica.ownLogFiles()).toHaveLength(3);
  return { store, a };
}

const ids = async (d: { replica: PracticeReplica }) => (await d.replica.list('clients')).map((r) => r.id);

describe('a forged snapshot in the shared folder', () => {
  test('a new PC shows the real records, not the forged ones, and the snapshot is neither read nor reported', async () => {
    const { store, a } = await storeWithRealRecords();
    // one under the real PC's id, one under a stranger's: both authenticate, both name the real log files
    const planted = [await forge(store, store.shared, a.id, 1, a), await forge(store, store.shared, 'e'.repeat(32), 7, a, 800)];
    for (const rel of planted) expect(fs.existsSync(path.join(store.shared, rel))).toBe(true);

    const b = await openDevice(store, 'PC2');
    await b.exchange.exchange();
    expect(await ids(b)).toEqual(['echt-0', 'echt-1', 'echt-2']);
    expect((await b.replica.get('clients', 'echt-1'))?.data).toEqual({ name: 'Echt 1' });
    // every log file is held, so every version's body is there (history works)
    expect(walk(b.localRoot).filter((f) => f.includes(`${a.id}${path.sep}log`))).toHaveLength(3);
    expect(walk(b.localRoot).some((f) => f.startsWith('snapshots'))).toBe(false);
    expect(b.replica.badFiles.filter((x) => x.path.startsWith('snapshots'))).toEqual([]);
    await b.store.close();

    // and after a restart it still shows what it verified itself
    const again = await openDevice(store, 'PC2', { id: b.id, localRoot: b.localRoot });
    expect(await ids(again)).toEqual(['echt-0', 'echt-1', 'echt-2']);
    await again.store.close();
    await a.store.close();
  });

  test('a PC no longer sends its snapshots; it opens from its own one', async () => {
    const { store, a } = await storeWithRealRecords();
    const own = await a.replica.writeSnapshot();
    expect(own).toBeDefined();
    await syncAll([a]);
    expect(fs.existsSync(path.join(store.shared, 'snapshots'))).toBe(false);
    expect(a.exchange.writtenPaths.some((p) => p.startsWith('snapshots'))).toBe(false);
    await a.store.close();
    const again = await PracticeReplica.open({ localRoot: a.localRoot, header: store.header, key: store.key, deviceId: a.id, deviceName: 'PC1', userName: 'x' });
    expect(await ids({ replica: again })).toEqual(['echt-0', 'echt-1', 'echt-2']);
    expect(again.badFiles).toEqual([]);
    await again.close();
  });

  test('a local replica that holds another PC’s snapshot, or its own covering log files it lacks (an earlier release’s join), replays the log files instead', async () => {
    const { store, a } = await storeWithRealRecords();
    for (const own of [false, true]) {
      const b = await openDevice(store, own ? 'PC3' : 'PC2');
      await b.store.close();
      // as an earlier release left it: a snapshot copied from the shared folder, none of the log files it names
      await forge(store, b.localRoot, own ? b.id : a.id, 1, a);
      const again = await openDevice(store, b.name, { id: b.id, localRoot: b.localRoot });
      expect(await ids(again)).toEqual([]); // not loaded: it stands in for log files this replica does not hold
      await again.exchange.exchange();
      expect(await ids(again)).toEqual(['echt-0', 'echt-1', 'echt-2']);
      expect(again.replica.badFiles).toEqual([]);
      await again.store.close();
    }
    await a.store.close();
  });
});
