// Reading and writing one replica folder (local or shared) in the store format. Every read is
// verified before it is believed (invariant 5, docs/STORE-FORMAT.md); every write is durable and write-once.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { errnoOf } from '../common/errors';
import { exists, fsyncDir, listDir, writeDurableChunks } from '../common/durable-fs';
import type { FileModes } from '../common/private-fs';
import {
  EnvelopeError,
  beginsAsEnvelope,
  decrypt,
  decryptFileChunked,
  encrypt,
  encryptChunks,
  sha256Hex,
  type KeySource,
  sealedKeyId,
} from '../crypto/store-crypto';
import type { JsonObject } from '../../host-api';
import type { NamedKeyFile } from '../crypto/keyring';
import {
  Contexts,
  isPlainJsonObject,
  MAX_PACK_BYTES,
  MAX_PACK_INDEX_BYTES,
  MAX_PACK_PLAIN_BYTES,
  MAX_PACK_SECTION_PLAIN_BYTES,
  MAX_PACK_SECTIONS,
  PACK_SECTION_TARGET,
  PackHeaderSchema,
  PackIndexSchema,
  PackSectionNamesSchema,
  parsePackName,
  type PackHeader,
  type PackIndex,
  DEVICE_ID,
  INCOMING_TEMP,
  KeyFileEntrySchema,
  LocalPaths,
  MAX_KEY_FILE_BYTES,
  STORE_FORMAT,
  STORE_FORMAT_VERSION,
  STORE_ID,
  StoreHeaderSchema,
  type KeyFileEntry,
  type StoreHeader,
  DeviceInfoSchema,
  HASH_HEX,
  MAX_OBJECT_BYTES,
  MAX_SEGMENT_BYTES,
  MAX_SMALL_FILE_BYTES,
  MAX_SNAPSHOT_BYTES,
  OBJECT_DIR,
  Paths,
  PresenceSchema,
  MovedNoteSchema,
  segmentProblem,
  SNAPSHOT_BATCH,
  SnapshotHeaderSchema,
  snapshotRecordsProblem,
  storedDeviceName,
  storedUserName,
  classifyForeignName,
  jsonBytes,
  parseSegmentName,
  type Change,
  type DeviceInfo,
  type Presence,
  type MovedNote,
  type Segment,
  type Snapshot,
  type SnapshotHeader,
  type SnapshotRecord,
} from './format';
import { DataBlock, SNAPSHOT_V2_BATCH, UnpackedBlocks, snapshotV2RecordsProblem, type BytesBatch, type SnapshotHeadData, type SnapshotRecordV2, type SnapshotRecordV4 } from './snapshot-format';
import { FolderMedium, MediumError, listOrNone, listedOf, type ListingMark, type Medium, type MediumEntry, type MediumFile, type MediumStat, type WriteMode } from './medium';

export interface BadFile {
  readonly path: string; // relative to the replica root
  readonly reason: string;
  /** Could not be listed or read at all (a link loop, no permission, a file where a folder is expected). */
  readonly unreadable?: boolean;
}

export type HeaderReading =
  /** `raw`: the file's JSON as parsed, before the schema (which drops fields it does not know). */
  | { kind: 'ok'; header: StoreHeader; raw: unknown }
  | { kind: 'missing'; empty: boolean }
  /** `storeId`/`raw`: it names a store (this one, perhaps) but breaks the format — altered, if it is ours. */
  | { kind: 'foreign'; reason: string; storeId?: string; raw?: unknown }
  | { kind: 'newer'; version: number };

export class BadFileError extends Error {
  constructor(readonly bad: BadFile) {
    super(`${bad.path}: ${bad.reason}`);
  }
}

/** A file sealed with a key this device does not hold yet (a newer passphrase): not bad, only locked. */
export class KeyMissingError extends BadFileError {}

/**
 * A log file sealed under a key this device holds but that was replaced (docs/PASSPHRASE.md,
 * "Retired keys"), not vouched for by a device holding the current key: held back, not applied.
 * Tried again when a voucher arrives; never remembered as refused.
 */
export class HeldFileError extends BadFileError {}

/** An entry that cannot be listed or read at all: skipped and reported, never a reason to stop the rest. */
export class UnreadableEntryError extends BadFileError {}

/**
 * What a file-system error says about one entry of a replica, in words; undefined for an error that is
 * not about the entry itself (the folder gone, a dead share) — those stop the round and are retried.
 */
export function unreadableReason(e: unknown): string | undefined {
  switch (errnoOf(e)) {
    case 'ELOOP':
      return 'cannot be read: a loop of symbolic links (it points back at itself) — skipped';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read: access denied (this PC has no permission for it) — skipped';
    case 'ENOTDIR':
      return 'cannot be read: a file where a folder is expected — skipped';
    case 'EISDIR':
      return 'cannot be read: a folder where a file is expected — skipped';
    case 'ENAMETOOLONG':
      return 'cannot be read: its path is too long — skipped';
    case 'E2BIG':
      return 'cannot be read: the server lists more entries in it than a store folder may hold (100,000) — skipped';
    default:
      return undefined;
  }
}

/** The error as an UnreadableEntryError of `rel` when it is about that entry; else unchanged. */
export function asUnreadable(rel: string, e: unknown): unknown {
  const reason = e instanceof BadFileError ? undefined : unreadableReason(e);
  return reason ? new UnreadableEntryError({ path: rel, reason, unreadable: true }) : e;
}

export interface SegmentFile {
  readonly device: string;
  readonly seq: number;
  readonly hash: string;
}

/** A log file as a listing names it, with its size and version where the listing says them (a server's). */
export interface ListedSegment extends SegmentFile {
  readonly size?: number;
  readonly version?: string;
}

/** A pack (format 2) by its name: the first and last log file it holds, and its hash. */
export interface PackFile {
  readonly device: string;
  readonly first: number;
  readonly last: number;
  readonly hash: string;
  readonly size?: number;
  readonly version?: string;
}

/** A pack's content, checked: the log files it holds (each as it was a file: number, hash, content), and the key it was sealed under. */
export interface PackContent {
  /** Version 1's header line, or version 2's index. */
  readonly header: PackHeader | PackIndex;
  readonly files: readonly { readonly f: SegmentFile; readonly seg: Segment }[];
  readonly sealedUnder: string | undefined;
}

/** The index of a pack of version 2, checked, with where each section begins in the file and the key it was sealed under. */
export interface PackLayout {
  readonly index: PackIndex;
  readonly offsets: readonly number[];
  /** The file's size: where the last section ends. */
  readonly size: number;
  readonly sealedUnder: string | undefined;
}

/**
 * A section of a pack of version 2, authenticated and unpacked: its log files' names, and where each one's
 * line lies in the unpacked bytes — a line is decoded and checked only when it is used (one log file out
 * of ~200: turning the whole section into text cost more than unpacking it).
 */
export interface PackSection {
  readonly names: readonly (readonly [number, string])[];
  readonly plain: Buffer;
  /** Log file j's line: plain[starts[j], ends[j]). */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

/**
 * The key a pack says it was sealed under (`sealedKeyId`), from its first bytes (24 are enough): a pack
 * of version 1 is one envelope; in one of version 2 the index's envelope follows its length.
 */
export function packSealedKeyId(head: Uint8Array): string | undefined {
  return beginsAsEnvelope(head) ? sealedKeyId(head) : sealedKeyId(head.subarray(4));
}

/** Reads a file of a medium refusing anything larger than `max` (a huge file is reported, never loaded). */
export async function readBounded(io: Medium, rel: string, max: number, skipUnreadable: boolean): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await io.read(rel, max);
  } catch (e) {
    if (e instanceof MediumError && e.code === 'ELINK') throw new BadFileError({ path: rel, reason: 'is a symbolic link (never followed)' });
    if (e instanceof MediumError && e.code === 'ENOTFILE') throw new BadFileError({ path: rel, reason: 'is not a file' });
    if (e instanceof MediumError && e.code === 'EFBIG') throw new BadFileError({ path: rel, reason: `is too large (${e.size ?? 'more than allowed'} bytes, at most ${max})` });
    throw skipUnreadable ? asUnreadable(rel, e) : e;
  }
  if (bytes.length === 0) throw new BadFileError({ path: rel, reason: 'is empty (0 bytes) — possibly not yet synced' });
  return bytes;
}

