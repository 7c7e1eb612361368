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
    const st = fs.lstatSync(path.join(root, r));
    if (st.isDirectory()) out.push(...walk(root, r));
    else out.push(r);
  }
  return out.sort();
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
