// The startup guard's verdicts, driven through the loader on real folders with the real keychain.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { firstValueFrom } from 'rxjs';
import type { StartupVerdict } from '../../../src/host-api';
import { loadCloudPlugin, makeHost, setUpThroughPage, type TestHost } from '../../support/test-host';
import { readTree, tempDir, waitFor, walk } from '../../support/temp';
import { CredentialStore } from '../../../src/services/credentials/credential-store';
import { InMemoryCredentialStore } from '../../support/memory-credential-store';
import { CloudStorageTimings } from '../../../src/services/cloud-storage-service';

const TIMINGS: CloudStorageTimings = { probeTimeoutMs: 5000, monitorMs: 300, pollMs: 100, heartbeatMs: 500 };
const PASS = 'Teekanne-Nordstrand-2026';

function host(opts: { deviceName?: string; appDataDir?: string; otherPc?: boolean } = {}): TestHost {
  return makeHost({
    ...opts,
    bind: (c) => {
      c.bind(CloudStorageTimings).toConstantValue(TIMINGS);
      // another PC has its own keychain; this one shares the session's real keychain otherwise
      if (opts.otherPc) c.bind(CredentialStore).toConstantValue(new InMemoryCredentialStore());
    },
  });
}

function actions(v: StartupVerdict): string[] {
  return v.kind === 'blocked' ? v.actions.map((a) => a.id) : [];
}

const setUp = (h: TestHost, folder: string) => setUpThroughPage(h, folder, PASS);

/** A device set up on a removable folder, closed, and then the folder taken away. */
async function setUpThenPullOut(prefix: string) {
  const parent = tempDir(prefix);
  const shared = path.join(parent, 'stick');
  const away = path.join(parent, 'away');
  fs.mkdirSync(shared);
  const h = host();
  const { plugin } = await setUp(h, shared);
  await (await plugin.storageProviders[0]!.open()).flush({ timeoutMs: 5000 });
  await plugin.unload();
  fs.renameSync(shared, away);
  return { shared, away, h };
}

function snapshotFolder(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [f, b] of readTree(root)) out[f] = b.toString('base64');
  return out;
}

