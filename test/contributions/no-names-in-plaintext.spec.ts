// No PC or user names in plaintext in the shared folder (issue #14): three PCs set up through the
// loaded plugin, with names nobody would write by chance, edit, change the passphrase once, and then
// neither a file name nor any file's bytes in the shared folder holds a name — as UTF-8, UTF-16LE,
// JSON-escaped, decomposed, or as the base64 of the name. (The header's `createdBy` and a key file's
// `createdByName` are written empty; the names live in encrypted device cards, presence and log files.)
import * as path from 'node:path';
import { InMemoryCredentialStore } from '../support/memory-credential-store';
import { host, openPage } from '../support/settings-page';
import { readTree, tempDir, waitFor } from '../support/temp';

jest.setTimeout(180_000); // three PCs through the loaded plugin, scrypt at the real cost

const PASS = 'Praxis-Passwort-Ost-2026';
const NEW = 'Neues-Praxis-Passwort-2027';
const PCS = [
  { device: 'Praxis-Zimmer-Ostflügel', user: 'Dr. Jägermeister-Ünal' },
  { device: 'Empfang-Südseite-Büro', user: 'Frau Schüßler-Öztürk' },
  { device: 'Therapieraum-Nordwäldchen', user: 'Herr Großkreutz-Çelik' },
];

/** Every form a name could take in a file: whole, and each distinctive part of it (not "Praxis", "Frau"). */
function needles(name: string): { what: string; bytes: Buffer }[] {
  const parts = [name, ...name.split(/[\s.-]+/).filter((w) => /[^\x00-\x7f]/.test(w))];
  return parts.flatMap((p) => [
    { what: `"${p}" (UTF-8)`, bytes: Buffer.from(p, 'utf8') },
    { what: `"${p}" (UTF-8, decomposed)`, bytes: Buffer.from(p.normalize('NFD'), 'utf8') },
    { what: `"${p}" (UTF-16LE)`, bytes: Buffer.from(p, 'utf16le') },
    { what: `"${p}" (JSON \\u escapes)`, bytes: Buffer.from(p.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`), 'utf8') },
    { what: `"${p}" (base64)`, bytes: Buffer.from(Buffer.from(p, 'utf8').toString('base64').replace(/=+$/, ''), 'utf8') },
  ]);
}

async function pc(shared: string, i: number, secrets: string[]) {
  const h = host(new InMemoryCredentialStore(), undefined, PCS[i]!.device, PCS[i]!.user);
  const { plugin, page } = await openPage(h);
  page.set(shared);
  h.dialogs.secrets.push(...secrets);
  expect(await page.invoke('save')).toMatchObject({ ok: true });
  return { h, plugin, page, store: await plugin.storageProviders[0]!.open() };
}

describe('no names in plaintext in the shared folder', () => {
  test('three PCs, edits and a passphrase change leave no device or user name readable in any file name or file', async () => {
    const shared = tempDir('cs-shared-');
    const a = await pc(shared, 0, [PASS]);
    await a.store.put('clients', 'k1', { name: 'Erika Muster' });
    await a.store.flush({ timeoutMs: 10000 });
    const b = await pc(shared, 1, [PASS]);
    const c = await pc(shared, 2, [PASS]);
    const all = [a, b, c];
    for (const [i, d] of all.entries()) await d.store.put('sessions', `s${i}`, { note: `Sitzung ${i}` });
    for (const d of all) await waitFor(async () => (await d.store.list('sessions')).length === 3, 15000, 'the sessions everywhere');
    // the PCs see each other by name (from the encrypted cards and presence)
    await waitFor(() => (a.page.item('devices')?.rows ?? []).length === 3, 15000, 'three PCs on A’s page');
    expect(a.page.item('devices').rows.map((r: { cells: string[] }) => r.cells[0]).sort()).toEqual([`${PCS[0]!.device} (dieser PC)`, PCS[1]!.device, PCS[2]!.device].sort());

    // A changes the passphrase; B and C are told who did (the name from A's card), and enter it
    a.h.dialogs.secrets.push(PASS, NEW);
    expect(await a.page.invoke('change-passphrase')).toMatchObject({ ok: true });
    for (const d of [b, c]) {
      await waitFor(() => d.page.item('passphrase-changed') !== undefined, 15000, 'the notice');
      expect(d.page.item('passphrase-changed').text.de).toContain(`(auf ${PCS[0]!.device} am `);
      d.h.dialogs.secrets.push(NEW);
      expect(await d.page.invoke('enter-passphrase')).toMatchObject({ ok: true });
    }
    for (const [i, d] of all.entries()) await d.store.put('sessions', `nach-${i}`, { note: `nach der Änderung ${i}` });
    for (const d of all) await waitFor(async () => (await d.store.list('sessions')).length === 6, 15000, 'the new sessions everywhere');
    for (const d of all) await d.plugin.unload(); // last presence written (inactive): nothing is still being written

    const files = readTree(shared);
    expect([...files.keys()].some((f) => f.startsWith(`keys${path.sep}`))).toBe(true); // the passphrase change is in there
    const found: string[] = [];
    for (const name of PCS.flatMap((p) => [p.device, p.user]))
      for (const n of needles(name))
        for (const [rel, bytes] of files) {
          if (Buffer.from(rel, 'utf8').includes(n.bytes)) found.push(`${n.what} in the file name ${rel}`);
          if (bytes.includes(n.bytes)) found.push(`${n.what} in ${rel}`);
        }
    expect(found).toEqual([]);
    // what stays of the fields that held names: empty
    const header = JSON.parse(files.get('practice-store.json')!.toString('utf8'));
    expect(header.createdBy).toBe('');
    for (const [rel, bytes] of files) if (rel.startsWith(`keys${path.sep}`) && JSON.parse(bytes.toString('utf8')).t === 'key') expect(JSON.parse(bytes.toString('utf8')).createdByName).toBe('');
  });
});
