// A snapshot is the merge state of every sealed log file at one moment, so a device can start
// from it instead of replaying every change. Building one and loading one are exact inverses.
import type { Snapshot } from './format';
import type { SegmentFile } from './replica-folder';
import { RecordEntry, type PracticeState } from './record-state';

/** Which log files a replica has applied: per device, seq → hash. */
export type LogIndex = Map<string, Map<number, string>>;

/** What a snapshot of this state says (its header's `covers`, and the records). */
export function snapshotOf(logs: LogIndex, state: PracticeState): Pick<Snapshot, 'covers' | 'records'> {
  const covers: Snapshot['covers'] = {};
  for (const [dev, m] of logs) {
    const seqs = [...m.keys()].sort((a, b) => a - b);
    const ranges: [number, number][] = [];
    for (const s of seqs) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === s - 1) last[1] = s;
      else ranges.push([s, s]);
    }
    covers[dev] = { ranges, hashes: Object.fromEntries(seqs.map((s) => [String(s), m.get(s)!])) };
  }
  const records: Snapshot['records'] = [];
  for (const e of state.records.values()) {
    records.push({
      col: e.col,
      id: e.id,
      versions: [...e.versions.values()].map((m) => [m.ver, [...m.parents], m.at, m.by, m.deleted, m.where] as [string, string[], string, string, boolean, string]),
      heads: Object.fromEntries(e.heads),
    });
  }
  return { covers, records };
}

/**
 * Loads an opened snapshot into an empty state; calls `covered` for every log file it covers.
 * Returns the greatest version it holds (versions sort by their clock: observing it is observing all).
 */
export function loadSnapshot(
  snap: { header: Pick<Snapshot, 'covers'>; batches(): Iterable<Snapshot['records']> },
  state: PracticeState,
  covered: (f: SegmentFile) => void,
): string {
  for (const [dev, cover] of Object.entries(snap.header.covers))
    for (const [seqText, hash] of Object.entries(cover.hashes)) covered({ device: dev, seq: Number(seqText), hash });
  // JSON.parse makes a string per occurrence; the few device names and places are shared instead.
  const interned = new Map<string, string>();
  const intern = (s: string) => interned.get(s) ?? (interned.set(s, s), s);
  let newest = '';
  for (const batch of snap.batches()) {
    for (const r of batch) {
      const e = new RecordEntry(r.col, r.id);
      for (const [ver, parents, at, by, deleted, where] of r.versions) {
        e.addVersion({ ver, parents, at, by: intern(by), deleted, where: intern(where), superseded: false });
        state.count(ver, where);
        if (ver > newest) newest = ver;
      }
      for (const [ver, data] of Object.entries(r.heads)) if (e.versions.get(ver)?.superseded === false) e.heads.set(ver, data);
      state.records.set(`${r.col}\u0000${r.id}`, e);
    }
  }
  return newest;
}
