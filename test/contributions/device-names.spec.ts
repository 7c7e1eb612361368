// Device and user names of any length and script (HOST-API §6: "the plugin shortens it where it
// must; it never fails because of it"), through the loaded plugin on two PCs: what is stored is
// shortened to the format's bound, every reader takes it, and this PC still shows its full name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_DEVICE_NAME, MAX_USER_NAME, storedName } from '../../src/services/store/format';
import { host, joinThroughPage, openPage } from '../support/settings-page';
import { loadCloudPlugin } from '../support/test-host';
import { tempDir, waitFor, walk } from '../support/temp';

// Several PCs through the loaded plugin, each with its own timers: generous on a loaded machine.
jest.setTimeout(180_000);

const PASS = 'Leuchtturm-Zitronenbaum-lang';
const NEW = 'Leuchtturm-Zitronenbaum-neu';
/** docs/STORE-FORMAT.md: device and user names are stored with at most 200 UTF-16 code units. */
const BOUND = 200;

const LONG = 'Behandlungsraum 3 – ' + '😀'.repeat(990); // 2,000 code units; a naive cut splits a surrogate pair
const SCRIPTS = ('עיון מטופלים ' + 'عيادة الطب النفسي ' + '👩‍👩‍👧‍👦 ' + 'e\u0301\u0323o\u0308\u0331 ' + '🇩🇪 ').repeat(12); // right-to-left, ZWJ emoji, combining marks, flags
const AT_BOUND = 'Praxis-PC ' + 'é'.repeat(BOUND - 12) + '🦄'; // exactly the bound

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What the store must hold for a name: the name itself when it fits, else a prefix of it ending in "…". */
function expectStoredFor(stored: string, full: string): void {
  expect(stored.length).toBeLessThanOrEqual(BOUND);
  expect(LONE_SURROGATE.test(stored)).toBe(false);
  if (full.length <= BOUND) return expect(stored).toBe(full);
  expect(stored.endsWith('…')).toBe(true);
  expect(full.startsWith(stored.slice(0, -1))).toBe(true);
  expect(stored.length).toBeGreaterThan(BOUND - 20); // shortened, not emptied
}

describe('device names of any length and script', () => {
  test.each([
    ['a 2,000-character name', LONG, 'Dr. ' + 'ß'.repeat(1996)],
    ['emoji, combining marks and right-to-left script', SCRIPTS, 'ד"ר ' + 'مستخدم '.repeat(40)],
    ['a name exactly at the bound', AT_BOUND, 'u'.repeat(BOUND - 2) + '😀'],
  ])('%s: A creates the store, puts, restarts and lists it; B receives it and sees A', async (_what, name, user) => {
    expect(LONG.length).toBe(2000);
    expect(AT_BOUND.length).toBe(BOUND);
    const shared = tempDir('cs-shared-');
    const hA = host(undefined, undefined, name, user);
    const a = await openPage(hA);
    a.page.set(shared);
    hA.dialogs.secrets.push(PASS);
    expect(await a.page.invoke('save')).toMatchObject({ ok: true }); // creating the store with this name
    const put = await (await a.plugin.storageProviders[0]!.open()).put('clients', 'k1', { name: 'Erika Muster' });
    expectStoredFor(put.updatedBy, name);
    expect((await (await a.plugin.storageProviders[0]!.open()).flush({ timeoutMs: 5000 })).pending).toBe(0);
    // this PC shows its own full name and user where it lists the PCs
    await waitFor(() => (a.page.item('devices')?.rows ?? []).length === 1, 10000, 'own row on A');
    expect(a.page.item('devices').rows[0].cells.slice(0, 2)).toEqual([`${name} (dieser PC)`, user]);
    await a.plugin.unload();

    // A restarts: its acknowledged change is still there
    const hA2 = host(hA.keychain, hA.env.appDataDir, name, user);
    const a2 = await loadCloudPlugin(hA2);
    expect((await a2.startupGuards[0]!.check()).kind).toBe('proceed');
    const listed = await (await a2.storageProviders[0]!.open()).list('clients');
    expect(listed.map((r) => r.id)).toEqual(['k1']);
    expect(listed[0]!.updatedBy).toBe(put.updatedBy);

    // B joins and receives it, and names A as the store holds it
    const b = await joinThroughPage('Praxis-PC 2', shared, PASS);
    const { h: hB, store: storeB } = b;
    await waitFor(async () => (await storeB.get('clients', 'k1')) !== undefined, 10000, 'k1 on B');
    expect((await storeB.get('clients', 'k1'))!.updatedBy).toBe(put.updatedBy);
    await waitFor(() => (b.page.item('devices')?.rows ?? []).length === 2, 10000, 'both PCs on B');
    const rowOfA = b.page.item('devices').rows.find((r: { cells: string[] }) => !r.cells[0]!.endsWith('(dieser PC)'));
    expectStoredFor(rowOfA.cells[0], name);
    expectStoredFor(rowOfA.cells[1], user);

    // a key file names no PC in plaintext (only its device id): B says who changed it by A's card, as stored
    const a2page = a2.settingsPages[0]!.open();
    hA2.dialogs.secrets.push(PASS, NEW);
    expect(await a2page.invoke('change-passphrase')).toMatchObject({ ok: true });
    a2page.dispose();
    const keyFile = JSON.parse(fs.readFileSync(path.join(shared, 'keys', walk(path.join(shared, 'keys'))[0]!), 'utf8'));
    expect(keyFile.createdByName).toBe('');
    await waitFor(() => hB.dialogs.notices.some((n) => n.text.en.includes(`passphrase was changed on another PC (on ${rowOfA.cells[0]}`)), 10000, 'B told who changed it');
    // and the header names no creator
    expect(JSON.parse(fs.readFileSync(path.join(shared, 'practice-store.json'), 'utf8')).createdBy).toBe('');
    await b.plugin.unload();
    await a2.unload();
  });
});

describe('the shortening rule (format.ts storedName)', () => {
  test('the bound is the one the format always had, for both names', () => {
    expect([MAX_DEVICE_NAME, MAX_USER_NAME]).toEqual([BOUND, BOUND]);
  });

  test.each([
    ['fits: unchanged', 'Praxis-PC 1', 'Praxis-PC 1'],
    ['exactly at the bound: unchanged', AT_BOUND, AT_BOUND],
    ['emoji across the cut: whole pairs, then …', LONG, 'Behandlungsraum 3 – ' + '😀'.repeat(89) + '…'],
    ['a ZWJ family is never cut apart', 'x'.repeat(190) + '👩‍👩‍👧‍👦' + 'y'.repeat(20), 'x'.repeat(190) + '…'],
    ['a letter with its marks stays whole', 'a'.repeat(197) + 'e\u0301\u0323' + 'b', 'a'.repeat(197) + '…'],
    ['one grapheme longer than the bound: whole code points', 'e' + '\u0301'.repeat(400), 'e' + '\u0301'.repeat(198) + '…'],
    ['a lone surrogate becomes U+FFFD', 'PC \uD83D', 'PC \uFFFD'],
  ])('%s', (_what, name, stored) => {
    expect(storedName(name, BOUND)).toBe(stored);
    expect(storedName(name, BOUND).length).toBeLessThanOrEqual(BOUND);
    expect(storedName(storedName(name, BOUND), BOUND)).toBe(storedName(name, BOUND)); // stable
  });
});
