// What the plugin keeps in the host's app-data folder (the local replica with its header and the
// wrapped key, journal, outbox, lock and owner records, configuration, identity) is this user's
// alone: files 0600, folders 0700, whatever the process umask is (the host's; never changed here).
// The shared folder keeps the default modes: other PCs' sync clients and share users need them.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/** The modes a writer gives what it creates; undefined: the defaults (0666/0777 less the umask). */
export interface FileModes {
  readonly file: number;
  readonly dir: number;
}

export const PRIVATE_MODES: FileModes = { file: 0o600, dir: 0o700 };

/** POSIX modes mean nothing on Windows (there chmod only toggles read-only): nothing is set there. */
const POSIX = process.platform !== 'win32';

/**
 * Sets exactly `mode` (the umask may have taken bits at creation). Best effort: a file system
 * without POSIX modes (FAT, some shares) refuses chmod and keeps its own, which must not make a
 * write fail.
 */
export async function setMode(p: string, mode: number): Promise<void> {
  if (POSIX) await fsp.chmod(p, mode).catch(() => undefined);
}

/** `mkdir -p`; with `modes`, every folder it creates gets `modes.dir` exactly. */
export async function makeDirs(dir: string, modes?: FileModes): Promise<void> {
  if (!modes) {
    await fsp.mkdir(dir, { recursive: true });
    return;
  }
  const first = await fsp.mkdir(dir, { recursive: true, mode: modes.dir });
  if (first === undefined || !POSIX) return; // nothing created
  const created = path.resolve(first);
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    await setMode(d, modes.dir);
    if (d === created || path.dirname(d) === d) break;
  }
}

/**
 * Tightens what an older version left with the umask's modes: a folder that group or others may
 * enter becomes 0700 and its files 0600 (its files first, so an interrupted pass is redone next
 * time). A folder that is already private is not opened for its files: nobody else can reach them
 * (what this version writes is 0600 anyway). Subfolders only with `recurse`. Bounded by the number of
 * folders (a replica has a few hundred at most: `objects/xx`, one `log` per device); never throws.
 */
export async function tightenTree(dir: string, recurse: boolean): Promise<void> {
  if (!POSIX) return;
  try {
    const st = await fsp.lstat(dir);
    if (!st.isDirectory()) return;
    const loose = (st.mode & 0o077) !== 0;
    if (!loose && !recurse) return;
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (recurse) await tightenTree(p, true);
      } else if (e.isFile() && loose) await setMode(p, PRIVATE_MODES.file); // never a symbolic link's target
    }
    if (loose) await setMode(dir, PRIVATE_MODES.dir);
  } catch {
    // gone, or not ours to list: what can be tightened was
  }
}
