// The settings page driven through the loader, as a host would, with every text checked for both languages.
import type { ActionOutcome, HostRecordLabels, SettingsPageSession, SettingsView } from '../../src/host-api';
import { CredentialStore } from '../../src/services/credentials/credential-store';
import { InMemoryCredentialStore } from './memory-credential-store';
import { loadCloudPlugin, makeHost, type TestHost } from './test-host';
import { waitFor } from './temp';
import { CloudStorageTimings } from '../../src/services/cloud-storage-service';

export const TIMINGS: CloudStorageTimings = { probeTimeoutMs: 5000, monitorMs: 300, pollMs: 100, heartbeatMs: 500 };

/** Every text a person can see has both languages, non-empty (a missing translation fails here). */
export function expectBilingual(x: unknown, where = 'view'): void {
  if (Array.isArray(x)) return x.forEach((v, i) => expectBilingual(v, `${where}[${i}]`));
  if (!x || typeof x !== 'object') return;
  const o = x as Record<string, unknown>;
  if ('de' in o || 'en' in o) {
    expect(typeof o.de === 'string' && o.de.trim().length > 0 ? 'ok' : `${where}.de missing`).toBe('ok');
    expect(typeof o.en === 'string' && o.en.trim().length > 0 ? 'ok' : `${where}.en missing`).toBe('ok');
    return;
  }
  for (const [k, v] of Object.entries(o)) expectBilingual(v, `${where}.${k}`);
}

export interface Page {
  session: SettingsPageSession;
  view(): SettingsView;
  invoke(id: string): Promise<ActionOutcome>;
  set(v: string): void;
  item(id: string): any;
}

export function host(
  keychain = new InMemoryCredentialStore(),
  appDataDir?: string,
  deviceName?: string,
  userName?: string,
  v11: { labels?: HostRecordLabels; withdraw?: boolean } = {},
): TestHost & { keychain: InMemoryCredentialStore } {
  const h = makeHost({
    ...v11,
    appDataDir,
    deviceName,
    userName,
    bind: (c) => {
      c.bind(CloudStorageTimings).toConstantValue(TIMINGS);
      c.bind(CredentialStore).toConstantValue(keychain);
    },
  });
  return Object.assign(h, { keychain });
}

export async function openPage(h: TestHost) {
  const plugin = await loadCloudPlugin(h);
  const session = plugin.settingsPages[0]!.open();
  let last: SettingsView | undefined;
  session.view$.subscribe((v) => {
    expectBilingual(v);
    last = v;
  });
  const page: Page = {
    session,
    view: () => last!,
    invoke: async (id) => {
      const out = await session.invoke(id);
      expectBilingual(out, `outcome of ${id}`);
      return out;
    },
    set: (v) => session.setValue('folder', v),
    item: (id) => last!.sections.flatMap((s) => s.items).find((i) => i.id === id),
  };
  await waitFor(() => last !== undefined, 2000, 'first view');
  return { plugin, page };
}

/** Another PC joins the store in `shared` through its settings page, as a person would; returns its page and store. */
export async function joinThroughPage(deviceName: string, shared: string, passphrase: string) {
  const h = host(undefined, undefined, deviceName);
  const opened = await openPage(h);
  opened.page.set(shared);
  h.dialogs.secrets.push(passphrase);
  expect(await opened.page.invoke('save')).toMatchObject({ ok: true });
  return { h, ...opened, store: await opened.plugin.storageProviders[0]!.open() };
}
