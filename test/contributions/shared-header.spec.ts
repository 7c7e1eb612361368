// The trusted copy of the header is the local one (issue #14). The shared folder's practice-store.json
// is plaintext and can be edited or swapped by anyone who can write there (a former employee with the
// old passphrase, a copy of the folder): a PC with a local replica believes its own copy, reports a
// shared header that differs in any field, uses nothing of it and never writes over it. A new PC has
// only the shared header (the documented limit), but is told when it does not match the key files.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SettingsView, StartupVerdict } from '../../src/host-api';
import { deriveKek, keyCheckOf, newScryptParams, unwrapStoreKey } from '../../src/services/crypto/store-crypto';
import type { StoreHeader } from '../../src/services/store/format';
import { ReplicaFolder } from '../../src/services/store/replica-folder';
import { InMemoryCredentialStore } from '../support/memory-credential-store';
import { expectBilingual, host, openPage } from '../support/settings-page';
import { loadCloudPlugin } from '../support/test-host';
import type { LoadedPlugin } from '../../dev-host/loader';
import { tempDir, waitFor, walk } from '../support/temp';

jest.setTimeout(120_000); // scrypt at the real cost, several PCs through the loaded plugin

const PASS = 'Teekanne-Nordstrand-2026';
const NEW = 'Neues-Praxis-Passwort-2027';
const ALTERED = 'practice-store.json im gemeinsamen Ordner wurde verändert';

/** A PC set up through its settings page on `shared` (a new store, or joining the one there). */
async function setUp(shared: string, name: string, secrets: string[], keychain = new InMemoryCredentialStore()) {
  const h = host(keychain, undefined, name);
  const { plugin, page } = await openPage(h);
  page.set(shared);
  h.dialogs.secrets.push(...secrets);
  const out = await page.invoke('save');
  return { h, plugin, page, out };
}

/** The PC started again: its app data, the given keychain; the guard's verdict. */
async function restart(pc: { h: ReturnType<typeof host> }, keychain: InMemoryCredentialStore, secrets: string[] = []) {
  const h = host(keychain, pc.h.env.appDataDir, pc.h.env.deviceName);
  h.dialogs.secrets.push(...secrets);
  const plugin = await loadCloudPlugin(h);
  const verdict = await plugin.startupGuards[0]!.check();
  return { h, plugin, verdict };
}

/** The settings page of a plugin already loaded (the PC as it runs after the guard). */
function pageOf(plugin: LoadedPlugin) {
  const session = plugin.settingsPages[0]!.open();
  let last: SettingsView | undefined;
  session.view$.subscribe((v) => {
    expectBilingual(v);
    last = v;
  });
  return {
    item: (id: string): any => last?.sections.flatMap((x) => x.items).find((i) => i.id === id),
    invoke: (id: string) => session.invoke(id),
    dispose: () => session.dispose(),
  };
}

const notices = (v: StartupVerdict) => (v.kind === 'proceed' ? v.notices.map((n) => `${n.tone}: ${n.text.de}`) : []);
const prompts = (h: ReturnType<typeof host>) => h.dialogs.asked.filter((q) => q.kind === 'secret').map((q) => `${q.message!.de} / ${q.message!.en}`);

async function headerOf(folder: string): Promise<StoreHeader> {
  const r = await ReplicaFolder.readHeader(folder);
  if (r.kind !== 'ok') throw new Error(`header ${r.kind}`);
  return r.header;
}

/** A header as someone writes it who can write to the folder: this store's id, `key` wrapped by `passphrase` under `kdf`. */
async function craftHeader(base: StoreHeader, key: Buffer, passphrase: string, kdf: { N: number; r: number; p: number }): Promise<StoreHeader> {
  const params = newScryptParams(kdf);
  const kek = await deriveKek(passphrase, params);
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(Buffer.from(`practice-store/v1/wrapped-key/${base.storeId}`, 'utf8'));
  const ciphertext = Buffer.concat([c.update(key), c.final()]);
  return {
    ...base,
    kdf: params,
    wrappedKey: { nonce: nonce.toString('base64'), ciphertext: ciphertext.toString('base64'), tag: c.getAuthTag().toString('base64') },
    keyCheck: keyCheckOf(key, base.storeId),
  };
}

function writeShared(shared: string, text: string): Buffer {
  fs.writeFileSync(path.join(shared, 'practice-store.json'), text);
  return fs.readFileSync(path.join(shared, 'practice-store.json'));
}

/** A store with one record, set up on PC 1 (closed again); its header as written. */
async function storeOnPc1() {
  const shared = tempDir('cs-shared-');
  const keychain = new InMemoryCredentialStore();
  const a = await setUp(shared, 'Praxis-PC 1', [PASS], keychain);
  expect(a.out.ok).toBe(true);
  const store = await a.plugin.storageProviders[0]!.open();
  await store.put('clients', 'k1', { name: 'Anna' });
  await store.flush({ timeoutMs: 10000 });
  await a.plugin.unload();
  return { shared, keychain, a, header: await headerOf(shared) };
}

