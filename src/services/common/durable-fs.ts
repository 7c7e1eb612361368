// "Durable" as STORE.md defines it: fsynced temp file, rename into place, fsynced directory.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import writeFileAtomic from 'write-file-atomic';
import { errnoOf } from './errors';

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

/** write-file-atomic does not fsync the directory; on POSIX we add it so the rename itself survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function writeDurable(file: string, bytes: Uint8Array | string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await withRenameRetry(() => writeFileAtomic(file, typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { fsync: true }));
  await fsyncDir(path.dirname(file));
}

/**
 * Streams chunks into a temp file in `dir`, fsyncs, renames it to `finalPath()` (asked only after the
 * last chunk, so a content hash can name it) and fsyncs the directory. For attachments: a 50 MiB body
 * is never held twice in memory (write-file-atomic takes one buffer).
 */
export async function writeDurableChunks(dir: string, chunks: Iterable<Uint8Array>, finalPath: () => string): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.incoming-${crypto.randomBytes(8).toString('hex')}.tmp`);
  let target: string;
  try {
    const fh = await fsp.open(tmp, 'wx');
    try {
      for (const c of chunks) await fh.write(c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    target = finalPath();
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await withRenameRetry(() => fsp.rename(tmp, target));
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fsyncDir(path.dirname(target));
  return target;
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
