// A practice on a WebDAV server (a Nextcloud-like address on lighttpd with Basic auth) and in an S3
// bucket (s3rver), through the loaded plugin as a host drives it: the settings page's field takes the
// address, the login is asked for (again after a wrong one) and kept only in the keychain, a second PC
// joins, edits arrive, and "test connection" tells a wrong address, a wrong login and a stopped server apart.
import * as fs from 'node:fs';
import { readTree } from '../support/temp';
import { host, openPage } from '../support/settings-page';
import { loadCloudPlugin } from '../support/test-host';
import { waitFor } from '../support/temp';
import { startLighttpd, startS3rver, type TestServer } from '../support/servers';
import { serverAccount } from '../../src/services/remote/server-access';
import type { AccessStatus, SyncStatus } from '../../src/host-api';

jest.setTimeout(120_000);
const PASS = 'Teekanne-Nordstrand-2026';

let servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

/** Every file under a folder, as text, to show that a secret is in none of them. */
function everything(dir: string): string {
  const text = [...readTree(dir).values()].map((b) => b.toString('latin1')).join('\n');
  expect(text.length).toBeGreaterThan(0); // there are files to look at
  return text;
}

describe.each([
  {
    kind: 'WebDAV (Nextcloud-like address, Basic auth)',
    start: async () => {
      const s = await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/praxis/Praxisdaten' });
      return { server: s, address: s.url, user: s.user!, secret: s.password!, wrong: { username: s.user!, password: 'falsches-passwort' } };
    },
  },
  {
    kind: 'S3 (s3rver)',
    start: async () => {
      const s = await startS3rver();
      const address = `s3+http://${new URL(s.endpoint).host}/${s.bucket}/praxis-mueller?region=${s.region}`;
      return { server: s as TestServer, address, user: s.accessKeyId, secret: s.secretAccessKey, wrong: { username: 'NOT-A-KEY', password: 'wrong-secret-key-1234' } };
    },
  },
])('a practice on $kind', ({ start }) => {
  test('set-up with a login asked again after a wrong one, kept only in the keychain; a second PC joins; edits arrive', async () => {
    const env = await start();
    servers.push(env.server);
    const a = host(undefined, undefined, 'Empfang');
    const { plugin: pa, page } = await openPage(a);
    page.set(env.address);
    await waitFor(() => page.item('folder')?.problem === undefined && page.view() !== undefined, 5000, 'the address accepted by the field');
    a.dialogs.credentials.push(env.wrong, { username: env.user, password: env.secret });
    a.dialogs.secrets.push(PASS);
    const out = await page.invoke('save');
    expect(out).toMatchObject({ ok: true });
    expect(a.dialogs.asked.filter((q) => q.kind === 'credentials')).toHaveLength(2); // asked again after the refused one
    expect(JSON.parse(a.keychain.items.get(serverAccount(env.address))!)).toBeTruthy();
    expect(everything(a.env.appDataDir)).not.toContain(env.secret);
    expect(a.logger.lines.join('\n')).not.toContain(env.secret);

    const b = host(undefined, undefined, 'Therapie 1');
    const { plugin: pb, page: pageB } = await openPage(b);
    pageB.set(env.address);
    b.dialogs.credentials.push({ username: env.user, password: env.secret });
    b.dialogs.secrets.push(PASS);
    expect(await pageB.invoke('save')).toMatchObject({ ok: true });

    const storeA = await pa.storageProviders[0]!.open();
    const storeB = await pb.storageProviders[0]!.open();
    await storeA.put('clients', 'k1', { name: 'Anna Beispiel' });
    await waitFor(async () => (await storeB.get('clients', 'k1'))?.data !== undefined, 30_000, 'the client on the second PC');
    expect((await storeB.get('clients', 'k1'))!.data).toEqual({ name: 'Anna Beispiel' });
    // nothing of the practice in plaintext on the server
    expect(everything(env.server.root)).not.toContain('Anna Beispiel');

    // A restarts after its login expired (a changed app password, a revoked key): the startup guard asks
    // for the login, keeps the new one, and A works on with everything it had
    await pa.unload();
    const account = serverAccount(env.address);
    const kept = a.keychain.items.get(account)!;
    a.keychain.items.set(account, env.address.startsWith('s3') ? JSON.stringify({ accessKeyId: 'EXPIRED', secretAccessKey: 'expired-secret-1' }) : JSON.stringify({ user: env.user, password: 'abgelaufen-2025' }));
    const a2 = host(a.keychain, a.env.appDataDir, 'Empfang');
    a2.dialogs.credentials.push({ username: env.user, password: env.secret });
    const restarted = await loadCloudPlugin(a2);
    expect(await restarted.startupGuards[0]!.check()).toMatchObject({ kind: 'proceed' });
    expect(a2.dialogs.asked.filter((q) => q.kind === 'credentials')).toHaveLength(1);
    expect(a2.keychain.items.get(account)).toBe(kept);
    expect((await (await restarted.storageProviders[0]!.open()).get('clients', 'k1'))?.data).toEqual({ name: 'Anna Beispiel' });
  });

  test('"test connection" tells apart a wrong address, a wrong login and a stopped server — in words, without the login', async () => {
    const env = await start();
    servers.push(env.server);
    const h = host();
    const { page } = await openPage(h);
    const test = async (address: string) => {
      page.set(address);
      const out = await page.invoke('test-connection');
      return `${out.message?.de ?? ''} ${out.message?.en ?? ''}`;
    };
    // no login stored yet: the server asks for one
    expect(await test(env.address)).toMatch(/Anmeldung|login/i);
    const keep = (user: string, secret: string) => h.keychain.items.set(serverAccount(env.address), JSON.stringify(env.address.startsWith('s3') ? { accessKeyId: user, secretAccessKey: secret } : { user, password: secret }));
    keep(env.wrong.username, env.wrong.password); // a login that is no longer valid (changed app password, revoked key)
    const refused = await test(env.address);
    expect(refused).toMatch(/Anmeldung|login/i);
    expect(refused).not.toContain(env.wrong.password);
    keep(env.user, env.secret);
    expect(await test(env.address)).toMatch(/erreichbar|reachable/i);
    if (!env.address.startsWith('s3')) {
      const wrongPath = env.address.replace('Praxisdaten/', 'Praxisdatne/');
      h.keychain.items.set(serverAccount(wrongPath), h.keychain.items.get(serverAccount(env.address))!);
      expect(await test(wrongPath)).toMatch(/keinen Ordner|no folder/);
    }
    await env.server.down();
    const stopped = await test(env.address);
    expect(stopped).toMatch(/nicht erreichbar|cannot be reached/);
    expect(stopped).not.toContain(env.secret);
    await env.server.up();
    expect(fs.existsSync(env.server.root)).toBe(true);
  });
});