export class ReplicaFolder {
  /** Where the files are: this machine's file system, or a server. */
  readonly io: Medium;

  constructor(
    at: string | Medium,
    protected readonly storeId: string,
    protected readonly key: KeySource,
    /**
     * Another PC's folder (the shared one, or one being verified): an entry that cannot be listed or
     * read at all is reported (`UnreadableEntryError`) and skipped. Off for the local replica, whose
     * own files must not silently go missing (its open fails instead, as it always did).
     */
    protected readonly skipUnreadable = false,
    /** What this folder's writes create gets these modes (the local replica: private-fs.ts); else the defaults. */
    protected readonly modes?: FileModes,
  ) {
    this.io = typeof at === 'string' ? new FolderMedium(at, modes) : at;
  }

  /** The folder on this machine (the local replica, a shared folder); a server has none. */
  get root(): string {
    if (this.io.root === undefined) throw new Error(`${this.io.label} is not a folder on this machine`);
    return this.io.root;
  }

  /** The error as this folder treats it: about one entry (skipped and reported), or as it came. */
  protected unreadable(rel: string, e: unknown): unknown {
    return this.skipUnreadable ? asUnreadable(rel, e) : e;
  }

  abs(rel: string): string {
    return path.join(this.root, rel);
  }

  /** Whether a path of this replica exists (a folder or a file). */
  exists(rel: string): Promise<boolean> {
    return this.io.exists(rel);
  }

  /** Temp files of durable writes a crash interrupted (never published), in every folder that gets them. */
  async removeIncomingTemps(): Promise<void> {
    const dirs = [
      LocalPaths.journalDir,
      Paths.objectsDir,
      Paths.keysDir,
      ...(await listDir(this.abs(Paths.devicesDir))).map((d) => Paths.logDir(d)),
      ...(await listDir(this.abs(Paths.snapshotsDir))).map((d) => path.join(Paths.snapshotsDir, d)),
    ];
    for (const d of dirs) for (const n of await listDir(this.abs(d))) if (INCOMING_TEMP.test(n)) await fsp.rm(this.abs(path.join(d, n)), { force: true });
  }

  /**
   * A received file written in place without its fsyncs where the medium is a folder (the local
   * replica's): the path to make durable later, or undefined when it was written durably already.
   */
  async writeReceived(rel: string, bytes: Uint8Array): Promise<string | undefined> {
    if (this.io instanceof FolderMedium) return this.io.writeDeferred(rel, bytes);
    await this.io.write(rel, bytes, 'create');
    return undefined;
  }

  /** A durable write below this replica's root, which it never creates (a missing medium fails). */
  write(rel: string, bytes: Uint8Array | string, mode: WriteMode = 'create'): Promise<void> {
    return this.io.write(rel, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes, mode);
  }

  static async readHeader(at: string | Medium): Promise<HeaderReading> {
    const io = typeof at === 'string' ? new FolderMedium(at) : at;
    let raw: string;
    try {
      raw = (await io.read(Paths.header, MAX_SMALL_FILE_BYTES)).toString('utf8');
    } catch (e) {
      if (errnoOf(e) === 'EFBIG') return { kind: 'foreign', reason: `${Paths.header} is too large` };
      if (['ENOTFILE', 'ELINK', 'EISDIR'].includes(errnoOf(e) ?? '')) return { kind: 'foreign', reason: `${Paths.header} is not a file` };
      if (errnoOf(e) !== 'ENOENT') throw e;
      const names = (await listOrNone(io, '')).map((d) => d.name).filter((n) => classifyForeignName(n) !== 'system-file');
      return { kind: 'missing', empty: names.length === 0 };
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { kind: 'foreign', reason: `${Paths.header} is not JSON (truncated or not ours)` };
    }
    if (typeof json === 'object' && json && (json as { format?: unknown }).format === STORE_FORMAT) {
      const v = (json as { version?: unknown }).version;
      if (typeof v === 'number' && v > STORE_FORMAT_VERSION) return { kind: 'newer', version: v };
    }
    const parsed = StoreHeaderSchema.safeParse(json);
    if (!parsed.success) {
      const storeId = (json as { storeId?: unknown } | null)?.storeId;
      return { kind: 'foreign', reason: `${Paths.header} is not a practice-store header (${parsed.error.issues[0]?.path.join('.')})`, ...(typeof storeId === 'string' && STORE_ID.test(storeId) ? { storeId, raw: json } : {}) };
    }
    return { kind: 'ok', header: parsed.data, raw: json };
  }

  /**
   * The upgrade to format 2: the header as read there (`raw`, checked to be this store's and the same as
   * this PC's copy) written again with `version` 2 and nothing else changed. Two PCs doing it at once
   * write the same bytes.
   */
  static async raiseHeaderVersion(io: Medium, raw: unknown): Promise<void> {
    if (!isPlainJsonObject(raw) || raw.version !== 1) return;
    await io.write(Paths.header, Buffer.from(JSON.stringify({ ...raw, version: STORE_FORMAT_VERSION }, null, 2) + '\n', 'utf8'), 'replace');
  }

  static async writeHeader(at: string | Medium, header: StoreHeader, modes?: FileModes): Promise<void> {
    const json = JSON.stringify(header, null, 2) + '\n';
    if (typeof at !== 'string' && at.root === undefined) {
      // a server: created only where nothing is (a server that honours the condition refuses a second
      // one; one that does not is caught by reading it back: another store's header wins, as on a folder)
      if (await at.exists(Paths.header)) throw Object.assign(new Error(`${Paths.header} exists`), { code: 'EEXIST' });
      await at.write(Paths.header, Buffer.from(json, 'utf8'), 'create');
      return;
    }
    const root = typeof at === 'string' ? at : at.root!;
    // Written once, never over an existing store, and never visible half-written: a fsynced temp
    // file is hard-linked to the final name (which fails if it exists), then the folder is fsynced.
    const file = path.join(root, Paths.header);
    const tmp = path.join(root, `.${Paths.header}.${process.pid}.${Date.now()}.tmp`);
    const fh = await fsp.open(tmp, 'wx', modes?.file ?? 0o666);
    try {
      if (modes && process.platform !== 'win32') await fh.chmod(modes.file).catch(() => undefined); // exactly, whatever the umask
      await fh.writeFile(json);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      try {
        await fsp.link(tmp, file);
      } catch (e) {
        // FAT/exFAT sticks and some shares have no hard links: check, then rename (a narrow race, documented).
        if (!['EPERM', 'ENOTSUP', 'ENOSYS', 'EOPNOTSUPP'].includes(errnoOf(e) ?? '')) throw e;
        if (await exists(file)) throw Object.assign(new Error(`${Paths.header} exists`), { code: 'EEXIST' });
        await fsp.rename(tmp, file);
      }
    } finally {
      await fsp.rm(tmp, { force: true });
    }
    await fsyncDir(root);
  }

  // ---- listing ---------------------------------------------------------------------------

  /**
   * The entries of a folder of this replica (none when it does not exist). With `bad` in a folder
   * that skips unreadable entries, a folder that cannot be listed (a link loop, no permission, a file
   * where a folder is expected) is reported and taken as empty, so one damaged entry never stops the
   * rest; without `bad` (a writer asking about its own area) the error is thrown.
   */
  protected async entries(rel: string, bad?: (b: BadFile) => void, filesOnly = false): Promise<MediumEntry[]> {
    try {
      return await (filesOnly && this.io.listFiles ? this.io.listFiles(rel) : this.io.list(rel));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      const unreadable = this.unreadable(rel, e);
      if (bad && unreadable instanceof UnreadableEntryError) {
        bad(unreadable.bad);
        return [];
      }
      if (errnoOf(e) === 'ENOTDIR') return [];
      throw e;
    }
  }

  /** A device's card as its folder lists it (with size and version where the listing gives them); undefined when there is none. */
  async cardEntry(dev: string, bad?: (b: BadFile) => void): Promise<MediumEntry | undefined> {
    const name = path.basename(Paths.deviceFile(dev));
    return (await this.entries(Paths.deviceDir(dev), bad)).find((e) => e.name === name);
  }

  protected async names(rel: string, bad?: (b: BadFile) => void, filesOnly = false): Promise<string[]> {
    return (await this.entries(rel, bad, filesOnly)).map((d) => d.name);
  }

