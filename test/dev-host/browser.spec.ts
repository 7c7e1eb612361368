// End to end in a real browser: two dev hosts as two devices on one shared folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { seriousViolations } from '../support/axe';
import { PROJECT, launchChromium, startDevHost, type RunningDevHost } from '../support/browser';
import { tempDir } from '../support/temp';

// Run in the page (this project compiles without the DOM library).
declare const document: any;

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

/** The client form with a phone number as well (the host's own fields: name, phone, note). */
async function editClientFields(page: Page, id: string, f: { name: string; phone?: string }): Promise<void> {
  await page.getByTestId('nav-clients').click();
  await page.getByTestId(`edit-${id}`).click();
  await page.getByTestId('client-name').fill(f.name);
  if (f.phone !== undefined) await page.getByTestId('client-phone').fill(f.phone);
  await page.getByTestId('client-save').click();
  await page.getByText(f.name, { exact: true }).waitFor();
}

const clientId = async (page: Page, name: string) => (await page.locator('tr', { hasText: name }).first().getAttribute('data-testid'))!.replace('client-', '');

/** The shared folder away for a moment (cloud client paused) while both PCs edit the same client: a conflict on both. */
async function makeConflict(shared: string, pa: Page, pb: Page, id: string, a: { name: string; phone?: string }, b: { name: string; phone?: string }): Promise<void> {
  fs.renameSync(shared, shared + '-paused');
  await editClientFields(pa, id, a);
  await editClientFields(pb, id, b);
  fs.renameSync(shared + '-paused', shared);
  for (const p of [pa, pb]) await p.getByTestId(`conflict-${id}`).waitFor({ timeout: 20000 });
}

const focusInDialog = (page: Page) => page.evaluate(() => !!document.activeElement && !!document.querySelector('[role=dialog]')?.contains(document.activeElement));
async function expectFocusTrapped(page: Page, presses = 6): Promise<void> {
  for (const key of ['Tab', 'Shift+Tab'])
    for (let i = 0; i < presses; i++) {
      await page.keyboard.press(key);
      expect(await focusInDialog(page)).toBe(true);
    }
}
const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id as string | undefined);