describe('the login changed on the server while a PC works (an app password replaced in Nextcloud)', () => {
  test('access turns auth-required in words, the page asks for the login, the change made meanwhile is sent; nothing in plaintext kept', async () => {
    const server = await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/praxis/Praxisdaten' });
    servers.push(server);
    const a = host(undefined, undefined, 'Empfang');
    const { plugin, page } = await openPage(a);
    page.set(server.url);
    a.dialogs.credentials.push({ username: server.user!, password: server.password! });
    a.dialogs.secrets.push(PASS);
    expect(await page.invoke('save')).toMatchObject({ ok: true });
    const store = await plugin.storageProviders[0]!.open();
    let access: AccessStatus | undefined;
    let sync: SyncStatus | undefined;
    plugin.storageProviders[0]!.access$.subscribe((x) => (access = x));
    plugin.storageProviders[0]!.sync$.subscribe((x) => (sync = x));

    await server.changePassword!();
    await store.put('clients', 'k1', { name: 'Anna Beispiel' });
    await waitFor(() => access?.state === 'auth-required', 20_000, 'access says the login is refused');
    expect(access!.detail!.de).toMatch(/lehnt die gespeicherte Anmeldung ab/);
    expect(access!.detail!.en).toMatch(/refuses the stored login/);
    expect(sync!.state).not.toBe('in-sync');
    expect(sync!.pendingUploads).toBeGreaterThan(0);
    await waitFor(() => page.item('log-in')?.style === 'primary', 10_000, 'the page offers to log in');

    // a wrong one first (asked again), then the new one
    a.dialogs.credentials.push({ username: server.user!, password: 'noch-das-alte' }, { username: server.user!, password: server.password! });
    expect(await page.invoke('log-in')).toMatchObject({ ok: true });
    expect(a.dialogs.asked.filter((q) => q.kind === 'credentials')).toHaveLength(3);
    expect(JSON.parse(a.keychain.items.get(serverAccount(server.url))!).password).toBe(server.password);
    await waitFor(() => access?.state === 'available' && sync?.state === 'in-sync', 20_000, 'back on the server, in sync');
    expect((await store.flush({ timeoutMs: 10_000 })).pending).toBe(0);
    expect(everything(a.env.appDataDir)).not.toContain(server.password!);
    expect(a.logger.lines.join('\n')).not.toContain(server.password!);
  });
});
