// The plugin's state in one place: configuration, access to the shared folder, the store key,
// and the open store with its exchange. The contributions are thin views onto this service.
import * as path from 'node:path';
import { inject, injectable, optional, postConstruct } from 'inversify';
import { BehaviorSubject, type Observable, type Subscription } from 'rxjs';
import {
  HostDialogs,
  HostEnvironment,
  HostLogger,
  type AccessStatus,
  type LocalizedText,
  type PracticeStore,
  type SyncStatus,
} from '../host-api';
import { StorageError } from '../host-api/storage';
import { storageError } from './common/errors';
import { exists } from './common/durable-fs';
import { localTime } from './common/local-time';
import { FolderClassifier } from './access/folder-classifier';
import { SharedFolderProbe, type ProbeResult } from './access/shared-folder-probe';
import { ShareConnector } from './access/share-connector';
import { CloudConfigStore, pluginDataDir, type CloudConfig, type ConfigReading } from './config/cloud-config';
import { Accounts, CredentialStore } from './credentials/credential-store';
import type { StoreHeader } from './crypto/store-crypto';
import { Keyring, keyringFromPassphrase, type KeyState, type NamedKeyFile } from './crypto/keyring';
import { DeviceIdentity } from './identity/device-identity';
import { PracticeReplica } from './store/practice-replica';
import { ReplicaFolder } from './store/replica-folder';
import { SharedFolderExchange } from './store/shared-folder-exchange';

/** Timings the host never needs to change; tests shorten them. */
export const CloudStorageTimings = Symbol.for('cloud-storage.Timings');
export interface CloudStorageTimings {
  readonly probeTimeoutMs: number;
  readonly monitorMs: number;
  readonly pollMs: number;
  readonly heartbeatMs: number;
}
export const DEFAULT_TIMINGS: CloudStorageTimings = { probeTimeoutMs: 5000, monitorMs: 4000, pollMs: 2000, heartbeatMs: 15000 };

const LOCAL_ONLY: SyncStatus = { state: 'local-only', pendingUploads: 0, awaited: 0, conflicts: 0, devices: [] };

export type KeyOutcome = { kind: 'ok'; keyring: Keyring } | { kind: 'cancelled' };

/** "on Praxis-PC 2 on 28.11.26, 09:14" — who replaced the passphrase, for the prompts. */
export function replacedBy(by: { name: string; at: string } | undefined, locale: 'de' | 'en'): string {
  if (!by) return '';
  const at = localTime(by.at, locale);
  return locale === 'de' ? ` (auf ${by.name} am ${at})` : ` (on ${by.name}, ${at})`;
}

@injectable()
export class CloudStorageService {
  protected readonly access = new BehaviorSubject<AccessStatus>({ state: 'checking', since: new Date().toISOString() });
  protected readonly sync = new BehaviorSubject<SyncStatus>(LOCAL_ONLY);
  readonly access$: Observable<AccessStatus> = this.access.asObservable();
  readonly sync$: Observable<SyncStatus> = this.sync.asObservable();
  /** The open store's key state (undefined while none is open): the settings page re-renders on it. */
  protected readonly keys = new BehaviorSubject<KeyState | undefined>(undefined);
  readonly keyState$: Observable<KeyState | undefined> = this.keys.asObservable();
  protected store?: PracticeReplica;
  protected exchange?: SharedFolderExchange;
  protected activeConfig?: CloudConfig;
  protected subs: Subscription[] = [];
  protected monitor?: NodeJS.Timeout;
  protected monitoring?: Promise<void>;
  protected disposed = false;
  protected readonly timings: CloudStorageTimings;

