import * as fs from 'node:fs';
import * as path from 'node:path';
import { SharedFolderProbe } from '../../../src/services/access/shared-folder-probe';
import { ShareConnector, interpretNetUse, parseShare, type CommandRunner } from '../../../src/services/access/share-connector';
import { KeytarCredentialStore } from '../../../src/services/credentials/credential-store';
import { loadCloudPlugin, makeHost } from '../../support/test-host';
import { tempDir, waitFor, walk } from '../../support/temp';
import { CloudStorageTimings } from '../../../src/services/cloud-storage-service';

describe('SharedFolderProbe', () => {
  test('a file system whose calls never settle yields a verdict at the bound, and the child is killed', async () => {
    const hang = path.join(tempDir('cs-hang-'), 'hang.js');
    // Injected into the real child: every fs.promises call never settles, like a dead SMB share.
    fs.writeFileSync(hang, "const fs = require('fs'); for (const k of Object.keys(fs.promises)) if (typeof fs.promises[k] === 'function') fs.promises[k] = () => new Promise(() => {}); setInterval(() => {}, 1000);");
    const probe = new SharedFolderProbe({ execArgv: ['--require', hang] });
    const t0 = Date.now();
    const r = await probe.probe(tempDir(), { timeoutMs: 1500 });
    const took = Date.now() - t0;
    expect(r).toMatchObject({ state: 'unavailable', timedOut: true });
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(10000); // the bound, not the file system's 60 s
  });

  test('real folders: missing, file, empty, foreign, read-only', async () => {
    const probe = new SharedFolderProbe();
    const base = tempDir();
    expect((await probe.probe(path.join(base, 'nope'))).state).toBe('unavailable');
    fs.writeFileSync(path.join(base, 'file'), 'x');
    expect((await probe.probe(path.join(base, 'file'))).state).toBe('denied');
    const empty = tempDir();
    expect(await probe.probe(empty)).toMatchObject({ state: 'available', content: 'empty' });
    expect(await probe.probe(empty, { expectStoreId: 'a'.repeat(32) })).toMatchObject({ state: 'wrong-folder' });
    fs.writeFileSync(path.join(empty, 'Brief.docx'), 'x');
    expect(await probe.probe(empty)).toMatchObject({ state: 'available', content: 'foreign' });
    expect(fs.readdirSync(empty)).toEqual(['Brief.docx']); // the probe file was removed
  });

  test('error codes map to access states, never raw codes', () => {
    const i = SharedFolderProbe.interpret;
    expect(i({ ok: false, step: 'write', code: 'EACCES' }, { networkShare: true }).state).toBe('auth-required');
    expect(i({ ok: false, step: 'write', code: 'EACCES' }).state).toBe('denied');
    expect(i({ ok: false, step: 'write', code: 'EROFS' }).detail.de).toContain('schreibgeschützt');
    expect(i({ ok: false, step: 'write', code: 'ENOSPC' }).detail.en).toContain('full');
    expect(i({ ok: true, header: { format: 'practice-store', version: 9, storeId: 'x' }, count: 1 }).state).toBe('wrong-folder');
  });
});

describe('ShareConnector (Windows and macOS cannot run here: command lines and real outputs)', () => {
  const calls: { cmd: string; args: readonly string[]; stdin?: string }[] = [];
  const runner = (result: { code: number; stdout: string; stderr: string }): CommandRunner => ({
    run: async (cmd, args, opts) => {
      calls.push({ cmd, args, stdin: opts?.stdin });
      return result;
    },
  });
  test('net use: command line and errors 1219 / 1326', async () => {
    const c = new ShareConnector(runner({ code: 2, stdout: '', stderr: 'System error 1219 has occurred.\r\n\r\nMultiple connections to a server or shared resource by the same user, using more than one user name, are not allowed.' }), 'win32');
    const r = await c.connect(parseShare('\\\\nas\\praxis\\daten')!, { username: 'PRAXIS\\anna', password: 'geheim' });
    expect(r).toMatchObject({ ok: false, reason: 'other-credentials-in-use' });
    expect(calls.at(-1)).toEqual({ cmd: 'net', args: ['use', '\\\\nas\\praxis', 'geheim', '/user:PRAXIS\\anna', '/persistent:no'], stdin: undefined });
    expect(interpretNetUse({ code: 2, stdout: '', stderr: 'Systemfehler 1326 aufgetreten.\r\n\r\nUnbekannter Benutzername oder falsches Kennwort.' })).toMatchObject({ reason: 'bad-credentials' });
    expect(interpretNetUse({ code: 0, stdout: 'The command completed successfully.', stderr: '' })).toEqual({ ok: true });
  });
  test('gio mount (Linux) takes the password on stdin, not the command line', async () => {
    const c = new ShareConnector(runner({ code: 2, stdout: '', stderr: 'gio: smb://nas/praxis/: Failed to mount Windows share: Permission denied' }), 'linux');
    expect(await c.connect(parseShare('//nas/praxis')!, { username: 'anna', password: 'geheim' })).toMatchObject({ reason: 'bad-credentials' });
    expect(calls.at(-1)!.args.join(' ')).not.toContain('geheim');
    expect(calls.at(-1)!.stdin).toBe('anna\n\ngeheim\n');
  });
});

