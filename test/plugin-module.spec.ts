// The plugin module's unload: every service it bound lets go of what it holds.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CloudStorageTimings } from '../src/services/cloud-storage-service';
import { loadCloudPlugin, makeHost } from './support/test-host';
import { tempDir, waitFor } from './support/temp';

describe('unloading releases everything', () => {
  test('no timer, watcher, child or lock of the plugin is left after unload', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    const h = makeHost({ bind: (c) => c.bind<CloudStorageTimings>(CloudStorageTimings).toConstantValue({ probeTimeoutMs: 5000, monitorMs: 200, pollMs: 100, heartbeatMs: 300 }) });
    const plugin = await loadCloudPlugin(h);
    const page = plugin.settingsPages[0]!.open();
    page.setValue('folder', tempDir('cs-shared-'));
    h.dialogs.secrets.push('ein-langes-passwort');
    expect(await page.invoke('save')).toMatchObject({ ok: true });
    const store = await plugin.storageProviders[0]!.open();
    await store.put('clients', 'x', { a: 1 });
    await new Promise((r) => setTimeout(r, 500)); // deliberate: a few monitor, poll and heartbeat rounds run, so unload has them to stop
    expect(plugin.storageProviders[0]!.isActive()).toBe(true);
    await plugin.unload();
    const leftNow = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    // the bound stays the 300 ms the test always allowed: a timer left pending would otherwise just fire and vanish
    await waitFor(() => leftNow().length <= before && !leftNow().some((r) => r === 'FSEventWrap' || r === 'ProcessWrap' || r === 'StatWatcher'), 300, 'handles closed after unload').catch(() => undefined);
    const left = leftNow();
    expect(left.length).toBeLessThanOrEqual(before);
    expect(left.filter((r) => r === 'FSEventWrap' || r === 'ProcessWrap' || r === 'StatWatcher')).toEqual([]);
    const lock = path.join(h.env.appDataDir, 'cloud-storage', 'replicas');
    expect(fs.readdirSync(lock).every((d) => !fs.existsSync(path.join(lock, d, 'replica.lock')))).toBe(true);
  });
});