  /** Whether an entry listed as `d` can be taken as a folder (a link is followed: a loop is reported). */
  protected async isFolder(rel: string, d: MediumEntry, bad?: (b: BadFile) => void): Promise<boolean> {
    if (d.kind === 'dir') return true;
    let problem: unknown = Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    if (d.kind === 'link' && this.io instanceof FolderMedium)
      try {
        if (await this.io.linkIsFolder(rel)) return true;
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') return false; // a link to nothing, or gone since the listing
        if (!this.skipUnreadable) throw e;
        problem = e;
      }
    const unreadable = this.unreadable(rel, problem);
    if (unreadable instanceof UnreadableEntryError) bad?.(unreadable.bad);
    return false;
  }

  // ---- devices and segments -------------------------------------------------------------

  async listDevices(bad?: (b: BadFile) => void): Promise<string[]> {
    const out: string[] = [];
    for (const d of await this.entries(Paths.devicesDir, bad)) {
      const rel = path.join(Paths.devicesDir, d.name);
      if (!DEVICE_ID.test(d.name)) bad?.({ path: rel, reason: describeForeign(d.name) });
      else if (await this.isFolder(rel, d, bad)) out.push(d.name);
    }
    return out.sort();
  }

  async listSegments(dev: string, bad?: (b: BadFile) => void): Promise<ListedSegment[]> {
    const out: ListedSegment[] = [];
    for (const e of await this.entries(Paths.logDir(dev), bad)) {
      const p = parseSegmentName(e.name);
      if (p) out.push({ device: dev, seq: p.seq, hash: p.hash, ...listedOf(e) });
      else bad?.({ path: path.join(Paths.logDir(dev), e.name), reason: describeForeign(e.name) });
    }
    return out.sort((a, b) => a.seq - b.seq || (a.hash < b.hash ? -1 : 1));
  }

  /**
   * A device's log files since an earlier listing (`mark`), where the medium can list incrementally
   * (`Medium.listChanges`); else, or without a mark, all of them (`complete`). Foreign names are
   * reported like `listSegments` does; `removed`: names the medium says are gone (undefined: it cannot tell).
   */
  async segmentChanges(
    dev: string,
    mark: ListingMark | undefined,
    bad?: (b: BadFile) => void,
  ): Promise<{ files: ListedSegment[]; complete: boolean; removed: readonly string[] | undefined; token: string | undefined }> {
    const rel = Paths.logDir(dev);
    if (!this.io.listChanges) return { files: await this.listSegments(dev, bad), complete: true, removed: undefined, token: undefined };
    let changes;
    try {
      changes = await this.io.listChanges(rel, mark);
    } catch (e) {
      // the same rules as `entries`: not there is empty; an unreadable folder is reported (with `bad`) or thrown
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return { files: [], complete: true, removed: undefined, token: undefined };
      const unreadable = this.unreadable(rel, e);
      if (bad && unreadable instanceof UnreadableEntryError) {
        bad(unreadable.bad);
        return { files: [], complete: false, removed: undefined, token: undefined };
      }
      throw e;
    }
    const files: ListedSegment[] = [];
    for (const e of changes.entries) {
      const name = e.name;
      const p = parseSegmentName(name);
      if (p) files.push({ device: dev, seq: p.seq, hash: p.hash, ...listedOf(e) });
      else bad?.({ path: path.join(rel, name), reason: describeForeign(name) });
    }
    return { files, complete: changes.complete, removed: changes.removed, token: changes.token };
  }

  /** Seals and writes a new segment; returns its name parts. */
  async writeSegment(dev: string, seq: number, prev: string | null, changes: Change[]): Promise<SegmentFile> {
    const seg: Segment = { t: 'log', v: 1, device: dev, seq, prev, createdAt: new Date().toISOString(), changes };
    const bytes = encrypt(this.key, this.storeId, Contexts.segment(dev, seq), jsonBytes(seg));
    const hash = sha256Hex(bytes);
    await this.write(Paths.segment(dev, seq, hash), bytes);
    return { device: dev, seq, hash };
  }

  async readSegmentBytes(f: SegmentFile): Promise<Buffer> {
    return readBounded(this.io, Paths.segment(f.device, f.seq, f.hash), MAX_SEGMENT_BYTES, this.skipUnreadable);
  }

  /** Verifies a segment's bytes: name hash, authentication, schema, and that it says where it is. */
  decodeSegment(f: SegmentFile, bytes: Uint8Array): Segment {
    const rel = Paths.segment(f.device, f.seq, f.hash);
    if (sha256Hex(bytes) !== f.hash) throw new BadFileError({ path: rel, reason: 'content does not match its name (truncated, changed or half-synced)' });
    const seg = this.checkSegment(rel, this.parseJson(rel, this.decryptFile(rel, Contexts.segment(f.device, f.seq), bytes, false).toString('utf8')));
    if (seg.device !== f.device || seg.seq !== f.seq) throw new BadFileError({ path: rel, reason: 'names another device or position than where it lies' });
    for (const c of seg.changes)
      if (!c.ver.endsWith(`.${f.device}`)) throw new BadFileError({ path: rel, reason: 'holds a change of another device' });
    return seg;
  }

  async readSegment(f: SegmentFile): Promise<Segment> {
    return this.decodeSegment(f, await this.readSegmentBytes(f));
  }

  // ---- packs (format 2: docs/STORE-FORMAT.md "Packs") ----------------------------------

  async listPacks(dev: string, bad?: (b: BadFile) => void): Promise<PackFile[]> {
    const out: PackFile[] = [];
    for (const e of await this.entries(Paths.packsDir(dev), bad)) {
      const p = parsePackName(e.name);
      if (p) out.push({ device: dev, ...p, ...listedOf(e) });
      else bad?.({ path: path.join(Paths.packsDir(dev), e.name), reason: describeForeign(e.name) });
    }
    return out.sort((a, b) => a.first - b.first || a.last - b.last || (a.hash < b.hash ? -1 : 1));
  }

  /**
   * Seals log files (content as read from their files, oldest first) into one pack under the current key;
   * returns its name parts. Version 2 (docs/STORE-FORMAT.md "Packs"): its index's length, the index, then
   * the sections — the log files in runs of up to PACK_SECTION_TARGET unpacked, each run sealed on its own,
   * so that a reader of one log file authenticates and unpacks one section, not the pack.
   */
  async writePack(dev: string, files: readonly { f: SegmentFile; seg: Segment }[]): Promise<PackFile> {
    const first = files[0]!.f.seq;
    const last = files[files.length - 1]!.f.seq;
    const runs: { names: [number, string][]; lines: string[]; bytes: number }[] = [];
    for (const { f, seg } of files) {
      const line = JSON.stringify(seg);
      const n = Buffer.byteLength(line) + 1;
      let run = runs[runs.length - 1];
      if (!run || run.bytes + n > PACK_SECTION_TARGET) runs.push((run = { names: [], lines: [], bytes: 0 }));
      run.names.push([f.seq, f.hash]);
      run.lines.push(line);
      run.bytes += n;
    }
    const sealed = runs.map((r, i) =>
      encrypt(this.key, this.storeId, Contexts.packSection(dev, first, last, i), zlib.gzipSync(Buffer.from([JSON.stringify(r.names), ...r.lines].join('\n') + '\n', 'utf8'), { level: 6 })),
    );
    const index: PackIndex = {
      t: 'pack',
      v: 2,
      device: dev,
      first,
      last,
      createdAt: new Date().toISOString(),
      sections: runs.map((r, i) => [r.names[0]![0], r.names[r.names.length - 1]![0], r.names.length, sealed[i]!.length, sha256Hex(sealed[i]!)]),
    };
    const sealedIndex = encrypt(this.key, this.storeId, Contexts.pack(dev, first, last), zlib.gzipSync(Buffer.from(JSON.stringify(index), 'utf8'), { level: 6 }));
    // never a pack a reader refuses (makePack keeps a pack below PACK_PLAIN_TARGET: far below either bound)
    if (runs.length > MAX_PACK_SECTIONS || sealedIndex.length > MAX_PACK_INDEX_BYTES) throw new Error(`a pack of ${files.length} log files would have more sections, or a larger index, than a reader takes`);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(sealedIndex.length);
    const bytes = Buffer.concat([length, sealedIndex, ...sealed]);
    const hash = sha256Hex(bytes);
    await this.write(Paths.pack(dev, first, last, hash), bytes);
    return { device: dev, first, last, hash, size: bytes.length };
  }

