// Snapshot version 4 (issue #16, the warm open): a head's data lie after its batch's records as bytes and
// are parsed when a record is first read, not at open. What must hold: an open builds no record's data;
// what is read is what was written (umlauts, nesting, removals, conflicts); a snapshot written again
// from data never read holds them unchanged; an earlier release's version 3 still loads; and data that
// turn out bad after the open (inside an authenticated file: our own bug or a broken disk) are a clear
// error, that snapshot is not loaded again, and the next open has every record from the log files.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { StorageError } from '../../../src/host-api';
import { Keyring } from '../../../src/services/crypto/keyring';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { ReplicaFolder, type SegmentFile } from '../../../src/services/store/replica-folder';
import * as snapshotFormat from '../../../src/services/store/snapshot-format';
import { newSharedStore, openDevice, syncAll, type Device } from '../../support/store-fixture';
import { snapshotRecords } from '../../support/snapshots';
import { walk } from '../../support/temp';

type Store = Awaited<ReturnType<typeof newSharedStore>>;
const COLS = ['clients', 'session-notes'];

const folderOf = (d: Device, store: Store) => new ReplicaFolder(d.localRoot, store.header.storeId, Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck));
const open = (d: Device, store: Store) => PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: d.name, userName: 'tester' });

/** Everything a host can read of the practice. */
async function view(r: PracticeReplica) {
  const out: unknown[] = [r.conflictList];
  for (const col of COLS) out.push([...(await r.list(col))].sort((a, b) => (a.id < b.id ? -1 : 1)));
  return out;
}

/** Two PCs, 250 records with data of every kind, a removal and a conflict; PC1's replica, closed, and what it shows. */
async function practice() {
  const store = await newSharedStore();
  const a = await openDevice(store, 'PC1');
  const b = await openDevice(store, 'PC2');
  await a.replica.importRecords(
    Array.from({ length: 250 }, (_, i) => ({
      collection: COLS[i % 2]!,
      id: `r${i}`,
      data: { name: `Jürgen Größe ${i}`, note: 'Schlaf besser, Stimmung „stabil“ — 😊\n'.repeat(i % 7), nested: { list: [i, null, true, { deep: 'ß' }], empty: {} }, fee: i / 4 },
    })),
  );
  await a.replica.put('clients', 'gone', { name: 'Removed' });
  await a.replica.put('clients', 'both', { name: 'Anna' });
  await syncAll([a, b]);
  await a.replica.remove('clients', 'gone');
  await a.replica.put('clients', 'both', { name: 'Anna A' });
  await b.replica.put('clients', 'both', { name: 'Anna B' });
  await syncAll([a, b]);
  await b.store.close();
  expect(a.replica.conflictList.map((c) => c.id)).toEqual(['both']);
  const live = await view(a.replica);
  await a.replica.writeSnapshot();
  await a.store.close();
  return { store, a, live };
}

/** The newest snapshot of the replica, with its header. */
async function newest(d: Device, store: Store): Promise<{ f: SegmentFile; v: number }> {
  const folder = folderOf(d, store);
  const f = (await folder.listSnapshots()).sort((x, y) => y.seq - x.seq)[0]!;
  return { f, v: folder.openSnapshot(f, await folder.readSnapshotBytes(f)).header.v };
}

/** A snapshot's records with each head's data as the bytes version 4 holds them. */
async function recordsOf(d: Device, store: Store, f: SegmentFile) {
  const folder = folderOf(d, store);
  return { folder, ...(await snapshotRecords(folder, f)) };
}

/** Replaces PC1's snapshot by one whose data of the given records are no JSON (same length: the layout holds), sealed as this PC would seal it. */
async function plantBadData(a: Device, store: Store, ids: readonly string[]): Promise<string> {
  const { f } = await newest(a, store);
  const { folder, header, records } = await recordsOf(a, store, f);
  for (const r of records.filter((x) => ids.includes(x[1]))) for (const h of r[2]) if (h[4]) (h[4] as Buffer)[0] = '['.charCodeAt(0);
  fs.rmSync(path.join(a.localRoot, 'snapshots'), { recursive: true });
  await folder.writeSnapshot({ ...header, t: 'snapshot', device: a.id, seq: f.seq + 1, createdAt: new Date().toISOString(), v: 4, records });
  return walk(a.localRoot).find((p) => p.startsWith('snapshots'))!;
}

