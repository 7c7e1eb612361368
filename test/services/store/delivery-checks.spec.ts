// Delivery is checked, not assumed (invariant 11): through the loaded plugin, faults from outside
// the project's own simulator — junk under a PC's next file names, a folder put back from an older
// copy, a flipped bit, an emptied folder, a gap nobody can fill. "In sync" must be a checked fact.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PracticeStore, SettingsView, StartupVerdict, SyncStatus } from '../../../src/host-api';
import { CloudStorageTimings } from '../../../src/services/cloud-storage-service';
import { CredentialStore } from '../../../src/services/credentials/credential-store';
import { InMemoryCredentialStore } from '../../support/memory-credential-store';
import { TIMINGS } from '../../support/settings-page';
import { loadCloudPlugin, makeHost, type TestHost } from '../../support/test-host';
import { tempDir, waitFor, walk } from '../../support/temp';
import type { LoadedPlugin } from '../../../dev-host/loader';

/** The running PCs' folder check writes and removes a throwaway file: a copy of the live folder skips it (it may be gone before it is read). */
const notProbe = (src: string) => !/^\.probe-[0-9a-f]{12}\.tmp$/.test(path.basename(src));

// Several PCs through the loaded plugin, each with its own timers: generous on a loaded machine.
jest.setTimeout(180_000);

const PASS = 'Liefer-Pruefung-2026';
/** Short audit and grace, so the repairs a practice gets within minutes happen within a test. */
const FAST: CloudStorageTimings = { ...TIMINGS, auditMs: 200, repairGraceMs: 700 };

interface Pc {
  name: string;
  host: TestHost;
  plugin?: LoadedPlugin;
  store?: PracticeStore;
  sync?: SyncStatus;
}

function pc(name: string): Pc {
  const keychain = new InMemoryCredentialStore();
  const host = makeHost({
    deviceName: name,
    bind: (c) => {
      c.bind(CloudStorageTimings).toConstantValue(FAST);
      c.bind(CredentialStore).toConstantValue(keychain);
    },
  });
  return { name, host };
}

/** First start: the page's "Speichern" creates the store in an empty folder, or joins the one there. */
async function setUp(p: Pc, shared: string): Promise<Pc> {
  p.plugin = await loadCloudPlugin(p.host);
  const page = p.plugin.settingsPages[0]!.open();
  page.setValue('folder', shared);
  p.host.dialogs.secrets.push(PASS, PASS);
  const out = await page.invoke('save');
  page.dispose();
  expect(out).toMatchObject({ ok: true });
  return attach(p);
}

async function attach(p: Pc): Promise<Pc> {
  p.plugin!.storageProviders[0]!.sync$.subscribe((s) => (p.sync = s));
  p.store = await p.plugin!.storageProviders[0]!.open();
  return p;
}

/** The app restarted: the plugin loaded again, the guard asked first. */
async function restart(p: Pc): Promise<StartupVerdict> {
  await p.plugin?.unload();
  p.plugin = await loadCloudPlugin(p.host);
  const v = await p.plugin.startupGuards[0]!.check();
  if (v.kind === 'proceed') await attach(p);
  return v;
}

async function stop(p: Pc): Promise<void> {
  await p.plugin?.unload();
  p.plugin = undefined;
  p.store = undefined;
}

/** The settings page of a running PC, its latest view kept. */
async function openPage(p: Pc) {
  const session = p.plugin!.settingsPages[0]!.open();
  let last: SettingsView | undefined;
  session.view$.subscribe((v) => (last = v));
  await waitFor(() => last !== undefined, 2000, 'first view');
  return { item: (id: string): any => last!.sections.flatMap((x) => x.items).find((i) => i.id === id), dispose: () => session.dispose() };
}

async function ids(p: Pc): Promise<string[]> {
  return (await p.store!.list('clients')).map((r) => r.id);
}

function logFiles(shared: string, device: string): string[] {
  return fs.existsSync(path.join(shared, 'devices', device, 'log')) ? fs.readdirSync(path.join(shared, 'devices', device, 'log')).sort() : [];
}

