// The settings page through the loader with a scripted HostDialogs: validation, the save flow and
// its failure points, removing the setup, conflicts, and every string in German and English.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { folderProblem } from '../../src/services/settings/settings-controller';
import { InMemoryCredentialStore } from '../support/memory-credential-store';
import { type TestHost } from '../support/test-host';
import { host, openPage } from '../support/settings-page';
import { readTree, tempDir, waitFor, walk } from '../support/temp';

const PASS = 'Teekanne-Nordstrand-2026';
const open = openPage;

function state(h: TestHost & { keychain: InMemoryCredentialStore }, shared: string) {
  const replicas = path.join(h.env.appDataDir, 'cloud-storage', 'replicas');
  return {
    config: ((f) => (!fs.existsSync(f) ? null : fs.statSync(f).isDirectory() ? 'a folder' : fs.readFileSync(f, 'utf8')))(path.join(h.env.appDataDir, 'cloud-storage', 'config.json')),
    shared: [...readTree(shared)].map(([f, b]) => [f, b.toString('base64')]),
    replicas: fs.existsSync(replicas) ? fs.readdirSync(replicas) : [],
    keychain: [...h.keychain.items.keys()].sort(),
  };
}

describe('settings page: what it shows', () => {
  test('field folder with browse, the contract actions, live status, the folder kind', async () => {
    const h = host();
    const { plugin, page } = await open(h);
    expect(page.view().title.de).toBe('Gruppenpraxis & Cloudspeicher');
    expect(page.item('folder')).toMatchObject({ kind: 'text-field', browseActionId: 'browse', value: '' });
    for (const id of ['save', 'test-connection', 'remove-configuration']) expect(page.item(id)).toMatchObject({ kind: 'action' });
    expect(page.item('verify')).toBeUndefined(); // only once a store is open
    expect(page.item('remove-configuration').confirm.de).toContain('bleiben unverändert');
    await waitFor(() => page.item('access').text.de.includes('Nicht eingerichtet'), 5000, 'not-configured shown');
    const folder = tempDir('cs-pick-');
    h.dialogs.folders.push(folder);
    expect(await page.invoke('browse')).toEqual({ ok: true });
    expect(page.item('folder').value).toBe(folder);
    await waitFor(() => page.item('folder-kind') !== undefined, 5000, 'folder kind (checked asynchronously)');
    expect(page.item('folder-kind').text.de).toContain('Lokaler Ordner');
    expect(await page.invoke('test-connection')).toMatchObject({ ok: true, message: { de: expect.stringContaining('leer') } });
    await plugin.unload();
  });

  const invalidFolders: [string, (h: TestHost) => string, RegExp][] = [
    ['no full path', () => 'Praxisdaten', /full path/],
    ['a folder that does not exist', () => path.join(tempDir(), 'gibt-es-nicht'), /does not exist/],
    [
      'a file',
      () => {
        const file = path.join(tempDir(), 'datei.txt');
        fs.writeFileSync(file, 'x');
        return file;
      },
      /file, not a folder/,
    ],
    ['inside the application data folder', (h) => path.join(h.env.appDataDir, 'sub'), /application data folder/],
    ['/etc', () => '/etc', /system folder/],
    ['/', () => '/', /system folder/],
  ];

  test.each(invalidFolders)('each validation error, live, in the user’s language: %s', async (_what, value, re) => {
    const h = host();
    const { plugin, page } = await open(h);
    page.set(value(h));
    await waitFor(() => page.item('folder').error !== undefined, 5000, 'the error'); // existence is checked asynchronously
    expect(page.item('folder').error?.en).toMatch(re);
    expect(page.item('save').enabled).toBe(true); // enabled while non-empty: pressing it reports the problem
    const out = await page.invoke('save');
    expect(out.ok).toBe(false);
    expect(!out.ok && out.fieldErrors?.folder?.en).toMatch(re);
    expect(fs.existsSync(path.join(h.env.appDataDir, 'cloud-storage', 'config.json'))).toBe(false);
    await plugin.unload();
  });

  test('Windows forms: drive letters, UNC, forbidden characters, system folders', () => {
    const env = { appDataDir: 'C:\\Users\\anna\\AppData\\Roaming\\TheraPsy', platform: 'win32' as const };
    expect(folderProblem('Praxis', env)?.en).toMatch(/full path/);
    expect(folderProblem('D:', env)?.en).toMatch(/full path/);
    expect(folderProblem('D:\\', env)?.en).toMatch(/whole drive/);
    expect(folderProblem('D:\\Pra|xis', env)?.en).toMatch(/does not allow/);
    expect(folderProblem('C:\\Windows\\Praxis', env)?.en).toMatch(/system folder/);
    expect(folderProblem('c:\\program files\\x', env)?.en).toMatch(/system folder/);
    expect(folderProblem('C:\\Users\\anna\\AppData\\Roaming\\TheraPsy\\cloud', env)?.en).toMatch(/application data/);
    expect(folderProblem('\\\\nas\\praxis\\daten', env)).toBeUndefined(); // shares are checked by the probe, not stat
    expect(folderProblem('\\\\nas', env)?.en).toMatch(/full path/);
  });
});

