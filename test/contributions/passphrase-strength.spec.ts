// A new practice passphrase must be hard to guess (docs/PASSPHRASE.md, "Strength and cost"):
// creating a store and changing the passphrase refuse a weak one, in both languages, with a hint,
// and write nothing; a passphrase that already exists (join, unlock, enter) is never judged.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Keyring, createKeyFile } from '../../src/services/crypto/keyring';
import { ReplicaFolder } from '../../src/services/store/replica-folder';
import { HEADER_KEY_ID } from '../../src/services/store/format';
import { host, openPage } from '../support/settings-page';
import { newSharedStore, TEST_KDF } from '../support/store-fixture';
import { readTree, tempDir, waitFor, walk } from '../support/temp';

jest.setTimeout(240_000);

const STRONG = 'Teekanne Nordstrand Abendrot';
const NEW = 'Zitronenbaum Leuchtturm Gewitter';
/** Weak ones; the test host's PC is "Praxis-PC 1". */
const WEAK = ['Passwort123!', 'praxis2026praxis', 'Praxis-PC 1 Praxis-PC 1', 'qwertzuiop12'];

type Host = ReturnType<typeof host>;

/** What a refused attempt must leave as it was: configuration, replicas, keychain, the shared folder. */
function state(h: Host, shared: string) {
  const data = path.join(h.env.appDataDir, 'cloud-storage');
  return {
    config: fs.existsSync(path.join(data, 'config.json')) ? fs.readFileSync(path.join(data, 'config.json'), 'utf8') : null,
    replicas: walk(path.join(data, 'replicas')).filter((f) => !/replica\.(lock|owner)/.test(f)),
    keychain: [...h.keychain.items.entries()].sort(),
    shared: [...readTree(shared)].filter(([f]) => !f.startsWith(`devices${path.sep}`) || !f.endsWith('presence')).map(([f, b]) => [f, b.toString('base64')]),
  };
}

function expectRefusedAsWeak(out: { ok: boolean; message?: { de: string; en: string } }): void {
  expect(out.ok).toBe(false);
  expect(out.message?.de).toMatch(/^Dieses Praxis-Passwort ist zu leicht zu erraten\. .*Tipp: .*Es wurde nichts geändert\.$/);
  expect(out.message?.en).toMatch(/^This practice passphrase is too easy to guess\. .*Hint: .*Nothing was changed\.$/);
}

describe('a new practice passphrase must be strong', () => {
  test('creating a store refuses a weak passphrase with the reason and a hint, and writes nothing; a strong one creates it', async () => {
    const h = host();
    const shared = tempDir('cs-shared-');
    const { plugin, page } = await openPage(h);
    page.set(shared);
    const before = state(h, shared);
    for (const weak of WEAK) {
      h.dialogs.secrets.push(weak);
      const out = await page.invoke('save');
      expectRefusedAsWeak(out);
      expect([weak, state(h, shared)]).toEqual([weak, before]);
      expect(walk(shared)).toEqual([]); // no store created
      expect(plugin.storageProviders[0]!.isActive()).toBe(false);
    }
    // the prompt says what is asked before anyone types
    expect(h.dialogs.asked.find((a) => a.kind === 'secret')!.message!.en).toMatch(/hard to guess/);
    h.dialogs.secrets.push(STRONG);
    expect(await page.invoke('save')).toMatchObject({ ok: true, message: { en: expect.stringContaining('was created') } });
    expect(walk(shared)).toContain('practice-store.json');
    await plugin.unload();
  });

  test('changing the passphrase refuses a weak new one with the reason and a hint, and changes nothing; a strong one is taken', async () => {
    const h = host();
    const shared = tempDir('cs-shared-');
    const { plugin, page } = await openPage(h);
    page.set(shared);
    h.dialogs.secrets.push(STRONG);
    expect(await page.invoke('save')).toMatchObject({ ok: true });
    const store = await plugin.storageProviders[0]!.open();
    await store.put('clients', 'k1', { name: 'Anna Beispiel' });
    expect((await store.flush({ timeoutMs: 10000 })).pending).toBe(0);
    const keyFiles = () => [...walk(shared), ...walk(h.env.appDataDir)].filter((f) => f.includes(`keys${path.sep}`));
    const keychain = () => [...h.keychain.items.entries()];
    const start = { keys: keyFiles(), keychain: keychain() };
    for (const weak of WEAK) {
      h.dialogs.secrets.splice(0, Infinity, STRONG, weak);
      const out = await page.invoke('change-passphrase');
      expectRefusedAsWeak(out);
      expect([weak, { keys: keyFiles(), keychain: keychain() }]).toEqual([weak, start]);
    }
    h.dialogs.secrets.splice(0, Infinity, STRONG, NEW);
    expect(await page.invoke('change-passphrase')).toMatchObject({ ok: true });
    await waitFor(() => walk(path.join(shared, 'keys')).length === 1, 10000, 'the key file in the shared folder');
    await plugin.unload();
  });

  test('a passphrase that already exists is never judged: joining, the startup prompt and "enter new passphrase" take a weak one', async () => {
    // a store made by an older version, which took any passphrase of ten characters
    const made = await newSharedStore('praxis2026praxis');
    const h = host();
    const { plugin, page } = await openPage(h);
    page.set(made.shared);
    h.dialogs.secrets.push('praxis2026praxis');
    expect(await page.invoke('save')).toMatchObject({ ok: true, message: { en: expect.stringContaining('now works with the shared practice data') } });
    page.session.dispose();
    await plugin.unload();

    // the keychain lost its entry: the startup guard asks, and the weak passphrase opens the store
    h.keychain.items.clear();
    const h2 = host(h.keychain, h.env.appDataDir);
    h2.dialogs.secrets.push('praxis2026praxis');
    const { plugin: plugin2, page: page2 } = await openPage(h2);
    expect(await plugin2.startupGuards[0]!.check()).toMatchObject({ kind: 'proceed' });
    expect(plugin2.storageProviders[0]!.isActive()).toBe(true);

    // another PC (an older version) changed it to a weak one: entered here, it is taken
    const keyring = Keyring.ofHeaderKey(made.header.storeId, made.key, made.header.keyCheck);
    const { file } = await createKeyFile({ keyring, parent: HEADER_KEY_ID, passphrase: 'qwertzuiop12', deviceId: crypto.randomBytes(16).toString('hex'), deviceName: 'Alter PC', kdf: TEST_KDF });
    await new ReplicaFolder(made.shared, made.header.storeId, keyring).writeKeyFile(file);
    await waitFor(() => page2.item('enter-passphrase') !== undefined, 15000, 'enter-passphrase offered');
    h2.dialogs.secrets.push('qwertzuiop12');
    expect(await page2.invoke('enter-passphrase')).toMatchObject({ ok: true });
    page2.session.dispose();
    await plugin2.unload();
  });
});