  constructor(
    @inject(HostEnvironment) readonly env: HostEnvironment,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
    @inject(HostLogger) protected readonly logger: HostLogger,
    @inject(CloudConfigStore) readonly configStore: CloudConfigStore,
    @inject(CredentialStore) readonly credentials: CredentialStore,
    @inject(DeviceIdentity) protected readonly identity: DeviceIdentity,
    @inject(SharedFolderProbe) protected readonly prober: SharedFolderProbe,
    @inject(FolderClassifier) readonly classifier: FolderClassifier,
    @inject(ShareConnector) protected readonly connector: ShareConnector,
    @inject(CloudStorageTimings) @optional() timings?: CloudStorageTimings,
  ) {
    this.timings = timings ?? DEFAULT_TIMINGS;
  }

  /** Access starts as `checking`; without a configuration it is `not-configured` at once, guard or not. */
  @postConstruct()
  protected init(): void {
    void this.configStore.read().then((r) => {
      if (r.kind === 'none' && this.access.value.state === 'checking') this.setAccess('not-configured');
    });
  }

  get accessStatus(): AccessStatus {
    return this.access.value;
  }

  get syncStatus(): SyncStatus {
    return this.sync.value;
  }

  get isActive(): boolean {
    return this.store !== undefined && !this.store.isClosed;
  }

  get config(): CloudConfig | undefined {
    return this.activeConfig;
  }

  get openStore(): PracticeReplica | undefined {
    return this.store;
  }

  get openExchange(): SharedFolderExchange | undefined {
    return this.exchange;
  }

  setAccess(state: AccessStatus['state'], folder?: string, detail?: LocalizedText): void {
    if (this.disposed) return;
    const cur = this.access.value;
    if (cur.state === state && cur.folder === folder && JSON.stringify(cur.detail) === JSON.stringify(detail)) return;
    this.access.next({ state, folder, since: new Date().toISOString(), ...(detail ? { detail } : {}) });
  }

  async readConfig(): Promise<ConfigReading> {
    const r = await this.configStore.read();
    if (r.kind === 'none') this.setAccess('not-configured');
    return r;
  }

  isNetworkShare(folder: string): boolean {
    return this.classifier.classify(folder).kind === 'network';
  }

  async probe(folder: string, expectStoreId?: string): Promise<ProbeResult> {
    return this.prober.probe(folder, { expectStoreId, timeoutMs: this.timings.probeTimeoutMs, networkShare: this.isNetworkShare(folder) });
  }

  /** Reconnects a share with stored credentials, silently. True when it connected. */
  async reconnectWithStored(folder: string): Promise<boolean> {
    const share = this.classifier.shareOf(folder);
    if (!share) return false;
    const raw = await this.credentials.get(Accounts.share(share.uncRoot)).catch(() => undefined);
    if (!raw) return false;
    try {
      const cred = JSON.parse(raw) as { username: string; password: string };
      return (await this.connector.connect(share, cred)).ok;
    } catch {
      return false;
    }
  }

