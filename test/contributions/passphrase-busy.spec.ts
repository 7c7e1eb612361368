// While a passphrase is derived (scrypt at the real cost, about a second on a slow PC) the settings
// page says it is busy: for setting a store up, joining one, changing and entering the passphrase.
import type * as Crypto from 'node:crypto';
import { host, openPage, type Page } from '../support/settings-page';
import { tempDir, waitFor } from '../support/temp';

jest.setTimeout(240_000);

const PASS = 'Teekanne Nordstrand Abendrot';
const NEW = 'Zitronenbaum Leuchtturm Gewitter';

/** Every scrypt derivation the plugin starts, with the page's `busy` when it starts and when it ends. */
const seen: { atStart: boolean | undefined; atEnd?: boolean }[] = [];
let watched: Page | undefined;
// the module object itself, which the plugin's code reads `scrypt` from at each call
const crypto = require('node:crypto') as typeof Crypto;
const realScrypt = crypto.scrypt;
beforeAll(() => {
  jest.spyOn(crypto, 'scrypt').mockImplementation(((...args: unknown[]) => {
    const entry: { atStart: boolean | undefined; atEnd?: boolean } = { atStart: watched?.view().busy };
    seen.push(entry);
    const cb = args[args.length - 1] as (err: Error | null, key: Buffer) => void;
    return (realScrypt as (...a: unknown[]) => void)(...args.slice(0, -1), (err: Error | null, key: Buffer) => {
      entry.atEnd = watched?.view().busy;
      cb(err, key);
    });
  }) as typeof crypto.scrypt);
});
afterAll(() => jest.restoreAllMocks());

/** Runs an action on a page and returns the derivations it made, each with `busy` at its start and end. */
async function derivationsOf(page: Page, action: string) {
  watched = page;
  const from = seen.length;
  const out = await page.invoke(action);
  expect(out).toMatchObject({ ok: true });
  expect(page.view().busy).toBe(false); // and not busy any more afterwards
  watched = undefined;
  return seen.slice(from);
}

describe('the settings page is busy while a passphrase is derived', () => {
  test('set-up, join, change and enter: every derivation starts and ends while the view says busy', async () => {
    const shared = tempDir('cs-shared-');
    const a = host();
    const pa = await openPage(a);
    pa.page.set(shared);
    a.dialogs.secrets.push(PASS);
    const created = await derivationsOf(pa.page, 'save');
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(created).toEqual(created.map(() => ({ atStart: true, atEnd: true })));

    const b = host(undefined, undefined, 'Praxis-PC 2');
    const pb = await openPage(b);
    pb.page.set(shared);
    b.dialogs.secrets.push(PASS);
    const joined = await derivationsOf(pb.page, 'save');
    expect(joined.length).toBeGreaterThanOrEqual(1);
    expect(joined).toEqual(joined.map(() => ({ atStart: true, atEnd: true })));

    a.dialogs.secrets.push(PASS, NEW);
    const changed = await derivationsOf(pa.page, 'change-passphrase');
    expect(changed.length).toBeGreaterThanOrEqual(2); // the current one checked, the new one wrapped
    expect(changed).toEqual(changed.map(() => ({ atStart: true, atEnd: true })));

    await waitFor(() => pb.page.item('enter-passphrase') !== undefined, 15000, 'B offers to enter the new passphrase');
    b.dialogs.secrets.push(NEW);
    const entered = await derivationsOf(pb.page, 'enter-passphrase');
    expect(entered.length).toBeGreaterThanOrEqual(1);
    expect(entered).toEqual(entered.map(() => ({ atStart: true, atEnd: true })));

    await pa.plugin.unload();
    await pb.plugin.unload();
  });
});
