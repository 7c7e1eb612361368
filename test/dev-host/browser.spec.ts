// End to end in a real browser: two dev hosts as two devices on one shared folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PROJECT, launchChromium, startDevHost, type RunningDevHost } from '../support/browser';
import { tempDir } from '../support/temp';

const PASS = 'Teekanne-Nordstrand-2026';
const SHOTS = process.env.DEV_HOST_SCREENSHOTS ? path.resolve(PROJECT, process.env.DEV_HOST_SCREENSHOTS) : undefined;

let browser: Browser;
const hosts: RunningDevHost[] = [];
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  for (const h of hosts) await h.stop();
  await browser?.close();
});

async function open(h: RunningDevHost): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
  page.on('dialog', (d) => void d.accept());
  await page.goto(h.url);
  await page.getByTestId('nav-clients').waitFor();
  return page;
}

/** Two dev hosts, "Praxis-PC 1" and "Praxis-PC 2", on one new (empty) shared folder, each open in a page. */
async function twoDevices(prefix: string): Promise<{ shared: string; pa: Page; pb: Page }> {
  const root = tempDir(prefix);
  const shared = path.join(root, 'shared');
  fs.mkdirSync(shared);
  const pages: Page[] = [];
  for (const [device, dir] of [['Praxis-PC 1', 'a'], ['Praxis-PC 2', 'b']] as const) {
    const h = await startDevHost(['--device', device, '--shared', shared, '--app-data', path.join(root, dir)]);
    hosts.push(h);
    pages.push(await open(h));
  }
  return { shared, pa: pages[0]!, pb: pages[1]! };
}

async function setUpCloud(page: Page, shared: string, passphrase?: string): Promise<string> {
  await page.getByTestId('nav-settings').click();
  await page.getByTestId('page-cloud-storage.settings').click();
  await page.getByTestId('field-folder').fill(shared);
  await page.locator('[data-testid="action-save"]:not([disabled])').waitFor(); // the plugin has the folder: save is enabled
  await page.getByTestId('action-save').click();
  if (passphrase) {
    await page.getByTestId('prompt-secret').fill(passphrase);
    await page.getByTestId('prompt-secret-confirm').fill(passphrase);
    await page.getByTestId('prompt-ok').click();
  }
  await page.getByTestId('outcome').waitFor();
  return (await page.getByTestId('outcome').textContent()) ?? '';
}

