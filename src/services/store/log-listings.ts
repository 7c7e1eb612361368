// Incremental listing of the devices' log folders (#15). Every round asks whether a device wrote
// something new, and every round used to list each device's whole log folder: on a server the bytes
// of a round grew with the history (4 PCs × 500 log files: a megabyte every 2 s). Here each folder's
// names are remembered, and a round asks the medium only for what is new since (`Medium.listChanges`:
// S3 `StartAfter`, a WebDAV folder's tag). What an incremental listing cannot see — a removal on S3, a
// name that appears below the last one (a repair by another PC, a forked chain, a listing that lags
// behind on an eventually consistent provider) — is seen by a complete listing, which the carrier asks
// for on a bounded schedule (`beginRound(true)`: the first round, every audit period, after any doubt
// or failed round). A folder medium has no `listChanges`: it is listed completely every time.
import { segmentName } from './format';
import type { BadFile, ListedSegment, ReplicaFolder, SegmentFile } from './replica-folder';

interface FolderState {
  /** The names the shared location listed (complete listing plus what incremental ones added since). */
  readonly files: Map<string, ListedSegment>;
  token: string | undefined;
  /** The round in which it was last listed (a folder is listed at most once a round). */
  round: number;
  /** When it was last listed completely (ms). */
  completeAt: number;
}

export class LogListings {
  protected readonly folders = new Map<string, FolderState>();
  protected round = 0;
  protected complete = true;

  constructor(
    protected readonly shared: ReplicaFolder,
    /** Whether this replica holds a log file (an incremental listing goes on after the last one it holds). */
    protected readonly holds: (f: SegmentFile) => boolean,
    protected readonly now: () => number = Date.now,
  ) {}

  /** A new round: each folder is listed at most once in it; `complete`: every folder is listed completely. */
  beginRound(complete: boolean): void {
    this.round++;
    this.complete = complete;
  }

  /** Forgets everything (the location was swapped, emptied, restored): the next listings are complete. */
  reset(): void {
    this.folders.clear();
  }

  /**
   * A device's log files the shared location holds as far as the listings tell, sorted by number; in
   * a round's first call the folder is listed (completely or incrementally), later calls in the same
   * round answer from memory. `gone`: names a listing said were there before and are not any more.
   */
  async segments(dev: string, bad?: (b: BadFile) => void): Promise<{ files: ListedSegment[]; gone: SegmentFile[] }> {
    let st = this.folders.get(dev);
    const gone: SegmentFile[] = [];
    if (!st || st.round !== this.round) {
      const complete = this.complete || !st;
      const r = await this.shared.segmentChanges(dev, complete ? undefined : this.mark(st!), bad);
      if (!st || r.complete) {
        const files = new Map(r.files.map((f) => [segmentName(f.seq, f.hash), f]));
        if (st) for (const [name, f] of st.files) if (!files.has(name)) gone.push(f);
        st = { files, token: r.token, round: this.round, completeAt: this.now() };
        this.folders.set(dev, st);
      } else {
        for (const f of r.files) st.files.set(segmentName(f.seq, f.hash), f);
        for (const name of r.removed ?? []) {
          const f = st.files.get(name);
          if (f) gone.push(f);
          st.files.delete(name);
        }
        st.token = r.token;
        st.round = this.round;
      }
    }
    const files = [...st.files.values()].sort((a, b) => a.seq - b.seq || (a.hash < b.hash ? -1 : 1));
    return { files, gone };
  }

  /** A name this device removed itself (format 2: a file one of its packs holds): not listed any more, not "gone". */
  forget(dev: string, name: string): void {
    this.folders.get(dev)?.files.delete(name);
  }

  /**
   * Where an incremental listing goes on from: after the last name listed that this replica holds (a
   * planted name at a high number, or a file not taken yet, never moves it: what lies above it is
   * listed again each round), and the medium's token of the last listing.
   */
  protected mark(st: FolderState): { after: string | undefined; token: string | undefined } {
    let after: string | undefined;
    for (const [name, f] of st.files) if (this.holds(f) && (after === undefined || name > after)) after = name;
    return { after, token: st.token };
  }
}
