// What holds a shared copy of the store: a folder (synced, a stick, a share) or a server (WebDAV, S3).
// The store format is files; a medium lists, reads, stats and writes them by their store path
// (format.ts `Paths`), nothing more. Everything it returns is checked by the replica folder that uses
// it (names, sizes, hashes, authentication): a medium is trusted with nothing. Errors carry errno-style
// codes (`ENOENT`, `EACCES`, `ETIMEDOUT` …) so that one classification serves every medium.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { exists, writeDeferred, writeDurable } from '../common/durable-fs';
import type { FileModes } from '../common/private-fs';
import { errnoOf } from '../common/errors';

export type EntryKind = 'file' | 'dir' | 'link' | 'other';

export interface MediumEntry {
  readonly name: string;
  readonly kind: EntryKind;
  /** A file's size where the listing says it (a server's does; a folder's listing does not). */
  readonly size?: number;
  /**
   * Which version of the file the server holds, where its listing says (entity tag, size and time):
   * any change of the bytes gives another. A folder's listing gives none.
   */
  readonly version?: string;
}

/** What a listing said of a file beyond its name: size and version, where it said them. */
export function listedOf(e: { size?: number | undefined; version?: string | undefined }): { size?: number; version?: string } {
  return { ...(e.size !== undefined ? { size: e.size } : {}), ...(e.version !== undefined ? { version: e.version } : {}) };
}

/** One state of a file, enough to tell it changed without reading it (RefusedFiles). */
export interface MediumStat {
  readonly kind: EntryKind;
  readonly size: number;
  readonly mtimeMs: number;
  /** The inode change time on a file system; a server's entity tag as a number (`tagNumber`). */
  readonly ctimeMs: number;
}

/**
 * `create`: a write-once file (its name is its content's hash, or a device's card): a server may be
 * asked not to replace an existing one. `replace`: the only files rewritten — a device's presence,
 * and a damaged copy of a file this PC holds written again with the right bytes.
 */
export type WriteMode = 'create' | 'replace';

/** Where an incremental listing of a folder goes on from: what the last listing of it gave. */
export interface ListingMark {
  /** Every name up to this one (byte order) is known: the medium may leave them out. */
  readonly after: string | undefined;
  /** The medium's own token from the last listing of this folder (a folder's tag, a sync token). */
  readonly token: string | undefined;
}

/** What `listChanges` found. */
export interface FolderChanges {
  /** `complete`: every entry of the folder; else at least every entry whose name sorts after `mark.after`. */
  readonly entries: MediumEntry[];
  readonly complete: boolean;
  /** Names gone since the mark, when the medium can tell (a complete listing tells by itself); undefined: it cannot. */
  readonly removed: readonly string[] | undefined;
  /** For the next call's mark. */
  readonly token: string | undefined;
}

