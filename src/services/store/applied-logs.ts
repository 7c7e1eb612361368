// The log files a replica has applied, and the merge state they make: which file of which device
// is in, where each version's body lies, and the records. Applying the same file twice changes
// nothing; the state does not depend on the order files arrive in (record-state.ts).
import type { StoredRecord } from '../../host-api';
import { Paths, type Change, type Segment, type SnapshotHeader } from './format';
import type { HybridClock } from './hybrid-clock';
import { corruptReplica, damagedSnapshot } from './record-input';
import { PracticeState } from './record-state';
import { DeviceLog, type PlaceCounts } from './device-log';
import { BadFileError, type BadFile, type ReplicaFolder, type SegmentFile } from './replica-folder';
import type { OwnLogFile } from './replica-port';
import { coveredFiles, loadSnapshot, snapshotOf } from './snapshot-state';

/** Parsed log files kept for reading bodies and metadata again (history(), a chain's `prev`): bounded by their changes, not their number. */
const CACHED_CHANGES = 4000;

/** Whether every log file a snapshot's header names is one `held` here. */
function coversOnly(covers: SnapshotHeader['covers'], held: (f: SegmentFile) => boolean, rel: string): boolean {
  for (const f of coveredFiles(covers, rel)) if (!held(f)) return false;
  return true;
}

function logKey(f: SegmentFile): string {
  return `${f.device}/${f.seq}-${f.hash}`;
}

/** Where a body lies: "<device>:<seq>" or "journal". */
export function whereOf(f: { device: string; seq: number }): string {
  return `${f.device}:${f.seq}`;
}

export class AppliedLogs {
  readonly state = new PracticeState();
  /** Per device: seq → hash of the log file applied at that position (a fork's first file). */
  protected readonly logs = new Map<string, DeviceLog>();
  /** The second file of a forked position, by name (the first is in `logs`): so none is applied twice. */
  protected readonly forks = new Set<string>();
  protected readonly cache = new Map<string, Segment>();
  protected cachedChanges = 0;
  /** Per device: its log files in order, kept as positions are added at the end (rebuilt after any other change). */
  protected readonly filesMemo = new Map<string, { files: LogFileEntry[]; view?: readonly OwnLogFile[] }>();

  /** Per device: the highest n such that positions 1…n are all applied (grows only; see `holds`). */
  protected readonly prefix = new Map<string, number>();
  /** The loaded snapshot's data turned out bad when read (BytesHead): none is written from this state. */
  protected dataDamaged = false;
  /** That snapshot's removal from the replica, awaited at close (release). */
  protected removal?: Promise<void>;
  /** The loaded snapshot's file, open while its records' data may still be read (snapshot version 4). */
  protected snapshotFile?: { close(): Promise<void> };

  constructor(
    protected readonly local: ReplicaFolder,
    protected readonly clock: HybridClock,
    /** Reads an applied log file's content from this replica: its own file, or a pack that holds it. */
    protected readonly read: (f: SegmentFile) => Promise<Segment> = (f) => local.readSegment(f),
  ) {}

