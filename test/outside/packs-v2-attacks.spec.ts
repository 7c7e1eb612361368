// Attacks on format 2's packs (version 2) and the local snapshot (versions 3 and 4) from a hostile environment:
// someone who can write into the shared folder or into a PC's local replica (a disk tool, a backup put
// back), with or without an old passphrase. Each test asserts the safe behaviour: refused and reported,
// nothing lost, bounded.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Keyring } from '../../src/services/crypto/keyring';
import { Paths } from '../../src/services/store/format';
import { PracticeState } from '../../src/services/store/record-state';
import { ReplicaFolder } from '../../src/services/store/replica-folder';
import type { ExchangeOptions } from '../../src/services/store/shared-folder-exchange';
import { snapshotRecords } from '../support/snapshots';
import { newSharedStore, openDevice, syncAll, type Device } from '../support/store-fixture';

jest.setTimeout(180_000);

const PASS = 'Teekanne-Nordstrand-2026';
const FAST: Partial<ExchangeOptions> = { auditMs: 0, packMinFiles: 5, packMarginMs: 0, repairGraceMs: 0 };

const names = (root: string, dir: string) => (fs.existsSync(path.join(root, dir)) ? fs.readdirSync(path.join(root, dir)).filter((n) => !n.startsWith('.')) : []);
const ids = async (d: Device) => (await d.store.list('clients')).map((r) => `${r.id}=${JSON.stringify(r.data)}`).sort();

async function edits(d: Device, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await d.store.put('clients', `${d.name}-${i}`, { n: i, by: d.name });
    await d.replica.sealNow();
  }
}

describe('packs of version 2 under attack', () => {
  let devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices) await d.store.close().catch(() => undefined);
    devices = [];
  });

  test('a pack name planted in a PC’s local replica over its real packs’ range: reported, covers nothing, nothing of the real packs is removed (locally or in the shared folder)', async () => {
    const store = await newSharedStore(PASS);
    let a = await openDevice(store, 'A', { exchange: FAST });
    const b = await openDevice(store, 'B', { exchange: FAST });
    devices = [a, b];
    await edits(a, 5);
    await a.store.put('clients', 'A-0', { n: 0, by: 'A', edited: true }); // a second version, so history() reads a pack
    await a.replica.sealNow();
    await syncAll([a, b], 4);
    const real = names(store.shared, Paths.packsDir(a.id));
    expect(real).toHaveLength(1);
    expect(names(a.localRoot, Paths.packsDir(a.id))).toEqual(real);
    // the disk tool: a file named as a pack of A's positions 1…6 (one more than the real one), not a pack
    await a.store.close();
    const planted = `0000000001-0000000006-${'cd'.repeat(32)}`;
    fs.writeFileSync(path.join(a.localRoot, Paths.packsDir(a.id), planted), crypto.randomBytes(3000));
    a = await openDevice(store, 'A', { id: a.id, localRoot: a.localRoot, exchange: FAST });
    devices[0] = a;
    await edits(a, 1, 100);
    await syncAll([a, b], 4);
    // reported as bad, never taken for a pack: the real pack stays in A's replica and in the shared folder
    expect(a.replica.badFiles.some((f) => f.path.endsWith(planted))).toBe(true);

    expect(names(a.localRoot, Paths.packsDir(a.id))).toEqual(expect.arrayContaining(real));
    expect(names(store.shared, Paths.packsDir(a.id))).toEqual(expect.arrayContaining(real));
    expect(names(store.shared, Paths.packsDir(a.id))).not.toContain(planted);
    expect((await a.store.history('clients', 'A-0')).map((r) => r.data)).toEqual([{ n: 0, by: 'A' }, { n: 0, by: 'A', edited: true }]);
    // a new PC joins and has everything
    const c = await openDevice(store, 'C', { exchange: FAST });
    devices.push(c);
    await syncAll([c], 2);
    expect(await ids(c)).toEqual(await ids(a));
    expect(await c.store.history('clients', 'A-0')).toHaveLength(2);
  });

  /** A packs five log files (and edits one record again); B takes the pack. */
  async function packTakenByB(): Promise<{ store: Awaited<ReturnType<typeof newSharedStore>>; a: Device; b: Device; pack: string }> {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: FAST });
    const b = await openDevice(store, 'B', { exchange: FAST });
    devices = [a, b];
    await edits(a, 5);
    await a.store.put('clients', 'A-0', { n: 0, by: 'A', edited: true });
    await a.replica.sealNow();
    await syncAll([a, b], 4);
    const [pack] = names(b.localRoot, Paths.packsDir(a.id));
    expect(pack).toBeDefined();
    return { store, a, b, pack: pack };
  }

  test('a pack of a PC’s local replica cut short by a disk tool: reported at the next open, fetched again from the shared folder, history() reads it', async () => {
    const { store, a, b: first, pack } = await packTakenByB();
    let b = first;
    expect(await b.replica.writeSnapshot()).toBeDefined(); // B opens from a snapshot that counts the pack's log files as held
    const want = await ids(b);
    await b.store.close();
    const file = path.join(b.localRoot, Paths.packsDir(a.id), pack);
    fs.truncateSync(file, fs.statSync(file).size - 50);
    b = await openDevice(store, 'B', { id: b.id, localRoot: b.localRoot, exchange: FAST });
    devices[1] = b;
    expect(b.replica.badFiles.some((f) => f.path.endsWith(pack))).toBe(true);
    await syncAll([a, b], 3);
    expect(fs.statSync(file).size).toBe(fs.statSync(path.join(store.shared, Paths.packsDir(a.id), pack)).size);
    expect(await ids(b)).toEqual(want);
    expect((await b.store.history('clients', 'A-0')).map((r) => r.data)).toEqual([{ n: 0, by: 'A' }, { n: 0, by: 'A', edited: true }]);
  });

  test('a section of a pack in a PC’s local replica changed in place (its index intact), the PC opening without a snapshot: reported, fetched again, every record back', async () => {
    const { store, a, b: first, pack } = await packTakenByB();
    let b = first;
    expect(names(b.localRoot, Paths.logDir(a.id))).toHaveLength(1); // log file 6 only: 1…5 are in the pack alone
    const want = await ids(a);
    await b.store.close();
    const file = path.join(b.localRoot, Paths.packsDir(a.id), pack);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 30]! ^= 1; // inside the last section
    fs.writeFileSync(file, bytes);
    b = await openDevice(store, 'B', { id: b.id, localRoot: b.localRoot, exchange: FAST });
    devices[1] = b;
    expect(b.replica.badFiles.some((f) => f.path.endsWith(pack))).toBe(true);
    await syncAll([a, b], 3);
    expect(fs.readFileSync(file).equals(fs.readFileSync(path.join(store.shared, Paths.packsDir(a.id), pack)))).toBe(true);
    expect(await ids(b)).toEqual(want);
    expect((await b.store.history('clients', 'A-0')).map((r) => r.data)).toEqual([{ n: 0, by: 'A' }, { n: 0, by: 'A', edited: true }]);
  });
});