describe('startup guard', () => {
  test('not configured: proceed in local mode', async () => {
    const h = host();
    const plugin = await loadCloudPlugin(h);
    expect(await plugin.startupGuards[0]!.check()).toEqual({ kind: 'proceed', notices: [] });
    expect((await firstValueFrom(plugin.storageProviders[0]!.access$)).state).toBe('not-configured');
    expect(plugin.storageProviders[0]!.isActive()).toBe(false);
    await expect(plugin.storageProviders[0]!.open()).rejects.toMatchObject({ code: 'not-configured' });
    await plugin.unload();
  });

  test('config file unreadable: blocked with reset-configuration, which forgets only this device’s setup', async () => {
    const h = host();
    fs.mkdirSync(path.join(h.env.appDataDir, 'cloud-storage'), { recursive: true });
    fs.writeFileSync(path.join(h.env.appDataDir, 'cloud-storage', 'config.json'), '{"version":1,"folder":');
    const plugin = await loadCloudPlugin(h);
    const v = await plugin.startupGuards[0]!.check();
    expect(v.kind).toBe('blocked');
    expect(actions(v)).toEqual(['reset-configuration']);
    const after = await plugin.startupGuards[0]!.act('reset-configuration');
    expect(after.kind).toBe('proceed');
    expect(fs.existsSync(path.join(h.env.appDataDir, 'cloud-storage', 'config.json'))).toBe(false);
    await plugin.unload();
  });

  test('first setup imports local data; restart reopens silently from the keychain; secrets never in files or logs', async () => {
    const shared = tempDir('cs-shared-');
    const h = host();
    h.localRecords.push({ collection: 'clients', id: 'k1', data: { name: 'Erika' } }, { collection: 'sessions', id: 's1', data: { note: 'Erstgespräch' } });
    const { plugin, out } = await setUp(h, shared);
    expect(out).toMatchObject({ ok: true });
    expect(out.ok && out.message?.de).toContain('2 bisherige Datensätze');
    await plugin.unload();

    const again = host({ appDataDir: h.env.appDataDir });
    const p2 = await loadCloudPlugin(again);
    const v = await p2.startupGuards[0]!.check();
    expect(v.kind).toBe('proceed');
    expect(again.dialogs.asked.filter((a) => a.kind === 'secret')).toHaveLength(0); // key came from the keychain
    const store = await p2.storageProviders[0]!.open();
    expect((await store.get('clients', 'k1'))!.data).toEqual({ name: 'Erika' });
    await p2.unload();

    for (const root of [shared, h.env.appDataDir]) {
      for (const f of walk(root)) expect(fs.readFileSync(path.join(root, f)).includes(Buffer.from(PASS))).toBe(false);
    }
    expect([...h.logger.lines, ...again.logger.lines].join('\n')).not.toContain(PASS);
    // the shared folder holds nothing readable but the header
    for (const f of walk(shared)) expect(fs.readFileSync(path.join(shared, f)).includes(Buffer.from('Erika'))).toBe(false);
  });

  test('second device joins (wrong passphrase asked again), sees the data, and is named in a notice', async () => {
    const shared = tempDir('cs-shared-');
    const a = host({ deviceName: 'Praxis-PC 1' });
    const { plugin: pa } = await setUp(a, shared);
    const sa = await pa.storageProviders[0]!.open();
    await sa.put('clients', 'k1', { name: 'Anna' });
    await sa.flush({ timeoutMs: 5000 });

    const b = host({ deviceName: 'Praxis-PC 2', otherPc: true });
    const pb = await loadCloudPlugin(b);
    const page = pb.settingsPages[0]!.open();
    page.setValue('folder', shared);
    b.dialogs.secrets.push('falsches-passwort', PASS);
    expect(await page.invoke('save')).toMatchObject({ ok: true });
    expect(b.dialogs.asked.filter((x) => x.kind === 'secret')[1]!.message!.de).toContain('stimmt nicht');
    page.dispose();
    const sb = await pb.storageProviders[0]!.open();
    expect((await sb.get('clients', 'k1'))!.data).toEqual({ name: 'Anna' });
    await pb.unload();

    // B restarts while A is working: the guard names A
    const b2 = host({ deviceName: 'Praxis-PC 2', appDataDir: b.env.appDataDir, otherPc: true });
    b2.dialogs.secrets.push(PASS); // its in-memory keychain is new after the restart
    const pb2 = await loadCloudPlugin(b2);
    const v = await pb2.startupGuards[0]!.check();
    expect(v.kind).toBe('proceed');
    expect(v.kind === 'proceed' && v.notices.map((n) => n.text.de).join(' ')).toContain('Praxis-PC 1');
    await pb2.unload();
    await pa.unload();
  });

  test('unreachable: retry / work-offline / reset; offline changes are pushed when the folder returns', async () => {
    const { shared, away, h } = await setUpThenPullOut('cs-usb-'); // the stick is pulled out

    const h2 = host({ appDataDir: h.env.appDataDir });
    const p2 = await loadCloudPlugin(h2);
    const v = await p2.startupGuards[0]!.check();
    expect(v.kind).toBe('blocked');
    expect(actions(v)).toEqual(['retry', 'work-offline', 'reset-configuration']);
    expect(v.kind === 'blocked' && v.message.de).toContain('USB-Stick');
    expect((await p2.startupGuards[0]!.act('retry')).kind).toBe('blocked');
    const off = await p2.startupGuards[0]!.act('work-offline');
    expect(off.kind).toBe('proceed');
    const store = await p2.storageProviders[0]!.open();
    await store.put('clients', 'offline-1', { name: 'Offline angelegt' });
    expect((await store.flush({ timeoutMs: 300 })).pending).toBe(1);

    fs.renameSync(away, shared); // plugged in again
    await waitFor(async () => (await firstValueFrom(p2.storageProviders[0]!.access$)).state === 'available', 5000, 'the monitor noticing the folder is back');
    expect((await store.flush({ timeoutMs: 5000 })).pending).toBe(0);
    expect((await firstValueFrom(p2.storageProviders[0]!.access$)).state).toBe('available');
    await p2.unload();
  });

  test('wrong folder (empty where the store was): blocked with retry and choose-folder; choosing the right one proceeds', async () => {
    const shared = tempDir('cs-shared-');
    const h = host();
    const { plugin } = await setUp(h, shared);
    await plugin.unload();
    const moved = path.join(tempDir('cs-moved-'), 'data');
    fs.renameSync(shared, moved); // drive letter changed: the old path is an empty folder now
    fs.mkdirSync(shared);

    const h2 = host({ appDataDir: h.env.appDataDir });
    const p2 = await loadCloudPlugin(h2);
    const v = await p2.startupGuards[0]!.check();
    expect(v.kind).toBe('blocked');
    // Empty where the store was: it may have been deleted (restore from this PC) or the wrong stick is in (choose or retry).
    expect(actions(v)).toEqual(['restore-shared-folder', 'retry', 'choose-folder', 'work-offline', 'reset-configuration']);
    expect(v.kind === 'blocked' && v.message.de).toMatch(/Laufwerksbuchstabe|USB-Stick/);
    h2.dialogs.folders.push(moved);
    expect((await p2.startupGuards[0]!.act('choose-folder')).kind).toBe('proceed');
    expect(fs.readdirSync(shared)).toEqual([]); // nothing was created in the wrong folder
    await p2.unload();
  });

  test("an emptied folder a PC wrote into while it was being emptied (its own folder made again, with a file): restore is offered; a file its replica does not hold is not this store's", async () => {
    // found by the campaign (npm run reliability -- --replay 1746800614 3 cloud 20 f): the write came
    // between the check that the folder still held the store and the emptying's end
    const shared = tempDir('cs-shared-');
    const h = host();
    const { plugin } = await setUp(h, shared);
    const store = await plugin.storageProviders[0]!.open();
    await store.put('clients', 'k1', { name: 'vorher' });
    await store.flush({ timeoutMs: 5000 });
    await plugin.unload();
    const own = fs.readdirSync(path.join(shared, 'devices'));
    expect(own).toHaveLength(1);
    const logDir = path.join(shared, 'devices', own[0]!, 'log');
    const logName = fs.readdirSync(logDir)[0]!;
    const logBytes = fs.readFileSync(path.join(logDir, logName));
    for (const n of fs.readdirSync(shared)) fs.rmSync(path.join(shared, n), { recursive: true, force: true });
    fs.mkdirSync(logDir, { recursive: true });
    fs.writeFileSync(path.join(logDir, logName), logBytes); // the late write

    const start = async () => {
      const h2 = host({ appDataDir: h.env.appDataDir });
      const p2 = await loadCloudPlugin(h2);
      return { p2, v: await p2.startupGuards[0]!.check() };
    };
    const late = await start();
    expect(actions(late.v)).toContain('restore-shared-folder');
    await late.p2.unload();

    // a file in the folder of a PC this store does not know: maybe another store's, arriving: no restore over it
    const stranger = path.join(shared, 'devices', 'ab'.repeat(16), 'log');
    fs.mkdirSync(stranger, { recursive: true });
    fs.writeFileSync(path.join(stranger, logName), logBytes);
    const foreign = await start();
    expect(foreign.v.kind).toBe('blocked');
    expect(actions(foreign.v)).not.toContain('restore-shared-folder');
    await foreign.p2.unload();
    fs.rmSync(path.join(shared, 'devices', 'ab'.repeat(16)), { recursive: true });
    // nor a file in this PC's own folder that its replica does not hold (a device id is per app-data
    // folder, not per store: another store of the same PC)
    const otherStore = path.join(logDir, `${logName.slice(0, 11)}${'c'.repeat(64)}`);
    fs.writeFileSync(otherStore, logBytes);
    const sameId = await start();
    expect(sameId.v.kind).toBe('blocked');
    expect(actions(sameId.v)).not.toContain('restore-shared-folder');
    await sameId.p2.unload();
    fs.rmSync(otherStore);

    const again = await start();
    expect((await again.p2.startupGuards[0]!.act('restore-shared-folder')).kind).toBe('proceed');
    expect(await (await again.p2.storageProviders[0]!.open()).get('clients', 'k1')).toMatchObject({ data: { name: 'vorher' } });
    expect(fs.existsSync(path.join(shared, 'practice-store.json'))).toBe(true);
    await again.p2.unload();
  });

  test('reset-configuration never touches the shared folder nor unpushed local changes', async () => {
    const { shared, away, h } = await setUpThenPullOut('cs-share-');
    const h2 = host({ appDataDir: h.env.appDataDir });
    const p2 = await loadCloudPlugin(h2);
    await p2.startupGuards[0]!.check();
    await p2.startupGuards[0]!.act('work-offline');
    await (await p2.storageProviders[0]!.open()).put('clients', 'unpushed', { name: 'nur lokal' });
    const before = snapshotFolder(away);
    const replicaFiles = walk(path.join(h.env.appDataDir, 'cloud-storage', 'replicas'));
    expect((await p2.startupGuards[0]!.act('reset-configuration')).kind).toBe('proceed');
    expect(snapshotFolder(away)).toEqual(before);
    const after = walk(path.join(h.env.appDataDir, 'cloud-storage', 'replicas'));
    for (const f of replicaFiles.filter((f) => !f.endsWith('.lock') && !f.endsWith('replica.owner.json') && !f.includes('journal'))) expect(after).toContain(f); // the lock's owner record goes with the lock
    await p2.unload();

    // re-join later: the unpushed change reaches the shared folder
    fs.renameSync(away, shared);
    const h3 = host({ appDataDir: h.env.appDataDir });
    const { plugin: p3, out } = await setUp(h3, shared);
    expect(out).toMatchObject({ ok: true });
    const s3 = await p3.storageProviders[0]!.open();
    expect((await s3.get('clients', 'unpushed'))!.data).toEqual({ name: 'nur lokal' });
    expect((await s3.flush({ timeoutMs: 5000 })).pending).toBe(0);
    await p3.unload();
  });
});
