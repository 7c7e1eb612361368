// The code of an earlier commit, run for real: what a PC that was not updated does. Its `src/` (and
// compiler settings) are taken from git history into a temp folder — the working tree is not touched —
// and a script is run against them with tsx in a child process.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './temp';

const REPO = path.resolve(__dirname, '..', '..');

/** Extracts `src/` of `commit` into a temp folder (with this checkout's node_modules); returns the folder. */
export function codeOf(commit: string): string {
  try {
    execFileSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: REPO, stdio: 'ignore' });
  } catch {
    throw new Error(`commit ${commit} is not in this clone's history (a shallow clone?): the old code cannot be run`);
  }
  const dir = tempDir('cs-old-code-');
  const tar = execFileSync('git', ['archive', commit, 'src', 'tsconfig.json'], { cwd: REPO, maxBuffer: 256 << 20 });
  execFileSync('tar', ['-x', '-C', dir], { input: tar });
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** Runs a TypeScript script (imports relative to the old code's folder, e.g. './src/services/…') there; returns its standard output. */
export function runIn(dir: string, script: string): string {
  const file = path.join(dir, `run-${process.pid}-${Date.now()}.ts`);
  fs.writeFileSync(file, script);
  return execFileSync(process.execPath, [require.resolve('tsx/cli'), file], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
}