  async readPackBytes(p: PackFile): Promise<Buffer> {
    return readBounded(this.io, Paths.pack(p.device, p.first, p.last, p.hash), MAX_PACK_BYTES, this.skipUnreadable);
  }

  /**
   * Checks a pack's bytes — name hash, authentication (context: its device and range; version 2: its index
   * and each section, each section's hash as its index names it), schema of the header (or index and
   * sections) and of every log file in it, that each says where it was, and that each one's `prev` is the
   * hash of the one before it in the pack — and returns what it holds. Either layout (a pack of version 1
   * stays readable for ever).
   */
  decodePack(p: PackFile, bytes: Uint8Array): PackContent {
    const rel = Paths.pack(p.device, p.first, p.last, p.hash);
    const no = (reason: string) => new BadFileError({ path: rel, reason });
    if (sha256Hex(bytes) !== p.hash) throw no('content does not match its name (truncated, changed or half-synced)');
    if (beginsAsEnvelope(bytes)) return this.decodePackV1(rel, p, bytes);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const layout = this.openPackIndex(rel, p, buf.length, buf.subarray(4, 4 + this.packIndexLength(rel, buf, buf.length)));
    const names: (readonly [number, string])[] = [];
    const lines: { s: PackSection; j: number }[] = [];
    let plain = 0;
    for (let i = 0; i < layout.offsets.length; i++) {
      const s = this.openPackSection(rel, p, layout, i, buf.subarray(layout.offsets[i]!, layout.offsets[i]! + layout.index.sections[i]![3]));
      if ((plain += s.plain.length) > MAX_PACK_PLAIN_BYTES) throw no('unpacks larger than allowed');
      for (let j = 0; j < s.names.length; j++) {
        names.push(s.names[j]!);
        lines.push({ s, j });
      }
    }
    const files = packFiles(no, p, names, (k) => this.packSegment(p, lines[k]!.s, lines[k]!.j));
    return { header: layout.index, files, sealedUnder: layout.sealedUnder };
  }

  /** A pack of version 1: one envelope of gzip of NDJSON, the header on line 1, then a log file per line. */
  protected decodePackV1(rel: string, p: PackFile, bytes: Uint8Array): PackContent {
    const no = (reason: string) => new BadFileError({ path: rel, reason });
    const plain = this.decryptFile(rel, Contexts.pack(p.device, p.first, p.last), bytes, true, MAX_PACK_PLAIN_BYTES);
    const lines = plain.toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const header = this.check(rel, this.parseJson(rel, lines[0] ?? ''), PackHeaderSchema);
    if (header.device !== p.device || header.first !== p.first || header.last !== p.last) throw no('names another device or range than its name');
    if (lines.length !== header.files.length + 1) throw no('holds another number of log files than its header says');
    const files = packFiles(no, p, header.files, (k) => this.packLine(rel, p.device, header.files[k]![0], lines[k + 1]!));
    return { header, files, sealedUnder: sealedKeyId(bytes) };
  }

  /**
   * The index of a pack of version 2 held in this folder, read alone (`Medium.openFile`) and checked
   * (PackShelf reads one log file with it and one section); undefined for a pack of version 1, or where
   * the medium reads files whole only — such a pack is read whole. Unlike decodePack this does not hash
   * the whole file: what it reads is authenticated, and each section is checked against the hash its
   * index names; the name's hash was checked when the pack was kept, and is by the full check.
   */
  async readPackIndex(p: PackFile): Promise<PackLayout | undefined> {
    if (!this.io.openFile) return undefined;
    const rel = Paths.pack(p.device, p.first, p.last, p.hash);
    return this.withPackFile(rel, async (file) => {
      const head = await file.read(0, 4);
      if (beginsAsEnvelope(head)) return undefined;
      const length = this.packIndexLength(rel, head, file.size);
      const sealedIndex = await file.read(4, length);
      if (sealedIndex.length !== length) throw new BadFileError({ path: rel, reason: 'ends before its index' });
      return this.openPackIndex(rel, p, file.size, sealedIndex);
    });
  }

  /** Section `i` of a pack of version 2 held in this folder, read alone at its offset, authenticated and unpacked. */
  async readPackSection(p: PackFile, layout: PackLayout, i: number): Promise<PackSection> {
    const rel = Paths.pack(p.device, p.first, p.last, p.hash);
    return this.withPackFile(rel, async (file) => {
      if (file.size !== layout.size) throw new BadFileError({ path: rel, reason: 'changed since its index was read' });
      return this.openPackSection(rel, p, layout, i, await file.read(layout.offsets[i]!, layout.index.sections[i]![3]));
    });
  }

  /** Log file `j` of a section read with readPackSection, checked (schema, device, position, its changes' device). */
  packSegment(p: PackFile, s: PackSection, j: number): Segment {
    return this.packLine(Paths.pack(p.device, p.first, p.last, p.hash), p.device, s.names[j]![0], s.plain.toString('utf8', s.starts[j], s.ends[j]));
  }

  /** Opens a pack of this folder for reads of its parts; the errors as readBounded gives them. */
  protected async withPackFile<T>(rel: string, use: (file: MediumFile) => Promise<T>): Promise<T> {
    let file: MediumFile;
    try {
      file = await this.io.openFile!(rel);
    } catch (e) {
      if (e instanceof MediumError && e.code === 'ELINK') throw new BadFileError({ path: rel, reason: 'is a symbolic link (never followed)' });
      if (e instanceof MediumError && e.code === 'ENOTFILE') throw new BadFileError({ path: rel, reason: 'is not a file' });
      throw this.unreadable(rel, e);
    }
    try {
      if (file.size === 0) throw new BadFileError({ path: rel, reason: 'is empty (0 bytes) — possibly not yet synced' });
      if (file.size > MAX_PACK_BYTES) throw new BadFileError({ path: rel, reason: `is too large (${file.size} bytes, at most ${MAX_PACK_BYTES})` });
      return await use(file);
    } finally {
      await file.close();
    }
  }

  /**
   * The length of a pack's index (version 2: its first 4 bytes, big-endian), within its bounds and the
   * file — checked before anything of that length is read.
   */
  protected packIndexLength(rel: string, head: Buffer, size: number): number {
    const no = (reason: string) => new BadFileError({ path: rel, reason });
    if (head.length < 4) throw no('ends before its index');
    const length = head.readUInt32BE(0);
    if (length > MAX_PACK_INDEX_BYTES) throw no(`is neither layout of a pack (an index of ${length} bytes, at most ${MAX_PACK_INDEX_BYTES})`);
    if (4 + length > size) throw no('ends before its index');
    return length;
  }

  /**
   * Checks the index of a pack of version 2 (its envelope, the bytes after the length): authentication,
   * schema (its bounds), that it names the pack's device and range, that its sections are in order and
   * span the range, and that they end exactly where the file does (`size`).
   */
  protected openPackIndex(rel: string, p: PackFile, size: number, sealedIndex: Buffer): PackLayout {
    const no = (reason: string) => new BadFileError({ path: rel, reason });
    const plain = this.decryptFile(rel, Contexts.pack(p.device, p.first, p.last), sealedIndex, true, MAX_PACK_INDEX_BYTES);
    const index = this.check(rel, this.parseJson(rel, plain.toString('utf8')), PackIndexSchema);
    if (index.device !== p.device || index.first !== p.first || index.last !== p.last) throw no('names another device or range than its name');
    const offsets: number[] = [];
    let at = 4 + sealedIndex.length;
    for (let i = 0; i < index.sections.length; i++) {
      const [first, last, , bytes] = index.sections[i]!;
      const before = index.sections[i - 1];
      if (first > last || (before && first < before[1])) throw no('its sections are not in order');
      offsets.push(at);
      at += bytes;
    }
    if (index.sections[0]![0] !== p.first || index.sections[index.sections.length - 1]![1] !== p.last) throw no('its sections do not span its name');
    if (at !== size) throw no(`its sections do not end where the file does (${at} bytes by its index, ${size} in the file)`);
    return { index, offsets, size, sealedUnder: sealedKeyId(sealedIndex) };
  }

