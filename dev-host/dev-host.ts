// The reference dev host: a small host application (HOST-API 1.1: 1.0 plus §6) with a web page. It loads the
// plugin through the loader, runs the startup guards, renders the settings page, the verdicts and the
// dialogs the plugin asks for, and has a minimal practice screen (clients) stored through the provider.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Container } from 'inversify';
import type { Subscription } from 'rxjs';
import {
  FeatureFlags,
  HostDialogs,
  HostEnvironment,
  HostLocalData,
  HostLogger,
  HostRecordLabels,
  HOST_API_VERSION,
  type ImportRecord,
  type JsonObject,
  type LocalizedText,
  type PracticeStore,
  type RecordConflict,
  type SettingsPageSession,
  type StartupVerdict,
  type StoredRecord,
  type Tone,
} from '../src/host-api';
import { loadPlugin, type LoadedPlugin } from './loader';

export interface DevHostOptions {
  readonly pluginDir: string;
  readonly deviceName: string;
  readonly appDataDir: string;
  readonly sharedDefault: string;
  readonly port: number;
  readonly flagOn: boolean;
}

type Prompt =
  | { id: string; kind: 'folder'; title: LocalizedText; defaultPath?: string }
  | { id: string; kind: 'credentials'; title: LocalizedText; message: LocalizedText; username?: string }
  | { id: string; kind: 'secret'; title: LocalizedText; message: LocalizedText; confirm: boolean };

// HOST-API §6 (1.1): this host binds record labels and offers withdraw (a plugin checks for them).
export type HostNotice = Parameters<HostDialogs['notify']>[0];
export type HostDialogs11 = HostDialogs & Required<Pick<HostDialogs, 'withdraw'>>;

/** What this host knows about its records: the clients of the practice. */
const CLIENT_FIELDS: Record<string, LocalizedText> = {
  name: { de: 'Name', en: 'Name' },
  phone: { de: 'Telefon', en: 'Phone' },
  note: { de: 'Notiz', en: 'Note' },
};
export const recordLabels: HostRecordLabels = {
  collectionLabel: (collection) => (collection === 'clients' ? { de: 'Klienten', en: 'Clients' } : undefined),
  title: (collection, data) => (collection === 'clients' && typeof data?.name === 'string' && data.name.trim() ? data.name.trim() : undefined),
  fieldLabel: (collection, field) => (collection === 'clients' ? CLIENT_FIELDS[field] : undefined),
};

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The host's own local storage (what a practice has before the cloud): one JSON file in app data. */
class LocalClientFile {
  constructor(readonly file: string) {}
  read(): Record<string, JsonObject> {
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8'));
    } catch {
      return {};
    }
  }
  write(all: Record<string, JsonObject>): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file + '.tmp', JSON.stringify(all, null, 2));
    fs.renameSync(this.file + '.tmp', this.file);
  }
}

/** The client form's fields; a phone number only when one was typed (older records have none). */
function clientData(b: Record<string, unknown>): JsonObject {
  const data: JsonObject = { name: String(b.name ?? ''), note: String(b.note ?? '') };
  if (b.phone) data.phone = String(b.phone);
  return data;
}

export class DevHost {
  readonly token = crypto.randomBytes(16).toString('hex');
  protected server?: http.Server;
  protected readonly clientsSse = new Set<http.ServerResponse>();
  protected plugin?: LoadedPlugin;
  protected settings?: SettingsPageSession;
  protected settingsView: unknown;
  protected verdict?: StartupVerdict;
  protected verdictGuard?: string;
  protected phase: 'starting' | 'guard' | 'running' | 'failed' | 'quit' = 'starting';
  /** Set when a guard broke the contract (HOST-API §4): "the plugin failed", Quit only, no practice data. */
  protected failure?: { title: LocalizedText; message: LocalizedText };
  /** Notices on the page; `key` is the plugin's id (HOST-API §6) or one of the host's own. */
  protected notices: { key: string; tone: Tone; text: LocalizedText }[] = [];
  protected conflicts: RecordConflict[] = [];
  protected readonly prompts = new Map<string, { prompt: Prompt; resolve: (v: unknown) => void }>();
  protected store?: PracticeStore;
  protected readonly subs: Subscription[] = [];
  protected access: unknown;
  protected sync: unknown;
  protected clients: StoredRecord[] = [];
  protected readonly local: LocalClientFile;
  protected broadcastTimer?: NodeJS.Timeout;

