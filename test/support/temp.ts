import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh folder on the real file system, removed after the test file. */
export function tempDir(prefix = 'cs-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(d);
  return d;
}
const created: string[] = [];
afterAll(() => {
  for (const d of created.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

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

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