  /**
   * Checks section `i` of a pack of version 2: its length and hash as its index names them (so a
   * section of another pack, even of the same range and key, is refused), the same key as the index,
   * authentication (context: the pack and the section's number), bounded unpacking, its names line, and
   * as many lines as log files, spanning what the index says.
   */
  protected openPackSection(rel: string, p: PackFile, layout: PackLayout, i: number, bytes: Buffer): PackSection {
    const no = (reason: string) => new BadFileError({ path: rel, reason });
    const [first, last, count, length, hash] = layout.index.sections[i]!;
    if (bytes.length !== length) throw no(`section ${i} ends early (truncated)`);
    if (sha256Hex(bytes) !== hash) throw no(`section ${i} does not match its index (changed, or another pack's)`);
    if (sealedKeyId(bytes) !== layout.sealedUnder) throw no(`section ${i} is sealed under another key than its index`);
    const plain = this.decryptFile(rel, Contexts.packSection(p.device, p.first, p.last, i), bytes, true, MAX_PACK_SECTION_PLAIN_BYTES);
    // its lines, as split('\n') without a last empty one would give them; the names line decoded now
    const starts: number[] = [];
    const ends: number[] = [];
    for (let at = 0; at < plain.length && starts.length <= count + 1; ) {
      const nl = plain.indexOf(0x0a, at);
      starts.push(at);
      ends.push((at = nl < 0 ? plain.length : nl));
      at++;
    }
    const names = this.check(rel, this.parseJson(rel, starts.length ? plain.toString('utf8', starts[0], ends[0]) : ''), PackSectionNamesSchema);
    if (names.length !== count || starts.length !== count + 1) throw no(`section ${i} holds another number of log files than its index says`);
    if (names[0]![0] !== first || names[names.length - 1]![0] !== last) throw no(`section ${i} holds other log files than its index says`);
    return { names, plain, starts: starts.slice(1), ends: ends.slice(1) };
  }

  /** One log file's line in a pack, checked: schema, that it says its device and position, every change of that device. */
  protected packLine(rel: string, device: string, seq: number, text: string): Segment {
    const no = (reason: string) => new BadFileError({ path: rel, reason });
    const seg = this.checkSegment(rel, this.parseJson(rel, text));
    if (seg.device !== device || seg.seq !== seq) throw no(`log file ${seq} names another device or position`);
    for (const c of seg.changes) if (!c.ver.endsWith(`.${device}`)) throw no(`log file ${seq} holds a change of another device`);
    return seg;
  }

  // ---- objects (attachments) -----------------------------------------------------------

  async writeObject(bytes: Uint8Array): Promise<{ hash: string; size: number }> {
    const sealed = encryptChunks(this.key, this.storeId, Contexts.object(), bytes);
    let hash = '';
    await writeDurableChunks(this.abs(Paths.objectsDir), sealed.chunks, () => this.abs(Paths.object((hash = sealed.hash()))), this.root, this.modes);
    return { hash, size: bytes.byteLength };
  }

  async listObjects(bad?: (b: BadFile) => void): Promise<string[]> {
    return (await this.listObjectFiles(bad)).map((o) => o.hash);
  }

  /** The attachments here by hash, with the size and version the listing gave (a server's listing gives them; a folder's does not). */
  async listObjectFiles(bad?: (b: BadFile) => void): Promise<{ hash: string; size?: number; version?: string }[]> {
    const out: { hash: string; size?: number; version?: string }[] = [];
    for (const d of await this.names(Paths.objectsDir, bad)) {
      if (!OBJECT_DIR.test(d)) {
        if (!d.startsWith('.incoming-')) bad?.({ path: path.join(Paths.objectsDir, d), reason: describeForeign(d) });
        continue;
      }
      for (const e of await this.entries(path.join(Paths.objectsDir, d), bad, true)) {
        const n = e.name;
        if (HASH_HEX.test(n) && n.startsWith(d)) out.push({ hash: n, ...listedOf(e) });
        else bad?.({ path: path.join(Paths.objectsDir, d, n), reason: describeForeign(n) });
      }
    }
    return out;
  }

  /** Checks an object's hash and authentication, chunk by chunk; with keep, returns its plaintext. */
  async readObject(hash: string, keep: boolean): Promise<Uint8Array | undefined> {
    const rel = Paths.object(hash);
    const st = await fsp.lstat(this.abs(rel)).catch((e: unknown) => Promise.reject(this.unreadable(rel, e)));
    if (!st.isFile()) throw new BadFileError({ path: rel, reason: 'is not a file' });
    if (st.size > MAX_OBJECT_BYTES) throw new BadFileError({ path: rel, reason: `is too large (${st.size} bytes)` });
    try {
      return await decryptFileChunked(this.key, this.storeId, Contexts.object(), this.abs(rel), hash, keep);
    } catch (e) {
      if (e instanceof EnvelopeError) throw envelopeProblem(rel, e);
      throw this.unreadable(rel, e);
    }
  }

  // ---- snapshots -------------------------------------------------------------------------

  async listSnapshots(bad?: (b: BadFile) => void): Promise<SegmentFile[]> {
    const out: SegmentFile[] = [];
    for (const dev of await this.names(Paths.snapshotsDir, bad)) {
      if (!DEVICE_ID.test(dev)) {
        bad?.({ path: path.join(Paths.snapshotsDir, dev), reason: describeForeign(dev) });
        continue;
      }
      for (const n of await this.names(path.join(Paths.snapshotsDir, dev), bad)) {
        const p = parseSegmentName(n);
        if (p) out.push({ device: dev, seq: p.seq, hash: p.hash });
        else bad?.({ path: path.join(Paths.snapshotsDir, dev, n), reason: describeForeign(n) });
      }
    }
    return out;
  }

  /**
   * Writes a snapshot (a local replica's own cache, never shared), encrypted. Versions 2 to 4 (3: the
   * header's covers and counters packed, snapshot-state.ts; 4: the heads' data as bytes after each batch's
   * records, snapshot-format.ts) are laid out alike: the header's JSON on the first line, then the records
   * in batches of SNAPSHOT_V2_BATCH, each batch its own gzip member after its length (4 bytes,
   * big-endian) — unpacked one at a time when read, so neither the whole text nor the whole of it parsed
   * is ever in memory. Version 1 (earlier releases; still read): gzip of NDJSON, the header on the first
   * line, then a batch per line. A head's data may be given as the bytes of its JSON (a head whose data
   * were never read since a version-4 snapshot was loaded: written again as they are, not parsed).
   */
  async writeSnapshot(snap: Snapshot | (SnapshotHeader & { v: 2 | 3 | 4; records: SnapshotRecordV2<SnapshotHeadData>[] })): Promise<SegmentFile> {
    const { records, ...header } = snap;
    if (header.v === 4) return this.writeSnapshotV4(header, records as SnapshotRecordV2<SnapshotHeadData>[]);
    let plain: Buffer;
    if (header.v >= 2) {
      const parts: Buffer[] = [Buffer.from(JSON.stringify(header) + '\n', 'utf8')];
      for (let i = 0; i < records.length; i += SNAPSHOT_V2_BATCH) {
        const batch = records.slice(i, i + SNAPSHOT_V2_BATCH) as SnapshotRecordV2<SnapshotHeadData>[];
        const member = zlib.gzipSync(Buffer.from(JSON.stringify(withObjects(batch)), 'utf8'), { level: 1 });
        parts.push(u32(member.length), member);
      }
      plain = Buffer.concat(parts);
    } else {
      const lines = [JSON.stringify(header)];
      for (let i = 0; i < records.length; i += SNAPSHOT_BATCH) lines.push(JSON.stringify(records.slice(i, i + SNAPSHOT_BATCH)));
      plain = zlib.gzipSync(Buffer.from(lines.join('\n') + '\n', 'utf8'), { level: 1 });
    }
    const bytes = encrypt(this.key, this.storeId, Contexts.snapshot(snap.device, snap.seq), plain);
    const hash = sha256Hex(bytes);
    await this.write(Paths.snapshot(snap.device, snap.seq, hash), bytes);
    return { device: snap.device, seq: snap.seq, hash };
  }