  constructor(readonly opts: DevHostOptions) {
    this.local = new LocalClientFile(path.join(opts.appDataDir, 'host-local-clients.json'));
  }

  get url(): string {
    const port = (this.server?.address() as { port: number } | null)?.port ?? this.opts.port;
    return `http://127.0.0.1:${port}/?t=${this.token}`;
  }

  // ---- the host services of HOST-API §2 ----------------------------------------------------

  protected ask<T>(p: DistributiveOmit<Prompt, 'id'>): Promise<T | undefined> {
    const id = crypto.randomBytes(6).toString('hex');
    return new Promise((resolve) => {
      this.prompts.set(id, { prompt: { ...p, id } as Prompt, resolve: resolve as (v: unknown) => void });
      this.changed();
    });
  }

  protected container(): Container {
    const c = new Container();
    c.bind(HostEnvironment).toConstantValue({
      apiVersion: HOST_API_VERSION,
      appDataDir: this.opts.appDataDir,
      deviceName: this.opts.deviceName,
      userName: process.env.USER ?? process.env.USERNAME ?? 'praxis',
      locale: 'de',
      platform: process.platform,
    });
    c.bind(FeatureFlags).toConstantValue({ isEnabled: (f: string) => this.opts.flagOn && f === 'cloudStorage' });
    const dialogs: HostDialogs11 = {
      pickFolder: (req) => this.ask<string>({ kind: 'folder', title: req.title, defaultPath: req.defaultPath ?? this.opts.sharedDefault }),
      promptCredentials: (req) => this.ask<{ username: string; password: string }>({ kind: 'credentials', ...req }),
      promptSecret: (req) => this.ask<string>({ kind: 'secret', ...req }),
      notify: (n) => this.notify(n),
      withdraw: (id) => this.withdraw(String(id)),
    };
    c.bind(HostDialogs).toConstantValue(dialogs);
    c.bind(HostRecordLabels).toConstantValue(recordLabels);
    const log = (level: string) => (msg: string, meta?: object) => console.log(`[${level}] ${msg}${meta ? ' ' + JSON.stringify(meta) : ''}`);
    c.bind(HostLogger).toConstantValue({ debug: () => undefined, info: log('info'), warn: log('warn'), error: log('error') });
    const local = this.local;
    c.bind(HostLocalData).toConstantValue({
      count: async () => Object.keys(local.read()).length,
      records: async function* (): AsyncIterable<ImportRecord> {
        for (const [id, data] of Object.entries(local.read())) yield { collection: 'clients', id, data };
      },
    });
    return c;
  }

  /** HOST-API §6: a notice with an id replaces the one with the same id (in its place). */
  protected notify(n: HostNotice): void {
    const key = n.id ? `p:${n.id}` : `h:${crypto.randomBytes(6).toString('hex')}`;
    const notice = { key, tone: n.tone, text: n.text };
    const i = this.notices.findIndex((x) => x.key === key);
    if (i >= 0) this.notices[i] = notice;
    else this.notices.push(notice);
    this.changed();
  }

  protected withdraw(id: string): void {
    this.dismiss(`p:${id}`);
  }

  /** The user closed a notice (or the plugin withdrew it). */
  dismiss(key: string): void {
    const before = this.notices.length;
    this.notices = this.notices.filter((x) => x.key !== key);
    if (this.notices.length !== before) this.changed();
  }

  // ---- start-up: load, guards, storage -------------------------------------------------------

  async start(): Promise<void> {
    await this.listen();
    const r = await loadPlugin(this.opts.pluginDir, this.container());
    if (r.kind === 'loaded') {
      this.plugin = r.plugin;
      const provider = r.plugin.storageProviders[0];
      if (provider) {
        this.subs.push(provider.access$.subscribe((a) => ((this.access = a), this.changed())));
        this.subs.push(provider.sync$.subscribe((s) => ((this.sync = s), this.changed())));
      }
    }
    await this.runGuards();
  }

  protected async runGuards(): Promise<void> {
    this.phase = 'guard';
    this.changed();
    for (const g of this.plugin?.startupGuards ?? []) {
      let v: StartupVerdict;
      try {
        v = await g.check();
      } catch (e) {
        this.guardFailed(g.id, e);
        return;
      }
      if (v.kind === 'blocked') {
        this.verdict = v;
        this.verdictGuard = g.id;
        this.changed();
        return; // the page shows the dialog; an action continues in act()
      }
      for (const n of v.notices) this.notify(n);
    }
    await this.enterRunning();
  }