async function addClient(page: Page, name: string): Promise<void> {
  await page.getByTestId('nav-clients').click();
  await page.getByTestId('client-name').fill(name);
  await page.getByTestId('client-save').click();
  try {
    await page.getByText(name, { exact: true }).waitFor();
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- what the page shows:\n${await page.locator('main, body').first().innerText().catch(() => '?')}\n--- dev host output:\n${hosts.map((h) => h.output().slice(-3000)).join('\n---\n')}`);
  }
}

async function editClient(page: Page, id: string, name: string): Promise<void> {
  await page.getByTestId('nav-clients').click();
  await page.getByTestId(`edit-${id}`).click();
  await page.getByTestId('client-name').fill(name);
  await page.getByTestId('client-save').click();
  await page.getByText(name, { exact: false }).first().waitFor();
}

describe('dev host in Chromium', () => {
  test('set up on A, a client added on A appears on B; the same client edited on both: a conflict on both, resolved on one', async () => {
    const { shared, pa, pb } = await twoDevices('cs-e2e-');

    await addClient(pa, 'Erika Mustermann'); // in A's own local storage before the cloud
    expect(await setUpCloud(pa, shared, PASS)).toContain('1 bisheriger Datensatz wurde übernommen');
    if (SHOTS) await pa.screenshot({ path: path.join(SHOTS, 'settings-page.png'), fullPage: true });
    await addClient(pa, 'Anna Beispiel');
    expect(await setUpCloud(pb, shared)).toContain('arbeitet jetzt mit den gemeinsamen Praxisdaten');
    await pb.getByTestId('nav-clients').click();
    await pb.getByText('Anna Beispiel', { exact: true }).waitFor({ timeout: 15000 });
    await pb.getByText('Erika Mustermann', { exact: true }).waitFor();

    // B adds one: A sees it live
    await addClient(pb, 'Bernd Probe');
    await pa.getByText('Bernd Probe', { exact: true }).waitFor({ timeout: 15000 });

    // the cloud folder is away for a moment (cloud client paused): both edit the same client
    const annaId = (await pa.locator('tr', { hasText: 'Anna Beispiel' }).getAttribute('data-testid'))!.replace('client-', '');
    fs.renameSync(shared, shared + '-paused');
    await editClient(pa, annaId, 'Anna Beispiel (neue Adresse)');
    await editClient(pb, annaId, 'Anna Beispiel (neue Telefonnummer)');
    fs.renameSync(shared + '-paused', shared);
    for (const p of [pa, pb]) await p.getByTestId(`conflict-${annaId}`).waitFor({ timeout: 20000 });

    // resolve on A from the settings page: keep B's version
    await pa.getByTestId('nav-settings').click();
    await pa.getByTestId('page-cloud-storage.settings').click();
    const row = pa.locator('[data-testid="table-conflicts"] tr', { hasText: 'Praxis-PC 2' });
    await row.waitFor();
    if (SHOTS) await pa.screenshot({ path: path.join(SHOTS, 'conflict.png'), fullPage: true });
    await row.getByTestId('row-action').click();
    await pa.getByTestId('outcome').filter({ hasText: 'gilt jetzt die Fassung von Praxis-PC 2' }).waitFor();
    await pb.getByTestId('nav-clients').click();
    await pb.getByTestId(`conflict-${annaId}`).waitFor({ state: 'detached', timeout: 20000 });
    await pb.getByText('Anna Beispiel (neue Telefonnummer)').waitFor();
    await pa.getByTestId('nav-clients').click();
    await pa.getByText('Anna Beispiel (neue Telefonnummer)').waitFor({ timeout: 20000 });
    expect(await pa.getByTestId(`conflict-${annaId}`).count()).toBe(0);
  }, 180000);

  test('the passphrase changed on A: B shows it on its settings page, the new passphrase is entered there, and A’s later client appears on B', async () => {
    const { shared, pa, pb } = await twoDevices('cs-e2e-pass-');
    expect(await setUpCloud(pa, shared, PASS)).toContain('verschlüsselte Praxis-Speicher wurde angelegt');
    expect(await setUpCloud(pb, shared)).toContain('arbeitet jetzt mit den gemeinsamen Praxisdaten');

    // A: the button asks for confirmation (accepted), then the current passphrase, then the new one twice
    const NEW = 'Neuer Leuchtturm im Zitronenhain';
    await pa.getByTestId('action-change-passphrase').click();
    await pa.getByTestId('prompt-secret').fill(PASS);
    await pa.getByTestId('prompt-ok').click();
    await pa.getByTestId('prompt-secret-confirm').waitFor();
    await pa.getByTestId('prompt-secret').fill(NEW);
    await pa.getByTestId('prompt-secret-confirm').fill(NEW);
    await pa.getByTestId('prompt-ok').click();
    await pa.getByTestId('outcome').filter({ hasText: 'Das Praxis-Passwort wurde geändert' }).waitFor();
    await addClient(pa, 'Nach der Änderung');

    // B: the settings page says what happened and offers the way out
    await pb.getByTestId('notice-passphrase-changed').waitFor({ timeout: 20000 });
    expect(await pb.getByTestId('notice-passphrase-changed').textContent()).toContain('Praxis-PC 1');
    expect(await pb.getByTestId('action-change-passphrase').isDisabled()).toBe(true);
    // A's new client is in the folder but under the new key: announced, not arrived — never "in sync"
    await pb.getByTestId('status-sync').filter({ hasText: /[1-9]\d* angekündigt/ }).waitFor({ timeout: 20000 });
    await pb.getByTestId('table-devices').filter({ hasText: 'Praxis-PC 1' }).waitFor(); // still listed, by its device card
    if (SHOTS) await pb.screenshot({ path: path.join(SHOTS, 'passphrase-changed.png'), fullPage: true });
    await pb.getByTestId('action-enter-passphrase').click();
    await pb.getByTestId('prompt-secret').fill(NEW);
    await pb.getByTestId('prompt-ok').click();
    await pb.getByTestId('outcome').filter({ hasText: 'hinterlegt' }).waitFor();
    await pb.getByTestId('notice-passphrase-changed').waitFor({ state: 'detached' });
    await pb.getByTestId('nav-clients').click();
    await pb.getByText('Nach der Änderung', { exact: true }).waitFor({ timeout: 20000 });
  }, 180000);

  test('flag off: the host runs without the plugin and has no cloud page', async () => {
    const root = tempDir('cs-e2e-off-');
    const h = await startDevHost(['--flag-off', '--app-data', path.join(root, 'a'), '--shared', path.join(root, 'shared')]);
    hosts.push(h);
    const p = await open(h);
    await p.getByTestId('nav-settings').click();
    await p.getByTestId('no-cloud-page').waitFor();
    expect(await p.getByTestId('page-cloud-storage.settings').count()).toBe(0);
    await addClient(p, 'Lokal Klient'); // the host's own storage still works
  }, 60000);

  test('every request needs the per-run token', async () => {
    const h = hosts[0]!;
    const u = new URL(h.url);
    const bare = await fetch(`${u.origin}/`);
    expect(bare.status).toBe(403);
    const wrong = await fetch(`${u.origin}/api/events?t=${'0'.repeat(32)}`);
    expect(wrong.status).toBe(403);
    const good = await fetch(h.url);
    expect(good.status).toBe(200);
  });
});
