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

export class RefusedFiles {
  protected readonly refused = new Map<string, FileStamp>(); // path → stamp when refused, oldest first

  /** At most `max` files are remembered; beyond that the oldest refusal is forgotten (and read again once). */
  constructor(readonly max = 4096) {}

  get size(): number {
    return this.refused.size;
  }

  /** Whether `rel` was refused in exactly this state. */
  has(rel: string, st: FileStamp): boolean {
    const r = this.refused.get(rel);
    return r !== undefined && r.size === st.size && r.mtimeMs === st.mtimeMs && r.ctimeMs === st.ctimeMs;
  }

  /** Whether `rel` was refused in any state. */
  includes(rel: string): boolean {
    return this.refused.has(rel);
  }

  add(rel: string, st: FileStamp): void {
    this.refused.delete(rel);
    this.refused.set(rel, { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    if (this.refused.size > this.max) this.refused.delete(this.refused.keys().next().value!);
  }

  delete(rel: string): void {
    this.refused.delete(rel);
  }
}