  /**
   * A guard rejected instead of answering with a verdict (HOST-API §4): the host shows "the plugin
   * failed" with Quit only and opens no practice data — neither the plugin's store nor its own local
   * file, which would silently become a second data set beside the cloud's.
   */
  protected guardFailed(guardId: string, e: unknown): void {
    console.error(`guard ${guardId} failed (its promise was rejected): no practice data are opened`, (e as Error)?.message);
    this.phase = 'failed';
    this.verdict = undefined;
    this.store = undefined;
    this.clients = [];
    const name = this.plugin?.manifest.displayName ?? { de: guardId, en: guardId };
    this.failure = {
      title: { de: `Die Erweiterung „${name.de}“ ist fehlgeschlagen`, en: `The plugin failed: ${name.en}` },
      message: {
        de: 'Beim Start ist in der Erweiterung ein Fehler aufgetreten. Zum Schutz Ihrer Daten werden keine Praxisdaten geöffnet. Bitte beenden Sie das Programm und wenden Sie sich an den Support, falls es wieder auftritt.',
        en: 'The plugin ran into an error while starting. To protect your data, no practice data are opened. Please quit the application and contact support if it happens again.',
      },
    };
    this.changed();
  }

  async actOnVerdict(actionId: string): Promise<void> {
    const g = this.plugin?.startupGuards.find((x) => x.id === this.verdictGuard) ?? this.plugin?.startupGuards[0];
    if (actionId === 'quit' || !g) {
      this.phase = 'quit';
      this.verdict = undefined;
      this.changed();
      return;
    }
    const offered = this.verdict?.kind === 'blocked' ? this.verdict.actions : [];
    if (this.phase === 'failed' || !offered.some((a) => a.id === actionId)) return; // only what the dialog offers
    this.verdict = undefined;
    this.changed();
    let v: StartupVerdict;
    try {
      v = await g.act(actionId);
    } catch (e) {
      this.guardFailed(g.id, e);
      return;
    }
    if (v.kind === 'blocked') {
      this.verdict = v;
      this.changed();
      return;
    }
    for (const n of v.notices) this.notify(n);
    await this.enterRunning();
  }

  protected async enterRunning(): Promise<void> {
    this.phase = 'running';
    await this.switchStorage();
    this.changed();
  }

  /** Uses the provider when it is active (HOST-API §5), else the host's own local file. */
  protected async switchStorage(): Promise<void> {
    if (this.phase !== 'running') return; // no practice data before the guards passed (or when one failed)
    const provider = this.plugin?.storageProviders[0];
    if (provider?.isActive()) {
      const store = await provider.open();
      if (store !== this.store) {
        this.store = store;
        this.subs.push(store.changes$.subscribe(() => void this.refreshClients()));
        this.subs.push(
          store.conflicts$.subscribe((list) => {
            this.conflicts = list.filter((c) => c.collection === 'clients');
            void this.refreshClients();
          }),
        );
      }
    } else {
      this.store = undefined;
      this.conflicts = [];
    }
    await this.refreshClients();
  }

  protected async refreshClients(): Promise<void> {
    if (this.phase !== 'running') {
      this.clients = [];
      this.changed();
      return;
    }
    if (this.store) {
      try {
        this.clients = [...(await this.store.list('clients'))];
      } catch {
        this.store = undefined;
      }
    }
    if (!this.store)
      this.clients = Object.entries(this.local.read()).map(([id, data]) => ({ collection: 'clients', id, version: '', data, updatedAt: '', updatedBy: this.opts.deviceName, conflict: false }));
    this.changed();
  }

  // ---- the settings page ----------------------------------------------------------------------

  openSettings(): void {
    if (this.settings || !this.plugin?.settingsPages[0] || this.phase === 'failed' || this.phase === 'quit') return;
    this.settings = this.plugin.settingsPages[0].open();
    this.subs.push(this.settings.view$.subscribe((v) => ((this.settingsView = v), this.changed())));
  }

  closeSettings(): void {
    this.settings?.dispose();
    this.settings = undefined;
    this.settingsView = undefined;
    void this.switchStorage();
  }

  // ---- practice screen ------------------------------------------------------------------------

