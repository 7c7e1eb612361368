// The storage provider's access$ while the host runs: a pulled medium noticed, and its return, without a restart.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BehaviorSubject } from 'rxjs';
import { AccessStatus, StorageProviderContribution } from '../../src/host-api';
import { makeHost, setUpThroughPage, type TestHost } from '../support/test-host';
import { tempDir, waitFor } from '../support/temp';

const PASS = 'Teekanne-Nordstrand-2026';

async function setUp(h: TestHost, folder: string) {
  const { plugin, out } = await setUpThroughPage(h, folder, PASS);
  expect(out).toMatchObject({ ok: true });
  return plugin;
}

describe('access$ while the host runs', () => {
  test('a pulled medium turns access to unavailable within 10 s and back to available, without a restart (default timings)', async () => {
    const parent = tempDir('cs-usb-');
    const stick = path.join(parent, 'stick');
    fs.mkdirSync(stick);
    const h = makeHost();
    const plugin = await setUp(h, stick);
    const provider = plugin.container.get<StorageProviderContribution>(StorageProviderContribution);
    const seen = new BehaviorSubject<AccessStatus['state']>('checking');
    const sub = provider.access$.subscribe((a) => seen.next(a.state));
    await waitFor(() => seen.value === 'available', 10000, 'available');
    fs.renameSync(stick, path.join(parent, 'away'));
    const t0 = Date.now();
    await waitFor(() => seen.value === 'unavailable', 10000, 'unavailable within 10 s');
    expect(Date.now() - t0).toBeLessThan(10000);
    const store = await provider.open();
    await store.put('clients', 'while-away', { ok: true }); // work goes on
    fs.renameSync(path.join(parent, 'away'), stick);
    await waitFor(() => seen.value === 'available', 10000, 'available again');
    expect((await store.flush({ timeoutMs: 5000 })).pending).toBe(0);
    sub.unsubscribe();
    await plugin.unload();
  }, 60000);
});
