// Copying a whole store to another shared location (a folder to a server, a server to a folder, one
// server to another): what moving a practice and following a move do (StoreSetup.moveStore / followMove).
// Every file is taken from where it can be checked: this PC's replica first (it verified what it
// holds), then the old location for what this PC lacks (another PC's changes not received yet, files
// under a key this PC does not hold): a content-addressed file only when its bytes match its name, a
// device card only when it authenticates. Each file written is read back and compared. The header
// comes first: a copy cut off half-way (a server gone, the PC shut down) leaves a location that
// holds this store, partly, and trying again carries on there; nobody is sent there before the copy
// ended (the "moved to" note is written after it). Nothing is deleted anywhere.
import { sha256Hex } from '../crypto/store-crypto';
import { errnoOf } from '../common/errors';
import { HASH_HEX, MAX_KEY_FILE_BYTES, MAX_OBJECT_BYTES, MAX_PACK_BYTES, MAX_SEGMENT_BYTES, MAX_SMALL_FILE_BYTES, type StoreHeader } from './format';
import { listStoreFiles, type StoreFile } from './folder-audit';
import { BadFileError, KeyMissingError, ReplicaFolder, UnreadableEntryError, readBounded, type BadFile } from './replica-folder';
import type { ReplicaPort } from './replica-port';

export interface CopyProgress {
  readonly done: number;
  readonly total: number;
}

export interface CopyReport {
  /** Files the new location holds and this copy checked (written now, or there already). */
  readonly files: number;
  /** Of them, written by this copy. */
  readonly written: number;
  readonly bytesWritten: number;
  /** Files of the old location not copied because they failed a check (reported through `bad`). */
  readonly refused: number;
}

export interface CopyOptions {
  /** Read back files that were already in the new location (a move resumed or made again); otherwise their names are believed. */
  readonly verifyExisting: boolean;
  readonly onProgress?: (p: CopyProgress) => void;
  readonly bad?: (b: BadFile) => void;
}

/** The copy did not end with every file checked in the new location. */
export class CopyIncompleteError extends Error {
  constructor(
    readonly missing: readonly string[],
    override readonly cause?: unknown,
  ) {
    super(`${missing.length} file(s) could not be copied to the new location`);
    this.name = 'CopyIncompleteError';
  }
}

const MAX_BYTES: Record<StoreFile['kind'], number> = { key: MAX_KEY_FILE_BYTES, card: MAX_SMALL_FILE_BYTES, log: MAX_SEGMENT_BYTES, pack: MAX_PACK_BYTES, object: MAX_OBJECT_BYTES };

export interface CopyEnds {
  readonly replica: Pick<ReplicaPort, 'heldFiles' | 'readFile' | 'deviceCard'>;
  /** The location the store is in now; undefined when only this PC's copy is used. */
  readonly from: ReplicaFolder | undefined;
  readonly to: ReplicaFolder;
  /** This PC's own (trusted) copy of the header: written last. */
  readonly header: StoreHeader;
}

export async function copyStore(ends: CopyEnds, opts: CopyOptions): Promise<CopyReport> {
  const { replica, from, to, header } = ends;
  const wanted = new Map<string, { file: StoreFile; local: boolean }>();
  for (const f of await replica.heldFiles()) wanted.set(f.rel, { file: f, local: true });
  if (from) for (const f of await listStoreFiles(from, opts.bad)) if (!wanted.has(f.rel)) wanted.set(f.rel, { file: f, local: false });
  const hdr = await ReplicaFolder.readHeader(to.io);
  if (hdr.kind === 'missing') await ReplicaFolder.writeHeader(to.io, header);
  else if (!(hdr.kind === 'ok' && hdr.header.storeId === header.storeId)) throw Object.assign(new Error('another store appeared in the new location'), { code: 'EEXIST' });
  const there = new Set((await listStoreFiles(to, opts.bad)).map((f) => f.rel));
  const all = [...wanted.values()];
  let done = 0;
  let written = 0;
  let bytesWritten = 0;
  const refused = new Set<string>();
  const failed: string[] = [];
  let firstError: unknown;
  opts.onProgress?.({ done, total: all.length });
  for (const { file, local } of all) {
    try {
      const bytes = await sourceBytes(file, local, replica, from);
      if (!bytes) {
        refused.add(file.rel);
        opts.bad?.({ path: file.rel, reason: 'does not check out in the old location; not copied' });
      } else if (!there.has(file.rel) || opts.verifyExisting) {
        const want = sha256Hex(bytes);
        const now = there.has(file.rel) ? await to.io.read(file.rel, MAX_BYTES[file.kind]).catch(() => undefined) : undefined;
        if (!now || sha256Hex(now) !== want) {
          // 'create' unless a damaged copy is there: a server that ignores If-None-Match replaces it either way
          await to.write(file.rel, bytes, now ? 'replace' : 'create');
          let back = await to.io.read(file.rel, MAX_BYTES[file.kind]).catch(() => undefined);
          if (!back || sha256Hex(back) !== want) {
            // a torn upload kept by the server, or someone else's file at the name: written once more, over it
            await to.write(file.rel, bytes, 'replace');
            back = await to.io.read(file.rel, MAX_BYTES[file.kind]);
            if (sha256Hex(back) !== want) throw Object.assign(new Error(`${file.rel} reads back differently`), { code: 'EIO' });
          }
          written++;
          bytesWritten += bytes.length;
        }
      }
    } catch (e) {
      failed.push(file.rel);
      firstError ??= e;
    }
    done++;
    if (done % 50 === 0 || done === all.length) opts.onProgress?.({ done, total: all.length });
  }
  if (failed.length) throw new CopyIncompleteError(failed, firstError);
  // The new location's listing must name every file copied (a server that answers 201 and keeps nothing).
  const listed = new Set((await listStoreFiles(to)).map((f) => f.rel));
  const missing = all.filter((w) => !listed.has(w.file.rel) && !refused.has(w.file.rel)).map((w) => w.file.rel);
  if (missing.length) throw new CopyIncompleteError(missing);
  return { files: all.length - refused.size, written, bytesWritten, refused: refused.size };
}

/** A file's bytes, checked: from this PC's replica, or from the old location when they match the name (a card: when it authenticates). */
async function sourceBytes(file: StoreFile, local: boolean, replica: CopyEnds['replica'], from: ReplicaFolder | undefined): Promise<Buffer | undefined> {
  if (local) {
    const bytes = await replica.readFile(file.rel).catch(() => undefined);
    const good = bytes && (file.kind === 'card' ? !!(await replica.deviceCard(file.device!).catch(() => undefined)) : !(file.hash && HASH_HEX.test(file.hash) && sha256Hex(bytes) !== file.hash));
    if (good) return bytes;
    // this PC's own copy does not check out (reported by its own checks): the old location's may
  }
  if (!from) return undefined;
  try {
    const bytes = await readBounded(from.io, file.rel, MAX_BYTES[file.kind], true);
    if (file.kind === 'card') return (await from.readDeviceInfo(file.device!)) ? bytes : undefined;
    return file.hash && sha256Hex(bytes) === file.hash ? bytes : undefined;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    // a damaged or unreadable file of the old location is not copied (reported), the rest goes on
    if (e instanceof BadFileError || e instanceof KeyMissingError || e instanceof UnreadableEntryError) return undefined;
    throw e;
  }
}
