// A shared folder on a FAT32 USB stick, as far as the store sees it (issue #16: most sticks up to 32 GB
// ship FAT32). No FAT file system can be mounted here (no vfat in the kernel of the test machines), so
// the rules are enforced over a real folder by a medium (docs/NOT-RUN-HERE.md):
//   * a folder holds at most 65,534 directory entries besides "." and "..": a name that is not a plain
//     8.3 name costs one short entry plus one long-name entry per 13 characters;
//   * names are case-insensitive (another spelling is the same file) and at most 255 characters, and
//     none of "*/:<>?\| or control characters;
//   * times are kept in 2 s steps (a file's change time is its modification time);
//   * a file is at most 4 GiB − 1 byte.
// A write the stick would refuse fails as Linux's vfat fails it: ENOSPC for a full folder, EFBIG,
// EINVAL for a name, EEXIST for a create over another spelling of an existing name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FolderMedium, MediumError, type MediumEntry, type MediumStat, type WriteMode } from '../../src/services/store/medium';

export const FAT32 = { entriesPerFolder: 65_534, charsPerLongEntry: 13, maxNameChars: 255, maxFileBytes: 2 ** 32 - 1, timeStepMs: 2000 } as const;

const SHORT_NAME = /^[A-Z0-9!#$%&'()@^_`{}~-]{1,8}(\.[A-Z0-9!#$%&'()@^_`{}~-]{1,3})?$/;

/** Directory entries one name takes in its folder. */
export function fatEntries(name: string): number {
  // a plain 8.3 name in one case needs no long-name entries (Windows keeps an all-lower-case one that way too)
  if (SHORT_NAME.test(name.toUpperCase()) && (name === name.toUpperCase() || name === name.toLowerCase())) return 1;
  return 1 + Math.ceil(name.length / FAT32.charsPerLongEntry);
}

/** How many files named like `name` one folder can hold. */
export function fatCapacity(name: string): number {
  return Math.floor(FAT32.entriesPerFolder / fatEntries(name));
}

const step = (ms: number) => Math.floor(ms / FAT32.timeStepMs) * FAT32.timeStepMs;

export class Fat32Medium extends FolderMedium {
  constructor(root: string) {
    super(root);
  }

  /** `rel` with each part spelled as the folder already spells it (case-insensitive names). */
  protected spelled(rel: string): string {
    const parts = rel.split(/[\\/]/).filter(Boolean);
    let at = '';
    const out: string[] = [];
    for (const p of parts) {
      let names: string[] = [];
      try {
        names = fs.readdirSync(path.join(this.root, at));
      } catch {
        /* not there: the rest as given */
      }
      const found = names.includes(p) ? p : names.find((n) => n.toLowerCase() === p.toLowerCase());
      out.push(found ?? p);
      at = path.join(at, found ?? p);
    }
    return out.join(path.sep);
  }

  override abs(rel: string): string {
    return super.abs(this.spelled(rel));
  }

  override async stat(rel: string): Promise<MediumStat> {
    const st = await super.stat(rel);
    return { ...st, mtimeMs: step(st.mtimeMs), ctimeMs: step(st.mtimeMs) };
  }

  override async list(rel: string): Promise<MediumEntry[]> {
    return super.list(this.spelled(rel));
  }

  override async write(rel: string, bytes: Uint8Array, mode: WriteMode = 'create'): Promise<void> {
    const parts = rel.split(/[\\/]/).filter(Boolean);
    for (const p of parts)
      if (p.length > FAT32.maxNameChars || /["*:<>?|\\\x00-\x1f]/.test(p) || /[. ]$/.test(p)) throw new MediumError(`${rel}: not a name FAT32 can hold`, 'EINVAL');
    if (bytes.byteLength > FAT32.maxFileBytes) throw new MediumError(`${rel} is larger than FAT32 allows`, 'EFBIG', bytes.byteLength);
    // every entry that does not exist yet, from the top: a new folder costs entries in its parent, a new file in its folder
    let at = '';
    for (const p of parts) {
      const dir = path.join(this.root, at);
      let names: string[] = [];
      try {
        names = fs.readdirSync(dir);
      } catch {
        /* a folder created by this write */
      }
      const same = names.find((n) => n.toLowerCase() === p.toLowerCase());
      if (same !== undefined && same !== p && p === parts[parts.length - 1] && mode === 'create') throw new MediumError(`${rel}: another spelling of it exists`, 'EEXIST');
      if (same === undefined) {
        const used = names.reduce((n, x) => n + fatEntries(x), 0);
        if (used + fatEntries(p) > FAT32.entriesPerFolder) {
          const e = new MediumError(`${path.join(at, p)}: the folder holds as many entries as FAT32 allows`, 'ENOSPC');
          throw e;
        }
      }
      at = path.join(at, same ?? p);
    }
    return super.write(this.spelled(rel), bytes);
  }
}
