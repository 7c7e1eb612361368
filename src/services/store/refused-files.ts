// Files a carrier refused (they failed a check), remembered by path, size and modification time, so
// a poll does not read and hash them again every two seconds; a file that changes is read again.

/**
 * What identifies one state of a file without reading it. The change time (ctime) too: a sync client
 * that fills a preallocated file in place and sets the original mtime still changes it.
 */
export interface FileStamp {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/**
 * How long after a refusal a file whose time is kept in whole seconds is read once more. FAT keeps
 * times in 2 s steps and has no change time, a server's Last-Modified is in seconds: a damaged file
 * written again at the same size within the same step (a PC's repair of its own file) has the stamp
 * of the one refused. Once the step has passed, a write lands in a later one; then the stamp stands.
 */
export const COARSE_RECHECK_MS = 5000;

interface Refusal extends FileStamp {
  /** A stamp in whole seconds: read once more from then on (local clock); undefined once that look refused it again. */
  readonly recheckAt?: number;
}

/** The same state of a file: size, modification time and change time (a server's tag). */
export const sameStamp = (a: FileStamp, b: FileStamp) => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

export class RefusedFiles {
  protected readonly refused = new Map<string, Refusal>(); // path → stamp when refused, oldest first

  /** At most `max` files are remembered; beyond that the oldest refusal is forgotten (and read again once). */
  constructor(
    readonly max = 4096,
    protected readonly now: () => number = () => Date.now(),
  ) {}

  get size(): number {
    return this.refused.size;
  }

  /** Whether `rel` was refused in exactly this state (and, for a stamp in whole seconds, looked at again after its step). */
  has(rel: string, st: FileStamp): boolean {
    const r = this.refused.get(rel);
    return r !== undefined && sameStamp(r, st) && (r.recheckAt === undefined || this.now() < r.recheckAt);
  }

  /** Whether `rel` was refused in any state. */
  includes(rel: string): boolean {
    return this.refused.has(rel);
  }

  add(rel: string, st: FileStamp): void {
    const before = this.refused.get(rel);
    const now = this.now();
    // refused again at the same stamp by the look after its step: that state is the file's for good
    const confirmed = before !== undefined && sameStamp(before, st) && (before.recheckAt === undefined || now >= before.recheckAt);
    const coarse = st.mtimeMs % 1000 === 0;
    this.refused.delete(rel);
    this.refused.set(rel, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ...(coarse && !confirmed ? { recheckAt: now + COARSE_RECHECK_MS } : {}) });
    if (this.refused.size > this.max) this.refused.delete(this.refused.keys().next().value!);
  }

  delete(rel: string): void {
    this.refused.delete(rel);
  }
}