  /** Asks for credentials until the share connects or the user cancels; stores them once they work. */
  async connectInteractively(folder: string): Promise<{ ok: true } | { ok: false; text?: LocalizedText }> {
    const share = this.classifier.shareOf(folder);
    if (!share) return { ok: false };
    let message: LocalizedText = {
      de: `Für ${share.uncRoot} ist eine Anmeldung nötig. Die Angaben werden im Schlüsselbund des Betriebssystems gespeichert.`,
      en: `${share.uncRoot} needs a login. It is kept in the operating system's keychain.`,
    };
    let username: string | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cred = await this.dialogs.promptCredentials({ title: { de: 'Anmeldung an der Netzwerkfreigabe', en: 'Log in to the network share' }, message, username });
      if (!cred) return { ok: false };
      username = cred.username;
      const r = await this.connector.connect(share, cred);
      if (r.ok) {
        await this.credentials.set(Accounts.share(share.uncRoot), JSON.stringify(cred));
        return { ok: true };
      }
      if (r.reason !== 'bad-credentials') return { ok: false, text: r.text };
      message = { de: `${r.text.de} Bitte erneut eingeben.`, en: `${r.text.en} Please enter them again.` };
    }
    return { ok: false };
  }

  /** The key files of a store in these folders (the shared folder, the local replica), unreadable ones left out. */
  async keyFilesIn(storeId: string, roots: readonly string[]): Promise<NamedKeyFile[]> {
    const byHash = new Map<string, NamedKeyFile>();
    for (const root of roots) {
      const files = await ReplicaFolder.keyFilesAt(root, storeId).catch(() => []);
      for (const f of files) byHash.set(f.hash, f);
    }
    return [...byHash.values()];
  }

  /** Keeps every key of the store in the OS keychain (and nowhere else). */
  async keepKeys(keyring: Keyring): Promise<void> {
    await this.credentials.set(Accounts.storeKey(keyring.storeId), keyring.serialize());
  }

  /**
   * The store's keys: from the keychain, or by asking for the passphrase (again after a wrong one,
   * or one that was replaced). `roots` are the folders whose key files a typed passphrase may open.
   */
  async storeKey(header: StoreHeader, interactive: boolean, roots: readonly string[] = []): Promise<KeyOutcome> {
    const stored = await this.credentials.get(Accounts.storeKey(header.storeId));
    if (stored) {
      const keyring = Keyring.restore(header, stored);
      if (keyring) return { kind: 'ok', keyring };
    }
    if (!interactive) return { kind: 'cancelled' };
    let message: LocalizedText = {
      de: 'Bitte geben Sie das Praxis-Passwort für die gemeinsamen Daten ein. Es wird nur einmal pro PC gebraucht.',
      en: 'Please enter the practice passphrase of the shared data. Each PC needs it only once.',
    };
    for (;;) {
      const pass = await this.dialogs.promptSecret({ title: { de: 'Praxis-Passwort', en: 'Practice passphrase' }, message, confirm: false });
      if (pass === undefined) return { kind: 'cancelled' };
      const r = await keyringFromPassphrase(header, await this.keyFilesIn(header.storeId, roots), pass);
      if (r.kind === 'ok') {
        await this.keepKeys(r.keyring);
        return { kind: 'ok', keyring: r.keyring };
      }
      message = r.kind === 'retired' ? retiredText(r.by) : wrongText();
    }
  }

  /**
   * A passphrase set on another PC, typed here: asked until it opens a key this device lacks, or the
   * person cancels. Needed when this device holds an older generation only (it is behind), or when two
   * PCs changed the passphrase at the same time (some files are under the other one). True when learned.
   */
  async enterPassphrase(): Promise<boolean> {
    const store = this.store;
    if (!store || store.isClosed) return false;
    const behind = !store.keyState.upToDate;
    let message: LocalizedText = behind
      ? {
          de: `Das Praxis-Passwort wurde auf einem anderen PC geändert${replacedBy(store.keyState.currentBy, 'de')}. Bitte geben Sie das neue Passwort einmal ein; bis dahin sind Änderungen, die danach gespeichert wurden, hier nicht lesbar. Ihre eigenen Änderungen gehen nicht verloren.`,
          en: `The practice passphrase was changed on another PC${replacedBy(store.keyState.currentBy, 'en')}. Please enter the new passphrase once; until then, changes saved since are not readable here. Your own changes are not lost.`,
        }
      : {
          de: 'Zwei PCs haben das Praxis-Passwort gleichzeitig geändert. Bitte geben Sie das Passwort ein, das auf dem anderen PC gesetzt wurde; danach gilt auf allen PCs dasselbe.',
          en: 'Two PCs changed the practice passphrase at the same time. Please enter the passphrase set on the other PC; afterwards all PCs use the same one.',
        };
    for (;;) {
      const pass = await this.dialogs.promptSecret({ title: { de: 'Neues Praxis-Passwort', en: 'New practice passphrase' }, message, confirm: false });
      if (pass === undefined) return false;
      const files = await this.keyFilesIn(store.header.storeId, [store.local.root, ...(this.activeConfig ? [this.activeConfig.folder] : [])]);
      const r = await keyringFromPassphrase(store.header, files, pass, store.keyring);
      if (r.kind === 'ok' && r.keyring.size > store.keyring.size) {
        for (const id of r.keyring.ids) store.keyring.add(id, r.keyring.get(id)!);
        await this.keepKeys(store.keyring);
        await store.refreshKeys();
        this.exchange?.keysChanged();
        return true;
      }
      message =
        r.kind === 'retired'
          ? retiredText(r.by)
          : r.kind === 'ok'
            ? { de: 'Dieses Passwort kennt dieser PC bereits. Bitte geben Sie das auf dem anderen PC gesetzte Passwort ein.', en: 'This PC already knows that passphrase. Please enter the passphrase set on the other PC.' }
            : wrongText();
    }
  }

  localReplicaRoot(storeId: string): string {
    return path.join(pluginDataDir(this.env), 'replicas', storeId);
  }

  async hasLocalReplica(storeId: string): Promise<boolean> {
    return exists(path.join(this.localReplicaRoot(storeId), 'practice-store.json'));
  }

  /** The header from the shared folder, or from the local replica when the folder is away. */
  async headerFor(config: CloudConfig, fromShared: boolean): Promise<StoreHeader | undefined> {
    const roots = fromShared ? [config.folder, this.localReplicaRoot(config.storeId)] : [this.localReplicaRoot(config.storeId)];
    for (const root of roots) {
      const r = await ReplicaFolder.readHeader(root).catch(() => undefined);
      if (r?.kind === 'ok' && r.header.storeId === config.storeId) return r.header;
    }
    return undefined;
  }

  /** Opens the local replica and starts exchanging with the shared folder. */
  /** Opens this device's local replica of a store, without exchanging with any shared folder. */
  async openLocal(storeId: string, header: StoreHeader, key: Keyring): Promise<PracticeReplica> {
    const id = await this.identity.get();
    return PracticeReplica.open({
      formerDeviceIds: id.replaces,
      localRoot: this.localReplicaRoot(storeId),
      header,
      key,
      deviceId: id.deviceId,
      deviceName: this.env.deviceName,
      userName: this.env.userName,
      logger: this.logger,
    });
  }

  /** Starts working on a store: its local replica (opened here unless given) and the exchange with the folder. */
  async activate(config: CloudConfig, header: StoreHeader, key: Keyring, opened?: PracticeReplica): Promise<PracticeReplica> {
    if (this.store && !this.store.isClosed && this.activeConfig?.storeId === config.storeId) return this.store;
    await this.deactivate();
    const store = opened ?? (await this.openLocal(config.storeId, header, key));
    const exchange = new SharedFolderExchange(store, {
      sharedRoot: config.folder,
      deviceName: this.env.deviceName,
      userName: this.env.userName,
      logger: this.logger,
      pollMs: this.timings.pollMs,
      heartbeatMs: this.timings.heartbeatMs,
    });
    this.store = store;
    this.exchange = exchange;
    this.activeConfig = config;
    store.onKeysLearned = (kr) => this.keepKeys(kr);
    let told = '';
    this.subs.push(
      store.keyState$.subscribe((k) => {
        this.keys.next(k);
        if (k.upToDate || told === k.current) return;
        told = k.current; // once per new passphrase, not on every exchange
        this.dialogs.notify({
          tone: 'warning',
          text: {
            de: `Das Praxis-Passwort wurde auf einem anderen PC geändert${replacedBy(k.currentBy, 'de')}. Bitte geben Sie es unter „Gruppenpraxis & Cloudspeicher“ → „Neues Praxis-Passwort eingeben“ ein, damit dieser PC die neuen Änderungen lesen kann.`,
            en: `The practice passphrase was changed on another PC${replacedBy(k.currentBy, 'en')}. Please enter it under "Group practice & cloud storage" → "Enter new practice passphrase" so this PC can read the new changes.`,
          },
        });
      }),
    );
    this.subs.push(exchange.sync$.subscribe((s) => this.sync.next(s)));
    this.subs.push(
      exchange.health$.subscribe((h) => {
        if (h === 'ok') this.setAccess('available', config.folder);
        else if (h === 'unreachable') this.setAccess('unavailable', config.folder, { de: 'Der gemeinsame Ordner ist nicht erreichbar; Änderungen warten auf diesem PC.', en: 'The shared folder is unreachable; changes wait on this PC.' });
        else if (h === 'wrong-folder') this.setAccess('wrong-folder', config.folder);
      }),
    );
    await exchange.exchange();
    exchange.start();
    this.startMonitor(config);
    return store;
  }

  /** Keeps access$ current while the host runs: a pulled medium turns it `unavailable` within 10 s. */
  protected startMonitor(config: CloudConfig): void {
    this.stopMonitor();
    const tick = async () => {
      const r = await this.probe(config.folder, config.storeId);
      if (this.disposed || this.activeConfig !== config) return;
      this.setAccess(r.state, config.folder, r.state === 'available' ? undefined : r.detail);
      if (r.state === 'available') this.exchange?.trigger();
    };
    // One probe at a time: a slow folder never piles up child processes.
    const run = () => {
      if (!this.monitoring) this.monitoring = tick().finally(() => (this.monitoring = undefined));
    };
    run();
    this.monitor = setInterval(run, this.timings.monitorMs);
    this.monitor.unref?.();
  }

  protected stopMonitor(): void {
    if (this.monitor) clearInterval(this.monitor);
    this.monitor = undefined;
  }

  async open(): Promise<PracticeStore> {
    if (!this.store || this.store.isClosed)
      throw storageError('not-configured', {
        de: 'Der Cloudspeicher ist auf diesem PC nicht eingerichtet oder nicht freigegeben. Bitte richten Sie ihn unter „Gruppenpraxis & Cloudspeicher“ ein.',
        en: 'Cloud storage is not set up or not unlocked on this PC. Set it up under "Group practice & cloud storage".',
      });
    return this.store;
  }

  async deactivate(): Promise<void> {
    this.stopMonitor();
    await this.monitoring?.catch(() => undefined);
    for (const s of this.subs.splice(0)) s.unsubscribe();
    const store = this.store;
    this.store = undefined;
    this.exchange = undefined;
    this.activeConfig = undefined;
    this.keys.next(undefined);
    if (store) await store.close().catch((e) => this.logger.warn('cloud-storage: closing the store failed', { code: StorageError.is(e) ? e.code : 'unknown' }));
    if (!this.disposed) this.sync.next(LOCAL_ONLY);
  }

  /**
   * Forgets this device's cloud configuration and its secrets. Never touches the shared folder,
   * and keeps the local replica (with any unpushed changes) on disk for a later re-join.
   */
  async forget(): Promise<void> {
    const r = await this.configStore.read();
    await this.deactivate();
    await this.configStore.remove();
    if (r.kind === 'ok') {
      await this.credentials.delete(Accounts.storeKey(r.config.storeId)).catch(() => false);
      const share = this.classifier.shareOf(r.config.folder);
      if (share) await this.credentials.delete(Accounts.share(share.uncRoot)).catch(() => false);
    }
    this.setAccess('not-configured');
  }

  async dispose(): Promise<void> {
    await this.deactivate();
    this.disposed = true;
    this.access.complete();
    this.sync.complete();
  }
}

function wrongText(): LocalizedText {
  return {
    de: 'Das Praxis-Passwort stimmt nicht. Bitte erneut eingeben (Groß-/Kleinschreibung beachten).',
    en: 'The practice passphrase is wrong. Please enter it again (it is case-sensitive).',
  };
}

function retiredText(by: { name: string; at: string } | undefined): LocalizedText {
  return {
    de: `Dieses Praxis-Passwort wurde durch ein neues ersetzt${replacedBy(by, 'de')} und öffnet die Daten nicht mehr. Bitte geben Sie das aktuelle Passwort ein.`,
    en: `This practice passphrase was replaced by a new one${replacedBy(by, 'en')} and no longer opens the data. Please enter the current passphrase.`,
  };
}