/** The device folder that holds log files written by exactly this PC's records (by name in the plugin). */
async function deviceOf(shared: string, p: Pc): Promise<string> {
  await p.store!.put('clients', `probe-${p.name}`, { who: p.name });
  await p.store!.flush({ timeoutMs: 15000 });
  const before = new Map(fs.readdirSync(path.join(shared, 'devices')).map((d) => [d, logFiles(shared, d).length]));
  await p.store!.put('clients', `probe2-${p.name}`, { who: p.name });
  expect((await p.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
  const grown = fs.readdirSync(path.join(shared, 'devices')).filter((d) => logFiles(shared, d).length > (before.get(d) ?? 0));
  expect(grown).toHaveLength(1);
  return grown[0]!;
}

function replaceFolder(target: string, withCopyOf: string): void {
  for (const n of fs.readdirSync(target)) fs.rmSync(path.join(target, n), { recursive: true, force: true });
  fs.cpSync(withCopyOf, target, { recursive: true });
}

describe('delivery is checked, not assumed', () => {
  test("junk under a PC's next log file names does not swallow its changes, before and after a restart", async () => {
    const shared = tempDir('cs-squat-');
    const a = await setUp(pc('PC-A'), shared);
    const b = await setUp(pc('PC-B'), shared);
    const dev = await deviceOf(shared, a);
    // A stranger with write access but no key plants files at A's next five numbers.
    const next = Math.max(...logFiles(shared, dev).map((n) => Number(n.slice(0, 10)))) + 1;
    for (let seq = next; seq < next + 5; seq++)
      fs.writeFileSync(path.join(shared, 'devices', dev, 'log', `${String(seq).padStart(10, '0')}-${crypto.randomBytes(32).toString('hex')}`), crypto.randomBytes(300));
    // And names far ahead, under A and under a made-up PC: no PC may count up to them.
    const junk = (d: string) => fs.mkdirSync(path.join(shared, 'devices', d, 'log'), { recursive: true });
    const stranger = crypto.randomBytes(16).toString('hex');
    junk(stranger);
    for (const d of [dev, stranger]) fs.writeFileSync(path.join(shared, 'devices', d, 'log', `2000000000-${crypto.randomBytes(32).toString('hex')}`), crypto.randomBytes(300));
    for (const id of ['k1', 'k2', 'k3']) {
      await a.store!.put('clients', id, { name: id });
      expect((await a.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    }
    await waitFor(async () => {
      const l = await ids(b);
      return ['k1', 'k2', 'k3'].every((id) => l.includes(id));
    }, 20000, 'B has k1–k3');
    expect(await restart(a)).toMatchObject({ kind: 'proceed' });
    await a.store!.put('clients', 'k4', { name: 'after restart' });
    expect((await a.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    await waitFor(async () => (await ids(b)).includes('k4'), 20000, 'B has k4');
  });

  test('a folder put back from an older copy: the PC writes its own files again, and says in-sync only when they are there', async () => {
    const shared = tempDir('cs-rollback-');
    const backup = tempDir('cs-backup-');
    const a = await setUp(pc('PC-A'), shared);
    await a.store!.put('clients', 'old', { n: 1 });
    expect((await a.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    fs.cpSync(shared, backup, { recursive: true, filter: notProbe });
    await a.store!.put('clients', 'new', { n: 2 });
    expect((await a.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    const dev = fs.readdirSync(path.join(shared, 'devices'))[0]!;
    const before = logFiles(shared, dev);
    replaceFolder(shared, backup); // "restore your files" to yesterday
    expect(logFiles(shared, dev).length).toBeLessThan(before.length);
    await waitFor(() => before.every((n) => logFiles(shared, dev).includes(n)), 20000, "A's log files written again");
    await waitFor(() => a.sync?.state === 'in-sync', 20000, 'in-sync again');
    const c = await setUp(pc('PC-C'), shared);
    await waitFor(async () => (await ids(c)).includes('new'), 20000, 'C has the change the rollback took away');
  });

  test('a folder put back while its author is away: another PC that holds the files writes them again after the grace period', async () => {
    const shared = tempDir('cs-rollback2-');
    const backup = tempDir('cs-backup2-');
    const a = await setUp(pc('PC-A'), shared);
    const b = await setUp(pc('PC-B'), shared);
    fs.cpSync(shared, backup, { recursive: true, filter: notProbe });
    await a.store!.put('clients', 'von-a', { n: 1 });
    expect((await a.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    await waitFor(async () => (await ids(b)).includes('von-a'), 20000, 'B has it');
    await stop(a); // A's PC is off for the weekend
    replaceFolder(shared, backup);
    const c = await setUp(pc('PC-C'), shared);
    await waitFor(async () => (await ids(c)).includes('von-a'), 15000, "C gets A's change from B's copy");
  });

  test('one flipped bit in an uploaded log file is noticed by the full check and the file written again', async () => {
    const shared = tempDir('cs-bitflip-');
    const a = await setUp(pc('PC-A'), shared);
    const dev = await deviceOf(shared, a);
    await a.store!.put('clients', 'bit', { text: 'Sitzungsnotiz' });
    expect((await a.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    const last = logFiles(shared, dev).at(-1)!;
    const file = path.join(shared, 'devices', dev, 'log', last);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0x04;
    fs.writeFileSync(file, bytes);
    await waitFor(() => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') === last.slice(11), 20000, 'the damaged file written again');
    const c = await setUp(pc('PC-C'), shared);
    await waitFor(async () => (await ids(c)).includes('bit'), 20000, 'C has the change');
  });

  test('an emptied shared folder: said in plain words, restored from one PC, the others go on and new PCs join', async () => {
    const shared = tempDir('cs-emptied-');
    const a = await setUp(pc('PC-A'), shared);
    const b = await setUp(pc('PC-B'), shared);
    await a.store!.put('clients', 'a1', { n: 1 });
    await b.store!.put('clients', 'b1', { n: 1 });
    for (const p of [a, b]) expect((await p.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    await waitFor(async () => (await ids(a)).includes('b1') && (await ids(b)).includes('a1'), 20000, 'both have both');
    for (const n of fs.readdirSync(shared)) fs.rmSync(path.join(shared, n), { recursive: true, force: true }); // a colleague deleted it
    const access: { state: string; detail?: { de: string } }[] = [];
    b.plugin!.storageProviders[0]!.access$.subscribe((s) => access.push(s));
    await waitFor(() => access.at(-1)?.state === 'wrong-folder' && /verschwunden/.test(access.at(-1)?.detail?.de ?? ''), 20000, 'B says the data disappeared');
    const pageB = await openPage(b);
    await waitFor(() => pageB.item('shared-folder-emptied') !== undefined && pageB.item('restore-shared-folder')?.enabled === true, 20000, "B's page offers to restore");
    const v = await restart(a);
    expect(v.kind).toBe('blocked');
    if (v.kind !== 'blocked') return;
    expect(v.message.de).toMatch(/verschwunden/);
    expect(v.actions.map((x) => x.id)).toEqual(expect.arrayContaining(['restore-shared-folder', 'choose-folder', 'work-offline', 'reset-configuration']));
    const after = await a.plugin!.startupGuards[0]!.act('restore-shared-folder');
    expect(after.kind).toBe('proceed');
    await attach(a);
    expect(fs.existsSync(path.join(shared, 'practice-store.json'))).toBe(true);
    await b.store!.put('clients', 'b2', { n: 2 }); // B goes on without a restart
    await waitFor(async () => (await ids(a)).includes('b2'), 20000, "A gets B's new change");
    const c = await setUp(pc('PC-C'), shared);
    await waitFor(async () => {
      const l = await ids(c);
      return ['a1', 'b1', 'b2'].every((id) => l.includes(id));
    }, 15000, 'C joined and has everything');
    expect(await ids(c)).toEqual(expect.arrayContaining(['a1', 'b1', 'b2']));
    await waitFor(() => b.sync?.state === 'in-sync', 20000, 'B in sync');
  });

  test("a gap in another PC's chain that nobody can fill is reported, not skipped in silence", async () => {
    const shared = tempDir('cs-gap-');
    const a = await setUp(pc('PC-A'), shared);
    const b = await setUp(pc('PC-B'), shared);
    const dev = await deviceOf(shared, a);
    await waitFor(async () => (await ids(b)).includes(`probe2-PC-A`), 20000, 'B has what A wrote so far');
    await stop(b);
    await a.store!.put('clients', 'lost', { n: 2 });
    expect((await a.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    await a.store!.put('clients', 'later', { n: 3 });
    expect((await a.store!.flush({ timeoutMs: 15000 })).pending).toBe(0);
    await stop(a);
    const files = logFiles(shared, dev);
    fs.rmSync(path.join(shared, 'devices', dev, 'log', files.at(-2)!)); // somebody deleted one "old file"
    fs.rmSync(path.join(shared, 'devices', dev, 'presence')); // and A's heartbeat: nothing announces what A wrote
    expect(await restart(b)).toMatchObject({ kind: 'proceed' });
    await waitFor(async () => (await ids(b)).includes('later'), 20000, 'B has the later change');
    await waitFor(() => (b.sync?.awaited ?? 0) > 0 && b.sync?.state === 'receiving', 20000, 'B counts the gap');
    expect(await ids(b)).not.toContain('lost');
    const page = await openPage(b);
    await waitFor(() => page.item(`missing-changes:${dev}`) !== undefined, 20000, 'the page names the PC whose changes are missing');
    expect(page.item(`missing-changes:${dev}`).text.de).toMatch(/Änderungen von PC-A fehlen im gemeinsamen Ordner \(seit /);
    expect(walk(shared).length).toBeGreaterThan(0);
  });
});
