// The dev host's own screens in Chromium, with a small fixture plugin (no cloud needed): HOST-API 1.1
// (apiVersion, HostRecordLabels, notices replaced by id, withdrawn, closed by the user), and the
// accessibility of a blocked start and of a passphrase dialog (roles, focus, keys, axe-core).
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { DevHost } from '../../dev-host/dev-host';
import { seriousViolations } from '../support/axe';
import { launchChromium } from '../support/browser';
import { tempDir } from '../support/temp';

// Run in the page (this project compiles without the DOM library).
declare const document: any;

const FIXTURE = path.join(__dirname, 'fixtures', 'blocks-then-asks');

class ObservedDevHost extends DevHost {
  state(): Record<string, any> {
    return this.snapshot() as Record<string, any>;
  }
}

const seen = () => (globalThis as { __blocksThenAsks?: { secrets: (string | undefined)[]; services: Record<string, any> } }).__blocksThenAsks!;

/** Focus is inside the one open dialog. */
const focusInDialog = (page: Page) => page.evaluate(() => !!document.activeElement && !!document.querySelector('[role=dialog]')?.contains(document.activeElement));

/** Role, modality and name of the open dialog; its name is its heading. */
async function dialogShape(page: Page): Promise<{ modal: string | null; name: string }> {
  return page.evaluate(() => {
    const d = document.querySelector('[role=dialog]')!;
    return { modal: d.getAttribute('aria-modal'), name: document.getElementById(d.getAttribute('aria-labelledby') ?? '')?.textContent ?? '' };
  });
}

/** Tab and Shift+Tab go round inside the dialog, never out to the page behind it. */
async function expectFocusTrapped(page: Page, presses = 8): Promise<void> {
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press('Tab');
    expect(await focusInDialog(page)).toBe(true);
  }
  for (let i = 0; i < presses; i++) {
    await page.keyboard.press('Shift+Tab');
    expect(await focusInDialog(page)).toBe(true);
  }
}

