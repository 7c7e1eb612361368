// The reference dev host follows HOST-API §4 when a guard breaks the contract: a rejected check() is
// "the plugin failed" with Quit only, and no practice data are opened (neither the plugin's store
// nor the host's own local file, which would be a second, diverging data set).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DevHost } from '../../dev-host/dev-host';
import { PROJECT_ROOT } from '../support/test-host';
import { tempDir } from '../support/temp';

const FIXTURE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'plugins', 'guard-rejects');

class ObservedDevHost extends DevHost {
  state(): Record<string, any> {
    return this.snapshot() as Record<string, any>;
  }
}

const calls = () => (globalThis as { __guardRejects?: Record<string, number> }).__guardRejects!;

describe('dev host: a guard that rejects', () => {
  let host: ObservedDevHost | undefined;
  afterEach(async () => {
    await host?.stop();
    host = undefined;
  });

  test('"the plugin failed" with Quit only; neither the provider nor the local client file is opened', async () => {
    const appDataDir = tempDir('cs-devhost-');
    const localFile = path.join(appDataDir, 'host-local-clients.json');
    fs.writeFileSync(localFile, JSON.stringify({ k1: { name: 'Alte lokale Klientin' } }));
    const before = fs.readFileSync(localFile, 'utf8');
    host = new ObservedDevHost({ pluginDir: FIXTURE, deviceName: 'Praxis-PC 1', appDataDir, sharedDefault: tempDir('cs-shared-'), port: 0, flagOn: true });
    await host.start();

    const s = host.state();
    expect(calls().check).toBe(1);
    expect(s.phase).toBe('failed');
    expect(s.verdict).toBeUndefined();
    expect(s.failure.title.de).toContain('Erweiterung');
    expect(s.failure.title.en).toContain('plugin failed');
    expect(s.storage).toBe('none');
    expect(s.clients).toEqual([]); // the old local data are not shown as if they were current
    expect(calls().open).toBe(0);

    // nothing reaches practice data, whatever the page sends
    expect(await host.saveClient(undefined, { name: 'Neu' })).toMatchObject({ ok: false });
    expect(await host.deleteClient('k1')).toMatchObject({ ok: false });
    expect(fs.readFileSync(localFile, 'utf8')).toBe(before);
    await host.actOnVerdict('retry'); // not an action it offers: only Quit
    expect(calls().act).toBe(0);
    expect(host.state().phase).toBe('failed');
    expect(calls().open).toBe(0);

    await host.actOnVerdict('quit');
    expect(host.state().phase).toBe('quit');
    expect(fs.readFileSync(localFile, 'utf8')).toBe(before);
  });
});