describe('settings page: the save flow', () => {
  test('first setup on an empty folder imports the existing records (verified); saving again is harmless', async () => {
    const h = host();
    h.localRecords.push(...Array.from({ length: 25 }, (_, i) => ({ collection: 'clients', id: `k${i}`, data: { i } })));
    const shared = tempDir('cs-shared-');
    const { plugin, page } = await open(h);
    page.set(shared);
    h.dialogs.secrets.push(PASS);
    const out = await page.invoke('save');
    expect(out).toMatchObject({ ok: true, message: { de: expect.stringContaining('25 bisherige Datensätze') } });
    expect(h.dialogs.asked.find((a) => a.kind === 'secret')!.message!.de).toContain('sicheren Ort');
    const store = await plugin.storageProviders[0]!.open();
    expect(await store.list('clients')).toHaveLength(25);
    const before = state(h, shared).config;
    expect(await page.invoke('save')).toMatchObject({ ok: true });
    expect(h.dialogs.asked.filter((a) => a.kind === 'secret')).toHaveLength(1);
    expect(JSON.parse(state(h, shared).config!).storeId).toBe(JSON.parse(before!).storeId);
    // another folder is not saved over the setup: the page names the move there, or removing the setup for other data
    page.set(tempDir('cs-other-'));
    const sw = await page.invoke('save');
    expect(sw.ok).toBe(false);
    expect(!sw.ok && sw.message.en).toContain('"Move the practice data to this location"');
    expect(!sw.ok && sw.message.en).toContain("\"Remove this PC's cloud setup\" first");
    expect(page.item('move-store')).toMatchObject({ enabled: true });
    await plugin.unload();
  });

  const failures: [string, (h: ReturnType<typeof host>, shared: string) => void, RegExp][] = [
    ['folder unreachable', (_h, shared) => fs.rmSync(shared, { recursive: true }), /cannot be reached|does not exist/],
    ['folder holds something else', (_h, shared) => fs.writeFileSync(path.join(shared, 'Brief.docx'), 'x'), /no practice store/],
    ['passphrase cancelled', () => undefined, /Cancelled/],
    ['passphrase too short', (h) => h.dialogs.secrets.push('kurz'), /at least 10/],
    [
      'keychain refuses',
      (h) => {
        h.dialogs.secrets.push(PASS);
        h.keychain.set = async () => {
          throw Object.assign(new Error('no keychain'), { code: 'EKEYCHAIN' });
        };
      },
      /failed/,
    ],
    [
      'an existing record is invalid',
      (h) => {
        h.dialogs.secrets.push(PASS);
        h.localRecords.push({ collection: 'clients', id: 'ok', data: {} }, { collection: 'Clients!', id: 'bad', data: {} });
      },
      /invalid record/,
    ],
    [
      'another PC creates a store there at the same moment',
      (h, shared) => {
        h.dialogs.secrets.push(PASS);
        h.localRecords.push({ collection: 'clients', id: 'k', data: {} });
        const orig = h.localRecords[Symbol.iterator].bind(h.localRecords);
        (h.localRecords as any)[Symbol.iterator] = function* () {
          fs.writeFileSync(path.join(shared, 'practice-store.json'), '{"format":"practice-store","version":1}');
          yield* orig();
        };
      },
      /could not be created/,
    ],
    [
      'the configuration cannot be written',
      (h) => {
        h.dialogs.secrets.push(PASS);
        fs.mkdirSync(path.join(h.env.appDataDir, 'cloud-storage', 'config.json'), { recursive: true });
      },
      /failed/,
    ],
  ];

  test.each(failures)('a failure at each step leaves configuration, shared folder, keychain and replicas as they were: %s', async (name, arrange, re) => {
    const h = host();
    const shared = tempDir('cs-shared-');
    arrange(h, shared);
    const before = state(h, shared);
    const { plugin, page } = await open(h);
    page.set(shared);
    const out = await page.invoke('save');
    expect([name, out.ok]).toEqual([name, false]);
    expect([name, !out.ok && out.message.en]).toEqual([name, expect.stringMatching(re)]);
    const after = state(h, shared);
    if (name === 'another PC creates a store there at the same moment') {
      expect(after.shared.map((f) => f[0])).toEqual(['practice-store.json']); // only the other PC's
      expect({ ...after, shared: [] }).toEqual({ ...before, shared: [] });
    } else expect([name, after]).toEqual([name, before]);
    expect(plugin.storageProviders[0]!.isActive()).toBe(false);
    await plugin.unload();
  });
});