describe('dev host in Chromium', () => {
  test('set up on A, a client added on A appears on B; the same client edited on both: a conflict on both, resolved on one', async () => {
    const { shared, pa, pb } = await twoDevices('cs-e2e-');

    await addClient(pa, 'Erika Mustermann'); // in A's own local storage before the cloud
    expect(await setUpCloud(pa, shared, PASS)).toContain('1 bisheriger Datensatz wurde übernommen');
    // the host's own status line in words (#17 finding 7: it showed "in-sync · 0 ↑ · 0 ↓ · 0 ⚠ · ●")
    await pa.getByTestId('sync-state').filter({ hasText: /^alles abgeglichen/ }).waitFor({ timeout: 15000 });
    expect(await pa.getByTestId('statusbar').innerText()).not.toMatch(/in-sync|available|↑|↓|⚠|●/);
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

  test('the receptionist’s screens: settings page before and after set-up (in German and English) and the passphrase dialog pass axe; a conflict badge opens the versions side by side with the differing fields marked, the choice resolves it; a history per client', async () => {
    const { shared, pa, pb } = await twoDevices('cs-e2e-a11y-');
    const problems: string[] = [];

    await pa.getByTestId('nav-settings').click();
    await pa.getByTestId('page-cloud-storage.settings').click();
    await pa.getByTestId('field-folder').waitFor();
    problems.push(...(await seriousViolations(pa, 'settings page before set-up')));
    // the "…" button has a name of its own, and the folder field a label
    expect(await pa.getByRole('button', { name: /auswählen/ }).getAttribute('data-testid')).toBe('action-browse');
    expect(await pa.getByTestId('field-folder').evaluate((el: any) => el.labels.length)).toBe(1);
    // the folder picker the "…" opens: a named dialog, its field focused and labelled; Escape cancels it
    await pa.getByTestId('action-browse').click();
    await pa.getByTestId('prompt-folder').waitFor();
    expect(await pa.getByRole('dialog').getAttribute('aria-modal')).toBe('true');
    expect(await focusedId(pa)).toBe('p-value');
    await pa.locator('#folders button').first().waitFor();
    problems.push(...(await seriousViolations(pa, 'folder picker')));
    await pa.keyboard.press('Escape');
    await pa.getByRole('dialog').waitFor({ state: 'detached' });
    await pa.getByTestId('field-folder').fill(shared);
    await pa.locator('[data-testid="action-save"]:not([disabled])').waitFor();
    await pa.getByTestId('action-save').click();
    await pa.getByTestId('prompt-secret').waitFor();
    expect(await pa.getByRole('dialog').getAttribute('aria-modal')).toBe('true');
    expect(await focusedId(pa)).toBe('p-value');
    expect(await pa.getByTestId('prompt-secret').evaluate((el: any) => el.labels.length)).toBe(1);
    problems.push(...(await seriousViolations(pa, 'passphrase dialog')));
    await pa.getByTestId('prompt-secret').fill(PASS);
    await pa.getByTestId('prompt-secret-confirm').fill(PASS);
    await pa.keyboard.press('Enter'); // Enter submits
    await pa.getByTestId('outcome').waitFor();
    // the result is announced: it is in the live region
    expect(await pa.getByTestId('live').getAttribute('aria-live')).toBe('polite');
    expect(await pa.getByTestId('live').getByTestId('outcome').count()).toBe(1);
    problems.push(...(await seriousViolations(pa, 'settings page after set-up')));
    // the page in English (the host's language switch): the plugin's texts in English, the page's language said
    await pa.locator('#lang').click();
    await pa.getByTestId('section-folder').getByText('Storage location', { exact: true }).waitFor();
    expect(await pa.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await pa.getByLabel('Shared folder', { exact: true }).getAttribute('data-testid')).toBe('field-folder');
    expect(await pa.getByTestId('settings-page').innerText()).not.toMatch(/Gemeinsamer Ordner|Speicherort|Verbindung testen/);
    problems.push(...(await seriousViolations(pa, 'settings page in English')));
    await pa.locator('#lang').click();
    await pa.getByTestId('section-folder').getByText('Speicherort', { exact: true }).waitFor();
    // every status says its tone in words beside its icon, not by colour alone
    const statuses = pa.locator('[data-testid^="status-"]');
    expect(await statuses.count()).toBeGreaterThan(0);
    expect(await statuses.locator('[data-tone-word]').count()).toBe(await statuses.count());

    await addClient(pa, 'Anna Beispiel');
    expect(await setUpCloud(pb, shared)).toBeTruthy();
    await pb.getByTestId('nav-clients').click();
    await pb.getByText('Anna Beispiel', { exact: true }).waitFor({ timeout: 15000 });
    const annaId = await clientId(pa, 'Anna Beispiel');
    await makeConflict(shared, pa, pb, annaId, { name: 'Anna Beispiel (neue Adresse)' }, { name: 'Anna Beispiel (neue Nummer)', phone: '030 999 01' });

    // the badge is a button; it opens the conflict dialog: the versions side by side, the differing fields marked
    const badge = pa.getByTestId(`conflict-${annaId}`);
    expect(await badge.evaluate((el: any) => el.tagName)).toBe('BUTTON');
    await badge.click();
    const dlg = pa.getByTestId('conflict-dialog');
    await dlg.waitFor();
    expect(await dlg.getAttribute('role')).toBe('dialog');
    expect(await dlg.getAttribute('aria-modal')).toBe('true');
    expect(await pa.getByRole('dialog', { name: /Anna Beispiel/ }).count()).toBe(1);
    const heads = (await dlg.getByTestId('version-head').allTextContents()).join(' | ');
    expect(heads).toContain('Praxis-PC 1');
    expect(heads).toContain('Praxis-PC 2');
    const nameRow = dlg.locator('tr[data-field="name"]');
    expect(await nameRow.getAttribute('data-differs')).toBe('true');
    expect(await nameRow.textContent()).toContain('Anna Beispiel (neue Adresse)');
    expect(await nameRow.textContent()).toContain('Anna Beispiel (neue Nummer)');
    expect(await nameRow.getByTestId('differs').textContent()).toContain('abweichend'); // marked in words, not by colour alone
    expect(await dlg.locator('tr[data-field="phone"]').getAttribute('data-differs')).toBe('true');
    expect(await dlg.locator('tr[data-field="note"]').getAttribute('data-differs')).toBeNull();
    expect(await focusInDialog(pa)).toBe(true);
    await expectFocusTrapped(pa);
    problems.push(...(await seriousViolations(pa, 'conflict dialog')));
    if (SHOTS) await pa.screenshot({ path: path.join(SHOTS, 'conflict-dialog.png'), fullPage: true });
    await pa.keyboard.press('Escape'); // cancels: nothing chosen, the focus back on the badge
    await dlg.waitFor({ state: 'detached' });
    expect(await focusedId(pa)).toBe(`conflict-${annaId}`);
    expect(await badge.count()).toBe(1);

    // choosing B's version resolves it through the store, on both PCs
    await badge.click();
    await dlg.locator('[data-testid="conflict-keep"][data-device="Praxis-PC 2"]').click();
    await dlg.waitFor({ state: 'detached' });
    await pa.getByTestId('live').getByTestId('client-msg').filter({ hasText: 'Praxis-PC 2' }).waitFor();
    await badge.waitFor({ state: 'detached', timeout: 20000 });
    await pa.getByText('Anna Beispiel (neue Nummer)', { exact: true }).waitFor();
    await pb.getByTestId(`conflict-${annaId}`).waitFor({ state: 'detached', timeout: 20000 });
    await pb.getByText('Anna Beispiel (neue Nummer)', { exact: true }).waitFor({ timeout: 20000 });

    // the history: every version with time, device and data
    await pa.getByTestId(`history-${annaId}`).click();
    const hist = pa.getByTestId('history-dialog');
    await hist.waitFor();
    expect(await hist.getAttribute('role')).toBe('dialog');
    const entries = hist.getByTestId('history-entry');
    expect(await entries.count()).toBeGreaterThanOrEqual(3);
    const text = await hist.textContent();
    for (const want of ['Praxis-PC 1', 'Praxis-PC 2', 'Name: Anna Beispiel (neue Adresse)', 'Telefon: 030 999 01']) expect(text).toContain(want);
    expect(await entries.first().locator('td').first().textContent()).toMatch(/\d{1,2}\.\d{1,2}\.\d{4}/); // a time
    expect(await focusInDialog(pa)).toBe(true);
    problems.push(...(await seriousViolations(pa, 'history dialog')));
    if (SHOTS) await pa.screenshot({ path: path.join(SHOTS, 'history.png'), fullPage: true });
    await pa.keyboard.press('Escape');
    await hist.waitFor({ state: 'detached' });
    expect(await focusedId(pa)).toBe(`history-${annaId}`);
    problems.push(...(await seriousViolations(pa, 'client list')));
    expect(problems).toEqual([]);
  }, 240000);

  // Needs the plugin side of issue #17: a put on a conflicted record resolves the conflict with the
  // written data. Until that lands this test fails as expected; then make it a plain test().
  test('a host-side edit of a conflicted client (put) resolves the conflict on both PCs', async () => {
    const { shared, pa, pb } = await twoDevices('cs-e2e-edit-');
    expect(await setUpCloud(pa, shared, PASS)).toBeTruthy();
    await addClient(pa, 'Bernd Probe');
    expect(await setUpCloud(pb, shared)).toBeTruthy();
    await pb.getByTestId('nav-clients').click();
    await pb.getByText('Bernd Probe', { exact: true }).waitFor({ timeout: 15000 });
    const id = await clientId(pa, 'Bernd Probe');
    await makeConflict(shared, pa, pb, id, { name: 'Bernd Probe (A)' }, { name: 'Bernd Probe (B)' });
    await editClientFields(pa, id, { name: 'Bernd Probe (geklärt)', phone: '040 12 34' });
    await pa.getByTestId(`conflict-${id}`).waitFor({ state: 'detached', timeout: 20000 });
    await pb.getByText('Bernd Probe (geklärt)', { exact: true }).waitFor({ timeout: 20000 });
    await pb.getByTestId(`conflict-${id}`).waitFor({ state: 'detached', timeout: 20000 });
  }, 180000);

  test('the folder field keeps what is typed at 30 ms per key, while every keystroke echoes back through the plugin (#17, finding 3)', async () => {
    const root = tempDir('cs-e2e-typing-');
    const h = await startDevHost(['--device', 'Praxis-PC 1', '--app-data', path.join(root, 'a'), '--shared', path.join(root, 'shared')]);
    hosts.push(h);
    const p = await open(h);
    await p.getByTestId('nav-settings').click();
    await p.getByTestId('page-cloud-storage.settings').click();
    const field = p.getByTestId('field-folder');
    await field.fill('');
    const typed = path.join(root, 'Gemeinsame Praxisdaten', 'shareds-und-noch-mehr');
    await field.pressSequentially(typed, { delay: 30 });
    expect(await field.inputValue()).toBe(typed);
    // and the page, once the echoes settled, shows the same (the plugin got every keystroke)
    await p.waitForTimeout(500); // deliberate: the last echoes and folder checks arrive after the last key
    expect(await p.getByTestId('field-folder').inputValue()).toBe(typed);
  }, 60000);

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
