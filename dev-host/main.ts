// The dev host's main job (until the browser dev host exists): a console host that loads the
// plugin through the loader exactly as HOST-API §1 says, runs the startup guard, sets up a demo
// shared folder through the settings page, writes a record and prints the live status.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Container } from 'inversify';
import { firstValueFrom } from 'rxjs';
import { FeatureFlags, HostDialogs, HostEnvironment, HostLocalData, HostLogger } from '../src/host-api';
import { loadPlugin } from './loader';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const work = path.join(root, '.dev-host');
  const device = arg('device', 'Praxis-PC 1');
  const shared = path.resolve(arg('shared', path.join(work, 'shared')));
  const appData = path.resolve(arg('app-data', path.join(work, device.replace(/\W+/g, '-'))));
  fs.mkdirSync(shared, { recursive: true });
  fs.mkdirSync(appData, { recursive: true });
  const flagOn = !process.argv.includes('--flag-off');
  const passphrase = process.env.DEV_HOST_PASSPHRASE ?? 'demo-passphrase-1234';

  const host = new Container();
  host.bind(HostEnvironment).toConstantValue({ apiVersion: '1.0.0', appDataDir: appData, deviceName: device, userName: process.env.USER ?? 'demo', locale: 'de', platform: process.platform });
  host.bind(FeatureFlags).toConstantValue({ isEnabled: (f: string) => flagOn && f === 'cloudStorage' });
  const dialogs: HostDialogs = {
    pickFolder: async () => shared,
    promptCredentials: async () => undefined,
    promptSecret: async () => passphrase, // demo only: a real host asks the user
    notify: (n) => console.log(`[${n.tone}] ${n.text.de}`),
  };
  host.bind(HostDialogs).toConstantValue(dialogs);
  host.bind(HostLogger).toConstantValue({ debug: () => undefined, info: console.log, warn: console.warn, error: console.error });
  host.bind(HostLocalData).toConstantValue({ count: async () => 1, records: async function* () { yield { collection: 'clients', id: 'demo-1', data: { name: 'Erika Mustermann' } }; } });

  const r = await loadPlugin(root, host);
  if (r.kind === 'skipped') {
    console.log('Feature flag "cloudStorage" is off: the plugin was not loaded; the host keeps its local data.');
    return;
  }
  const plugin = r.plugin;
  console.log(`Loaded ${plugin.manifest.id} ${plugin.manifest.version}: ${plugin.settingsPages.length} settings page, ${plugin.startupGuards.length} guard, ${plugin.storageProviders.length} provider`);
  let verdict = await plugin.startupGuards[0]!.check();
  console.log('Startup guard:', JSON.stringify(verdict));
  if (verdict.kind === 'blocked') verdict = await plugin.startupGuards[0]!.act('retry');
  const provider = plugin.storageProviders[0]!;
  if (!provider.isActive()) {
    const page = plugin.settingsPages[0]!.open();
    page.setValue('folder', shared);
    console.log('Save:', JSON.stringify(await page.invoke('save')));
    page.dispose();
  }
  const store = await provider.open();
  const rec = await store.put('clients', `demo-${Date.now()}`, { name: 'Neuer Klient', createdOn: device });
  console.log('Saved', rec.collection, rec.id, rec.version);
  await store.flush({ timeoutMs: 5000 });
  console.log('Access:', JSON.stringify(await firstValueFrom(provider.access$)));
  console.log('Sync:', JSON.stringify(await firstValueFrom(provider.sync$)));
  console.log('Clients:', (await store.list('clients')).map((c) => `${c.id}=${JSON.stringify(c.data)}`).join(', '));
  await plugin.unload();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
