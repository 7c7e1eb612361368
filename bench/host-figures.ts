// Figures of the plugin inside a host: activation, the startup guard (healthy and hanging folder),
// and how fast another device's change reaches changes$. Part of `npm run bench`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Container, ContainerModule } from 'inversify';
import { FeatureFlags, HostDialogs, HostEnvironment, HostLocalData, HostLogger, type RecordChange } from '../src/host-api';
import { loadPlugin } from '../dev-host/loader';
import { PracticeReplica } from '../src/services/store/practice-replica';
import { SharedFolderExchange } from '../src/services/store/shared-folder-exchange';
import { createHeader } from '../src/services/crypto/store-crypto';
import { ReplicaFolder } from '../src/services/store/replica-folder';

export type Row = { what: string; ours: string; alternative: string; ratio: string; target: string; met: string };
const ROOT = path.resolve(__dirname, '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;

// The bench's own keychain, shared by its hosts: the real one is exercised by the tests, and a
// bench must not fill it.
const items = new Map<string, string>();

function host(appDataDir: string, secrets: string[] = [], extra?: (c: Container) => void): Container {
  const c = new Container();
  c.bind(HostEnvironment).toConstantValue({ apiVersion: '1.0.0', appDataDir, deviceName: 'Bench-PC', userName: 'bench', locale: 'de', platform: process.platform });
  c.bind(FeatureFlags).toConstantValue({ isEnabled: () => true });
  const dialogs: HostDialogs = { pickFolder: async () => undefined, promptCredentials: async () => undefined, promptSecret: async () => secrets.shift(), notify: () => undefined };
  c.bind(HostDialogs).toConstantValue(dialogs);
  c.bind(HostLogger).toConstantValue({ debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined });
  c.bind(HostLocalData).toConstantValue({ count: async () => 0, records: async function* () {} });
  c.bind(Symbol.for('cloud-storage.CredentialStore')).toConstantValue({ get: async (a: string) => items.get(a), set: async (a: string, s: string) => void items.set(a, s), delete: async (a: string) => items.delete(a), accounts: async () => [...items.keys()] });
  extra?.(c);
  return c;
}

function forgetPluginModules(): void {
  for (const k of Object.keys(require.cache)) if (k.startsWith(path.join(ROOT, 'dist') + path.sep)) delete require.cache[k];
}

export async function hostFigures(work: string, quick: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  // --- activation: import main, child container, collect and check contributions
  const act: number[] = [];
  const empty: number[] = [];
  for (let i = 0; i < (quick ? 5 : 15); i++) {
    forgetPluginModules();
    const c = host(fs.mkdtempSync(path.join(work, 'act-')));
    let t = performance.now();
    const r = await loadPlugin(ROOT, c);
    act.push(performance.now() - t);
    if (r.kind === 'loaded') await r.plugin.unload();
    t = performance.now();
    const child = new Container({ parent: c });
    const m = new ContainerModule(() => undefined);
    await child.loadAsync(m);
    child.isCurrentBound(Symbol.for('host.StartupGuardContribution'));
    await child.unloadAsync(m);
    empty.push(performance.now() - t);
  }
  rows.push({ what: 'plugin activation: import main (cold module cache), load the module, collect contributions', ours: ms(median(act)), alternative: `empty ContainerModule: ${ms(median(empty))}`, ratio: `${Math.round(median(act) / median(empty))}×`, target: 'report', met: '–' });

  // --- startup guard: set up once, then check on a healthy folder and on one whose calls never settle
  const appData = fs.mkdtempSync(path.join(work, 'guard-'));
  const shared = fs.mkdtempSync(path.join(work, 'guard-shared-'));
  {
    const r = await loadPlugin(ROOT, host(appData, ['bench passphrase 1234']));
    if (r.kind !== 'loaded') throw new Error('not loaded');
    const page = r.plugin.settingsPages[0]!.open();
    page.setValue('folder', shared);
    const out = await page.invoke('save');
    if (!out.ok) throw new Error(JSON.stringify(out));
    page.dispose();
    await r.plugin.unload();
  }
  const healthy: number[] = [];
  for (let i = 0; i < (quick ? 3 : 7); i++) {
    const r = await loadPlugin(ROOT, host(appData));
    if (r.kind !== 'loaded') throw new Error('not loaded');
    const t = performance.now();
    const v = await r.plugin.startupGuards[0]!.check();
    healthy.push(performance.now() - t);
    if (v.kind !== 'proceed') throw new Error(JSON.stringify(v));
    await r.plugin.unload();
  }
  const hang = path.join(work, 'hang.js');
  fs.writeFileSync(hang, "const fs = require('fs'); for (const k of Object.keys(fs.promises)) if (typeof fs.promises[k] === 'function') fs.promises[k] = () => new Promise(() => {}); setInterval(() => {}, 1000);");
  const r = await loadPlugin(ROOT, host(appData, [], (c) => c.bind(Symbol.for('cloud-storage.ProbeChildOptions')).toConstantValue({ execArgv: ['--require', hang] })));
  if (r.kind !== 'loaded') throw new Error('not loaded');
  let t = performance.now();
  const hv = await r.plugin.startupGuards[0]!.check();
  const hung = performance.now() - t;
  await r.plugin.unload();
  rows.push({ what: 'startup guard, healthy local folder (probe in a child process, open, first exchange)', ours: ms(median(healthy)), alternative: '–', ratio: '–', target: '< 10 s (contract)', met: median(healthy) < 10000 ? 'yes' : 'no' });
  rows.push({ what: `startup guard, folder whose file-system calls never settle (verdict: ${hv.kind})`, ours: ms(hung), alternative: 'a hung SMB call: about 60 s', ratio: `${(hung / 60000).toFixed(2)}× of 60 s`, target: 'at the 5 s bound', met: hung < 6000 && hv.kind === 'blocked' ? 'yes' : 'no' });

  // --- another device's change lands in the shared folder -> changes$ here
  for (const watch of [true, false]) {
    // a store of its own for this figure, with a writer and a reader device
    const s2 = fs.mkdtempSync(path.join(work, 'lat-'));
    const { header, storeKey } = await createHeader('latency', { N: 1024, r: 8, p: 1 });
    await ReplicaFolder.writeHeader(s2, header);
    const writer = await PracticeReplica.open({ localRoot: path.join(s2 + '-w', 'r'), header, key: storeKey, deviceId: 'a'.repeat(32), deviceName: 'W', userName: 'b', sealDelayMs: 1 });
    const reader = await PracticeReplica.open({ localRoot: path.join(s2 + '-r', 'r'), header, key: storeKey, deviceId: 'b'.repeat(32), deviceName: 'R', userName: 'b' });
    const rex = new SharedFolderExchange(reader, { sharedRoot: s2, deviceName: 'R', userName: 'b', watch, pollMs: 2000, heartbeatMs: 60000 });
    rex.start();
    const staging = fs.mkdtempSync(path.join(work, 'stage-'));
    const lat: number[] = [];
    for (let i = 0; i < (quick ? 5 : 15); i++) {
      await writer.put('clients', `c${i}`, { i });
      await writer.sealNow();
      const seg = fs.readdirSync(path.join(writer.local.root, 'devices', 'a'.repeat(32), 'log')).sort().pop()!;
      const rel = path.join('devices', 'a'.repeat(32), 'log', seg);
      fs.mkdirSync(path.join(staging, path.dirname(rel)), { recursive: true });
      fs.copyFileSync(path.join(writer.local.root, rel), path.join(staging, rel));
      const got = new Promise<void>((resolve) => {
        const sub = reader.changes$.subscribe((c: RecordChange) => {
          if (c.origin === 'remote' && c.record.id === `c${i}`) {
            sub.unsubscribe();
            resolve();
          }
        });
      });
      fs.mkdirSync(path.join(s2, path.dirname(rel)), { recursive: true });
      await new Promise((res) => setTimeout(res, Math.random() * 2000)); // land at a random moment of the 2 s poll cycle
      t = performance.now();
      fs.renameSync(path.join(staging, rel), path.join(s2, rel)); // the sync client puts the file in place
      await got;
      lat.push(performance.now() - t);
    }
    await rex.stop();
    await reader.close();
    await writer.close();
    rows.push({
      what: `another device's change landing in the shared folder → changes$ here (${watch ? 'file-system events' : 'polling only, every 2 s'})`,
      ours: `median ${ms(median(lat))}, max ${ms(Math.max(...lat))}`,
      alternative: '–',
      ratio: '–',
      target: watch ? '< 1 s median' : 'fallback: about half the poll interval',
      met: watch ? (median(lat) < 1000 ? 'yes' : 'no') : '–',
    });
  }
  return rows;
}