  /**
   * Version 4: `L (4 bytes, big-endian) ‖ head envelope (L bytes) ‖ data envelope 0 ‖ data envelope 1 ‖ …`.
   * The head (context `snapshot/<device>/<seq>`) holds the header's line, then per batch the gzip member
   * of its records after its length, and the length and SHA-256 of its data envelope (which binds it to
   * this head: contexts alone would let a batch of another snapshot of the same seq in); data envelope `i` (context
   * `snapshot/<device>/<seq>/d<i>`) the gzip of batch `i`'s data. An open decrypts the head only; a
   * batch's data are decrypted and unpacked when a record of it is read (snapshot-format.ts, DataBlock).
   */
  protected async writeSnapshotV4(header: SnapshotHeader, records: readonly SnapshotRecordV2<SnapshotHeadData>[]): Promise<SegmentFile> {
    const head: Buffer[] = [Buffer.from(JSON.stringify(header) + '\n', 'utf8')];
    const data: Buffer[] = [];
    for (let i = 0; i < records.length; i += SNAPSHOT_V2_BATCH) {
      const [meta, bytes] = batchV4(records.slice(i, i + SNAPSHOT_V2_BATCH));
      const member = zlib.gzipSync(meta, { level: 1 });
      const sealed = encrypt(this.key, this.storeId, Contexts.snapshotData(header.device, header.seq, data.length), zlib.gzipSync(bytes, { level: 1 }));
      head.push(u32(member.length), member, u32(sealed.length), crypto.createHash('sha256').update(sealed).digest());
      data.push(sealed);
    }
    const sealedHead = encrypt(this.key, this.storeId, Contexts.snapshot(header.device, header.seq), Buffer.concat(head));
    const bytes = Buffer.concat([u32(sealedHead.length), sealedHead, ...data]);
    const hash = sha256Hex(bytes);
    await this.write(Paths.snapshot(header.device, header.seq, hash), bytes);
    return { device: header.device, seq: header.seq, hash };
  }

  /** Removes one of this replica's snapshots (found damaged after it was loaded: the next open replays the log files). */
  async removeSnapshot(f: SegmentFile): Promise<void> {
    await fsp.rm(this.abs(Paths.snapshot(f.device, f.seq, f.hash)), { force: true });
  }

  async readSnapshotBytes(f: SegmentFile): Promise<Buffer> {
    return readBounded(this.io, Paths.snapshot(f.device, f.seq, f.hash), MAX_SNAPSHOT_BYTES, this.skipUnreadable);
  }

