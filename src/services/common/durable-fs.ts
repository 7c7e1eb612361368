// "Durable" as docs/STORE-FORMAT.md defines it: fsynced temp file, rename into place, fsynced directory.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { errnoOf } from './errors';
import { makeDirs as mkdirs, setMode, type FileModes } from './private-fs';

const RETRYABLE_RENAME = new Set(['EPERM', 'EBUSY', 'EACCES']);

/** Antivirus, indexers and sync clients hold files on Windows for a moment: retry with bounded back-off. */
export async function withRenameRetry<T>(op: () => Promise<T>, attempts = 6): Promise<T> {
  let delay = 20;
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (e) {
      if (i >= attempts || !RETRYABLE_RENAME.has(errnoOf(e) ?? '') || process.platform !== 'win32') throw e;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 500);
    }
  }
}

/** Fsyncs a folder so that a rename into it survives a crash (POSIX; Windows has no such call). */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * write(2) may write fewer bytes than asked without an error — on a filling disk it does. Loop
 * until everything is written; the call that finds no space then fails with ENOSPC.
 */
async function writeFully(fh: fsp.FileHandle, chunk: Uint8Array): Promise<number> {
  let off = 0;
  while (off < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    if (bytesWritten <= 0) throw Object.assign(new Error('no progress writing'), { code: 'ENOSPC' });
    off += bytesWritten;
  }
  return off;
}

/**
 * The one durable write: chunks into a temp file in `dir` (a name readers ignore), every byte written
 * and the size checked, fsync, rename to `finalPath()` — asked only after the last chunk, so a content
 * hash can name the file — and fsync of the folder. On any failure the temp file is removed and
 * nothing is published. (write-file-atomic, which we used first, issues one write and ignores a short
 * count, so on a full disk it renamed truncated files into place.) With `modes` (private-fs.ts) the
 * temp file — so the published file — and every folder created get exactly those modes.
 */
export async function writeDurableChunks(dir: string, chunks: Iterable<Uint8Array>, finalPath: () => string, within?: string, modes?: FileModes, sync = true): Promise<string> {
  if (within !== undefined) outsideCheck(dir, within);
  const tmp = path.join(dir, `.incoming-${crypto.randomBytes(8).toString('hex')}.tmp`);
  let target: string;
  try {
    // The folder is made (under the rules of `within`) only when it is missing: most writes go to a
    // folder that exists, and its checks were four to eight file-system calls a write.
    const fh = await fsp.open(tmp, 'wx', modes?.file ?? 0o666).catch(async (e: unknown) => {
      if (errnoOf(e) !== 'ENOENT') throw e;
      await makeDirs(dir, within, modes);
      return fsp.open(tmp, 'wx', modes?.file ?? 0o666);
    });
    try {
      let expected = 0;
      for (const c of chunks) expected += await writeFully(fh, c);
      if (sync) await fh.sync();
      const { size, mode } = await fh.stat();
      if (size !== expected) throw Object.assign(new Error(`wrote ${size} of ${expected} bytes`), { code: 'EIO' });
      // The umask may have taken bits the mode asked for (never added any): set it exactly, best effort.
      if (modes && (mode & 0o777) !== modes.file && process.platform !== 'win32') await fh.chmod(modes.file).catch(() => undefined);
    } finally {
      await fh.close();
    }
    target = finalPath();
    if (path.resolve(path.dirname(target)) !== path.resolve(dir)) await makeDirs(path.dirname(target), within, modes);
    await withRenameRetry(() => fsp.rename(tmp, target));
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  if (sync) await fsyncDir(path.dirname(target));
  return target;
}

/**
 * The same write without its two fsyncs, for a file that can be had again elsewhere (a log file
 * received from the shared location): it is in place, complete, under its name, but may not survive a
 * power loss until `syncWritten` has run over it. Many such writes and one `syncWritten` cost a
 * fraction of as many durable writes (a new PC takes in every log file of the store).
 */
export async function writeDeferred(file: string, bytes: Uint8Array, within?: string, modes?: FileModes): Promise<string> {
  return writeDurableChunks(path.dirname(file), [bytes], () => file, within, modes, false);
}

/** fsyncs syncWritten runs at once: libuv runs 4 file-system calls at a time, one stays free for the host. */
const SYNC_AT_ONCE = 3;

/** Makes files written by `writeDeferred` durable: each file fsynced, then each of their folders. */
export async function syncWritten(files: readonly string[]): Promise<void> {
  // several at a time: the file system commits concurrent fsyncs together (ext4's journal does)
  const dirs = new Set(files.map((f) => path.dirname(f)));
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const fh = await fsp.open(files[next++]!, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SYNC_AT_ONCE, files.length) }, worker));
  for (const d of dirs) await fsyncDir(d);
}

/**
 * `within`: a folder that must already exist; only folders below it are created, one level at a time.
 * A USB stick pulled out or a share gone must make the write fail, never recreate its folder on the
 * local disk (where the next start would take it for the shared folder).
 */
export async function writeDurable(file: string, bytes: Uint8Array | string, within?: string, modes?: FileModes): Promise<void> {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  await writeDurableChunks(path.dirname(file), [buf], () => file, within, modes);
}

/** A write below `within` stays below it (checked on every write, before any file-system call). */
function outsideCheck(dir: string, within: string): string {
  const rel = path.relative(within, dir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw Object.assign(new Error('outside the replica'), { code: 'EINVAL' });
  return rel;
}

async function makeDirs(dir: string, within: string | undefined, modes: FileModes | undefined): Promise<void> {
  if (within === undefined) {
    await mkdirs(dir, modes);
    return;
  }
  const rel = outsideCheck(dir, within);
  let cur = within;
  await fsp.stat(within); // ENOENT when the medium is gone: nothing is created
  for (const part of rel.split(path.sep).filter(Boolean)) {
    cur = path.join(cur, part);
    try {
      await fsp.mkdir(cur, modes?.dir ?? 0o777); // not recursive: a vanished root fails here too
      if (modes) await setMode(cur, modes.dir);
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw e;
    }
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p, fs.constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export async function listDir(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return [];
    throw e;
  }
}