describe('the shared header is not trusted by a PC that has its own copy', () => {
  test('lowered KDF cost in the shared header: the restarting PC proceeds with a notice, on its own copy; nothing of the shared one is used or overwritten', async () => {
    const { shared, keychain, a, header } = await storeOnPc1();
    // someone with the passphrase re-wraps the real key at a fraction of the cost
    const key = (await unwrapStoreKey(header, PASS))!;
    const lowered = await craftHeader(header, key, PASS, { N: 1024, r: 1, p: 1 });
    const planted = writeShared(shared, JSON.stringify(lowered, null, 2) + '\n');

    const again = await restart(a, keychain);
    expect(again.verdict.kind).toBe('proceed');
    expect(notices(again.verdict)).toEqual([expect.stringMatching(new RegExp(`^warning: Die Datei ${ALTERED}.*eigenen, geprüften Kopie`))]);
    expect(prompts(again.h)).toEqual([]); // the keychain's key checks out against its own copy
    const store = await again.plugin.storageProviders[0]!.open();
    expect((await store.get('clients', 'k1'))?.data).toEqual({ name: 'Anna' });

    // the settings page says so too
    const page = pageOf(again.plugin);
    await waitFor(() => page.item('shared-header-altered') !== undefined, 10000, 'the notice on the page');
    expect(page.item('shared-header-altered')).toMatchObject({ tone: 'warning', text: { en: expect.stringContaining('This PC keeps working with its own, checked copy') } });
    // a new passphrase generation takes the cost of the PC's own copy, never the lowered one
    again.h.dialogs.secrets.push(PASS, NEW);
    expect(await page.invoke('change-passphrase')).toMatchObject({ ok: true });
    const keyFiles = walk(path.join(shared, 'keys')).map((f) => JSON.parse(fs.readFileSync(path.join(shared, 'keys', f), 'utf8')));
    expect(keyFiles).toHaveLength(1);
    expect(keyFiles[0].kdf).toMatchObject({ N: header.kdf.N, r: header.kdf.r, p: header.kdf.p });
    await again.plugin.unload();
    // written once: the PC never "repairs" the shared header
    expect(fs.readFileSync(path.join(shared, 'practice-store.json'))).toEqual(planted);
  });

  test('a swapped header (same store id, another wrapped key): the restarting PC opens with its keychain key or the right passphrase, never calls it wrong, and says the header was changed', async () => {
    const { shared, keychain, a, header } = await storeOnPc1();
    const swapped = await craftHeader(header, crypto.randomBytes(32), 'Passwort-des-Angreifers', { N: 1 << 14, r: 8, p: 1 });
    const planted = writeShared(shared, JSON.stringify(swapped, null, 2) + '\n');

    const withKeychain = await restart(a, keychain);
    expect(withKeychain.verdict.kind).toBe('proceed');
    expect(notices(withKeychain.verdict).join('\n')).toContain(ALTERED);
    expect(prompts(withKeychain.h)).toEqual([]);
    expect((await (await withKeychain.plugin.storageProviders[0]!.open()).get('clients', 'k1'))?.data).toEqual({ name: 'Anna' });
    await withKeychain.plugin.unload();

    // the keychain entry lost (a new Windows profile): the right passphrase is asked once and accepted
    const typed = await restart(a, new InMemoryCredentialStore(), [PASS]);
    expect(typed.verdict.kind).toBe('proceed');
    expect(notices(typed.verdict).join('\n')).toContain(ALTERED);
    expect(prompts(typed.h)).toHaveLength(1);
    expect(prompts(typed.h).join('\n')).not.toMatch(/stimmt nicht|is wrong/);
    expect((await (await typed.plugin.storageProviders[0]!.open()).get('clients', 'k1'))?.data).toEqual({ name: 'Anna' });
    await typed.plugin.unload();
    expect(fs.readFileSync(path.join(shared, 'practice-store.json'))).toEqual(planted);
  });

  test('the same header written with other whitespace and field order is no tampering', async () => {
    const { shared, keychain, a } = await storeOnPc1();
    const raw = JSON.parse(fs.readFileSync(path.join(shared, 'practice-store.json'), 'utf8')) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(raw).reverse());
    writeShared(shared, JSON.stringify(reordered, null, '\t').replace(/\n/g, '\r\n') + '\r\n\r\n');

    const again = await restart(a, keychain);
    expect(again.verdict).toEqual({ kind: 'proceed', notices: [] });
    const page = pageOf(again.plugin);
    await waitFor(() => page.item('access')?.tone === 'ok', 10000, 'connected');
    expect(page.item('shared-header-altered')).toBeUndefined();
    await again.plugin.unload();
  });

  test('a new PC with the current passphrase and a swapped header is told the header does not match the key files, not that the passphrase is wrong', async () => {
    const { shared, keychain, a, header } = await storeOnPc1();
    const pc1 = await restart(a, keychain);
    const page = pageOf(pc1.plugin);
    pc1.h.dialogs.secrets.push(PASS, NEW);
    expect(await page.invoke('change-passphrase')).toMatchObject({ ok: true });
    await pc1.plugin.unload();
    writeShared(shared, JSON.stringify(await craftHeader(header, crypto.randomBytes(32), 'Passwort-des-Angreifers', { N: 1 << 14, r: 8, p: 1 }), null, 2) + '\n');

    const c = await setUp(shared, 'Praxis-PC 3', [NEW]); // then cancels
    expect(c.out.ok).toBe(false);
    const asked = prompts(c.h);
    expect(asked).toHaveLength(2);
    expect(asked[1]).toContain('practice-store.json');
    expect(asked[1]).toContain('passt nicht zu ihnen');
    expect(asked[1]).not.toMatch(/stimmt nicht|is wrong/);
    await c.plugin.unload();
  });
});