export interface Medium {
  /** How it is shown to a person: a folder's path, a server's address without any login. */
  readonly label: string;
  /** A local file system path (fs.watch, links), or undefined for a server. */
  readonly root: string | undefined;
  /** The entries of a folder; an error with code ENOENT when it does not exist. */
  list(rel: string): Promise<MediumEntry[]>;
  /**
   * The files directly in a folder that holds files only (`keys/`, `objects/<aa>/`): like `list`, but
   * a medium may spare what it does to find sub-folders (S3: the check of a grouped listing that came
   * back empty). A medium without it is asked `list`.
   */
  listFiles?(rel: string): Promise<MediumEntry[]>;
  /** The entry itself (a link is not followed); ENOENT when it is not there. */
  stat(rel: string): Promise<MediumStat>;
  /**
   * A whole file, at most `max` bytes: a larger one fails with code EFBIG (and `size`), a symbolic
   * link with `ELINK` (never followed), anything else that is not a file with `ENOTFILE` — unread.
   */
  read(rel: string, max: number): Promise<Buffer>;
  /**
   * A file opened for reads of parts of it (`MediumFile`), checked like `read` (ELINK, ENOTFILE). Only a
   * folder has it: the local replica reads one section of a pack (STORE-FORMAT.md "Packs"), never the
   * whole; what comes from a server is read whole.
   */
  openFile?(rel: string): Promise<MediumFile>;
  /** Writes a whole file, creating the folders it needs below the store's root (never the root itself). */
  write(rel: string, bytes: Uint8Array, mode: WriteMode): Promise<void>;
  /**
   * A folder's entries since an earlier listing (`mark`), so that what a round costs on a server does
   * not grow with the history; without a mark (or when the medium cannot go on from it) a complete
   * listing. ENOENT like `list`. A medium without it is listed in full.
   */
  listChanges?(rel: string, mark: ListingMark | undefined): Promise<FolderChanges>;
  /** Whether anything is at `rel` (the root itself with ''). */
  exists(rel: string): Promise<boolean>;
  /** Removes the connection check's test file. */
  removeProbe?(rel: string): Promise<void>;
  /**
   * Removes a device's own file that a pack of it holds (format 2, STORE-FORMAT.md "Packs"): only a log
   * file or a pack (`assertPackedName`); nothing else of the store is ever removed through a medium.
   * A file already gone is no error.
   */
  removePacked?(rel: string): Promise<void>;
  /** Ends the connection (a server's sockets). */
  close?(): void;
  /** The program is closing: no more waiting between attempts (a request under way still finishes, so a last send can land). */
  interrupt?(): void;
}

/** A file open for reading parts of it (`Medium.openFile`). */
export interface MediumFile {
  /** Its size when it was opened. */
  readonly size: number;
  /** `length` bytes from `at`, fewer where the file ends before. */
  read(at: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/**
 * What a server's listing said of each file, believed by `stat` for a short while (default 2 s) so that
 * a listing is not followed by a request per file. Entries older than that are dropped now and then:
 * a PC that runs for weeks lists a growing store, and the cache held every path it had ever listed.
 */
export class StatCache {
  protected readonly entries = new Map<string, { stat: MediumStat; at: number }>();
  protected lastSweep: number | undefined;

  constructor(readonly ms = 2000) {}

  get size(): number {
    return this.entries.size;
  }

  set(rel: string, stat: MediumStat, now = Date.now()): void {
    this.entries.set(rel, { stat, at: now });
    this.lastSweep ??= now;
    if (now - this.lastSweep >= Math.max(10_000, 5 * this.ms)) {
      this.lastSweep = now;
      for (const [k, v] of this.entries) if (now - v.at >= this.ms) this.entries.delete(k);
    }
  }

  /** The listed state while it is fresh, else undefined. */
  get(rel: string, now = Date.now()): MediumStat | undefined {
    const s = this.entries.get(rel);
    return s && now - s.at < this.ms ? s.stat : undefined;
  }

  delete(rel: string): void {
    this.entries.delete(rel);
  }
}

export class MediumError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly size?: number,
  ) {
    super(message);
  }
}

/** A store path with '/' separators (servers), from one with the platform's separator. */
export function slashed(rel: string): string {
  return rel.split(path.sep).join('/');
}

/** Two spellings of one location (a trailing slash, case of a server's host). */
export function sameLocation(a: string, b: string): boolean {
  const norm = (x: string) => x.trim().replace(/[\\/]+$/, '');
  if (norm(a) === norm(b)) return true;
  try {
    const [ua, ub] = [new URL(norm(a)), new URL(norm(b))];
    return ua.protocol === ub.protocol && ua.host.toLowerCase() === ub.host.toLowerCase() && ua.pathname === ub.pathname && ua.search === ub.search;
  } catch {
    return false;
  }
}

/** A folder of this machine's file system: the shared folder, a stick, a mounted share. */
export class FolderMedium implements Medium {
  constructor(
    readonly root: string,
    /** What writes create gets these modes (the local replica: private-fs.ts); else the defaults. */
    protected readonly modes?: FileModes,
  ) {}

  get label(): string {
    return this.root;
  }

  abs(rel: string): string {
    return path.join(this.root, rel);
  }

