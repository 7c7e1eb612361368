// Memory that does not grow with history (issue #16): a replica keeps each record's heads in memory and of
// an older version only its id and the place of the log file that holds it (record-state.ts); history()
// reads the rest from there. The merge must not notice: the state depends only on the set of changes
// applied, a late ancestor never becomes a head — also across a snapshot — and history() shows every
// version with what its log file says. Snapshots of version 1 (earlier releases) are still read.
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Keyring } from '../../../src/services/crypto/keyring';
import type { Change, SnapshotRecord } from '../../../src/services/store/format';
import { HybridClock } from '../../../src/services/store/hybrid-clock';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { PracticeState } from '../../../src/services/store/record-state';
import { ReplicaFolder } from '../../../src/services/store/replica-folder';
import { snapshotV2RecordsProblem } from '../../../src/services/store/snapshot-format';
import { loadSnapshot, snapshotOf } from '../../../src/services/store/snapshot-state';
import { newSharedStore, openDevice, syncAll, type Device } from '../../support/store-fixture';
import { tempDir, walk } from '../../support/temp';

const DEVICES = ['a'.repeat(32), 'b'.repeat(32), 'c'.repeat(32)];

/** A record's versions: each names 0–2 earlier ones as parents, some also a parent that never arrives. */
const dag = fc.integer({ min: 1, max: 90 }).chain((n) =>
  fc.tuple(
    fc.constant(n),
    fc.array(fc.tuple(fc.nat(2), fc.array(fc.nat(), { maxLength: 2 }), fc.boolean(), fc.integer({ min: 0, max: 9 })), { minLength: n, maxLength: n }),
  ),
);

function changesOf([n, spec]: [number, [number, number[], boolean, number][]]): Change[] {
  const out: Change[] = [];
  for (let i = 0; i < n; i++) {
    const [dev, picks, removed, lost] = spec[i]!;
    const ver = HybridClock.format(1_700_000_000_000 + i, 0, DEVICES[dev]!);
    const parents = i === 0 ? [] : [...new Set(picks.map((p) => out[p % i]!.ver))];
    if (lost === 0) parents.push(HybridClock.format(1_600_000_000_000 + i, 1, DEVICES[dev]!)); // never arrives
    out.push({ col: 'clients', id: 'k', ver, parents, at: new Date(1_700_000_000_000 + i).toISOString(), by: `PC ${dev}`, op: removed ? 'remove' : 'put', data: removed ? null : { i } });
  }
  return out;
}

/** Where a change's body lies: a log file of its own device (the seq made up, fixed per version). */
const whereOf = (c: Change) => `${c.ver.slice(-32)}:${(Number.parseInt(c.ver.slice(0, 9), 36) % 1000) + 1}`;

/** The full DAG, computed the plain way: what record-state.ts must agree with. */
function expected(applied: readonly Change[]) {
  const named = new Set(applied.flatMap((c) => c.parents));
  const heads = applied.filter((c) => !named.has(c.ver));
  return { known: new Set(applied.map((c) => c.ver)), heads: new Map(heads.map((c) => [c.ver, c])) };
}

/** A state's record as comparable values. */
function seen(state: PracticeState, all: readonly Change[]) {
  const e = state.entry('clients', 'k');
  const heads = new Map((e?.heads() ?? []).map((h) => [h.ver, { at: h.at, by: h.by, where: h.where, data: h.data }]));
  const older = new Map([...(e?.older() ?? [])].map((o) => [o.ver, o.where]));
  return { heads, older, known: new Set(all.filter((c) => e?.has(c.ver)).map((c) => c.ver)), count: state.changeCount };
}

/** Through a snapshot of version 2 as its records are written and read (JSON, the reader's check). */
function roundTrip(state: PracticeState): PracticeState {
  const content = snapshotOf(new Map(), state)!;
  const records = JSON.parse(JSON.stringify(content.records)) as unknown;
  expect(snapshotV2RecordsProblem(records)).toBeUndefined();
  const again = new PracticeState();
  loadSnapshot({ header: { covers: {}, v: 3, counts: JSON.parse(JSON.stringify(content.counts)) }, batches: () => [records as never] }, again, () => undefined);
  expect([again.changeCount, again.newest, again.countByDevice, new Map([...again.countByWhere].filter(([, n]) => n > 0))]).toEqual([
    state.changeCount,
    state.newest,
    state.countByDevice,
    new Map([...state.countByWhere].filter(([, n]) => n > 0)),
  ]);
  return again;
}

