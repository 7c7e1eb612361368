// Snapshot version 3 (issue #16): the log files a snapshot covers and their counters are packed (base64
// of the hashes in the order of the ranges, a 32-bit count a position) instead of one JSON key each. A
// version-2 header (earlier releases of this version) loads into the same state; a packed cover or
// counter that does not fit its ranges is a bad snapshot (the log files are replayed), never a
// different state.
import * as crypto from 'node:crypto';
import { DeviceLog } from '../../../src/services/store/device-log';
import type { Change, SnapshotHeader } from '../../../src/services/store/format';
import { HybridClock } from '../../../src/services/store/hybrid-clock';
import { BadFileError, type SegmentFile } from '../../../src/services/store/replica-folder';
import { PracticeState } from '../../../src/services/store/record-state';
import { coveredFiles, loadSnapshot, snapshotOf, type SnapshotContent } from '../../../src/services/store/snapshot-state';

const DEVICES = ['a'.repeat(32), 'b'.repeat(32)];
const hash = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** A state of `n` changes by two devices, one log file each (with a gap at position 5 of the first), and the index of those files. */
function practice(n: number): { state: PracticeState; logs: Map<string, DeviceLog>; files: SegmentFile[] } {
  const state = new PracticeState();
  const logs = new Map(DEVICES.map((d) => [d, new DeviceLog()]));
  const files: SegmentFile[] = [];
  const seqs = [0, 0];
  let parent: string | undefined;
  for (let i = 0; i < n; i++) {
    const d = i % 2;
    let seq = ++seqs[d]!;
    if (d === 0 && seq === 5) seq = seqs[d] = 6;
    const ver = HybridClock.format(1_700_000_000_000 + i, 0, DEVICES[d]!);
    const c: Change = { col: 'clients', id: `r${i % 7}`, ver, parents: parent && i % 7 === 0 ? [parent] : [], at: new Date(1_700_000_000_000 + i).toISOString(), by: `PC ${d}`, op: 'put', data: { i } };
    parent = ver;
    const f = { device: DEVICES[d]!, seq, hash: hash(`${d}:${seq}`) };
    state.apply(c, `${f.device}:${f.seq}`);
    logs.get(f.device)!.set(f.seq, f.hash);
    files.push(f);
  }
  return { state, logs, files };
}

function load(header: Pick<SnapshotHeader, 'covers' | 'v' | 'counts'>, content: SnapshotContent): { state: PracticeState; covered: SegmentFile[] } {
  const state = new PracticeState();
  const covered: SegmentFile[] = [];
  const h = JSON.parse(JSON.stringify(header)) as typeof header; // as read from the file
  loadSnapshot({ header: h, batches: () => [JSON.parse(JSON.stringify(content.records)) as never] }, state, (f) => covered.push(f));
  return { state, covered };
}

const sortFiles = (fs: SegmentFile[]) => [...fs].sort((a, b) => (a.device === b.device ? a.seq - b.seq : a.device < b.device ? -1 : 1));

describe('snapshot version 3', () => {
  it('packs what it covers and its counters, and loads into the state it was taken of — as does the same snapshot written as version 2', () => {
    const { state, logs, files } = practice(41);
    const content = snapshotOf(logs, state)!;
    for (const cover of Object.values(content.covers)) expect(cover).toHaveProperty('packed');
    expect(content.counts).toHaveProperty('byPosition');
    expect(content.covers[DEVICES[0]!]!.ranges).toEqual([
      [1, 4],
      [6, 22],
    ]);
    const v3 = load({ v: 3, covers: content.covers, counts: content.counts }, content);
    // the same content as an earlier release of version 2 wrote it: one key a log file
    const v2covers: SnapshotHeader['covers'] = Object.fromEntries([...logs].map(([d, m]) => [d, { ranges: content.covers[d]!.ranges, hashes: Object.fromEntries([...m].map(([s, h]) => [String(s), h])) }]));
    const byWhere = Object.fromEntries([...state.countByWhere]);
    const v2 = load({ v: 2, covers: v2covers, counts: { byDevice: content.counts.byDevice, byWhere, newest: content.counts.newest } }, content);
    for (const loaded of [v3, v2]) {
      expect(sortFiles(loaded.covered)).toEqual(sortFiles(files));
      expect(loaded.state.changeCount).toBe(state.changeCount);
      expect(new Map(loaded.state.countByWhere)).toEqual(new Map(state.countByWhere));
      expect(loaded.state.countByDevice).toEqual(state.countByDevice);
      for (const e of state.records()) expect(loaded.state.entry(e.col, e.id)!.headVersions()).toEqual(e.headVersions());
    }
  });

  it('refuses a packed cover that does not fit its ranges, is not canonical base64, or counters that do not add up', () => {
    const { state, logs } = practice(12);
    const content = snapshotOf(logs, state)!;
    const d = DEVICES[0]!;
    const cover = content.covers[d] as { ranges: [number, number][]; packed: string };
    const broken: [string, Pick<SnapshotHeader, 'covers' | 'v' | 'counts'>][] = [
      ['one hash short', { v: 3, covers: { ...content.covers, [d]: { ranges: cover.ranges, packed: Buffer.from(cover.packed, 'base64').subarray(32).toString('base64') } }, counts: content.counts }],
      ['a range more', { v: 3, covers: { ...content.covers, [d]: { ranges: [...cover.ranges, [100, 100]], packed: cover.packed } }, counts: content.counts }],
      ['a range backwards', { v: 3, covers: { ...content.covers, [d]: { ranges: [[4, 1]], packed: cover.packed } }, counts: content.counts }],
      ['not canonical base64', { v: 3, covers: { ...content.covers, [d]: { ranges: cover.ranges, packed: `${cover.packed.slice(0, -4)}!!${cover.packed.slice(-4)}` } }, counts: content.counts }],
      ['a count changed', { v: 3, covers: content.covers, counts: { ...content.counts, byPosition: { ...content.counts.byPosition, [d]: Buffer.from(Buffer.from(content.counts.byPosition![d]!, 'base64').map((b, i) => (i === 0 ? b + 1 : b))).toString('base64') } } }],
      ['counts of odd length', { v: 3, covers: content.covers, counts: { ...content.counts, byPosition: { ...content.counts.byPosition, [d]: Buffer.from([1, 0, 0]).toString('base64') } } }],
    ];
    for (const [what, header] of broken) {
      let thrown: unknown;
      try {
        load(header, content);
      } catch (e) {
        thrown = e;
      }
      expect([what, thrown instanceof BadFileError]).toEqual([what, true]);
    }
    // coveredFiles alone: the shape checks, before any file is named
    expect(() => [...coveredFiles(broken[0]![1].covers)]).toThrow(BadFileError);
  });
});