/** A store set up through the page on a folder standing for a USB stick (parent/stick). */
async function setUpOnStick() {
  const parent = tempDir('cs-usb-');
  const shared = path.join(parent, 'stick');
  fs.mkdirSync(shared);
  const h = host();
  const { plugin, page } = await open(h);
  page.set(shared);
  h.dialogs.secrets.push(PASS);
  expect(await page.invoke('save')).toMatchObject({ ok: true });
  return { parent, shared, h, plugin, page };
}

describe('settings page: never guesses', () => {
  test('saving a configured path that is empty now creates no second store', async () => {
    const { parent, shared, h, plugin, page } = await setUpOnStick();
    fs.renameSync(shared, path.join(parent, 'away'));
    fs.mkdirSync(shared); // the stick is out; an empty folder at its path
    h.dialogs.secrets.push(PASS);
    const out = await page.invoke('save');
    expect(!out.ok && out.message.en).toContain("after you choose \"Remove this PC's cloud setup\" first");
    await plugin.unload();
    // a connection check may still be removing its test file; nothing may stay
    const t0 = Date.now();
    while (fs.readdirSync(shared).length > 0 && Date.now() - t0 < 15000) await new Promise((res) => setTimeout(res, 100));
    expect(fs.readdirSync(shared)).toEqual([]);
  });
});

describe('settings page: leaving and conflicts', () => {
  test('remove-configuration leaves the shared data untouched; unpushed changes are pushed after re-joining', async () => {
    const { parent, shared, h, plugin, page } = await setUpOnStick();
    fs.renameSync(shared, path.join(parent, 'away'));
    const store = await plugin.storageProviders[0]!.open();
    await store.put('clients', 'unpushed', { n: 1 });
    const sharedBefore = walk(path.join(parent, 'away')).map((f) => fs.readFileSync(path.join(parent, 'away', f)).toString('base64'));
    expect(await page.invoke('remove-configuration')).toMatchObject({ ok: true });
    expect(walk(path.join(parent, 'away')).map((f) => fs.readFileSync(path.join(parent, 'away', f)).toString('base64'))).toEqual(sharedBefore);
    expect(h.keychain.items.size).toBe(0);
    fs.renameSync(path.join(parent, 'away'), shared);
    page.set(shared);
    h.dialogs.secrets.push(PASS);
    expect(await page.invoke('save')).toMatchObject({ ok: true }); // joins the same store again
    const again = await plugin.storageProviders[0]!.open();
    expect(await again.get('clients', 'unpushed')).toBeDefined();
    expect((await again.flush({ timeoutMs: 5000 })).pending).toBe(0);
    await plugin.unload();
  });

  test('open conflicts are listed with one action per version; keeping one resolves it everywhere', async () => {
    const shared = tempDir('cs-shared-');
    const keychain = new InMemoryCredentialStore();
    const a = host(keychain, undefined, 'Praxis-PC 1');
    const { plugin: pa, page: pageA } = await open(a);
    pageA.set(shared);
    a.dialogs.secrets.push(PASS);
    await pageA.invoke('save');
    const b = host(keychain, undefined, 'Praxis-PC 2');
    const { plugin: pb, page: pageB } = await open(b);
    pageB.set(shared);
    expect(await pageB.invoke('save')).toMatchObject({ ok: true });
    const sa = await pa.storageProviders[0]!.open();
    const sb = await pb.storageProviders[0]!.open();
    await sa.put('clients', 'k', { name: 'Anna' });
    await sa.flush({ timeoutMs: 5000 });
    await waitFor(async () => (await sb.get('clients', 'k')) !== undefined, 10000, 'B has k');
    await sa.put('clients', 'k', { name: 'Anna (PC 1)' });
    await sb.put('clients', 'k', { name: 'Anna (PC 2)' });
    await sa.flush({ timeoutMs: 5000 });
    await sb.flush({ timeoutMs: 5000 });
    await waitFor(() => (pageA.item('conflicts')?.rows.length ?? 0) === 2, 10000, 'conflict rows on A');
    const rows = pageA.item('conflicts').rows;
    const keepB = rows.find((r: any) => r.cells[1] === 'Praxis-PC 2');
    expect(await pageA.invoke(keepB.actionIds[0])).toMatchObject({ ok: true });
    await sa.flush({ timeoutMs: 5000 });
    await waitFor(async () => (await sb.get('clients', 'k'))?.conflict === false, 10000, 'resolved on B');
    expect((await sb.get('clients', 'k'))!.data).toEqual({ name: 'Anna (PC 2)' });
    expect(await pageA.invoke(keepB.actionIds[0])).toMatchObject({ ok: false }); // already resolved
    await pa.unload();
    await pb.unload();
  });
});