describe('a local snapshot whose counters lie', () => {
  let devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices) await d.store.close().catch(() => undefined);
    devices = [];
    jest.restoreAllMocks();
  });

  test('millions of counts of 1 beside a few records: refused before a list of them is built, the log files replayed, nothing lost', async () => {
    const store = await newSharedStore(PASS);
    let a = await openDevice(store, 'A', { exchange: FAST });
    devices = [a];
    await edits(a, 3);
    const snap = await a.replica.writeSnapshot();
    expect(snap).toBeDefined();
    const want = await ids(a);
    await a.store.close();
    // someone holding the key (an old passphrase's key is still held by the PC) writes a newer snapshot into A's replica
    const keys = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
    const local = new ReplicaFolder(a.localRoot, store.header.storeId, keys);
    const opened = await snapshotRecords(local, snap!);
    const ones = Buffer.alloc(4 * 4_000_000);
    for (let i = 0; i < 4_000_000; i++) ones.writeUInt32LE(1, i * 4);
    const counts = { ...opened.header.counts!, byPosition: { ...opened.header.counts!.byPosition, ['e'.repeat(32)]: ones.toString('base64') } };
    // as this release writes it (version 4) and as the one before did (version 3, still read)
    for (const v of [4, 3] as const) {
      for (const old of fs.readdirSync(path.join(a.localRoot, 'snapshots', a.id))) fs.rmSync(path.join(a.localRoot, 'snapshots', a.id, old));
      const forged = await local.writeSnapshot({ ...opened.header, v, seq: snap!.seq + v, counts, records: opened.records });
      const restore = jest.spyOn(PracticeState.prototype, 'restoreCounts');
      a = await openDevice(store, 'A', { id: a.id, localRoot: a.localRoot, exchange: FAST });
      devices[0] = a;
      // no list of the counters longer than the records' versions was handed on
      for (const [, places, versions] of restore.mock.calls) expect([...places].length).toBeLessThanOrEqual(versions);
      restore.mockRestore();
      expect(a.replica.badFiles.some((f) => f.path === Paths.snapshot(forged.device, forged.seq, forged.hash) && /counts do not match/.test(f.reason))).toBe(true);
      expect(await ids(a)).toEqual(want);
      await a.store.close();
    }
  });
});