describe('snapshot version 4: data read when first read', () => {
  test('an open parses no record’s data; each is parsed once when first read; a snapshot written from unread data holds them unchanged', async () => {
    const { store, a, live } = await practice();
    expect((await newest(a, store)).v).toBe(4);
    const parse = jest.spyOn(snapshotFormat, 'parseSnapshotData');
    try {
      const r = await open(a, store);
      // the conflicting record's two heads are compared at open (is it a conflict?); nothing else is read
      expect(parse.mock.calls.length).toBe(2);
      const atOpen = parse.mock.calls.length;
      expect(await r.get('session-notes', 'r1')).toEqual(live[2] && (live[2] as { id: string }[]).find((x) => x.id === 'r1'));
      expect(parse.mock.calls.length).toBe(atOpen + 1);
      // written again while 249 of 251 live records were never read: their bytes go as they are
      expect(await r.writeSnapshot()).toBeDefined();
      expect(parse.mock.calls.length).toBe(atOpen + 1);
      await r.close();
      const again = await open(a, store);
      expect(again.badFiles).toEqual([]);
      expect(await view(again)).toEqual(live);
      const all = parse.mock.calls.length;
      expect(await view(again)).toEqual(live); // read once, then kept
      expect(parse.mock.calls.length).toBe(all);
      await again.close();
    } finally {
      parse.mockRestore();
    }
  });

  test('an earlier release’s snapshot of version 3 is still read into the same practice', async () => {
    const { store, a, live } = await practice();
    const { f } = await newest(a, store);
    const { folder, header, records } = await recordsOf(a, store, f);
    fs.rmSync(path.join(a.localRoot, 'snapshots'), { recursive: true });
    await folder.writeSnapshot({ ...header, t: 'snapshot', device: a.id, seq: f.seq + 1, createdAt: new Date().toISOString(), v: 3, records });
    expect((await newest(a, store)).v).toBe(3);
    const r = await open(a, store);
    expect(r.badFiles).toEqual([]);
    expect(await view(r)).toEqual(live);
    await r.close();
  });

  test('data found bad when first read: that record is read from its log file instead; the damage is reported, the snapshot removed (the close waits for it), the next open replays', async () => {
    const { store, a, live } = await practice();
    const snapRel = await plantBadData(a, store, ['r8']);

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const original = ReplicaFolder.prototype.removeSnapshot;
    const removal = jest.spyOn(ReplicaFolder.prototype, 'removeSnapshot').mockImplementation(async function (this: ReplicaFolder, x: SegmentFile) {
      await held;
      return original.call(this, x);
    });
    const r = await open(a, store);
    expect(r.badFiles).toEqual([]); // the open does not read the data
    // a full check reads them, and names the file
    expect((await r.verify()).problems.map((p) => [p.path, p.reason])).toEqual([[snapRel, expect.stringContaining("are not a record's data")]]);
    expect(await r.get('session-notes', 'r9')).toEqual((live[2] as { id: string }[]).find((x) => x.id === 'r9'));
    const r8 = (live[1] as { id: string }[]).find((x) => x.id === 'r8');
    expect(await r.get('clients', 'r8')).toEqual(r8);
    expect(await view(r)).toEqual(live);
    expect(r.badFiles.map((b) => [b.path, b.reason])).toEqual([[snapRel, expect.stringContaining('found when read')]]);
    // not loaded again: removed from the replica, and the close waits for that (the removal held back here)
    let closed = false;
    const closing = r.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(removal).toHaveBeenCalledTimes(1);
    expect(closed).toBe(false);
    release();
    await closing;
    removal.mockRestore();
    expect(fs.existsSync(path.join(a.localRoot, snapRel))).toBe(false);
    const again = await open(a, store);
    expect(again.badFiles).toEqual([]);
    expect(await view(again)).toEqual(live);
    await again.close();
  });

  test('data found bad when first read and their log file gone from this PC too: a clear error in German and English for a read or write of that record, nothing written over it, other records read on; a restart takes the log file from the shared folder again', async () => {
    const { store, a, live } = await practice();
    await plantBadData(a, store, ['r8']);
    const pc1 = await openDevice(store, 'PC1', { id: a.id, localRoot: a.localRoot });
    const own = walk(a.localRoot).filter((p) => p.startsWith(path.join('devices', a.id, 'log')));
    for (const p of own) fs.rmSync(path.join(a.localRoot, p)); // after the open: the snapshot had covered them
    const err = await pc1.replica.get('clients', 'r8').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(StorageError.is(err) && err.code).toBe('corrupt');
    expect((err as StorageError).text.de).toMatch(/lokalen Datenbestands ist beschädigt .*starten Sie die Anwendung neu.*nichts verloren/);
    expect((err as StorageError).text.en).toMatch(/local replica is damaged .*restart the application.*nothing is lost/);
    await expect(pc1.replica.put('clients', 'r8', { name: 'blind' })).rejects.toMatchObject({ code: 'corrupt' });
    expect((await pc1.replica.get('session-notes', 'r9'))?.data).toEqual((live[2] as { id: string; data: unknown }[]).find((x) => x.id === 'r9')!.data);
    await pc1.store.close();
    // restarted: the snapshot is gone, the log files missing here come again from the shared folder
    const again = await openDevice(store, 'PC1', { id: a.id, localRoot: a.localRoot });
    await syncAll([again]);
    expect(await view(again.replica)).toEqual(live);
    await again.store.close();
  });

  test('a version-4 file changed on disk: a damaged data envelope is found when its batch is read (its records then read from their log files), bytes added or cut at open; nothing is lost', async () => {
    const { store, a, live } = await practice();
    const { f } = await newest(a, store);
    const dir = path.join(a.localRoot, 'snapshots', a.id);
    const original = fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]!));
    /** Puts `bytes` in place of the replica's snapshots, named by their hash (as a snapshot of this PC would be). */
    const plant = (bytes: Buffer) => {
      fs.rmSync(path.join(a.localRoot, 'snapshots'), { recursive: true });
      fs.mkdirSync(dir, { recursive: true });
      const name = `${String(f.seq).padStart(10, '0')}-${crypto.createHash('sha256').update(bytes).digest('hex')}`;
      fs.writeFileSync(path.join(dir, name), bytes);
      return path.join('snapshots', a.id, name);
    };
    const L = original.readUInt32BE(0);
    expect(original[0]).toBe(0); // not an envelope's magic: the layout of version 4

    const damaged = Buffer.from(original);
    damaged[4 + L + 40]! ^= 0x01; // inside the first batch's data envelope
    const rel = plant(damaged);
    const r = await open(a, store);
    expect(r.badFiles).toEqual([]);
    expect((await r.get('clients', 'r0'))?.data).toEqual(((live[1] as { id: string; data: unknown }[]).find((x) => x.id === 'r0'))!.data);
    expect(r.badFiles.map((b) => b.path)).toEqual([rel]);
    expect((await r.get('session-notes', 'r249'))?.data).toEqual(((live[2] as { id: string; data: unknown }[]).find((x) => x.id === 'r249'))!.data); // another batch reads
    await r.close();
    expect(fs.existsSync(path.join(a.localRoot, rel))).toBe(false);
    const replayed = await open(a, store);
    expect(await view(replayed)).toEqual(live);
    await replayed.close();

    for (const [bytes, reason] of [
      [Buffer.concat([original, Buffer.from('x')]), 'holds bytes after the data of its last batch'],
      [original.subarray(0, original.length - 1), 'ends in the middle of the data of a batch'],
      [original.subarray(0, 3), 'is neither an encrypted file nor a snapshot of version 4'],
    ] as const) {
      const planted = plant(bytes);
      const again = await open(a, store);
      expect(again.badFiles.map((b) => [b.path, b.reason])).toEqual([[planted, reason]]);
      expect(await view(again)).toEqual(live);
      await again.close();
    }
  });

  test('bad data in a record with several heads (compared at open): the snapshot is reported at open and the log files replayed', async () => {
    const { store, a, live } = await practice();
    const rel = await plantBadData(a, store, ['both']);
    const r = await open(a, store);
    expect(r.badFiles.map((b) => [b.path, b.reason])).toEqual([[rel, expect.stringContaining("are not a record's data")]]);
    expect(await view(r)).toEqual(live);
    await r.close();
  });

  test('bad data found in the middle of work: a round that brings a concurrent change to that record applies the whole log file and the host is told of the conflict; no snapshot is written from that state; after a restart every record and the conflict are there', async () => {
    const { store, a, live } = await practice();
    const rel = await plantBadData(a, store, ['r8']);
    const pc1 = await openDevice(store, 'PC1', { id: a.id, localRoot: a.localRoot });
    const pc3 = await openDevice(store, 'PC3');
    await syncAll([pc3]);
    // another PC writes the damaged record anew (beside the version PC1 holds: a concurrent head, so
    // PC1's conflict check meets the bad bytes) and adds one
    await pc3.replica.takeOver([
      { collection: 'clients', id: 'r8', data: { name: 'edited on PC3' } },
      { collection: 'clients', id: 'new', data: { name: 'new on PC3' } },
    ]);
    await syncAll([pc3]);
    // PC1 has not read the damaged record yet: the round's conflict check meets the bad bytes first
    const announced: string[] = [];
    const sub = pc1.replica.changes$.subscribe((c) => announced.push(c.record.id));
    await pc1.exchange.exchange();
    sub.unsubscribe();
    expect(pc1.exchange.health).toBe('ok');
    expect((await pc1.replica.get('clients', 'new'))?.data).toEqual({ name: 'new on PC3' });
    expect(announced).toContain('new');
    // the record is in conflict now: a host reading it is told so (its side from this PC read from its log file)
    const before = (live[1] as { id: string; data: unknown }[]).find((x) => x.id === 'r8')!.data;
    const shown = await pc1.replica.get('clients', 'r8');
    expect(shown?.conflict).toBe(true);
    expect((await pc1.replica.history('clients', 'r8')).map((h) => h.data)).toEqual(expect.arrayContaining([before, { name: 'edited on PC3' }]));
    await pc1.replica.put('clients', 'r9', { name: 'r9 edited on PC1' });
    await pc1.replica.sealNow();
    expect(await pc1.replica.writeSnapshot()).toBeUndefined(); // (the journal is empty: only the damage stops it)
    await pc1.store.close();
    expect(fs.existsSync(path.join(a.localRoot, rel))).toBe(false);
    // restarted: every record from the log files, the conflict shown, a snapshot written again
    const again = await open(a, store);
    expect(again.badFiles).toEqual([]);
    const clients = await again.list('clients');
    expect(clients.find((c) => c.id === 'new')?.data).toEqual({ name: 'new on PC3' });
    expect(clients.find((c) => c.id === 'r9')?.data).toEqual({ name: 'r9 edited on PC1' });
    expect(again.conflictList.find((c) => c.id === 'r8')?.versions.map((v) => v.data)).toEqual(expect.arrayContaining([before, { name: 'edited on PC3' }]));
    expect(await again.writeSnapshot()).toBeDefined();
    await again.close();
    await pc3.store.close();
  });

  test('bad bytes carried on unread into a newer snapshot (written at close): found when read there; every snapshot of this PC is removed, the next open replays', async () => {
    const { store, a, live } = await practice();
    const planted = await plantBadData(a, store, ['r8']);
    const pc1 = await openDevice(store, 'PC1', { id: a.id, localRoot: a.localRoot });
    // enough changes that the close writes a snapshot (2,000), none touching r8: its bytes go on as they are
    await pc1.replica.importRecords(Array.from({ length: 2000 }, (_, i) => ({ collection: 'session-notes', id: `n${i}`, data: { i } })));
    await pc1.store.close();
    const snapshots = walk(a.localRoot).filter((p) => p.startsWith('snapshots'));
    expect(snapshots).toHaveLength(2);
    expect(snapshots).toContain(planted);
    const r = await open(a, store);
    expect(r.badFiles).toEqual([]);
    expect((await r.get('clients', 'r8'))?.data).toEqual((live[1] as { id: string; data: unknown }[]).find((x) => x.id === 'r8')!.data);
    expect(r.badFiles.map((b) => b.path)).toEqual(snapshots.filter((p) => p !== planted));
    await r.close();
    expect(walk(a.localRoot).filter((p) => p.startsWith('snapshots'))).toEqual([]);
    const again = await open(a, store);
    expect(again.badFiles).toEqual([]);
    const [conflicts, clients] = await view(again);
    expect([conflicts, clients]).toEqual([live[0], live[1]]);
    expect(await again.list('session-notes')).toHaveLength((live[2] as unknown[]).length + 2000);
    await again.close();
  });

  test('data envelopes of another snapshot of the same PC and position, put in their place: refused (the head names each envelope by its hash)', async () => {
    const { store, a, live } = await practice();
    const { f } = await newest(a, store);
    const dir = path.join(a.localRoot, 'snapshots', a.id);
    const first = fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]!));
    // the same snapshot written again at the same position (as after a restore): other envelopes (other
    // nonces), the same lengths; its data envelopes put in place of the first's under the first's head
    const { folder, header, records } = await recordsOf(a, store, f);
    fs.rmSync(path.join(a.localRoot, 'snapshots'), { recursive: true });
    await folder.writeSnapshot({ ...header, t: 'snapshot', device: a.id, seq: f.seq, createdAt: new Date().toISOString(), v: 4, records });
    const second = fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]!));
    const dataAt = (b: Buffer) => 4 + b.readUInt32BE(0);
    expect(second.length - dataAt(second)).toBe(first.length - dataAt(first));
    const forged = Buffer.concat([first.subarray(0, dataAt(first)), second.subarray(dataAt(second))]);
    fs.rmSync(path.join(a.localRoot, 'snapshots'), { recursive: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${String(f.seq).padStart(10, '0')}-${crypto.createHash('sha256').update(forged).digest('hex')}`), forged);
    // refused: here at open, where the conflicting record's data are read (any other record's when it is read)
    const r = await open(a, store);
    expect(r.badFiles.map((b) => b.reason)).toEqual([expect.stringContaining("are not a record's data")]);
    expect(await view(r)).toEqual(live);
    await r.close();
  });

  test('a PC keeps its two newest snapshots, not one for every 20,000 changes and close of ten years; another id’s are left alone', async () => {
    const { store, a, live } = await practice();
    const other = path.join(a.localRoot, 'snapshots', 'c'.repeat(32));
    fs.mkdirSync(other, { recursive: true });
    const foreign = path.join(other, `${'1'.padStart(10, '0')}-${'d'.repeat(64)}`);
    fs.writeFileSync(foreign, 'a former id’s, or an earlier release’s join');
    const r = await open(a, store);
    const seqs = () =>
      walk(a.localRoot)
        .filter((p) => p.startsWith(path.join('snapshots', a.id)))
        .map((p) => Number(path.basename(p).slice(0, 10)));
    for (let i = 0; i < 4; i++) {
      await r.put('clients', `more${i}`, { i });
      await r.sealNow();
      const f = await r.writeSnapshot();
      expect(seqs().sort()).toEqual(i === 0 ? [1, 2] : [f!.seq - 1, f!.seq]);
    }
    expect(fs.existsSync(foreign)).toBe(true);
    await r.close();
    const again = await open(a, store);
    expect(again.badFiles.map((b) => b.path)).toEqual([]);
    expect((await again.list('clients')).length).toBe((live[1] as unknown[]).length + 4);
    await again.close();
  });

  test('a version-4 batch: lengths that are no byte counts are refused at open; data that do not unpack to what the lengths add up to, when read', () => {
    const ver = '0000000aa.0000.' + 'a'.repeat(32);
    const rec = (len: unknown) => ['clients', 'k', [[ver, '2026-01-01T00:00:00.000Z', 'PC 1', 3, len]], ''];
    const lengths = { total: 0 };
    expect(snapshotFormat.snapshotV2RecordsProblem([rec(7), rec(null), rec(5)], lengths)).toBeUndefined();
    expect(lengths.total).toBe(12);
    for (const bad of [0, 1, -3, 2.5, '7', { a: 1 }, 2 ** 40]) expect(snapshotFormat.snapshotV2RecordsProblem([rec(bad)], { total: 0 })).toMatch(/length of the data/);
    const bytes = Buffer.from('{"a":1}{"b":2}');
    const packed = zlib.gzipSync(bytes);
    expect(new snapshotFormat.DataBlock(() => packed, bytes.length, new snapshotFormat.UnpackedBlocks()).bytes()).toEqual(bytes);
    for (const size of [bytes.length - 1, bytes.length + 1]) expect(new snapshotFormat.DataBlock(() => packed, size, new snapshotFormat.UnpackedBlocks()).bytes()).toBeUndefined();
    expect(new snapshotFormat.DataBlock(() => bytes, bytes.length, new snapshotFormat.UnpackedBlocks()).bytes()).toBeUndefined(); // no gzip
    const failing = new snapshotFormat.DataBlock(
      () => {
        throw new Error('authentication failed');
      },
      bytes.length,
      new snapshotFormat.UnpackedBlocks(),
    );
    expect(failing.bytes()).toBeUndefined();
  });

  test('a batch whose records claim more data than 100 records may hold (a gzip bomb from someone with the key) is refused at open, before anything is unpacked', async () => {
    const { store, a, live } = await practice();
    const { f } = await newest(a, store);
    const { folder, header, records } = await recordsOf(a, store, f);
    // two records of 64 MiB each in one batch: each length allowed alone, their sum over the bound
    const big = Buffer.alloc(64 << 20, 0x20);
    big[0] = '{'.charCodeAt(0);
    big[big.length - 1] = '}'.charCodeAt(0);
    records[0]![2][0]![4] = big;
    records[1]![2][0]![4] = big;
    fs.rmSync(path.join(a.localRoot, 'snapshots'), { recursive: true });
    await folder.writeSnapshot({ ...header, t: 'snapshot', device: a.id, seq: f.seq + 1, createdAt: new Date().toISOString(), v: 4, records });
    const r = await open(a, store);
    expect(r.badFiles.map((b) => b.reason)).toEqual([expect.stringMatching(/a batch's data would unpack to \d+ bytes, more than 134217728/)]);
    expect(await view(r)).toEqual(live);
    await r.close();
  });

  test('a list() of a large collection unpacks each batch once, and keeps only a few unpacked', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC1');
    await a.replica.importRecords(Array.from({ length: 2500 }, (_, i) => ({ collection: 'clients', id: `r${String(i).padStart(5, '0')}`, data: { n: i, text: 'x'.repeat(100) } })));
    await a.replica.sealNow();
    await a.replica.writeSnapshot();
    await a.store.close();
    // each unpacking gives a new buffer; a batch kept unpacked gives the same one again
    const bytes = jest.spyOn(snapshotFormat.DataBlock.prototype, 'bytes');
    const unpacked = () => new Set(bytes.mock.results.map((x) => x.value as unknown)).size;
    try {
      const r = await open(a, store);
      expect(unpacked()).toBe(0);
      const listed = await r.list('clients');
      expect(listed.map((x) => x.data!.n)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
      // 25 batches of 100: each batch's data unpacked once
      expect(unpacked()).toBe(25);
      // read again from the start: parsed records are kept, nothing is unpacked
      await r.list('clients');
      expect(unpacked()).toBe(25);
      await r.close();
      // the last 8 batches read stay unpacked: batch 0 is unpacked again after 8 others were read since
      const again = await open(a, store);
      const id = (n: number) => `r${String(n).padStart(5, '0')}`;
      bytes.mockClear();
      for (let b = 0; b < 8; b++) await again.get('clients', id(b * 100));
      expect(unpacked()).toBe(8);
      await again.get('clients', id(1)); // batch 0 still unpacked
      expect(unpacked()).toBe(8);
      for (let b = 8; b < 16; b++) await again.get('clients', id(b * 100));
      expect(unpacked()).toBe(16);
      await again.get('clients', id(2)); // batch 0 again
      expect(unpacked()).toBe(17);
      await again.close();
    } finally {
      bytes.mockRestore();
    }
  });
});
