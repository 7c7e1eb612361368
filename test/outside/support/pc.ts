// Starts one practice PC: `pc-host.cjs` (a host written from HOST-API.md only) in its own node process,
// with its own keychain (gnome-keyring in a private D-Bus session, HOME kept per PC so that a restart
// finds what it kept) and optionally NODE_EXTRA_CA_CERTS (a practice whose server has its own CA).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AccessStatus, ActionOutcome, SettingsView, StartupVerdict, SyncStatus } from '../../../src/host-api';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const HOST = path.join(__dirname, 'pc-host.cjs');

export interface PcOptions {
  device: string;
  /** The PC's own data: app data and keychain home (kept over a restart). */
  home?: string;
  caFile?: string;
  locale?: 'de' | 'en';
}

export interface Pc {
  readonly home: string;
  readonly appData: string;
  readonly access: AccessStatus[];
  readonly sync: SyncStatus[];
  readonly logs: string[];
  readonly dialogs: { kind: string; req: any }[];
  readonly notices: any[];
  readonly crashes: string[];
  readonly stderr: string[];
  call<T = any>(op: string, args?: object, timeoutMs?: number): Promise<T>;
  answer(kind: 'credentials' | 'secrets' | 'folders', ...values: unknown[]): Promise<void>;
  lastAccess(): AccessStatus | undefined;
  lastSync(): SyncStatus | undefined;
  view(): Promise<SettingsView>;
  invoke(action: string): Promise<ActionOutcome>;
  check(): Promise<StartupVerdict>;
  act(action: string): Promise<StartupVerdict>;
  /** Everything the host saw in one string: logs, dialogs, notices, stream values. */
  transcript(): string;
  /** Ends the PC: unload, then the process (or a kill when it does not end). */
  quit(): Promise<void>;
  kill(): void;
}

const all: ChildProcess[] = [];
const homes: string[] = [];
afterAll(() => {
  for (const c of all)
    try {
      if (c.pid) process.kill(-c.pid, 'SIGKILL');
    } catch {
      // ended already
    }
  for (const h of homes.splice(0)) fs.rmSync(h, { recursive: true, force: true });
});

export function pcHome(): string {
  const h = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-outside-pc-'));
  homes.push(h);
  return h;
}

export async function startPc(opts: PcOptions): Promise<Pc> {
  const home = opts.home ?? pcHome();
  const appData = path.join(home, 'appdata');
  fs.mkdirSync(appData, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    PC_PLUGIN_DIR: ROOT,
    PC_APP_DATA: appData,
    PC_DEVICE: opts.device,
    PC_LOCALE: opts.locale ?? 'de',
    ...(opts.caFile ? { NODE_EXTRA_CA_CERTS: opts.caFile } : {}),
  };
  const script = `printf %s pc-keyring | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"`;
  const child = spawn('dbus-run-session', ['--', 'sh', '-c', script, 'sh', process.execPath, HOST], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true });
  all.push(child);
  const pc = {
    home,
    appData,
    access: [] as AccessStatus[],
    sync: [] as SyncStatus[],
    logs: [] as string[],
    dialogs: [] as { kind: string; req: any }[],
    notices: [] as any[],
    crashes: [] as string[],
    stderr: [] as string[],
  };
  child.stderr!.on('data', (b: Buffer) => pc.stderr.push(b.toString()));
  let next = 1;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  child.on('message', (m: any) => {
    if (m.event === 'ready') ready();
    else if (m.event === 'access') pc.access.push(m.v);
    else if (m.event === 'sync') pc.sync.push(m.v);
    else if (m.event === 'log') pc.logs.push(m.line);
    else if (m.event === 'dialog') pc.dialogs.push({ kind: m.kind, req: m.req });
    else if (m.event === 'notify') pc.notices.push(m.n);
    else if (m.event === 'crash') pc.crashes.push(m.message);
    else if (m.id !== undefined) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.ok) p?.resolve(m.value);
      else p?.reject(Object.assign(new Error(`${m.error.name}: ${m.error.message}`), { code: m.error.code }));
    }
  });
  child.on('exit', () => {
    for (const p of pending.values()) p.reject(new Error('the PC process ended'));
    pending.clear();
  });
  await Promise.race([isReady, new Promise((_r, j) => setTimeout(() => j(new Error(`PC did not start: ${pc.stderr.join('')}`)), 15_000))]);
  const call = <T>(op: string, args: object = {}, timeoutMs = 60_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${op} did not settle within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      child.send({ id, op, args });
    });
  const kill = () => {
    child.stderr?.destroy();
    if (child.connected) child.disconnect();
    child.unref();
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  const result: Pc = {
    ...pc,
    call,
    answer: async (kind, ...values) => void (await call('answer', { kind, values })),
    lastAccess: () => pc.access[pc.access.length - 1],
    lastSync: () => pc.sync[pc.sync.length - 1],
    view: () => call('view'),
    invoke: (action) => call('invoke', { action }),
    check: () => call('check'),
    act: (action) => call('act', { action }),
    transcript: () => JSON.stringify({ logs: pc.logs, dialogs: pc.dialogs, notices: pc.notices, access: pc.access, crashes: pc.crashes, stderr: pc.stderr }),
    quit: async () => {
      await call('unload', {}, 30_000).catch(() => undefined);
      kill();
      await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
    },
    kill,
  };
  await call('load');
  return result;
}

/** Polls until `cond` holds (no fixed sleeps). */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, info?: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${info ? `: ${info()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function words(x: { de: string; en: string } | undefined): string {
  return x ? `${x.de} | ${x.en}` : '';
}

export const PASS = 'Teekanne-Nordstrand-2026';

/** A first PC sets a practice up on `address` through the settings page, as a person would, and opens the store. */
export async function setUpFirstPc(address: string, login: { username: string; password: string }, opts: Partial<PcOptions> = {}): Promise<Pc> {
  const pc = await startPc({ device: 'Empfang', ...opts });
  await pc.call('openPage');
  await pc.call('setValue', { field: 'folder', value: address });
  await pc.answer('credentials', login);
  await pc.answer('secrets', PASS);
  const out = await pc.invoke('save');
  if (!out.ok) throw new Error(`set-up failed: ${words(out.message)}`);
  await pc.call('disposePage');
  await pc.call('open');
  return pc;
}

/** Resolves after the carrier finished `n` more exchanges (lastExchangeAt moved on n times). */
export async function rounds(pc: Pc, n: number, timeoutMs: number): Promise<void> {
  const seen = new Set<string>();
  const start = pc.lastSync()?.lastExchangeAt;
  await until(
    () => {
      const at = pc.lastSync()?.lastExchangeAt;
      if (at && at !== start) seen.add(at);
      return seen.size >= n;
    },
    timeoutMs,
    `${n} exchanges`,
    () => JSON.stringify(pc.lastSync()),
  );
}
