// Moving a practice from a folder to a server and back, through the loaded plugin as a host drives it
// (issue #15): the settings action copies and checks every file, leaves an encrypted "moved to" note
// where the store was, and goes on there with the same open store; the other PCs are told, send
// nothing more to the old place, and follow (asking for the login); a PC that writes to the old
// place before it notices loses nothing, nor does one that follows days later at its next start.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AccessStatus, PracticeStore, SyncStatus } from '../../src/host-api';
import { CloudStorageTimings } from '../../src/services/cloud-storage-service';
import { CredentialStore } from '../../src/services/credentials/credential-store';
import { Paths } from '../../src/services/store/format';
import { serverAccount } from '../../src/services/remote/server-access';
import { InMemoryCredentialStore } from '../support/memory-credential-store';
import { openPage, TIMINGS } from '../support/settings-page';
import { loadCloudPlugin, makeHost } from '../support/test-host';
import { tempDir, waitFor } from '../support/temp';
import { startLighttpd, startS3rver, type TestServer } from '../support/servers';

jest.setTimeout(180_000);
const PASS = 'Teekanne-Nordstrand-2026';

let servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

/** A PC; `auditMs` is how soon it notices a move (its full check's period; the product's default is 60 s). */
function pc(name: string, auditMs: number, keychain = new InMemoryCredentialStore(), appDataDir?: string) {
  const h = makeHost({
    deviceName: name,
    appDataDir,
    bind: (c) => {
      c.bind(CloudStorageTimings).toConstantValue({ ...TIMINGS, auditMs });
      c.bind(CredentialStore).toConstantValue(keychain);
    },
  });
  return Object.assign(h, { keychain });
}

/** A PC set up on (or joined to) the store in `folder` through its settings page. */
async function pcOn(folder: string, name: string, auditMs: number) {
  const h = pc(name, auditMs);
  const { plugin, page } = await openPage(h);
  page.set(folder);
  h.dialogs.secrets.push(PASS);
  expect(await page.invoke('save')).toMatchObject({ ok: true });
  return { h, plugin, page };
}

function latest<T>(o: { subscribe(f: (v: T) => void): unknown }): () => T {
  let v: T | undefined;
  o.subscribe((x) => (v = x));
  return () => v!;
}

async function clients(s: PracticeStore): Promise<string> {
  return JSON.stringify((await s.list('clients')).map((r) => [r.id, r.data]).sort());
}

