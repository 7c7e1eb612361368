// A snapshot is the merge state of every sealed log file at one moment, so a device can start
// from it instead of replaying every change. Building one and loading one are exact inverses.
// Version 3 (written now) is version 2 with the log files it covers and their counters packed (after
// years a million log files: as JSON keys they were ~120 MB of header, issue #16). Version 2 holds the
// state as record-state.ts keeps it in memory; version 1 (written by
// earlier releases: every version with its metadata) is still read, into the same state.
import { unpackCounts } from './device-log';
import type { Snapshot, SnapshotHeader, SnapshotRecord } from './format';
import { BadFileError, type SegmentFile } from './replica-folder';
import { BytesHead, dataOf, JOURNAL, RecordEntry, whereOfPlace, type DataDamage, type Head, type PracticeState } from './record-state';
import { parseSnapshotData, type BytesBatch, type SnapshotHead, type SnapshotHeadData, type SnapshotRecordV2 } from './snapshot-format';

/** Which log files a replica has applied: per device, [seq, hash] rising. */
export type LogIndex = ReadonlyMap<string, Iterable<[number, string]>>;

/**
 * Every log file a snapshot's header says it covers. Version 3's packed hashes must be canonical base64
 * of exactly one hash per position its ranges name; BadFileError (`rel`) otherwise.
 */
export function* coveredFiles(covers: SnapshotHeader['covers'], rel = 'snapshots'): Generator<SegmentFile> {
  for (const [device, cover] of Object.entries(covers)) {
    if ('hashes' in cover) {
      for (const [seq, hash] of Object.entries(cover.hashes)) yield { device, seq: Number(seq), hash };
      continue;
    }
    let positions = 0;
    for (const [first, last] of cover.ranges) {
      if (last < first) throw new BadFileError({ path: rel, reason: 'a range of the log files it covers ends before it begins' });
      positions += last - first + 1;
    }
    const hashes = Buffer.from(cover.packed, 'base64');
    if (hashes.length !== positions * 32 || hashes.toString('base64') !== cover.packed) throw new BadFileError({ path: rel, reason: 'the hashes of the log files it covers do not match their ranges' });
    let i = 0;
    for (const [first, last] of cover.ranges) for (let seq = first; seq <= last; seq++, i++) yield { device, seq, hash: hashes.toString('hex', i * 32, (i + 1) * 32) };
  }
}

/** What a snapshot of this state says (its header's `covers`, and the records, version 2). */
export interface SnapshotContent {
  covers: Snapshot['covers'];
  counts: NonNullable<SnapshotHeader['counts']>;
  /** A head's data as bytes where they were never read since a version-4 snapshot was loaded. */
  records: SnapshotRecordV2<SnapshotHeadData>[];
}

/**
 * What a snapshot of this state says; undefined while a body lies in the journal (a snapshot names
 * only sealed log files, and is taken when the journal is empty).
 */
export function snapshotOf(logs: LogIndex, state: PracticeState): SnapshotContent | undefined {
  if ((state.countByWhere.get(JOURNAL) ?? 0) > 0) return undefined;
  // version 3: per device the ranges, and the hashes packed in their order
  const covers: Snapshot['covers'] = {};
  for (const [dev, m] of logs) {
    const entries = [...m].sort((a, b) => a[0] - b[0]);
    const ranges: [number, number][] = [];
    const hashes = Buffer.alloc(entries.length * 32);
    entries.forEach(([s, hash], i) => {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === s - 1) last[1] = s;
      else ranges.push([s, s]);
      hashes.write(hash, i * 32, 32, 'hex');
    });
    covers[dev] = { ranges, packed: hashes.toString('base64') };
  }
  const counts = { byDevice: Object.fromEntries(state.countByDevice), ...state.countByWhere.packed(), newest: state.newest };
  const records: SnapshotRecordV2<SnapshotHeadData>[] = [];
  for (const e of state.records()) {
    if (e.hasUnsealed) return undefined;
    const heads: SnapshotHead<SnapshotHeadData>[] = [];
    for (const h of e.heads()) {
      const ver = h.ver;
      const colon = h.where.indexOf(':');
      const own = h.where.slice(0, colon) === ver.slice(ver.lastIndexOf('.') + 1);
      const data = (h instanceof BytesHead ? h.bytes() : undefined) ?? dataOf(h);
      if (data === undefined) return undefined; // bytes of the snapshot it was loaded from turned out bad: none is written from this state
      heads.push([ver, h.at, h.by, own ? Number(h.where.slice(colon + 1)) : h.where, data]);
    }
    const { old, orphans } = e.forSnapshot();
    records.push(orphans ? [e.col, e.id, heads, old, orphans] : [e.col, e.id, heads, old]);
  }
  return { covers, counts, records };
}

/** An opened snapshot: its header, and its records batch by batch (each batch checked as it is read). */
export interface OpenedSnapshot {
  header: Pick<SnapshotHeader, 'covers' | 'v' | 'counts'>;
  batches(): Iterable<SnapshotRecord[] | SnapshotRecordV2[] | BytesBatch>;
}