describe('heads-only state (record-state.ts)', () => {
  test('any order, any snapshot round trips between: the heads are the versions no known version names, every version applied is known, each older one with its place', () => {
    fc.assert(
      fc.property(dag, fc.func(fc.nat()), fc.array(fc.nat(), { maxLength: 3 }), fc.nat(), (d, order, cuts, drop) => {
        const all = changesOf(d);
        // a random subset in a random order (some versions may never arrive)
        const applied = all.filter((_, i) => drop % 7 === 0 || (i + drop) % 5 !== 0);
        const shuffled = [...applied].sort((x, y) => order(x.ver) - order(y.ver) || (x.ver < y.ver ? -1 : 1));
        let state = new PracticeState();
        shuffled.forEach((c, i) => {
          if (cuts.includes(i)) state = roundTrip(state);
          expect(state.apply(c, whereOf(c))).toBe(true);
          expect(state.apply(c, whereOf(c))).toBe(false); // applying twice changes nothing
        });
        const want = expected(applied);
        for (const s of [state, roundTrip(state)]) {
          const got = seen(s, all);
          expect(new Set(got.heads.keys())).toEqual(new Set(want.heads.keys()));
          for (const [v, h] of got.heads) expect(h).toEqual({ at: want.heads.get(v)!.at, by: want.heads.get(v)!.by, where: whereOf(want.heads.get(v)!), data: want.heads.get(v)!.data });
          expect(got.known).toEqual(want.known);
          expect(got.older).toEqual(new Map(applied.filter((c) => !want.heads.has(c.ver)).map((c) => [c.ver, whereOf(c)])));
          expect(got.count).toBe(applied.length);
          expect(s.multiHead.size).toBe(want.heads.size > 1 ? 1 : 0);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a version-2 snapshot record is checked as a change is: versions, places, data that is plain JSON', () => {
    const ver = HybridClock.format(1_700_000_000_000, 0, DEVICES[0]!);
    const head = (data: unknown, place: unknown = 3) => [ver, '2026-01-01T00:00:00.000Z', 'PC 1', place, data];
    const rec = (heads: unknown[], old = '', orphans?: unknown) => (orphans === undefined ? ['clients', 'k', heads, old] : ['clients', 'k', heads, old, orphans]);
    expect(snapshotV2RecordsProblem([rec([head({ a: [1, { b: null }] })], `${HybridClock.format(1, 0, DEVICES[1]!)} 7,${HybridClock.format(2, 0, DEVICES[1]!)} ${DEVICES[2]}:9`, [ver])])).toBeUndefined();
    expect(snapshotV2RecordsProblem([rec([head(null)])])).toBeUndefined();
    for (const bad of [
      rec([]), // no version at all
      rec([head({ a: 1 }, 0)]),
      rec([head({ a: 1 }, 'journal')]),
      rec([head(JSON.parse('{"__proto__": {"x": 1}}'))]),
      rec([head({ a: { constructor: 1 } })]),
      rec([head({ n: JSON.parse('1e999') })]),
      rec([head(JSON.parse('['.repeat(70) + ']'.repeat(70)))]),
      rec([head({ a: JSON.parse('['.repeat(70) + ']'.repeat(70)) })]),
      rec([head({ a: 1 })], `${ver}`), // no place
      rec([head({ a: 1 })], `${ver} 1,`),
      rec([head({ a: 1 })], `${ver} journal`),
      rec([head({ a: 1 })], '', ['nope']),
      { col: 'clients', id: 'k', heads: [], old: '' },
    ])
      expect(snapshotV2RecordsProblem([bad])).toBeDefined();
  });

  test('an ancestor arriving after its descendant never becomes a head, also after a snapshot file round trip', async () => {
    const store = await newSharedStore();
    const keyring = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
    const folder = new ReplicaFolder(tempDir('cs-snap-'), store.header.storeId, keyring);
    const [a, b, c] = changesOf([3, [[0, [], false, 1], [1, [0], false, 1], [2, [1], false, 1]]]);
    const state = new PracticeState();
    state.apply(c!, whereOf(c!)); // the grandchild first: it names b, which is not here yet
    const content = snapshotOf(new Map(), state)!;
    const f = await folder.writeSnapshot({ t: 'snapshot', v: 3, device: DEVICES[0]!, seq: 1, createdAt: new Date().toISOString(), ...content });
    const loaded = new PracticeState();
    loadSnapshot(folder.openSnapshot(f, await folder.readSnapshotBytes(f)), loaded, () => undefined);
    for (const s of [state, loaded]) {
      expect(s.apply(b!, whereOf(b!))).toBe(true);
      expect(s.apply(a!, whereOf(a!))).toBe(true);
      const e = s.entry('clients', 'k')!;
      expect(e.headVersions()).toEqual([c!.ver]);
      expect([...e.older()].map((o) => o.ver).sort()).toEqual([a!.ver, b!.ver]);
      expect(e.toStored()?.data).toEqual(c!.data);
    }
  });
});

/** Every change of the replica's log files, by record: what history() must show. */
async function logged(d: Device, store: Awaited<ReturnType<typeof newSharedStore>>): Promise<Map<string, Change[]>> {
  const folder = new ReplicaFolder(d.localRoot, store.header.storeId, Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck));
  const out = new Map<string, Change[]>();
  for (const dev of await folder.listDevices()) for (const f of await folder.listSegments(dev)) for (const c of (await folder.readSegment(f)).changes) out.set(c.id, [...(out.get(c.id) ?? []), c]);
  return out;
}

/** What a snapshot of version 1 (earlier releases) held: every version with its metadata, the heads' data. */
async function writeVersion1Snapshot(d: Device, store: Awaited<ReturnType<typeof newSharedStore>>, seq: number): Promise<void> {
  const keyring = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
  const folder = new ReplicaFolder(d.localRoot, store.header.storeId, keyring);
  const covers: Record<string, { ranges: [number, number][]; hashes: Record<string, string> }> = {};
  const records: SnapshotRecord[] = [];
  const byRecord = new Map<string, SnapshotRecord>();
  for (const dev of await folder.listDevices()) {
    const files = await folder.listSegments(dev);
    covers[dev] = { ranges: files.map((f) => [f.seq, f.seq]), hashes: Object.fromEntries(files.map((f) => [String(f.seq), f.hash])) };
    for (const f of files)
      for (const c of (await folder.readSegment(f)).changes) {
        let r = byRecord.get(c.id);
        if (!r) byRecord.set(c.id, (r = { col: c.col, id: c.id, versions: [], heads: {} }));
        r.versions.push([c.ver, c.parents, c.at, c.by, c.data === null, `${dev}:${f.seq}`]);
        r.heads[c.ver] = c.data;
      }
  }
  for (const r of byRecord.values()) {
    const named = new Set(r.versions.flatMap((v) => v[1]));
    r.heads = Object.fromEntries(Object.entries(r.heads).filter(([v]) => !named.has(v)));
    records.push(r);
  }
  for (const s of walk(d.localRoot).filter((f) => f.startsWith('snapshots'))) fs.rmSync(path.join(d.localRoot, s));
  await folder.writeSnapshot({ t: 'snapshot', v: 1, device: d.id, seq, createdAt: new Date().toISOString(), covers, records });
}

describe('history() read on demand', () => {
  const ids = ['k0', 'k1', 'busy'];

  async function view(r: PracticeReplica) {
    const out: unknown[] = [await r.list('clients'), r.conflictList];
    for (const id of ids) out.push(await r.history('clients', id));
    return out;
  }

  /** Opens `d`'s replica again, counting the log files read while opening. */
  async function reopen(d: Device, store: Awaited<ReturnType<typeof newSharedStore>>): Promise<{ r: PracticeReplica; readsAtOpen: number }> {
    const spy = jest.spyOn(ReplicaFolder.prototype, 'readSegment');
    try {
      const r = await PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: d.name, userName: 'tester' });
      return { r, readsAtOpen: spy.mock.calls.length };
    } finally {
      spy.mockRestore();
    }
  }

  test('the same history() — every version, its time, author and body from its log file — after a replay, from a snapshot, and from an earlier release’s snapshot', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC1');
    const b = await openDevice(store, 'PC2');
    await a.replica.put('clients', 'k0', { name: 'Anna', n: 0 });
    await a.replica.put('clients', 'k1', { name: 'Ben' });
    await syncAll([a, b]);
    // concurrent edits: a conflict; then a removal and an edit on another record
    await a.replica.put('clients', 'k0', { name: 'Anna A' });
    await b.replica.put('clients', 'k0', { name: 'Anna B' });
    await b.replica.remove('clients', 'k1');
    // more older versions than one string holds (record-state.ts keeps them in a Map then)
    for (let i = 0; i < 70; i++) await a.replica.put('clients', 'busy', { i });
    await syncAll([a, b]);
    expect(a.replica.conflictList.map((c) => c.id)).toEqual(['k0']);
    const live = await view(a.replica);
    await b.store.close();

    // history() shows what the log files say of every version
    const changes = await logged(a, store);
    for (const id of ids) {
      const h = await a.replica.history('clients', id);
      const want = changes.get(id)!.sort((x, y) => (x.ver < y.ver ? -1 : 1));
      expect(h.map((x) => [x.version, x.data, x.updatedAt, x.updatedBy])).toEqual(want.map((c) => [c.ver, c.data, c.at, c.by]));
    }
    expect((await a.replica.history('clients', 'busy')).length).toBe(70);

    // from its own snapshot (version 2): no log file read at open, the same view, older versions read on demand
    expect(await a.replica.writeSnapshot()).toBeDefined();
    await a.store.close();
    const fromSnapshot = await reopen(a, store);
    expect(fromSnapshot.readsAtOpen).toBe(0);
    expect(await view(fromSnapshot.r)).toEqual(live);
    expect(fromSnapshot.r.badFiles).toEqual([]);
    await fromSnapshot.r.close();

    // an earlier release's snapshot (version 1): read into the same state
    await writeVersion1Snapshot(a, store, 9);
    const fromOld = await reopen(a, store);
    expect(fromOld.readsAtOpen).toBe(0);
    expect(await view(fromOld.r)).toEqual(live);
    expect(fromOld.r.badFiles).toEqual([]);
    await fromOld.r.close();

    // without any snapshot: every log file replayed
    for (const s of walk(a.localRoot).filter((f) => f.startsWith('snapshots'))) fs.rmSync(path.join(a.localRoot, s));
    const replayed = await reopen(a, store);
    expect(replayed.readsAtOpen).toBeGreaterThan(0);
    expect(await view(replayed.r)).toEqual(live);
    await replayed.r.close();
  });

  test('an earlier release’s snapshot that contradicts itself (a head without its data) is reported and the log files are replayed', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC1');
    await a.replica.put('clients', 'k0', { name: 'Anna' });
    await a.replica.put('clients', 'k0', { name: 'Anna 2' });
    await a.replica.sealNow();
    const live = await a.replica.history('clients', 'k0');
    await a.store.close();
    await writeVersion1Snapshot(a, store, 3);
    // take the head's data out of the snapshot: rewrite it without
    const keyring = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
    const folder = new ReplicaFolder(a.localRoot, store.header.storeId, keyring);
    const [f] = await folder.listSnapshots();
    const opened = folder.openSnapshot(f!, await folder.readSnapshotBytes(f!));
    const records = [...opened.batches()].flat() as SnapshotRecord[];
    for (const r of records) r.heads = {};
    fs.rmSync(path.join(a.localRoot, 'snapshots'), { recursive: true });
    await folder.writeSnapshot({ ...opened.header, v: 1, records });
    const again = await PracticeReplica.open({ localRoot: a.localRoot, header: store.header, key: store.key, deviceId: a.id, deviceName: 'PC1', userName: 'x' });
    expect(again.badFiles.map((x) => x.reason)).toEqual(['a head without its data']);
    expect(await again.history('clients', 'k0')).toEqual(live);
    await again.close();
  });
});
