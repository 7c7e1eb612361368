// "Remove this PC from the practice" on the settings page (format 2, #16), through the loaded plugin
// on two PCs: the action is offered only for a PC that is not working now, says what it means in both
// languages, and afterwards the PC is listed as removed; a PC working now, this PC and an unknown one
// are refused in words, and nothing changes.
import { host, joinThroughPage, openPage } from '../support/settings-page';
import { tempDir, waitFor } from '../support/temp';

jest.setTimeout(180_000);

const PASS = 'Leuchtturm-Zitronenbaum-lang';

test('offered for a PC gone, refused for one working now; afterwards listed as removed', async () => {
  const shared = tempDir('cs-shared-');
  const hA = host(undefined, undefined, 'Empfang');
  const a = await openPage(hA);
  a.page.set(shared);
  hA.dialogs.secrets.push(PASS);
  expect(await a.page.invoke('save')).toMatchObject({ ok: true });
  await a.plugin.storageProviders[0]!.open();
  const b = await joinThroughPage('Alter Laptop', shared, PASS);
  await waitFor(() => (a.page.item('devices')?.rows ?? []).length === 2, 15000, 'both PCs on A');
  const rowOfB = () => a.page.item('devices').rows.find((r: { cells: string[] }) => r.cells[0] === 'Alter Laptop');
  const idOfB = rowOfB().id as string;
  // working now: no action offered, and asking anyway is refused
  await waitFor(() => rowOfB().cells[2] === 'ja', 15000, 'B working on A');
  expect(a.page.item(`remove-pc:${idOfB}`)).toBeUndefined();
  expect(await a.page.invoke(`remove-pc:${idOfB}`)).toMatchObject({ ok: false, message: { de: '„Alter Laptop“ arbeitet gerade mit diesen Daten und wird nicht entfernt.' } });
  // gone: offered, with what it means
  await b.plugin.unload();
  await waitFor(() => a.page.item(`remove-pc:${idOfB}`) !== undefined, 20000, 'the action for B');
  const action = a.page.item(`remove-pc:${idOfB}`);
  expect(action).toMatchObject({ kind: 'action', style: 'danger', enabled: true, label: { de: '„Alter Laptop“ aus der Praxis entfernen …' } });
  expect(action.confirm.de).toContain('es geht nichts verloren');
  expect(action.confirm.en).toContain('nothing is lost');
  expect(await a.page.invoke(`remove-pc:${'0'.repeat(32)}`)).toMatchObject({ ok: false });
  expect(await a.page.invoke(`remove-pc:${idOfB}`)).toMatchObject({ ok: true, message: { en: '"Alter Laptop" was removed from the practice. The other PCs no longer wait for it; should it come back, it belongs to the practice again by itself.' } });
  await waitFor(() => rowOfB().cells[2] === 'nein (aus der Praxis entfernt)', 15000, 'B listed as removed');
  expect(a.page.item(`remove-pc:${idOfB}`)).toBeUndefined();
  // this PC has no such action for itself
  const own = a.page.item('devices').rows.find((r: { cells: string[] }) => r.cells[0].endsWith('(dieser PC)'));
  expect(a.page.item(`remove-pc:${own.id}`)).toBeUndefined();
  expect(await a.page.invoke(`remove-pc:${own.id}`)).toMatchObject({ ok: false });
  await a.plugin.unload();
});
