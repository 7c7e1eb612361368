import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Reading folders lives in files.ts, which plain scripts (npm run reliability) can import too.
export { readTree, walk } from './files';

/** A fresh folder on the real file system, removed after the test file. */
export function tempDir(prefix = 'cs-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(d);
  return d;
}
const created: string[] = [];
afterAll(() => {
  // retried: a dev host or carrier of the suite may still be finishing a write into the folder (a
  // browser suite failed once with ENOTEMPTY while its hosts were stopping)
  for (const d of created.splice(0)) fs.rmSync(d, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
});

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