describe('moving a practice between a folder and a WebDAV server', () => {
  test('A moves it to the server; B follows from the page, C (late) at its next start; a change made in the old folder after the copy still arrives; then back to the folder', async () => {
    const server = await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/praxis/Praxisdaten' });
    servers.push(server);
    const login = { username: server.user!, password: server.password! };
    const folder = tempDir('cs-move-folder-');

    // Three PCs on the folder. C notices a move only at its next start (a full check every 60 s).
    const { h: a, plugin: pa, page: pageA } = await pcOn(folder, 'Empfang', 400);
    const { h: b, plugin: pb, page: pageB } = await pcOn(folder, 'Therapie 1', 400);
    const { h: c, plugin: pc1 } = await pcOn(folder, 'Therapie 2', 600_000);
    const [sa, sb, sc] = await Promise.all([pa, pb, pc1].map((p) => p.storageProviders[0]!.open()));
    await sa.put('clients', 'a1', { name: 'Anna Beispiel' });
    await sb.put('clients', 'b1', { name: 'Bruno Beispiel' });
    await sc.put('clients', 'c1', { name: 'Clara Beispiel' });
    for (const s of [sa, sb, sc]) await waitFor(async () => (await s.list('clients')).length === 3, 30_000, 'the first three clients everywhere');

    // A moves the practice to the server: asked for the login, every file copied and checked.
    const accessB = latest<AccessStatus>(pb.storageProviders[0]!.access$);
    const syncB = latest<SyncStatus>(pb.storageProviders[0]!.sync$);
    pageA.set(server.url);
    await waitFor(() => pageA.item('move-store')?.enabled === true, 10_000, 'the move action offered for another location');
    expect(pageA.item('move-store').confirm.de).toContain(server.url);
    a.dialogs.credentials.push(login);
    const moved = await pageA.invoke('move-store');
    expect(moved).toMatchObject({ ok: true });
    expect(moved.message!.de).toMatch(/kopiert und geprüft/);
    expect(a.keychain.items.get(serverAccount(server.url))).toBeDefined();
    expect(fs.existsSync(path.join(server.root, Paths.header))).toBe(true);
    // the note in the old folder is encrypted: it names no address and no PC in plaintext
    const note = fs.readFileSync(path.join(folder, Paths.movedNote));
    expect(note.toString('latin1')).not.toContain('127.0.0.1');
    expect(note.toString('latin1')).not.toContain('Empfang');
    // nothing was deleted in the old folder
    expect(fs.existsSync(path.join(folder, Paths.header))).toBe(true);
    // A goes on with the same store object the host holds, now on the server
    await sa.put('clients', 'a2', { name: 'Anton Neu' });
    expect((await sa.flush({ timeoutMs: 20_000 })).pending).toBe(0);
    expect(pa.storageProviders[0]!.isActive()).toBe(true);

    // C has not noticed yet and writes to the old folder after the copy: its change must not be lost
    await sc.put('clients', 'c2', { name: 'Carl Spät' });
    expect((await sc.flush({ timeoutMs: 20_000 })).pending).toBe(0);

    // B is told within its check period: access says where the data went; B sends nothing more there
    await waitFor(() => accessB().state === 'wrong-folder' && /umgezogen/.test(accessB().detail?.de ?? ''), 20_000, 'B told of the move');
    expect(accessB().detail!.de).toContain(server.url);
    expect(accessB().detail!.de).toContain('Empfang');
    expect(b.dialogs.notices.some((n) => /umgezogen/.test(n.text.de))).toBe(true);
    await sb.put('clients', 'b2', { name: 'Berta Wartet' });
    await waitFor(() => syncB().pendingUploads > 0, 10_000, 'B’s change counted as waiting');
    expect(syncB().state).not.toBe('in-sync');
    expect(fs.readdirSync(path.join(folder, 'devices')).length).toBe(3); // nothing new beside the three PCs
    await waitFor(() => pageB.item('follow-move')?.style === 'primary', 10_000, 'follow offered on B’s page');
    expect(pageB.item('store-moved')).toBeDefined();

    // B follows: asked for the login; what only the old folder holds (C's late change) comes along
    b.dialogs.credentials.push(login);
    const followed = await pageB.invoke('follow-move');
    expect(followed).toMatchObject({ ok: true });
    expect(pageB.item('folder').value).toBe(server.url);
    await waitFor(() => accessB().state === 'available', 20_000, 'B on the server');
    for (const s of [sa, sb]) await waitFor(async () => (await s.list('clients')).length === 6, 30_000, 'six clients on A and B');
    await waitFor(() => syncB().state === 'in-sync', 20_000, 'B in sync on the server');

    // C quits and starts again later: the startup guard says the data moved and follows on request
    await pc1.unload();
    const c2 = pc('Therapie 2', 600_000, c.keychain, c.env.appDataDir);
    const restarted = await loadCloudPlugin(c2);
    const v = await restarted.startupGuards[0]!.check();
    expect(v).toMatchObject({ kind: 'blocked', actions: expect.arrayContaining([expect.objectContaining({ id: 'follow-move' }), expect.objectContaining({ id: 'work-offline' })]) });
    if (v.kind === 'blocked') expect(v.message.de).toContain(server.url);
    c2.dialogs.credentials.push(login);
    expect(await restarted.startupGuards[0]!.act('follow-move')).toMatchObject({ kind: 'proceed' });
    const sc2 = await restarted.storageProviders[0]!.open();
    await waitFor(async () => (await sc2.list('clients')).length === 6, 30_000, 'six clients on C');
    expect(await clients(sc2)).toBe(await clients(sa));
    expect(await clients(sb)).toBe(await clients(sa));
    // every client is on the server, and none in plaintext
    const onServer = fs.readdirSync(path.join(server.root, 'devices'));
    expect(onServer.length).toBe(3);

    // And back: A moves the practice back into the folder (which still holds it and the note pointing away)
    pageA.set(folder);
    await waitFor(() => pageA.item('move-store')?.enabled === true, 10_000, 'the move back offered');
    expect(await pageA.invoke('move-store')).toMatchObject({ ok: true });
    await sa.put('clients', 'a3', { name: 'Anja Zurück' });
    expect((await sa.flush({ timeoutMs: 20_000 })).pending).toBe(0);
    // B, on the server, is told again; a folder is asked for (its path may differ on B), A's offered
    await waitFor(() => pageB.item('follow-move') !== undefined, 20_000, 'B told of the move back');
    b.dialogs.folders.push(folder);
    expect(await pageB.invoke('follow-move')).toMatchObject({ ok: true });
    // the folder's earlier note no longer sends anyone away
    await waitFor(() => accessB().state === 'available', 20_000, 'B in the folder again');
    for (const s of [sa, sb]) await waitFor(async () => (await s.list('clients')).length === 7, 30_000, 'seven clients on A and B (C follows at its next check)');
    expect(await clients(sb)).toBe(await clients(sa));
    expect(latest<AccessStatus>(pa.storageProviders[0]!.access$)().state).toBe('available');
  });

  test('to an S3 bucket (s3rver): the second PC follows with the access key as login; both work on there', async () => {
    const s3 = await startS3rver();
    servers.push(s3);
    const address = `s3+http://${new URL(s3.endpoint).host}/${s3.bucket}/praxis-umzug?region=${s3.region}`;
    const login = { username: s3.accessKeyId, password: s3.secretAccessKey };
    const folder = tempDir('cs-move-folder-');
    const { h: a, plugin: pa, page: pageA } = await pcOn(folder, 'Empfang', 400);
    const { h: b, plugin: pb, page: pageB } = await pcOn(folder, 'Therapie 1', 400);
    const [sa, sb] = await Promise.all([pa, pb].map((p) => p.storageProviders[0]!.open()));
    await sa.put('clients', 'a1', { name: 'Anna Beispiel' });
    await waitFor(async () => (await sb.get('clients', 'a1')) !== undefined, 30_000, 'the client on B');

    pageA.set(address);
    await waitFor(() => pageA.item('move-store')?.enabled === true, 10_000, 'move offered');
    a.dialogs.credentials.push(login);
    expect(await pageA.invoke('move-store')).toMatchObject({ ok: true });
    await waitFor(() => pageB.item('follow-move') !== undefined, 20_000, 'B told of the move');
    b.dialogs.credentials.push(login);
    expect(await pageB.invoke('follow-move')).toMatchObject({ ok: true });
    await sb.put('clients', 'b1', { name: 'Bruno Beispiel' });
    await sa.put('clients', 'a2', { name: 'Anton Neu' });
    for (const s of [sa, sb]) await waitFor(async () => (await s.list('clients')).length === 3, 30_000, 'three clients on both');
    expect(await clients(sb)).toBe(await clients(sa));
    // the bucket holds the store, encrypted
    const onServer = fs.readdirSync(path.join(s3.root, s3.bucket), { recursive: true }).map(String);
    expect(onServer.some((f) => f.includes('practice-store.json'))).toBe(true);
    await pa.unload();
    await pb.unload();
  });

  test('from one server to another (s3rver → lighttpd with its own login): the second PC follows; nothing written on the first server is lost', async () => {
    const s3 = await startS3rver();
    const dav = await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/praxis/Praxisdaten' });
    servers.push(s3, dav);
    const from = `s3+http://${new URL(s3.endpoint).host}/${s3.bucket}/praxis?region=${s3.region}`;
    const s3Login = { username: s3.accessKeyId, password: s3.secretAccessKey };
    const davLogin = { username: dav.user!, password: dav.password! };
    const onS3 = async (name: string) => {
      const h = pc(name, 400);
      const { plugin, page } = await openPage(h);
      page.set(from);
      h.dialogs.credentials.push(s3Login);
      h.dialogs.secrets.push(PASS);
      expect(await page.invoke('save')).toMatchObject({ ok: true });
      return { h, plugin, page };
    };
    const { h: a, plugin: pa, page: pageA } = await onS3('Empfang');
    const { h: b, plugin: pb, page: pageB } = await onS3('Therapie 1');
    const [sa, sb] = await Promise.all([pa, pb].map((p) => p.storageProviders[0]!.open()));
    await sa.put('clients', 'a1', { name: 'Anna Beispiel' });
    await sb.put('clients', 'b1', { name: 'Bruno Beispiel' });
    for (const s of [sa, sb]) await waitFor(async () => (await s.list('clients')).length === 2, 30_000, 'two clients on both');

    pageA.set(dav.url);
    await waitFor(() => pageA.item('move-store')?.enabled === true, 10_000, 'move offered');
    a.dialogs.credentials.push(davLogin);
    expect(await pageA.invoke('move-store')).toMatchObject({ ok: true });
    // B writes on the first server before it notices: that change still reaches A on the second
    await sb.put('clients', 'b2', { name: 'Berta Spät' });
    await waitFor(() => pageB.item('follow-move') !== undefined, 20_000, 'B told of the move');
    b.dialogs.credentials.push(davLogin);
    expect(await pageB.invoke('follow-move')).toMatchObject({ ok: true });
    await sa.put('clients', 'a2', { name: 'Anton Neu' });
    for (const s of [sa, sb]) await waitFor(async () => (await s.list('clients')).length === 4, 30_000, 'four clients on both');
    expect(await clients(sb)).toBe(await clients(sa));
    // the second server holds the store; the first one holds the moved-to note
    expect(fs.existsSync(path.join(dav.root, 'practice-store.json'))).toBe(true);
    expect(fs.readdirSync(path.join(s3.root, s3.bucket), { recursive: true }).map(String).some((f) => f.includes(Paths.movedNote))).toBe(true);
    for (const p of [pa, pb]) expect(latest<AccessStatus>(p.storageProviders[0]!.access$)().state).toBe('available');
    // the logins stay in each PC's keychain, one per server
    for (const h of [a, b]) {
      expect(await h.keychain.get(serverAccount(dav.url))).toBeDefined();
      expect(await h.keychain.get(serverAccount(from))).toBeDefined();
    }
    await pa.unload();
    await pb.unload();
  });
});
