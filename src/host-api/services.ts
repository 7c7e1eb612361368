// Host API 1.1, §2 and §6: services the host binds and the plugin injects. A faithful copy of HOST-API.md.

export type Tone = 'ok' | 'info' | 'warning' | 'error' | 'busy';
export type LocalizedText = { readonly de: string; readonly en: string };

export const HostEnvironment = Symbol.for('host.HostEnvironment');
export interface HostEnvironment {
  readonly apiVersion: string;
  readonly appDataDir: string;
  readonly deviceName: string;
  readonly userName: string;
  readonly locale: 'de' | 'en';
  readonly platform: NodeJS.Platform;
}

export const FeatureFlags = Symbol.for('host.FeatureFlags');
export interface FeatureFlags {
  isEnabled(flag: string): boolean;
}

export const HostDialogs = Symbol.for('host.HostDialogs');
export interface HostDialogs {
  pickFolder(req: { title: LocalizedText; defaultPath?: string }): Promise<string | undefined>;
  promptCredentials(req: { title: LocalizedText; message: LocalizedText; username?: string }): Promise<{ username: string; password: string } | undefined>;
  promptSecret(req: { title: LocalizedText; message: LocalizedText; confirm: boolean }): Promise<string | undefined>;
  /** 1.1: same id = replaces the notice (a 1.0 host ignores the id). */
  notify(n: { id?: string; tone: Tone; text: LocalizedText }): void;
  /** 1.1, optional: the notice is no longer true. Check `typeof dialogs.withdraw === 'function'` before calling. */
  withdraw?(id: string): void;
}

export const HostLocalData = Symbol.for('host.HostLocalData');
export interface HostLocalData {
  /** The practice data the host holds in its built-in local storage (nothing when it has none). */
  count(): Promise<number>;
  records(): AsyncIterable<import('./storage').ImportRecord>;
}

export const HostLogger = Symbol.for('host.HostLogger');
export interface HostLogger {
  debug(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

// §6 (1.1, optional for the host; the plugin checks `container.isBound(HostRecordLabels)` / injects it optionally).
// The host knows what its records are; the plugin does not. With this bound, the plugin names
// records in conflicts, notices and reports the way the practice knows them ("Anna Beispiel").
export const HostRecordLabels = Symbol.for('host.HostRecordLabels');
export interface HostRecordLabels {
  collectionLabel(collection: string): LocalizedText | undefined; // 'clients' -> Klienten
  title(collection: string, data: import('./storage').JsonObject): string | undefined; // -> 'Anna Beispiel'
  fieldLabel(collection: string, field: string): LocalizedText | undefined; // 'phone' -> Telefon
}
