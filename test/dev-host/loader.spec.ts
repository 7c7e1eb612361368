import * as fs from 'node:fs';
import * as path from 'node:path';
import { PluginLoadError, loadPlugin } from '../../dev-host/loader';
import { SettingsPageContribution, StartupGuardContribution, StorageProviderContribution } from '../../src/host-api';
import { PROJECT_ROOT, makeHost } from '../support/test-host';
import { tempDir } from '../support/temp';

const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'plugins');
const manifest = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'plugin.manifest.json'), 'utf8'));

/** A copy of the real plugin's manifest with one change, next to a main that re-exports the real build. */
function pluginWith(mutate: (m: Record<string, any>) => void, mainSource?: string): string {
  const dir = tempDir('cs-plugin-');
  const m = JSON.parse(JSON.stringify(manifest));
  m.main = 'main.js';
  mutate(m);
  fs.writeFileSync(path.join(dir, 'plugin.manifest.json'), JSON.stringify(m));
  fs.writeFileSync(path.join(dir, 'main.js'), mainSource ?? `module.exports = require(${JSON.stringify(path.join(PROJECT_ROOT, 'dist', 'index.js'))});`);
  return dir;
}

describe('the loader follows HOST-API §1', () => {
  test('flag on: exactly the three contributions with the manifest ids; unload releases them', async () => {
    const host = makeHost();
    const r = await loadPlugin(PROJECT_ROOT, host.container);
    expect(r.kind).toBe('loaded');
    if (r.kind !== 'loaded') return;
    expect(r.plugin.settingsPages.map((c) => c.id)).toEqual(['cloud-storage.settings']);
    expect(r.plugin.startupGuards.map((c) => c.id)).toEqual(['cloud-storage.guard']);
    expect(r.plugin.storageProviders.map((c) => c.id)).toEqual(['cloud-storage.provider']);
    expect(r.plugin.settingsPages[0]!.group).toBe('group-practice');
    // The host container itself got nothing: contributions live in the child.
    expect(host.container.isBound(SettingsPageContribution)).toBe(false);
    expect(r.plugin.container.getAll(StartupGuardContribution)).toHaveLength(1);
    expect(r.plugin.container.getAll(StorageProviderContribution)).toHaveLength(1);
    await r.plugin.unload();
    expect(r.plugin.container.isCurrentBound(StorageProviderContribution)).toBe(false);
  });

  test('flag off: skipped, and main was never imported', async () => {
    const host = makeHost({ flags: [] });
    const g = globalThis as { __throwsOnImportWasImported?: boolean };
    delete g.__throwsOnImportWasImported;
    const r = await loadPlugin(path.join(FIXTURES, 'throws-on-import'), host.container);
    expect(r.kind).toBe('skipped');
    expect(g.__throwsOnImportWasImported).toBeUndefined();
    // the same plugin with its flag on does get imported, and its throw is reported
    host.flags.add('throwsFlag');
    await expect(loadPlugin(path.join(FIXTURES, 'throws-on-import'), host.container)).rejects.toMatchObject({ reason: 'import-failed' });
    expect(g.__throwsOnImportWasImported).toBe(true);
  });

  test('the real plugin with its flag off contributes nothing', async () => {
    const host = makeHost({ flags: [] });
    const r = await loadPlugin(PROJECT_ROOT, host.container);
    expect(r).toMatchObject({ kind: 'skipped', reason: 'feature-flag-off' });
  });

  test('manifest missing or not JSON: refused', async () => {
    const host = makeHost();
    await expect(loadPlugin(tempDir('cs-empty-'), host.container)).rejects.toMatchObject({ reason: 'manifest-missing' });
    const notJson = tempDir('cs-nojson-');
    fs.writeFileSync(path.join(notJson, 'plugin.manifest.json'), '{ "id": ');
    await expect(loadPlugin(notJson, host.container)).rejects.toMatchObject({ reason: 'manifest-invalid' });
  });

  test.each<[string, (m: any) => unknown]>([
    ['id', (m: any) => (m.id = 'Cloud Storage!')],
    ['version', (m: any) => (m.version = 'one')],
    ['engines.host', (m: any) => (m.engines.host = 'not a range')],
    ['activation', (m: any) => delete m.activation],
    ['displayName.en', (m: any) => delete m.displayName.en],
    ['contributes.startupGuards.0.order', (m: any) => (m.contributes.startupGuards[0].order = 'first')],
  ])('manifest field %s wrong: refused with a message naming the field', async (field, mutate) => {
    const host = makeHost();
    const err = await loadPlugin(pluginWith(mutate), host.container).catch((e) => e);
    expect(err).toBeInstanceOf(PluginLoadError);
    expect(err.reason).toBe('manifest-invalid');
    expect(err.message).toContain(`"${field}`);
  });

  test('host API version outside engines.host: refused', async () => {
    const host = makeHost();
    await expect(loadPlugin(PROJECT_ROOT, host.container, '2.0.0')).rejects.toMatchObject({ reason: 'engine-mismatch' });
    await expect(loadPlugin(pluginWith((m) => (m.engines.host = '^1.2.0')), host.container)).rejects.toThrow(/needs host API \^1\.2\.0/);
  });

  test('a contribution bound but not declared, or declared but not bound: refused, nothing left loaded', async () => {
    const host = makeHost({ flags: ['testFlag', 'cloudStorage'] });
    await expect(loadPlugin(path.join(FIXTURES, 'extra-contribution'), host.container)).rejects.toThrow(/bound but not declared: undeclared\.guard/);
    await expect(loadPlugin(path.join(FIXTURES, 'missing-contribution'), host.container)).rejects.toThrow(/declared but not bound: missing\.guard/);
    // the real plugin with an id renamed in its manifest
    await expect(loadPlugin(pluginWith((m) => (m.contributes.storageProviders[0].id = 'cloud-storage.other')), host.container)).rejects.toMatchObject({ reason: 'contribution-mismatch' });
  });

  test('main that exports no ContainerModule is refused', async () => {
    const host = makeHost();
    await expect(loadPlugin(pluginWith(() => undefined, 'exports.something = 1;'), host.container)).rejects.toMatchObject({ reason: 'no-module' });
    await expect(loadPlugin(pluginWith((m) => (m.main = '../outside.js')), host.container)).rejects.toThrow(/"main" points outside/);
  });
});