  async list(rel: string): Promise<MediumEntry[]> {
    return (await fsp.readdir(this.abs(rel), { withFileTypes: true })).map((d) => ({ name: d.name, kind: d.isDirectory() ? 'dir' : d.isFile() ? 'file' : d.isSymbolicLink() ? 'link' : 'other' }));
  }

  async stat(rel: string): Promise<MediumStat> {
    const st = await fsp.lstat(this.abs(rel));
    return { kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other', size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  }

  /** Whether a link at `rel` leads to a folder (followed); ENOENT for a link to nothing. */
  async linkIsFolder(rel: string): Promise<boolean> {
    return (await fsp.stat(this.abs(rel))).isDirectory();
  }

  async read(rel: string, max: number): Promise<Buffer> {
    const st = await this.stat(rel);
    if (st.kind === 'link') throw new MediumError(`${rel} is a symbolic link`, 'ELINK');
    if (st.kind !== 'file') throw new MediumError(`${rel} is not a file`, 'ENOTFILE');
    if (st.size > max) throw new MediumError(`${rel} is too large`, 'EFBIG', st.size);
    return fsp.readFile(this.abs(rel));
  }

  async openFile(rel: string): Promise<MediumFile> {
    const st = await this.stat(rel);
    if (st.kind === 'link') throw new MediumError(`${rel} is a symbolic link`, 'ELINK');
    if (st.kind !== 'file') throw new MediumError(`${rel} is not a file`, 'ENOTFILE');
    const fh = await fsp.open(this.abs(rel), 'r');
    let size: number;
    try {
      size = (await fh.stat()).size;
    } catch (e) {
      await fh.close();
      throw e;
    }
    return {
      size,
      async read(at: number, length: number): Promise<Buffer> {
        const buf = Buffer.alloc(Math.max(0, Math.min(length, size - at)));
        let got = 0;
        while (got < buf.length) {
          const { bytesRead } = await fh.read(buf, got, buf.length - got, at + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got);
      },
      close: () => fh.close(),
    };
  }

  write(rel: string, bytes: Uint8Array): Promise<void> {
    return writeDurable(this.abs(rel), bytes, this.root, this.modes);
  }

  /** A write without its fsyncs (`writeDeferred`): returns the path to give `syncWritten` later. */
  writeDeferred(rel: string, bytes: Uint8Array): Promise<string> {
    return writeDeferred(this.abs(rel), bytes, this.root, this.modes);
  }

  exists(rel: string): Promise<boolean> {
    return exists(this.abs(rel));
  }

  async removePacked(rel: string): Promise<void> {
    assertPackedName(rel);
    await fsp.rm(this.abs(rel), { force: true });
  }
}

/** `exists` of a server medium: whether its `stat` finds the entry (ENOENT: no; anything else is thrown). */
export async function existsByStat(m: Pick<Medium, 'stat'>, rel: string): Promise<boolean> {
  try {
    await m.stat(rel);
    return true;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return false;
    throw e;
  }
}

/** Only the connection check's test file may ever be removed through a medium. */
export function assertProbeName(rel: string): void {
  if (!/^\.probe-[0-9a-f]+\.tmp$/.test(rel)) throw new Error('only the connection check’s test file is ever removed');
}

/** Only a device's log file or pack may be removed as packed (the caller removes its own only). */
export function assertPackedName(rel: string): void {
  if (!/^devices\/[0-9a-f]{32}\/(log\/\d{10}-[0-9a-f]{64}|packs\/\d{10}-\d{10}-[0-9a-f]{64})$/.test(slashed(rel))) throw new Error('only a log file or pack a pack holds is ever removed');
}

/** A server's entity tag as a number for MediumStat.ctimeMs (a changed tag: a changed file). */
export function tagNumber(tag: string | undefined): number | undefined {
  if (!tag) return undefined;
  let h = 0;
  for (let i = 0; i < tag.length; i++) h = (Math.imul(h, 31) + tag.charCodeAt(i)) >>> 0;
  return h;
}

/** The entries of a folder of a medium, none when it does not exist (or is a file). */
export async function listOrNone(m: Medium, rel: string): Promise<MediumEntry[]> {
  try {
    return await m.list(rel);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return [];
    throw e;
  }
}