/**
 * Loads an opened snapshot into an empty state; calls `covered` for every log file it covers.
 * Returns the greatest version it holds (versions sort by their clock: observing it is observing all).
 * A snapshot whose records contradict themselves throws BadFileError (`rel`): the log files are replayed.
 * Version 4's data are checked when first read (a record with several heads: here, as the conflict
 * check reads them at once); data found bad later go to `damage` (record-state.ts, BytesHead).
 */
export function loadSnapshot(snap: OpenedSnapshot, state: PracticeState, covered: (f: SegmentFile) => void, rel = 'snapshots', damage?: DataDamage): string {
  for (const f of coveredFiles(snap.header.covers, rel)) covered(f);
  const bad = (reason: string) => new BadFileError({ path: rel, reason });
  let newest = '';
  const counted = (ver: string, where: string) => {
    state.count(ver, where);
    if (ver > newest) newest = ver;
  };
  const counts = snap.header.v >= 2 ? snap.header.counts : undefined;
  if (snap.header.v >= 2 && !counts) throw bad('has no counts');
  let versions = 0;
  // while loading, bad data make the snapshot bad (reported, the log files replayed); afterwards `damage` says
  let loading = true;
  const dataDamage: DataDamage = {
    note: (h) => {
      if (!loading) damage?.note(h);
    },
    error: (h) => (damage ?? { error: () => bad(`the data of version ${h.ver} are not a record's data`) }).error(h),
  };
  for (const batch of snap.batches()) {
    if (!Array.isArray(batch)) {
      // Version 4: the data stay the batch's bytes, each head a range of them in the order the heads come.
      if (!counts) throw bad('has no counts');
      let at = 0;
      for (const [col, id, list, old, orphans] of batch.records) {
        const heads: Head[] = [];
        for (const [ver, hAt, by, place, len] of list) {
          const where = state.intern(whereOfPlace(ver, String(place)));
          if (len === null) heads.push({ ver, at: hAt, by: state.intern(by), where, data: null });
          else heads.push(new BytesHead(ver, hAt, state.intern(by), where, batch.data, at, (at += len), dataDamage));
        }
        const e = RecordEntry.restore(col, id, heads, old, orphans);
        versions += e.headCount + e.olderCount;
        if (!state.put(e)) throw bad('holds a record twice');
      }
      continue;
    }
    if (counts) {
      // Version 2: the counters come from the header (checked against the number of versions below), so
      // an older version is not touched here: its entry stays the string it was read as.
      for (const [col, id, list, old, orphans] of batch as SnapshotRecordV2[]) {
        const heads: Head[] = [];
        for (const [ver, at, by, place, data] of list) heads.push({ ver, at, by: state.intern(by), where: state.intern(whereOfPlace(ver, String(place))), data });
        const e = RecordEntry.restore(col, id, heads, old, orphans);
        versions += e.headCount + e.olderCount;
        if (!state.put(e)) throw bad('holds a record twice');
      }
      continue;
    }
    for (const r of batch as SnapshotRecord[]) {
      // Version 1: every version with its parents, added as a log file adds them. A version whose body was
      // in the journal when the snapshot was taken is left out: it comes back from the journal or from the
      // log file that sealed it, both newer than the snapshot (it never stands in for either).
      const e = new RecordEntry(r.col, r.id);
      for (const [ver, parents, at, by, , where] of r.versions) {
        if (where === JOURNAL || e.has(ver)) continue;
        const w = state.intern(where);
        e.add({ ver, at, by: state.intern(by), where: w, data: Object.hasOwn(r.heads, ver) ? r.heads[ver]! : (undefined as never) }, parents);
        counted(ver, w);
      }
      for (const h of e.heads()) if (h.data === undefined) throw bad('a head without its data');
      if (!state.put(e)) throw bad('holds a record twice');
    }
  }
  if (counts) {
    // version 2: "<device>:<seq>" → count; version 3: packed per device (device-log.ts)
    const places = snap.header.v === 2 ? Object.entries(counts.byWhere ?? {}).map(([w, n]): [string, number, number] => [w.slice(0, w.lastIndexOf(':')), Number(w.slice(w.lastIndexOf(':') + 1)), n]) : unpackCounts(counts, versions);
    if (!places || !state.restoreCounts(counts.byDevice, places, versions)) throw bad('its counts do not match its records');
    newest = state.newest = counts.newest;
  }
  // the records with several heads are compared at once (conflicts$): their data are read here
  for (const e of state.multiHead) for (const h of e.heads()) if (dataOf(h) === undefined) throw bad(`the data of version ${h.ver} are not a record's data`);
  loading = false;
  return newest;
}

/** The first head of a version-4 batch whose data are not a record's data (a full check reads them all), or undefined. */
export function badDataIn(batch: BytesBatch): string | undefined {
  const bytes = batch.data.bytes();
  if (!bytes) return batch.records[0]?.[2][0]?.[0] ?? 'a batch';
  let at = 0;
  for (const [, , list] of batch.records)
    for (const [ver, , , , len] of list) {
      if (len === null) continue;
      if (parseSnapshotData(bytes.toString('utf8', at, (at += len))) === undefined) return ver;
    }
  return undefined;
}