  /**
   * Checks a snapshot's name hash and authentication, unpacks it and reads its header; its records are
   * read and checked batch by batch by `batches()` (which throws BadFileError on the first bad one).
   */
  openSnapshot(f: SegmentFile, bytes: Uint8Array): { header: SnapshotHeader; batches(): Generator<SnapshotRecord[] | SnapshotRecordV2[] | BytesBatch> } {
    const rel = Paths.snapshot(f.device, f.seq, f.hash);
    if (sha256Hex(bytes) !== f.hash) throw new BadFileError({ path: rel, reason: 'content does not match its name (truncated, changed or half-synced)' });
    const context = Contexts.snapshot(f.device, f.seq);
    const file = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!beginsAsEnvelope(file)) return this.openSnapshotV4(rel, f, { size: file.length, read: (at, length) => file.subarray(at, at + length) });
    const plain = this.decryptFile(rel, context, bytes, false);
    const v1 = plain[0] === 0x1f && plain[1] === 0x8b; // version 1 is gzip as a whole; version 2 begins with its header's JSON
    const text = v1 ? gunzipped(rel, plain) : plain;
    const { header, nl: end } = this.snapshotHeader(rel, f, text);
    let nl = end; // (version 1's batches are lines after it)
    if ((header.v === 1) !== v1 || header.v === 4) throw new BadFileError({ path: rel, reason: `is not laid out as its version (${header.v}) says` });
    const parse = (s: string) => this.parseJson(rel, s);
    if (header.v >= 2) return { header, batches: () => snapshotMembers(rel, text, nl + 1, parse) };
    function* batches(): Generator<SnapshotRecord[]> {
      for (let start = nl + 1; start < text.length; start = nl + 1) {
        nl = text.indexOf(0x0a, start);
        if (nl < 0) nl = text.length;
        const batch = parse(text.toString('utf8', start, nl));
        const problem = snapshotRecordsProblem(batch);
        if (problem) throw new BadFileError({ path: rel, reason: `does not match the format (${problem})` });
        yield batch as SnapshotRecord[];
      }
    }
    return { header, batches };
  }

  /** A snapshot's header line (its plaintext's first), checked: the format, and the device and position its name gives. `nl`: where the line ends. */
  protected snapshotHeader(rel: string, f: SegmentFile, text: Buffer): { header: SnapshotHeader; nl: number } {
    const nl = text.indexOf(0x0a);
    if (nl < 0) throw new BadFileError({ path: rel, reason: 'has no header line' });
    const header = this.check(rel, this.parseJson(rel, text.toString('utf8', 0, nl)), SnapshotHeaderSchema);
    if (header.device !== f.device || header.seq !== f.seq) throw new BadFileError({ path: rel, reason: 'names another device or position than where it lies' });
    return { header, nl };
  }

  /**
   * One of this replica's own snapshots, opened to be loaded: a snapshot of version 4 is not read whole
   * — its head is read and decrypted, and each batch's data envelope is read from the open file when a
   * record of it is read (each checked against the SHA-256 the authenticated head gives it, so the name's
   * hash over the whole file is not needed: reading and hashing 35 MB at 100,000 records was a quarter of
   * the open). Any other version is read whole and checked as openSnapshot does. `close` lets the file go.
   */
  async openSnapshotToLoad(f: SegmentFile): Promise<ReturnType<ReplicaFolder['openSnapshot']> & { close(): Promise<void> }> {
    const whole = async () => ({ ...this.openSnapshot(f, await this.readSnapshotBytes(f)), close: async () => undefined });
    const rel = Paths.snapshot(f.device, f.seq, f.hash);
    const st = await fsp.lstat(this.abs(rel)).catch(() => undefined);
    if (!st?.isFile() || st.size < 4) return whole(); // (its errors as every read gives them)
    const fh = await fsp.open(this.abs(rel), 'r');
    try {
      const first = Buffer.alloc(4);
      await fh.read(first, 0, 4, 0);
      if (beginsAsEnvelope(first)) {
        await fh.close();
        return await whole();
      }
      const size = (await fh.stat()).size;
      if (size > MAX_SNAPSHOT_BYTES) throw new BadFileError({ path: rel, reason: `is too large (${size} bytes, at most ${MAX_SNAPSHOT_BYTES})` });
      const fd = fh.fd;
      const source: SnapshotSource = {
        size,
        read(at, length) {
          const b = Buffer.allocUnsafe(length);
          for (let got = 0; got < length; ) {
            const n = fs.readSync(fd, b, got, length - got, at + got);
            if (n === 0) throw new Error('the snapshot file ended early');
            got += n;
          }
          return b;
        },
      };
      const opened = this.openSnapshotV4(rel, f, source);
      return { ...opened, close: () => fh.close() };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** A snapshot of version 4 (writeSnapshotV4): the head decrypted and its header read; each batch's data stay sealed until read. */
  protected openSnapshotV4(rel: string, f: SegmentFile, source: SnapshotSource): { header: SnapshotHeader; batches(): Generator<BytesBatch> } {
    const L = source.size >= 4 ? source.read(0, 4).readUInt32BE(0) : -1;
    if (L < 0 || L > MAX_SNAPSHOT_BYTES || 4 + L > source.size) throw new BadFileError({ path: rel, reason: 'is neither an encrypted file nor a snapshot of version 4' });
    const sealedHead = source.read(4, L);
    const plain = this.decryptFile(rel, Contexts.snapshot(f.device, f.seq), sealedHead, false);
    const { header, nl } = this.snapshotHeader(rel, f, plain);
    if (header.v !== 4) throw new BadFileError({ path: rel, reason: `is not laid out as its version (${header.v}) says` });
    const keys = headKeys(this.key, sealedHead);
    const unseal = (i: number, read: () => Buffer, hash: Buffer) => dataEnvelope(keys, this.storeId, Contexts.snapshotData(f.device, f.seq, i), read, hash);
    const parse = (s: string) => this.parseJson(rel, s);
    return { header, batches: () => snapshotBatchesV4(rel, plain, nl + 1, parse, source, 4 + L, unseal) };
  }

  // ---- device info and presence ----------------------------------------------------------

  /** The names are shortened to the format's bounds (any length and script comes in: HOST-API §6). */
  async writeDeviceInfo(info: DeviceInfo): Promise<void> {
    const stored: DeviceInfo = { ...info, name: storedDeviceName(info.name), user: storedUserName(info.user) };
    await this.write(Paths.deviceFile(info.deviceId), encrypt(this.key, this.storeId, Contexts.device(info.deviceId), jsonBytes(stored)));
  }

  async readDeviceInfo(dev: string): Promise<DeviceInfo | undefined> {
    const rel = Paths.deviceFile(dev);
    try {
      const info = this.decode(rel, Contexts.device(dev), await this.readDeviceCardBytes(dev), DeviceInfoSchema);
      return info.deviceId === dev ? info : undefined;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** A device card's bytes as they lie, bounded (not checked: readDeviceInfo does that). */
  readDeviceCardBytes(dev: string): Promise<Buffer> {
    return readBounded(this.io, Paths.deviceFile(dev), MAX_SMALL_FILE_BYTES, this.skipUnreadable);
  }

  /** The only file a device rewrites, and only its own (docs/STORE-FORMAT.md); names shortened as the card's. */
  async writePresence(p: Presence): Promise<void> {
    const stored: Presence = { ...p, name: storedDeviceName(p.name), user: storedUserName(p.user) };
    await this.write(Paths.presence(p.deviceId), encrypt(this.key, this.storeId, Contexts.presence(p.deviceId), jsonBytes(stored)), 'replace');
  }

  /** A device's presence, when and under which key it was written (`stat`: the file's state, when the caller just asked for it). */
  async readPresence(dev: string, stat?: MediumStat): Promise<{ presence: Presence; mtimeMs: number; sealedUnder: string | undefined } | undefined> {
    const rel = Paths.presence(dev);
    try {
      const st: MediumStat = stat ?? (await this.io.stat(rel).catch((e: unknown) => Promise.reject<MediumStat>(this.unreadable(rel, e))));
      const bytes = await readBounded(this.io, rel, MAX_SMALL_FILE_BYTES, this.skipUnreadable);
      const presence = this.decode(rel, Contexts.presence(dev), bytes, PresenceSchema);
      if (presence.deviceId !== dev) return undefined;
      return { presence, mtimeMs: st.mtimeMs, sealedUnder: sealedKeyId(bytes) };
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  // ---- the "moved to" note ------------------------------------------------------------------

  /** Left where the store was after it moved (or, `to: null`, where it came back to); the one file besides presence that is rewritten. */
  async writeMovedNote(note: MovedNote): Promise<void> {
    await this.write(Paths.movedNote, encrypt(this.key, this.storeId, Contexts.moved(), jsonBytes(MovedNoteSchema.parse(note))), 'replace');
  }

  /** The note, checked (size, authentication, format, this store), and the key it was sealed under; undefined when there is none. */
  async readMovedNote(): Promise<{ note: MovedNote; sealedUnder: string | undefined } | undefined> {
    const rel = Paths.movedNote;
    try {
      const bytes = await readBounded(this.io, rel, MAX_SMALL_FILE_BYTES, this.skipUnreadable);
      const note = this.decode(rel, Contexts.moved(), bytes, MovedNoteSchema);
      if (note.storeId !== this.storeId) throw new BadFileError({ path: rel, reason: 'names another store' });
      return { note, sealedUnder: sealedKeyId(bytes) };
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw e;
    }
  }

  // ---- key files (plaintext JSON; the keys inside are wrapped) ----------------------------

  async listKeyFiles(bad?: (b: BadFile) => void): Promise<string[]> {
    return (await this.listKeyFileEntries(bad)).map((k) => k.hash);
  }

  /** The key files here by hash, sorted, with the size and version the listing gave (a server's). */
  async listKeyFileEntries(bad?: (b: BadFile) => void): Promise<{ hash: string; size?: number; version?: string }[]> {
    const out: { hash: string; size?: number; version?: string }[] = [];
    for (const e of await this.entries(Paths.keysDir, bad, true)) {
      if (HASH_HEX.test(e.name)) out.push({ hash: e.name, ...listedOf(e) });
      else bad?.({ path: path.join(Paths.keysDir, e.name), reason: describeForeign(e.name) });
    }
    return out.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  }

  /** A key file, checked: name hash, size, JSON, format, this store. Whether it is believed is the keyring's call. */
  async readKeyFile(hash: string): Promise<{ file: NamedKeyFile; bytes: Buffer }> {
    const rel = path.join(Paths.keysDir, hash);
    const bytes = await readBounded(this.io, rel, MAX_KEY_FILE_BYTES, this.skipUnreadable);
    if (sha256Hex(bytes) !== hash) throw new BadFileError({ path: rel, reason: 'content does not match its name (truncated, changed or half-synced)' });
    const f = this.check(rel, this.parseJson(rel, bytes.toString('utf8')), KeyFileEntrySchema);
    if (f.storeId !== this.storeId) throw new BadFileError({ path: rel, reason: 'belongs to another store' });
    return { file: { hash, file: f }, bytes };
  }

  /** The key files of a folder, read without any key (they need none: the keys inside are wrapped). */
  static keyFilesAt(root: string | Medium, storeId: string, bad?: (b: BadFile) => void): Promise<NamedKeyFile[]> {
    const none = {
      get current(): never {
        throw new Error('no key to seal with');
      },
      get: () => undefined,
    };
    return new ReplicaFolder(root, storeId, none, true).readKeyFiles(bad);
  }

  /** Every readable key file here; bad ones (and foreign names) are reported and left alone. */
  async readKeyFiles(bad?: (b: BadFile) => void, foreign = bad): Promise<NamedKeyFile[]> {
    const out: NamedKeyFile[] = [];
    for (const h of await this.listKeyFiles(foreign)) {
      try {
        out.push((await this.readKeyFile(h)).file);
      } catch (e) {
        if (e instanceof BadFileError) bad?.(e.bad);
        else if (errnoOf(e) !== 'ENOENT') throw e;
      }
    }
    return out;
  }

  async writeKeyFile(f: KeyFileEntry): Promise<NamedKeyFile> {
    const bytes = Buffer.from(JSON.stringify(f, null, 1) + '\n', 'utf8');
    const hash = sha256Hex(bytes);
    await this.write(path.join(Paths.keysDir, hash), bytes);
    return { hash, file: f };
  }

  // ---- helpers ---------------------------------------------------------------------------

  /** Authenticates and decrypts an envelope (and unpacks it when gzipped); bad files become BadFileError. */
  protected decryptFile(rel: string, context: string, bytes: Uint8Array, gzipped: boolean, maxPlain = MAX_SNAPSHOT_BYTES): Buffer {
    let plain: Buffer;
    try {
      plain = decrypt(this.key, this.storeId, context, bytes);
    } catch (e) {
      if (e instanceof EnvelopeError) throw envelopeProblem(rel, e);
      throw e;
    }
    return gzipped ? gunzipped(rel, plain, maxPlain) : plain;
  }

  protected parseJson(rel: string, text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw new BadFileError({ path: rel, reason: 'decrypted content is not JSON' });
    }
  }

  protected check<T>(rel: string, json: unknown, schema: Checker<T>): T {
    const r = schema.safeParse(json);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new BadFileError({ path: rel, reason: `does not match the format (${i?.path.map(String).join('.')}: ${i?.message})` });
    }
    return r.data;
  }

  /** A log file's content checked in place (segmentProblem: SegmentSchema without zod's copy). */
  protected checkSegment(rel: string, json: unknown): Segment {
    const problem = segmentProblem(json);
    if (problem) throw new BadFileError({ path: rel, reason: `does not match the format (${problem})` });
    return json as Segment;
  }

  decode<T>(rel: string, context: string, bytes: Uint8Array, schema: Checker<T>): T {
    return this.check(rel, this.parseJson(rel, this.decryptFile(rel, context, bytes, false).toString('utf8')), schema);
  }
}

function gunzipped(rel: string, plain: Buffer, maxPlain = MAX_SNAPSHOT_BYTES): Buffer {
  try {
    // authenticated, and still bounded; in chunks of 1 MiB (the default 16 KiB made unpacking a pack four times slower)
    return zlib.gunzipSync(plain, { maxOutputLength: maxPlain, chunkSize: 1 << 20 });
  } catch {
    throw new BadFileError({ path: rel, reason: 'decrypted content is not gzip, or unpacks larger than allowed' });
  }
}

/** The records of a snapshot of version 2 or 3: each batch a gzip member after its length, unpacked and checked as it is reached. */
function* snapshotMembers(rel: string, plain: Buffer, from: number, parse: (s: string) => unknown): Generator<SnapshotRecordV2[]> {
  for (let at = from; at < plain.length; ) {
    const member = batchMember(rel, plain, at);
    at = member.end;
    const batch = parse(member.text);
    const problem = snapshotV2RecordsProblem(batch);
    if (problem) throw new BadFileError({ path: rel, reason: `does not match the format (${problem})` });
    yield batch as SnapshotRecordV2[];
  }
}

/**
 * The batches of a snapshot of version 4: the head's members (`plain` from `from` on) — each the gzip of
 * a batch's records after its length, then the length and SHA-256 of its data envelope — and the data envelopes in
 * `file` from `dataFrom` on, one a batch, to the file's end. The records are unpacked and checked as they
 * are reached; the data stay sealed (DataBlock: authenticated, unpacked and added up when first read).
 */
function* snapshotBatchesV4(rel: string, plain: Buffer, from: number, parse: (s: string) => unknown, file: SnapshotSource, dataFrom: number, unseal: (i: number, read: () => Buffer, hash: Buffer) => () => Buffer): Generator<BytesBatch> {
  const bad = (reason: string) => new BadFileError({ path: rel, reason });
  const kept = new UnpackedBlocks();
  let dataAt = dataFrom;
  for (let at = from, i = 0; at < plain.length; i++) {
    const member = batchMember(rel, plain, at, 4 + 32);
    const text = member.text;
    at = member.end;
    const sealedLen = plain.readUInt32BE(at);
    const hash = Buffer.from(plain.subarray(at + 4, at + 4 + 32)); // a copy: nothing of the head is kept for the data
    at += 4 + 32;
    if (dataAt + sealedLen > file.size) throw bad('ends in the middle of the data of a batch');
    const batch = parse(text);
    const lengths = { total: 0 };
    const problem = snapshotV2RecordsProblem(batch, lengths);
    if (problem) throw bad(`does not match the format (${problem})`);
    // what a batch's data may unpack to: 100 records of at most 1 MiB each, with room (no envelope of someone
    // holding the key makes a PC unpack gigabytes when a record is read)
    if (lengths.total > MAX_SNAPSHOT_BATCH_DATA) throw bad(`a batch's data would unpack to ${lengths.total} bytes, more than ${MAX_SNAPSHOT_BATCH_DATA}`);
    const where = dataAt;
    yield { records: batch as SnapshotRecordV4[], data: new DataBlock(unseal(i, () => file.read(where, sealedLen), hash), lengths.total, kept) };
    dataAt += sealedLen;
  }
  if (dataAt !== file.size) throw bad('holds bytes after the data of its last batch');
}

/** The most a batch of a snapshot of version 4 may hold in data (its records' lengths added up). */
export const MAX_SNAPSHOT_BATCH_DATA = 128 << 20;

/**
 * The records of a snapshot's batch: a gzip member after its length (4 bytes, big-endian) at `at` in
 * `plain`, unpacked, with `after` more bytes that must follow it (version 4: its data envelope's length
 * and hash). `end`: where the member ends.
 */
function batchMember(rel: string, plain: Buffer, at: number, after = 0): { text: string; end: number } {
  if (at + 4 > plain.length) throw new BadFileError({ path: rel, reason: 'ends in the middle of a batch' });
  const len = plain.readUInt32BE(at);
  if (at + 4 + len + after > plain.length) throw new BadFileError({ path: rel, reason: 'ends in the middle of a batch' });
  try {
    return { text: zlib.gunzipSync(plain.subarray(at + 4, at + 4 + len), { maxOutputLength: MAX_SNAPSHOT_BYTES, chunkSize: 1 << 18 }).toString('utf8'), end: at + 4 + len };
  } catch {
    throw new BadFileError({ path: rel, reason: 'a batch is not gzip, or unpacks larger than allowed' });
  }
}

/** Where a snapshot of version 4's bytes are: in memory (a check reads the whole file), or a file open for reading. */
interface SnapshotSource {
  readonly size: number;
  /** Exactly `length` bytes from `at` (throws when they cannot be read). */
  read(at: number, length: number): Buffer;
}

/** The key a snapshot's head was sealed under, alone: its data are opened with it whatever the keyring learns or drops meanwhile. */
function headKeys(keys: KeySource, sealedHead: Buffer): KeySource {
  if (Buffer.isBuffer(keys)) return keys;
  const id = sealedKeyId(sealedHead)!;
  const key = keys.get(id)!; // the head was just opened with it
  return { current: { id, key }, get: (x) => (x === id ? key : undefined) };
}

/**
 * Opens a snapshot's data envelope when a record of its batch is read: its SHA-256 as the head gives it,
 * then its authentication. Built apart from the reader, so that what it keeps is the envelope alone.
 */
function dataEnvelope(keys: KeySource, storeId: string, context: string, read: () => Buffer, hash: Buffer): () => Buffer {
  return () => {
    const sealed = read();
    if (!crypto.createHash('sha256').update(sealed).digest().equals(hash)) throw new Error('a data envelope that is not the one its snapshot names');
    return decrypt(keys, storeId, context, sealed);
  };
}

/** Four bytes, big-endian. */
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Version 4's batch: the records with each head's data as its length, and the data's bytes one after the other. */
function batchV4(batch: readonly SnapshotRecordV2<SnapshotHeadData>[]): [Buffer, Buffer] {
  const data: Buffer[] = [];
  const records = batch.map(([col, id, heads, ...rest]) => [
    col,
    id,
    heads.map(([ver, at, by, place, d]) => {
      if (d === null) return [ver, at, by, place, null];
      const b = Buffer.isBuffer(d) ? d : Buffer.from(JSON.stringify(d), 'utf8');
      data.push(b);
      return [ver, at, by, place, b.length];
    }),
    ...rest,
  ]);
  return [Buffer.from(JSON.stringify(records), 'utf8'), Buffer.concat(data)];
}

/** Versions 2 and 3 hold a head's data as JSON inside the record: data given as bytes become the object they hold. */
function withObjects(batch: readonly SnapshotRecordV2<SnapshotHeadData>[]): SnapshotRecordV2[] {
  return batch.map(([col, id, heads, ...rest]) => [col, id, heads.map(([ver, at, by, place, d]) => [ver, at, by, place, Buffer.isBuffer(d) ? (JSON.parse(d.toString('utf8')) as JsonObject) : d]), ...rest]);
}

/**
 * A pack's log files whatever its layout, checked: in order (by seq, then hash; a forked position may
 * appear twice), spanning its name, and each one's `prev` the hash of a log file at seq−1 in the same
 * pack where it holds one. `seg(k)`: the k-th log file's content, checked as it is asked for.
 */
function packFiles(no: (reason: string) => BadFileError, p: PackFile, names: readonly (readonly [number, string])[], seg: (k: number) => Segment): { f: SegmentFile; seg: Segment }[] {
  const hashesAt = new Map<number, Set<string>>();
  for (let i = 0; i < names.length; i++) {
    const [seq, hash] = names[i]!;
    const before = names[i - 1];
    if (before && (seq < before[0] || (seq === before[0] && hash <= before[1]))) throw no('its log files are not in order');
    (hashesAt.get(seq) ?? hashesAt.set(seq, new Set()).get(seq)!).add(hash);
  }
  if (names[0]![0] !== p.first || names[names.length - 1]![0] !== p.last) throw no('its log files do not span its name');
  const files: { f: SegmentFile; seg: Segment }[] = [];
  for (let i = 0; i < names.length; i++) {
    const [seq, hash] = names[i]!;
    const content = seg(i);
    const before = hashesAt.get(seq - 1);
    if (before && (content.prev === null || !before.has(content.prev))) throw no(`log file ${seq} does not follow the one before it`);
    files.push({ f: { device: p.device, seq, hash }, seg: content });
  }
  return files;
}

type Checker<T> = { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } };

function envelopeProblem(rel: string, e: EnvelopeError): BadFileError {
  return e.reason === 'unknown-key' ? new KeyMissingError({ path: rel, reason: e.message }) : new BadFileError({ path: rel, reason: e.message });
}

export function describeForeign(name: string): string {
  switch (classifyForeignName(name)) {
    case 'conflict-copy':
      return "a sync client's conflict copy — ignored, never data";
    case 'system-file':
      return 'a system file (desktop.ini, .DS_Store, Thumbs.db …) — ignored';
    case 'temp-file':
      return 'a temporary or partly synced file — ignored';
    default:
      return 'not a name of this store format — ignored';
  }
}
