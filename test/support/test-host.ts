// A host for tests: the services HOST-API §2 names, with scripted dialogs; nothing else.
import * as path from 'node:path';
import { Container } from 'inversify';
import {
  FeatureFlags,
  HostDialogs,
  HostEnvironment,
  HostLocalData,
  HostLogger,
  HostRecordLabels,
  type ImportRecord,
  type LocalizedText,
  type Tone,
} from '../../src/host-api';
import { loadPlugin, type LoadedPlugin } from '../../dev-host/loader';
import { tempDir } from './temp';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export class ScriptedDialogs implements HostDialogs {
  readonly folders: (string | undefined)[] = [];
  readonly credentials: ({ username: string; password: string } | undefined)[] = [];
  readonly secrets: (string | undefined)[] = [];
  readonly asked: { kind: string; title: LocalizedText; message?: LocalizedText }[] = [];
  readonly notices: { id?: string; tone: Tone; text: LocalizedText }[] = [];
  /** Ids withdrawn (only a 1.1 host, made with `withdraw: true`, has `withdraw`). */
  readonly withdrawn: string[] = [];
  withdraw?: (id: string) => void;
  async pickFolder(req: { title: LocalizedText }) {
    this.asked.push({ kind: 'folder', title: req.title });
    return this.folders.shift();
  }
  async promptCredentials(req: { title: LocalizedText; message: LocalizedText }) {
    this.asked.push({ kind: 'credentials', title: req.title, message: req.message });
    return this.credentials.shift();
  }
  async promptSecret(req: { title: LocalizedText; message: LocalizedText }) {
    this.asked.push({ kind: 'secret', title: req.title, message: req.message });
    return this.secrets.shift();
  }
  /** What a 1.1 host shows now under each id: the last notice of that id, until it is withdrawn. */
  readonly byId = new Map<string, { id?: string; tone: Tone; text: LocalizedText }>();
  notify(n: { id?: string; tone: Tone; text: LocalizedText }) {
    this.notices.push(n);
    if (n.id !== undefined) this.byId.set(n.id, n);
  }
  /** Makes this a 1.1 host's dialogs: notices can be withdrawn. */
  enableWithdraw(): void {
    this.withdraw = (id: string) => {
      this.withdrawn.push(id);
      this.byId.delete(id);
    };
  }
}

export class CapturingLogger implements HostLogger {
  readonly lines: string[] = [];
  debug(m: string, meta?: object) {
    this.lines.push(`debug ${m} ${JSON.stringify(meta ?? {})}`);
  }
  info(m: string, meta?: object) {
    this.lines.push(`info ${m} ${JSON.stringify(meta ?? {})}`);
  }
  warn(m: string, meta?: object) {
    this.lines.push(`warn ${m} ${JSON.stringify(meta ?? {})}`);
  }
  error(m: string, meta?: object) {
    this.lines.push(`error ${m} ${JSON.stringify(meta ?? {})}`);
  }
}

export interface TestHost {
  container: Container;
  dialogs: ScriptedDialogs;
  logger: CapturingLogger;
  env: HostEnvironment;
  localRecords: ImportRecord[];
  flags: Set<string>;
}

export function makeHost(
  opts: {
    deviceName?: string;
    userName?: string;
    appDataDir?: string;
    flags?: string[];
    bind?: (c: Container) => void;
    /** HOST-API 1.1: bind HostRecordLabels (a 1.0 host has none). */
    labels?: HostRecordLabels;
    /** HOST-API 1.1: HostDialogs.withdraw exists (a 1.0 host has none). */
    withdraw?: boolean;
  } = {},
): TestHost {
  const container = new Container();
  const env: HostEnvironment = {
    apiVersion: opts.labels || opts.withdraw ? '1.1.0' : '1.0.0',
    appDataDir: opts.appDataDir ?? tempDir('cs-appdata-'),
    deviceName: opts.deviceName ?? 'Praxis-PC 1',
    userName: opts.userName ?? 'dr.muster',
    locale: 'de',
    platform: process.platform,
  };
  const flags = new Set(opts.flags ?? ['cloudStorage']);
  const dialogs = new ScriptedDialogs();
  if (opts.withdraw) dialogs.enableWithdraw();
  const logger = new CapturingLogger();
  const localRecords: ImportRecord[] = [];
  container.bind(HostEnvironment).toConstantValue(env);
  container.bind(FeatureFlags).toConstantValue({ isEnabled: (f: string) => flags.has(f) });
  container.bind(HostDialogs).toConstantValue(dialogs);
  container.bind(HostLogger).toConstantValue(logger);
  container.bind(HostLocalData).toConstantValue({
    count: async () => localRecords.length,
    records: async function* () {
      yield* localRecords;
    },
  });
  if (opts.labels) container.bind(HostRecordLabels).toConstantValue(opts.labels);
  opts.bind?.(container);
  return { container, dialogs, logger, env, localRecords, flags };
}

const loaded: LoadedPlugin[] = [];
/** Unload whatever a failed test left loaded, so its timers cannot keep jest alive. */
afterEach(async () => {
  for (const p of loaded.splice(0)) await p.unload();
});

/** First start through the settings page: folder, save, the passphrase when asked. */
export async function setUpThroughPage(host: TestHost, folder: string, passphrase: string) {
  const plugin = await loadCloudPlugin(host);
  const page = plugin.settingsPages[0]!.open();
  page.setValue('folder', folder);
  host.dialogs.secrets.push(passphrase);
  const out = await page.invoke('save');
  page.dispose();
  return { plugin, out };
}

export async function loadCloudPlugin(host: TestHost): Promise<LoadedPlugin> {
  const r = await loadPlugin(PROJECT_ROOT, host.container);
  if (r.kind !== 'loaded') throw new Error('plugin was skipped');
  loaded.push(r.plugin);
  return r.plugin;
}
