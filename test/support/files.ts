// Reading folders in tests and in the reliability campaign's scripts; no jest globals here.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every file below a folder, relative, sorted. */
export function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(path.join(root, rel));
  } catch {
    return out;
  }
  for (const n of names) {
    const r = path.join(rel, n);
    const st = fs.lstatSync(path.join(root, r), { throwIfNoEntry: false });
    if (!st) continue; // removed between listing and looking: a running device's temporary file
    if (st.isDirectory()) out.push(...walk(root, r));
    else out.push(r);
  }
  return out.sort();
}

/**
 * Every file below a folder with its bytes, for "nothing changed" comparisons and secret scans.
 * A device that is still running writes short-lived files (the access probe's `.probe-*.tmp`, an
 * atomic write's temporary name); one that is gone by the time it is read is left out, and so is a
 * probe file caught in flight, which its writer removes itself.
 */
export function readTree(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of walk(root)) {
    if (/^\.probe-[0-9a-f]+\.tmp$/.test(path.basename(f))) continue;
    try {
      out.set(f, fs.readFileSync(path.join(root, f)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return out;
}
