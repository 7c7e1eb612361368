// What the plugin keeps in the host's app-data folder is this user's alone: every file 0600, every
// folder 0700, whatever the umask (the host's); an app-data folder an older version left with the
// umask's modes is tightened when the replica opens. The shared folder keeps the default modes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestHost } from '../../support/test-host';
import { host, openPage } from '../../support/settings-page';
import { loadCloudPlugin } from '../../support/test-host';
import { tempDir } from '../../support/temp';

const PASS = 'Teekanne Nordstrand Abendrot';
const NEW = 'Zitronenbaum Leuchtturm Gewitter';
const posix = process.platform !== 'win32';

jest.setTimeout(240_000);

/** Every entry below a folder (not the folder itself) with its permission bits. */
function modes(root: string): { rel: string; dir: boolean; mode: number }[] {
  const out: { rel: string; dir: boolean; mode: number }[] = [];
  const visit = (rel: string) => {
    for (const n of fs.readdirSync(path.join(root, rel))) {
      const r = path.join(rel, n);
      const st = fs.lstatSync(path.join(root, r), { throwIfNoEntry: false });
      if (!st) continue; // a running device's short-lived file
      out.push({ rel: r, dir: st.isDirectory(), mode: st.mode & 0o777 });
      if (st.isDirectory()) visit(r);
    }
  };
  visit('');
  return out;
}

function loose(root: string): string[] {
  return modes(root)
    .filter((e) => e.mode !== (e.dir ? 0o700 : 0o600))
    .map((e) => `${e.rel} ${e.mode.toString(8)}`);
}

/** A host's app-data folder with everything this version keeps there: a store with data, an attachment, a changed passphrase, a snapshot. */
async function fullAppData(h: TestHost, shared: string) {
  // 2000 imported records: the close afterwards writes a snapshot
  for (let i = 0; i < 2000; i++) h.localRecords.push({ collection: 'clients', id: `c${i}`, data: { name: `Klient ${i}` } });
  const first = await openPage(h);
  first.page.set(shared);
  h.dialogs.secrets.push(PASS);
  expect(await first.page.invoke('save')).toMatchObject({ ok: true });
  const store = await first.plugin.storageProviders[0]!.open();
  await store.put('clients', 'k1', { name: 'Anna Beispiel' });
  await store.putAttachment(new Uint8Array(4096).fill(7), { name: 'Befund.pdf', mediaType: 'application/pdf' });
  h.dialogs.secrets.push(PASS, NEW);
  expect(await first.page.invoke('change-passphrase')).toMatchObject({ ok: true });
  expect((await store.flush({ timeoutMs: 10000 })).pending).toBe(0);
  await first.plugin.unload(); // writes the snapshot
}

/** The host starts again on the same app-data folder: the guard opens the store, which stays open (its lock and owner record exist). */
async function restart(appDataDir: string, keychain: ReturnType<typeof host>['keychain']) {
  const h = host(keychain, appDataDir);
  const plugin = await loadCloudPlugin(h);
  expect(await plugin.startupGuards[0]!.check()).toMatchObject({ kind: 'proceed' });
  return plugin;
}

function expectEverythingThereIs(appDataDir: string): void {
  const rels = modes(appDataDir).map((e) => e.rel.split(path.sep).join('/'));
  for (const what of [
    /^cloud-storage\/config\.json$/,
    /^cloud-storage\/identity\.json$/,
    /^cloud-storage\/replicas\/[0-9a-f]{32}\/practice-store\.json$/,
    /\/journal$/,
    /\/outbox$/,
    /\/replica\.lock$/,
    /\/replica\.owner\.json$/,
    /\/keys\/[0-9a-f]{64}$/,
    /\/devices\/[0-9a-f]{32}\/device$/,
    // its log files, or the pack they went into (format 2: after the passphrase change the files under the old key are packed again)
    /\/devices\/[0-9a-f]{32}\/(log\/\d{10}-[0-9a-f]{64}|packs\/\d{10}-\d{10}-[0-9a-f]{64})$/,
    /\/objects\/[0-9a-f]{2}\/[0-9a-f]{64}$/,
    /\/snapshots\/[0-9a-f]{32}\/\d{10}-[0-9a-f]{64}$/,
  ])
    expect({ what: String(what), found: rels.some((r) => what.test(r)) }).toEqual({ what: String(what), found: true });
}

(posix ? describe : describe.skip)('modes in the app-data folder', () => {
  let umask: number;
  beforeEach(() => {
    umask = process.umask(0o022); // what most hosts run with: files 0644, folders 0755 unless told otherwise
  });
  afterEach(() => {
    process.umask(umask);
  });

  test('set up, write, attach, change the passphrase, snapshot, restart: every file 0600, every folder 0700; the shared folder keeps the defaults', async () => {
    const shared = tempDir('cs-shared-');
    const h = host();
    await fullAppData(h, shared);
    const plugin = await restart(h.env.appDataDir, h.keychain);
    expectEverythingThereIs(h.env.appDataDir);
    expect(loose(h.env.appDataDir)).toEqual([]);
    // the shared folder: what other PCs and their sync clients read, with the umask's modes
    const sharedModes = modes(shared);
    expect(sharedModes.find((e) => e.rel === 'practice-store.json')?.mode).toBe(0o644);
    expect(sharedModes.filter((e) => e.dir).every((e) => e.mode === 0o755)).toBe(true);
    expect(sharedModes.filter((e) => !e.dir && !e.rel.startsWith('.')).every((e) => e.mode === 0o644)).toBe(true);
    await plugin.unload();
  });

  test('the same with no umask at all (0): modes are set, not left to the umask', async () => {
    process.umask(0);
    const shared = tempDir('cs-shared-');
    const h = host();
    await fullAppData(h, shared);
    const plugin = await restart(h.env.appDataDir, h.keychain);
    expect(loose(h.env.appDataDir)).toEqual([]);
    expect(modes(shared).find((e) => e.rel === 'practice-store.json')?.mode).toBe(0o666);
    await plugin.unload();
  });

  test('an app-data folder an older version left with the umask\'s modes is tightened when the replica opens', async () => {
    const shared = tempDir('cs-shared-');
    const h = host();
    await fullAppData(h, shared);
    // what an older version left: folders 0755, files 0644
    const data = path.join(h.env.appDataDir, 'cloud-storage');
    for (const e of modes(data)) fs.chmodSync(path.join(data, e.rel), e.dir ? 0o755 : 0o644);
    fs.chmodSync(data, 0o755);
    expect(loose(h.env.appDataDir).length).toBeGreaterThan(10);
    const plugin = await restart(h.env.appDataDir, h.keychain);
    expect(loose(h.env.appDataDir)).toEqual([]);
    await plugin.unload();
  });
});
