// Debian's Chromium driven by playwright-core, and dev hosts started as real processes.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const PROJECT = path.resolve(__dirname, '..', '..');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
}

export interface RunningDevHost {
  url: string;
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts `dev-host/main.ts` with the given flags and waits for the URL it prints. */
export function startDevHost(args: string[]): Promise<RunningDevHost> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT, 'dev-host', 'main.ts'), ...args], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`dev host did not start:\n${out}`)), 30000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /DEV_HOST_URL (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          proc,
          output: () => out,
          stop: () =>
            new Promise<void>((r) => {
              if (proc.exitCode !== null) return r();
              proc.once('exit', () => r());
              proc.kill('SIGTERM');
              setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
            }),
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`dev host ended (${code}):\n${out}`)));
  });
}