  /** Practice data are open only once the guards passed: never during the guard, after a failed plugin, or after quit. */
  protected get noPracticeData(): { ok: false; message: LocalizedText } | undefined {
    return this.phase === 'running' ? undefined : { ok: false, message: { de: 'Es sind keine Praxisdaten geöffnet.', en: 'No practice data are open.' } };
  }

  async saveClient(id: string | undefined, data: JsonObject, baseVersion?: string): Promise<{ ok: boolean; message?: LocalizedText }> {
    if (this.noPracticeData) return this.noPracticeData;
    const clientId = id || `k${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
    try {
      if (this.store) await this.store.put('clients', clientId, data, baseVersion ? { baseVersion } : undefined);
      else {
        const all = this.local.read();
        all[clientId] = data;
        this.local.write(all);
      }
      await this.refreshClients();
      return { ok: true };
    } catch (e) {
      const text = (e as { text?: LocalizedText }).text;
      return { ok: false, message: text ?? { de: (e as Error).message, en: (e as Error).message } };
    }
  }

  /** The conflict dialog's choice: the chosen version's content becomes the record (HOST-API §5 resolveConflict). */
  async resolveClient(id: string, version: string): Promise<{ ok: boolean; message?: LocalizedText }> {
    if (this.noPracticeData) return this.noPracticeData;
    const conflict = this.conflicts.find((c) => c.id === id);
    const chosen = conflict?.versions.find((v) => v.version === version);
    if (!this.store || !chosen)
      return { ok: false, message: { de: 'Dieser Konflikt ist bereits gelöst (vielleicht an einem anderen PC).', en: 'This conflict is already resolved (perhaps on another PC).' } };
    try {
      await this.store.resolveConflict('clients', id, chosen.data);
      await this.refreshClients();
      const name = (chosen.data && recordLabels.title('clients', chosen.data)) ?? id;
      return { ok: true, message: { de: `Konflikt gelöst: Für ${name} gilt jetzt die Fassung von ${chosen.updatedBy}.`, en: `Conflict resolved: ${name} now holds the version by ${chosen.updatedBy}.` } };
    } catch (e) {
      return { ok: false, message: (e as { text?: LocalizedText }).text ?? { de: (e as Error).message, en: (e as Error).message } };
    }
  }

  /** Every version of a client, oldest first (HOST-API §5 history); the host's own file keeps only the current one. */
  async clientHistory(id: string): Promise<{ ok: boolean; entries?: readonly StoredRecord[]; message?: LocalizedText }> {
    if (this.noPracticeData) return this.noPracticeData;
    try {
      if (this.store) return { ok: true, entries: await this.store.history('clients', id) };
      const data = this.local.read()[id];
      return { ok: true, entries: data ? [{ collection: 'clients', id, version: '', data, updatedAt: '', updatedBy: this.opts.deviceName, conflict: false }] : [] };
    } catch (e) {
      return { ok: false, message: (e as { text?: LocalizedText }).text ?? { de: (e as Error).message, en: (e as Error).message } };
    }
  }

  async deleteClient(id: string): Promise<{ ok: boolean; message?: LocalizedText }> {
    if (this.noPracticeData) return this.noPracticeData;
    try {
      if (this.store) await this.store.remove('clients', id);
      else {
        const all = this.local.read();
        delete all[id];
        this.local.write(all);
      }
      await this.refreshClients();
      return { ok: true };
    } catch (e) {
      return { ok: false, message: (e as { text?: LocalizedText }).text ?? { de: String(e), en: String(e) } };
    }
  }

  // ---- state for the page -----------------------------------------------------------------------

  protected snapshot(): object {
    return {
      device: this.opts.deviceName,
      flagOn: this.opts.flagOn,
      pluginLoaded: !!this.plugin,
      settingsPages: (this.plugin?.settingsPages ?? []).map((p) => ({ id: p.id, title: p.title, group: p.group })),
      phase: this.phase,
      verdict: this.verdict,
      failure: this.failure,
      notices: this.notices,
      prompts: [...this.prompts.values()].map((p) => p.prompt),
      settings: this.settingsView,
      access: this.access,
      sync: this.sync,
      storage: this.phase !== 'running' ? 'none' : this.store ? 'cloud' : 'local',
      clients: this.clients,
      conflicts: this.conflicts,
      labels: { clients: { collection: recordLabels.collectionLabel('clients'), fields: CLIENT_FIELDS } },
    };
  }

  protected changed(): void {
    if (this.broadcastTimer) return;
    this.broadcastTimer = setTimeout(() => {
      this.broadcastTimer = undefined;
      const data = `data: ${JSON.stringify(this.snapshot())}\n\n`;
      for (const res of this.clientsSse) res.write(data);
    }, 20);
  }

  // ---- HTTP: loopback only, every request carries the per-run token ------------------------------

  protected async listen(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port, '127.0.0.1', () => resolve());
    });
  }

  protected allowed(req: http.IncomingMessage, url: URL): boolean {
    const port = (this.server!.address() as { port: number }).port;
    const hostOk = req.headers.host === `127.0.0.1:${port}` || req.headers.host === `localhost:${port}`;
    const token = url.searchParams.get('t') ?? req.headers['x-dev-host-token'];
    const given = Buffer.from(String(token ?? ''));
    const want = Buffer.from(this.token);
    return hostOk && given.length === want.length && crypto.timingSafeEqual(given, want);
  }

  protected async body(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    let raw = '';
    for await (const chunk of req) {
      raw += chunk;
      if (raw.length > 1 << 20) throw new Error('too large');
    }
    return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!this.allowed(req, url)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: open the URL the dev host printed');
      return;
    }
    const json = (v: unknown, status = 200): void => void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(v ?? null));
    try {
      if (req.method === 'GET' && url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" });
        res.end(fs.readFileSync(path.join(__dirname, 'page.html'), 'utf8'));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/api/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        this.clientsSse.add(res);
        res.write(`data: ${JSON.stringify(this.snapshot())}\n\n`);
        req.on('close', () => this.clientsSse.delete(res));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/api/folders') return json(this.listFolders(url.searchParams.get('path') ?? this.opts.sharedDefault));
      if (req.method !== 'POST') return json({ error: 'not found' }, 404);
      const b = await this.body(req);
      switch (url.pathname) {
        case '/api/verdict':
          await this.actOnVerdict(String(b.actionId));
          return json({ ok: true });
        case '/api/prompt': {
          const p = this.prompts.get(String(b.id));
          if (!p) return json({ error: 'no such prompt' }, 404);
          this.prompts.delete(String(b.id));
          p.resolve(b.cancel ? undefined : b.value);
          this.changed();
          return json({ ok: true });
        }
        case '/api/settings/open':
          this.openSettings();
          return json({ ok: true });
        case '/api/settings/close':
          this.closeSettings();
          return json({ ok: true });
        case '/api/settings/value':
          this.settings?.setValue(String(b.fieldId), String(b.value));
          return json({ ok: true });
        case '/api/settings/invoke': {
          const out = this.settings ? await this.settings.invoke(String(b.actionId)) : { ok: false };
          await this.switchStorage();
          return json(out);
        }
        case '/api/clients/save':
          return json(await this.saveClient(b.id ? String(b.id) : undefined, clientData(b), b.baseVersion ? String(b.baseVersion) : undefined));
        case '/api/clients/resolve':
          return json(await this.resolveClient(String(b.id), String(b.version)));
        case '/api/clients/history':
          return json(await this.clientHistory(String(b.id)));
        case '/api/clients/delete':
          return json(await this.deleteClient(String(b.id)));
        case '/api/notices/clear':
          this.notices = [];
          this.changed();
          return json({ ok: true });
        case '/api/notices/dismiss':
          this.dismiss(String(b.key));
          return json({ ok: true });
        default:
          return json({ error: 'not found' }, 404);
      }
    } catch (e) {
      json({ error: (e as Error).message }, 500);
    }
  }

  /** The folder picker's server side: sub-folders of a path (the page is a text prompt with a list). */
  protected listFolders(p: string): { path: string; parent: string; folders: string[] } {
    const abs = path.resolve(p);
    let folders: string[] = [];
    try {
      folders = fs
        .readdirSync(abs, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map((d) => d.name)
        .sort();
    } catch {
      folders = [];
    }
    return { path: abs, parent: path.dirname(abs), folders };
  }

  async stop(): Promise<void> {
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.settings?.dispose();
    for (const p of this.prompts.values()) p.resolve(undefined);
    for (const r of this.clientsSse) r.end();
    if (this.broadcastTimer) clearTimeout(this.broadcastTimer);
    await this.plugin?.unload();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