  /**
   * What this replica acknowledges in its presence (format 2): per device, the highest n such that it
   * holds every position 1…n of that device's chain.
   */
  holds(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [dev, m] of this.logs) {
      let n = this.prefix.get(dev) ?? 0;
      while (m.has(n + 1)) n++;
      this.prefix.set(dev, n);
      if (n > 0) out[dev] = n;
    }
    return out;
  }

  has(f: SegmentFile): boolean {
    return this.logs.get(f.device)?.get(f.seq) === f.hash || this.forks.has(logKey(f));
  }

  hasPosition(device: string, seq: number): boolean {
    return this.logs.get(device)?.has(seq) ?? false;
  }

  /** The last log file of a device: its seq (0 for none) and hash (null for none). */
  tipOf(device: string): { seq: number; hash: string | null } {
    const m = this.logs.get(device);
    return m && m.tip > 0 ? { seq: m.tip, hash: m.get(m.tip)! } : { seq: 0, hash: null };
  }

  /** The hash of the log file applied at a device's position (the first one, where the chain forked). */
  hashAt(device: string, seq: number): string | undefined {
    return this.logs.get(device)?.get(seq);
  }

  /** The newest applied log file of every device. */
  tips(): Record<string, [number, string]> {
    const out: Record<string, [number, string]> = {};
    for (const dev of this.logs.keys()) {
      const t = this.tipOf(dev);
      if (t.hash) out[dev] = [t.seq, t.hash];
    }
    return out;
  }

  /** The `prev` of an applied log file (from the cache of recent ones, else read back). */
  async prevOf(f: SegmentFile): Promise<string | null> {
    const seg = this.cache.get(whereOf(f)) ?? (await this.read(f));
    return seg.prev;
  }

  /** A device's log files, oldest first, with the number of changes whose bodies they hold. */
  filesOf(device: string): readonly OwnLogFile[] {
    // Asked several times a round (sending, status, presence), and after years a device has hundreds of
    // thousands: built once, then a new position at the end is added to it (positions() below).
    let memo = this.filesMemo.get(device);
    if (!memo) {
      const files = [...(this.logs.get(device) ?? [])].map(([seq, hash]) => new LogFileEntry(device, seq, hash, this.state.countByWhere));
      this.filesMemo.set(device, (memo = { files }));
    }
    return (memo.view ??= memo.files.slice());
  }

  /** Records a position's log file in the index (and in the memo of filesOf). */
  protected place(f: SegmentFile, sealedHere = false): void {
    let m = this.logs.get(f.device);
    if (!m) this.logs.set(f.device, (m = new DeviceLog()));
    const had = m.get(f.seq);
    if (had === f.hash) return;
    if (had !== undefined) {
      // the position's first file stays in the index and a second one is kept by name — unless this
      // replica sealed the second itself: its chain goes on from that one
      if (!sealedHere) {
        this.forks.add(logKey(f));
        return;
      }
      this.forks.add(logKey({ device: f.device, seq: f.seq, hash: had }));
      this.forks.delete(logKey(f));
      this.filesMemo.delete(f.device);
      m.set(f.seq, f.hash);
      return;
    }
    const memo = this.filesMemo.get(f.device);
    if (memo && f.seq > m.tip) {
      memo.files.push(new LogFileEntry(f.device, f.seq, f.hash, this.state.countByWhere));
      memo.view = undefined;
    } else this.filesMemo.delete(f.device);
    m.set(f.seq, f.hash);
  }

  /**
   * Applies a verified log file. Returns the records it changed, for changes$ (a change known
   * already changes nothing; the journal body of one of this device's own is moved to the file).
   */
  apply(f: SegmentFile, seg: Segment, ownDevice: string): StoredRecord[] {
    this.place(f);
    this.remember(f, seg);
    const changed: StoredRecord[] = [];
    for (const c of seg.changes) {
      this.clock.observe(c.ver);
      if (this.state.apply(c, whereOf(f))) {
        // (a record whose snapshot bytes turned out bad is not announced here: a host's read of it takes
        // them from their log file first, PracticeReplica.readable)
        const rec = this.state.entry(c.col, c.id)?.toStoredIfReadable();
        if (rec) changed.push(rec);
      } else if (f.device === ownDevice) this.moveBody(c, f);
    }
    return changed;
  }

  /** One of this device's journal batches was sealed into `f`: the bodies now lie there. */
  sealed(f: SegmentFile, batch: readonly Change[]): void {
    this.place(f, true);
    for (const c of batch) this.moveBody(c, f);
  }

  protected moveBody(c: Change, f: SegmentFile): void {
    const e = this.state.entry(c.col, c.id);
    if (e) this.state.move(e, c.ver, whereOf(f));
  }

  /**
   * Loads the first of this replica's own snapshots (in the order given) that verifies and covers only
   * log files `held` here, into an empty state. A snapshot never stands in for a log file the replica
   * does not hold: one that names such a file is passed over (the log files are replayed instead).
   */
  async loadOwnSnapshot(snaps: readonly SegmentFile[], held: (f: SegmentFile) => boolean, bad: (b: BadFile) => void, writable: () => boolean = () => true): Promise<void> {
    this.filesMemo.clear();
    for (const f of snaps) {
      let snap: Awaited<ReturnType<ReplicaFolder['openSnapshotToLoad']>> | undefined;
      try {
        snap = await this.local.openSnapshotToLoad(f);
        if (!coversOnly(snap.header.covers, held, Paths.snapshot(f.device, f.seq, f.hash))) {
          await snap.close();
          continue;
        }
        const newest = loadSnapshot(snap, this.state, (c) => this.place(c), Paths.snapshot(f.device, f.seq, f.hash), {
          // a record's data read after the open were bad (version 4 checks them when first read): no
          // snapshot is written from this state, and this one is not loaded again — the next open replays
          // the log files, which hold every version
          note: (h) => {
            if (this.dataDamaged) return;
            this.dataDamaged = true;
            bad({ path: Paths.snapshot(f.device, f.seq, f.hash), reason: `the data of version ${h.ver} are not a record's data (found when read; the log files are replayed at the next open)` });
            // every snapshot of this PC: a later one may carry the same bytes on unread, an earlier one may be
            // where they came from; they are only a cache (the next open replays the log files, writes anew)
            if (writable()) this.removal = this.removeSnapshotsOf(f.device).catch(() => undefined);
          },
          error: (h) => damagedSnapshot(h.ver),
        });
        if (newest) this.clock.observe(newest);
        this.filesMemo.clear();
        this.snapshotFile = snap; // its data envelopes are read from it when records are first read
        return;
      } catch (e) {
        // a snapshot found bad half-way leaves nothing behind
        await snap?.close();
        this.state.clear();
        this.logs.clear();
        this.prefix.clear();
        this.forks.clear();
        this.filesMemo.clear();
        if (e instanceof BadFileError) bad(e.bad);
        else throw e;
      }
    }
  }

  /** Lets the loaded snapshot's file go (at close: no record is read after it). */
  async release(): Promise<void> {
    await this.removal;
    await this.snapshotFile?.close();
    this.snapshotFile = undefined;
  }

  /** Removes every snapshot written under `device` from the replica. */
  protected async removeSnapshotsOf(device: string): Promise<void> {
    for (const s of await this.local.listSnapshots()) if (s.device === device) await this.local.removeSnapshot(s);
  }

  /** What a snapshot of this state says; undefined while a body lies in the journal, or once the loaded snapshot's data turned out bad. */
  snapshot(): ReturnType<typeof snapshotOf> {
    return this.dataDamaged ? undefined : snapshotOf(this.logs, this.state);
  }

  /** A version as its log file holds it (body, time, author, parents): what history() shows of an older one. */
  async change(col: string, id: string, ver: string, where: string): Promise<Change> {
    const [dev, seqText] = where.split(':');
    const seq = Number(seqText);
    const hash = this.logs.get(dev!)?.get(seq);
    if (!hash) throw corruptReplica(`the body of version ${ver} is missing`);
    const f = { device: dev!, seq, hash };
    let seg = this.cache.get(whereOf(f));
    if (!seg) {
      try {
        seg = await this.read(f);
      } catch (e) {
        if (e instanceof BadFileError) throw corruptReplica(e.message);
        throw e;
      }
      this.remember(f, seg);
    }
    const c = seg.changes.find((x) => x.ver === ver && x.col === col && x.id === id);
    if (!c) throw corruptReplica(`version ${ver} is not in the log file that should hold it`);
    return c;
  }

  /** Reads a log file back from disk (not from the cache). */
  reread(f: SegmentFile): Promise<Segment> {
    const had = this.cache.get(whereOf(f));
    if (had) this.cachedChanges -= had.changes.length;
    this.cache.delete(whereOf(f));
    return this.read(f);
  }

  protected remember(f: SegmentFile, seg: Segment): void {
    const key = whereOf(f);
    const had = this.cache.get(key);
    if (had) this.cachedChanges -= had.changes.length;
    this.cache.delete(key);
    this.cache.set(key, seg);
    this.cachedChanges += seg.changes.length;
    while (this.cache.size > 1 && (this.cache.size > 64 || this.cachedChanges > CACHED_CHANGES)) {
      const [oldest, dropped] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      this.cachedChanges -= dropped.changes.length;
    }
  }
}

/** A log file in filesOf: how many changes' bodies it holds is read when asked (it changes as bodies move in). */
class LogFileEntry implements OwnLogFile {
  constructor(
    readonly device: string,
    readonly seq: number,
    readonly hash: string,
    protected readonly counts: PlaceCounts,
  ) {}

  get changes(): number {
    return this.counts.getAt(this.device, this.seq);
  }
}