describe('CredentialStore on the real OS keychain (gnome-keyring)', () => {
  test('set, get, list and delete under service cloud-storage', async () => {
    const ks = new KeytarCredentialStore();
    const account = `test:${process.pid}:${Date.now()}`;
    await ks.set(account, 's3cr3t-ä');
    expect(await ks.get(account)).toBe('s3cr3t-ä');
    expect(await ks.accounts()).toContain(account);
    expect(await ks.delete(account)).toBe(true);
    expect(await ks.get(account)).toBeUndefined();
  });
});

describe('unloading releases everything', () => {
  test('no timer, watcher, child or lock of the plugin is left after unload', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    const h = makeHost({ bind: (c) => c.bind<CloudStorageTimings>(CloudStorageTimings).toConstantValue({ probeTimeoutMs: 5000, monitorMs: 200, pollMs: 100, heartbeatMs: 300 }) });
    const plugin = await loadCloudPlugin(h);
    const page = plugin.settingsPages[0]!.open();
    page.setValue('folder', tempDir('cs-shared-'));
    h.dialogs.secrets.push('ein-langes-passwort');
    expect(await page.invoke('save')).toMatchObject({ ok: true });
    const store = await plugin.storageProviders[0]!.open();
    await store.put('clients', 'x', { a: 1 });
    await new Promise((r) => setTimeout(r, 500)); // deliberate: a few monitor, poll and heartbeat rounds run, so unload has them to stop
    expect(plugin.storageProviders[0]!.isActive()).toBe(true);
    await plugin.unload();
    const leftNow = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    await waitFor(() => leftNow().length <= before && !leftNow().some((r) => r === 'FSEventWrap' || r === 'ProcessWrap' || r === 'StatWatcher'), 5000, 'handles closed after unload');
    const left = leftNow();
    expect(left.length).toBeLessThanOrEqual(before);
    expect(left.filter((r) => r === 'FSEventWrap' || r === 'ProcessWrap' || r === 'StatWatcher')).toEqual([]);
    const lock = path.join(h.env.appDataDir, 'cloud-storage', 'replicas');
    expect(fs.readdirSync(lock).every((d) => !fs.existsSync(path.join(lock, d, 'replica.lock')))).toBe(true);
  });
});

describe('no keychain available', () => {
  test('the error says so and what to install; nothing falls back to a file', () => {
    // A process without a D-Bus session has no Secret Service: the real keytar fails there.
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    const env = { ...process.env };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const home = tempDir('cs-nokeyring-');
    env.HOME = home;
    const script = `const { KeytarCredentialStore } = require(${JSON.stringify(path.join(__dirname, '..', '..', '..', 'dist', 'services', 'credentials', 'credential-store.js'))});
      new KeytarCredentialStore().set('probe', 'geheim').then(() => console.log('stored'), (e) => console.log(JSON.stringify({ name: e.constructor.name, text: e.text })));`;
    const out = execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 20000 });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.name).toBe('KeychainUnavailableError');
    expect(r.text.de).toContain('gnome-keyring');
    expect(r.text.en).toContain('never in a file');
    expect(walk(home).join('\n')).not.toMatch(/geheim/);
    for (const f of walk(home)) expect(fs.readFileSync(path.join(home, f), 'utf8')).not.toContain('geheim');
  });
});