describe('dev host screens in Chromium (fixture plugin)', () => {
  let browser: Browser;
  let host: ObservedDevHost | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await host?.stop();
    await browser?.close();
  });

  test('HOST-API 1.1: apiVersion 1.1.0 and HostRecordLabels for the clients', async () => {
    host = new ObservedDevHost({ pluginDir: FIXTURE, deviceName: 'Praxis-PC 1', appDataDir: tempDir('cs-hostui-'), sharedDefault: tempDir('cs-hostui-shared-'), port: 0, flagOn: true });
    await host.start();
    const { env, labels, dialogs } = seen().services;
    expect(env.apiVersion).toBe('1.1.0');
    expect(typeof dialogs.withdraw).toBe('function');
    expect(labels.collectionLabel('clients')).toEqual({ de: 'Klienten', en: 'Clients' });
    expect(labels.collectionLabel('invoices')).toBeUndefined();
    expect(labels.title('clients', { name: 'Anna Beispiel', phone: '0301234' })).toBe('Anna Beispiel');
    expect(labels.title('clients', { note: 'ohne Namen' })).toBeUndefined();
    expect(labels.fieldLabel('clients', 'name')).toEqual({ de: 'Name', en: 'Name' });
    expect(labels.fieldLabel('clients', 'phone')).toEqual({ de: 'Telefon', en: 'Phone' });
    expect(labels.fieldLabel('clients', 'note')).toEqual({ de: 'Notiz', en: 'Note' });
    expect(labels.fieldLabel('clients', 'unknown')).toBeUndefined();
  });

  test('a blocked start, the passphrase dialog and the credentials prompt: role, name, focus in and kept in, Escape cancels, Enter submits; notices replaced, withdrawn and closed; axe finds nothing serious', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(host!.url);
    const problems: string[] = [];

    // the blocked verdict
    const verdict = page.getByRole('dialog', { name: 'Der gemeinsame Ordner ist nicht erreichbar' });
    await verdict.waitFor();
    expect(await verdict.getAttribute('data-testid')).toBe('verdict');
    expect(await dialogShape(page)).toEqual({ modal: 'true', name: 'Der gemeinsame Ordner ist nicht erreichbar' });
    expect(await focusInDialog(page)).toBe(true);
    await expectFocusTrapped(page);
    await page.keyboard.press('Escape'); // a blocked start is not cancelled by Escape: Quit is a choice of its own
    expect(await verdict.isVisible()).toBe(true);
    problems.push(...(await seriousViolations(page, 'blocked verdict')));

    // retry asks for the passphrase: a labelled field, focused; Escape cancels (the guard gets undefined)
    await page.getByTestId('verdict-retry').click();
    const prompt = page.getByRole('dialog', { name: 'Praxis-Passwort' });
    await prompt.waitFor();
    expect(await page.getByLabel('Passwort', { exact: true }).count()).toBe(1);
    await page.waitForFunction(() => document.activeElement?.id === 'p-value');
    await expectFocusTrapped(page, 4);
    problems.push(...(await seriousViolations(page, 'passphrase dialog')));
    await page.keyboard.press('Escape');
    await verdict.waitFor();
    expect(seen().secrets).toEqual([undefined]);

    // again: typed and Enter
    await page.getByTestId('verdict-retry').click();
    await prompt.waitFor();
    await page.waitForFunction(() => document.activeElement?.id === 'p-value');
    await page.keyboard.type('Leuchtturm am Zitronenhain');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect(seen().secrets).toEqual([undefined, 'Leuchtturm am Zitronenhain']);

    // the guard's notice, and notices of HOST-API 1.1: same id replaces, withdraw removes, the user closes
    const notices = page.getByTestId('host-notice');
    await notices.filter({ hasText: 'wieder erreichbar' }).waitFor();
    const { dialogs } = seen().services;
    dialogs.notify({ id: 'sync', tone: 'warning', text: { de: 'Erste Fassung des Hinweises', en: 'First' } });
    await notices.filter({ hasText: 'Erste Fassung' }).waitFor();
    dialogs.notify({ id: 'sync', tone: 'error', text: { de: 'Zweite Fassung des Hinweises', en: 'Second' } });
    await notices.filter({ hasText: 'Zweite Fassung' }).waitFor();
    expect(await notices.filter({ hasText: 'Erste Fassung' }).count()).toBe(0);
    expect(await notices.count()).toBe(2);
    // not by colour alone: the tone is said in words (for screen readers) beside an icon
    expect(await notices.filter({ hasText: 'Zweite Fassung' }).locator('[data-tone-word]').textContent()).toBe('Fehler: ');
    dialogs.withdraw('sync');
    await notices.filter({ hasText: 'Zweite Fassung' }).waitFor({ state: 'detached' });
    dialogs.withdraw('never-shown'); // harmless
    problems.push(...(await seriousViolations(page, 'clients with a notice')));

    // the credentials prompt (a network share's login): named, both fields labelled, the first focused; axe; Escape cancels
    const asked = dialogs.promptCredentials({ title: { de: 'Anmeldung an der Netzwerkfreigabe', en: 'Log in to the network share' }, message: { de: 'Bitte melden Sie sich an der Freigabe an.', en: 'Please log in to the share.' }, username: 'praxis' });
    const login = page.getByRole('dialog', { name: 'Anmeldung an der Netzwerkfreigabe' });
    await login.waitFor();
    expect(await dialogShape(page)).toEqual({ modal: 'true', name: 'Anmeldung an der Netzwerkfreigabe' });
    expect(await page.getByLabel('Benutzername').inputValue()).toBe('praxis');
    expect(await page.getByLabel('Passwort', { exact: true }).getAttribute('type')).toBe('password');
    await page.waitForFunction(() => document.activeElement?.id === 'p-user');
    await expectFocusTrapped(page, 4);
    problems.push(...(await seriousViolations(page, 'credentials prompt')));
    await page.keyboard.press('Escape');
    expect(await asked).toBeUndefined();
    await login.waitFor({ state: 'detached' });
    const close = notices.filter({ hasText: 'wieder erreichbar' }).getByRole('button', { name: 'Hinweis schließen' });
    await close.click();
    await notices.first().waitFor({ state: 'detached' });
    expect(host!.state().notices).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 90000);

  test('"the plugin failed": a named modal dialog with Quit focused, Escape does not quit; axe finds nothing serious', async () => {
    const failing = new ObservedDevHost({ pluginDir: path.join(__dirname, '..', 'fixtures', 'plugins', 'guard-rejects'), deviceName: 'Praxis-PC 1', appDataDir: tempDir('cs-hostui-f-'), sharedDefault: tempDir('cs-hostui-fs-'), port: 0, flagOn: true });
    await failing.start();
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    try {
      await page.goto(failing.url);
      const dlg = page.getByTestId('plugin-failed');
      await dlg.waitFor();
      expect(await dlg.getAttribute('role')).toBe('dialog');
      expect((await dialogShape(page)).modal).toBe('true');
      expect((await dialogShape(page)).name).toContain('Erweiterung');
      await page.waitForFunction(() => document.activeElement?.id === 'verdict-quit');
      await expectFocusTrapped(page, 3);
      await page.keyboard.press('Escape');
      expect(await dlg.isVisible()).toBe(true);
      expect(failing.state().phase).toBe('failed');
      expect(await seriousViolations(page, 'plugin failed')).toEqual([]);
    } finally {
      await page.close();
      await failing.stop();
    }
  }, 60000);
});
