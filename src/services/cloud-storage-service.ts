// The plugin's running state: access to the shared location, the open store (its replica and
// carrier, owned by OpenPracticeStore) and the status streams the host sees. Setting a store up,
// joining, reopening and removing it is StoreSetup's; the contributions are thin views onto both.
import * as path from 'node:path';
import { inject, injectable, optional, postConstruct } from 'inversify';
import { BehaviorSubject, type Observable } from 'rxjs';
import { HostDialogs, HostEnvironment, HostLogger, type AccessStatus, type LocalizedText, type PracticeStore, type SyncStatus } from '../host-api';
import { StorageError } from '../host-api/storage';
import { DisposableCollection, completing } from './common/disposable';
import { Notices, NoticeIds } from './common/notices';
import { storageError } from './common/errors';
import { exists } from './common/durable-fs';
import { tightenTree } from './common/private-fs';
import { FolderClassifier } from './access/folder-classifier';
import { SharedFolderProbe, type ProbeResult } from './access/shared-folder-probe';
import { CloudConfigStore, pluginDataDir, type CloudConfig, type ConfigReading } from './config/cloud-config';
import type { Keyring, KeyState } from './crypto/keyring';
import { StoreKeys, replacedBy } from './crypto/store-keys';
import { DeviceIdentity } from './identity/device-identity';
import { Paths, type StoreHeader } from './store/format';
import { OpenPracticeStore } from './store/open-practice-store';
import { PracticeReplica } from './store/practice-replica';
import type { Carrier, CarrierHealth, MovedTo, TooLargeFile } from './store/replica-port';
import { SharedFolderExchange } from './store/shared-folder-exchange';
import type { Medium } from './store/medium';
import { ServerAccess } from './remote/server-access';

/** Timings the host never needs to change; tests shorten them. */
export const CloudStorageTimings = Symbol.for('cloud-storage.Timings');
export interface CloudStorageTimings {
  readonly probeTimeoutMs: number;
  readonly monitorMs: number;
  readonly pollMs: number;
  readonly heartbeatMs: number;
  /** The full check of the shared folder (default 60 s). */
  readonly auditMs?: number;
  /** How long a file may be missing or damaged in the shared folder before this PC writes it again (default 2 min). */
  readonly repairGraceMs?: number;
  /** A server's time limit per request (default 15 s: http.ts, s3-medium.ts). */
  readonly serverTimeoutMs?: number;
  /** Format 2 (STORE-FORMAT.md "Packs"): own log files per pack (default 500, PACK_MIN_FILES). */
  readonly packMinFiles?: number;
  /** How long a pack lies in the shared location before what it holds is removed there (default 7 days). */
  readonly packMarginMs?: number;
  /** A PC not seen for this long is not waited for (default 60 days). */
  readonly knownForMs?: number;
}
export const DEFAULT_TIMINGS: CloudStorageTimings = { probeTimeoutMs: 5000, monitorMs: 4000, pollMs: 2000, heartbeatMs: 15000 };

/** What a person reads when the store was taken out of the shared folder. */
export const EMPTIED: LocalizedText = {
  de: 'Die Praxisdaten sind aus dem gemeinsamen Ordner verschwunden (der Ordner ist leer). Dieser PC hat sie noch und kann sie dorthin zurückschreiben; ist nur der falsche Ordner oder USB-Stick verbunden, wählen Sie den richtigen.',
  en: 'The practice data have disappeared from the shared folder (it is empty). This PC still has them and can write them back there; if only the wrong folder or USB drive is connected, choose the right one.',
};

/** What a person reads when the shared folder's header differs from this PC's copy of it. */
export const HEADER_ALTERED: LocalizedText = {
  de: 'Die Datei practice-store.json im gemeinsamen Ordner wurde verändert: Sie stimmt nicht mehr mit der Kopie überein, die dieser PC beim Einrichten gespeichert hat. Dieser PC arbeitet mit seiner eigenen, geprüften Kopie weiter; aus der veränderten Datei wird nichts übernommen, und sie wird nicht überschrieben. Solange nicht geklärt ist, wer sie geändert hat, sollte kein neuer PC diesem Ordner beitreten – bitte wenden Sie sich an den Support.',
  en: "The file practice-store.json in the shared folder was changed: it no longer matches the copy this PC kept when it was set up. This PC keeps working with its own, checked copy; nothing is taken from the changed file, and it is not overwritten. Until it is clear who changed it, no new PC should join this folder — please contact support.",
};

/** What a person reads when a running PC's server login stopped working. */
export const LOGIN_REFUSED: LocalizedText = {
  de: 'Der Server lehnt die gespeicherte Anmeldung ab (Passwort geändert, App-Passwort oder Schlüssel widerrufen?). Änderungen warten auf diesem PC. Bitte unter „Gruppenpraxis & Cloudspeicher“ „Am Server anmelden …“ wählen.',
  en: 'The server refuses the stored login (password changed, app password or key revoked?). Changes wait on this PC. Please choose "Log in to the server …" under "Group practice & cloud storage".',
};

/** What a person reads when the shared location takes no more files. */
export const SHARED_FULL: LocalizedText = {
  de: 'Am gemeinsamen Speicherort ist kein Platz mehr: Der Datenträger oder Speicherplatz ist voll, oder ein Ordner auf einem USB-Stick mit FAT32 hat die Höchstzahl an Dateien erreicht. Die Änderungen dieses PCs bleiben auf diesem PC gespeichert und werden übertragen, sobald wieder Platz ist; Änderungen der anderen PCs kommen weiter an. Bitte schaffen Sie dort Platz (oder nehmen Sie einen größeren bzw. mit exFAT formatierten Stick und ziehen Sie die Praxisdaten um).',
  en: 'The shared location has no more room: its disk or storage is full, or a folder on a FAT32 USB drive reached its file limit. This PC’s changes stay saved on this PC and are sent once there is room again; the other PCs’ changes keep arriving. Please free space there (or use a larger or exFAT-formatted drive and move the practice data to it).',
};

/** What a person reads when the store moved to another location and this PC has not followed yet. */
export function movedText(m: MovedTo): LocalizedText {
  const when = new Date(m.at);
  const de = Number.isNaN(when.getTime()) ? '' : ` am ${when.toLocaleDateString('de-DE')} um ${when.toLocaleTimeString('de-DE', { hour: '2-digit', minute: '2-digit' })} Uhr`;
  const en = Number.isNaN(when.getTime()) ? '' : ` on ${when.toLocaleDateString('en-GB')} at ${when.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}`;
  return {
    de: `Die Praxisdaten sind umgezogen: ${m.byName} hat sie${de} nach „${m.to}“ gebracht. Bitte wählen Sie unter „Gruppenpraxis & Cloudspeicher“ „Dem Umzug folgen“. Bis dahin bleiben die Änderungen dieses PCs auf diesem PC gespeichert und werden danach übertragen; es geht nichts verloren.`,
    en: `The practice data have moved: ${m.byName} took them to "${m.to}"${en}. Please choose "Follow the move" under "Group practice & cloud storage". Until then this PC's changes stay saved on this PC and are sent afterwards; nothing is lost.`,
  };
}

/**
 * How the carrier reaches a configured folder (default: the folder itself). A seam for the tests'
 * FAT32 stick (test/support/fat32-medium.ts), which enforces the stick's rules over a real folder; a
 * host has no reason to bind it.
 */
export const FolderMediumFactory = Symbol.for('cloud-storage.FolderMediumFactory');
export type FolderMediumFactory = (folder: string) => Medium;

const UNREACHABLE: LocalizedText = { de: 'Der gemeinsame Ordner ist nicht erreichbar; Änderungen warten auf diesem PC.', en: 'The shared folder is unreachable; changes wait on this PC.' };

/** What a person reads when the server refused a file as too large for its upload limit. */
export function tooLargeText(f: TooLargeFile | undefined): LocalizedText {
  const mb = f ? ` (${(f.bytes / 1048576).toLocaleString('de-DE', { maximumFractionDigits: 1 })} MB)` : '';
  const mbEn = f ? ` (${(f.bytes / 1048576).toLocaleString('en-GB', { maximumFractionDigits: 1 })} MB)` : '';
  const what = { de: f?.kind === 'attachment' ? 'einen Anhang' : f?.kind === 'log file' ? 'eine Datei mit Änderungen' : 'eine Datei', en: f?.kind === 'attachment' ? 'an attachment' : f?.kind === 'log file' ? 'a file of changes' : 'a file' };
  return {
    de: `Der Server nimmt ${what.de} dieses PCs nicht an, weil er zu groß ist für seine Upload-Grenze${mb}. Die Änderungen dieses PCs bleiben auf diesem PC gespeichert und warten; Änderungen der anderen PCs kommen weiter an. Ausweg: Lassen Sie die Upload-Grenze des Servers erhöhen (bei Nextcloud z. B. „client_max_body_size“ von nginx, „upload_max_filesize“ von PHP) oder ziehen Sie die Praxisdaten in einen Ordner oder auf einen anderen Server um.`,
    en: `The server does not take ${what.en} from this PC: it is too large for its upload limit${mbEn}. This PC's changes stay saved on this PC and wait; the other PCs' changes keep arriving. Way out: have the server's upload limit raised (for a Nextcloud e.g. nginx's "client_max_body_size", PHP's "upload_max_filesize"), or move the practice data to a folder or another server.`,
  };
}

/** What the carrier's own finding means for access$, in words; undefined while its first round runs (nothing known yet). */
export function accessOfHealth(h: CarrierHealth, c: { readonly movedTo?: MovedTo | undefined; readonly tooLarge?: TooLargeFile | undefined }): { state: AccessStatus['state']; detail?: LocalizedText } | undefined {
  const movedTo = c.movedTo;
  switch (h) {
    case 'starting':
      return undefined;
    case 'ok':
      return { state: 'available' };
    case 'unreachable':
      return { state: 'unavailable', detail: UNREACHABLE };
    case 'emptied':
      return { state: 'wrong-folder', detail: EMPTIED };
    case 'moved':
      return movedTo ? { state: 'wrong-folder', detail: movedText(movedTo) } : { state: 'wrong-folder' };
    case 'auth-required':
      return { state: 'auth-required', detail: LOGIN_REFUSED };
    case 'wrong-folder':
      return { state: 'wrong-folder' };
    case 'full':
      return { state: 'denied', detail: SHARED_FULL };
    case 'too-large':
      return { state: 'denied', detail: tooLargeText(c.tooLarge) };
  }
}

const LOCAL_ONLY: SyncStatus = { state: 'local-only', pendingUploads: 0, awaited: 0, conflicts: 0, devices: [] };

/**
 * Read-only facts for support tools and test instrumentation (Symbol.for, so a host or a test with
 * another copy of this module reaches it): never part of what the host needs.
 */
export const StoreDiagnostics = Symbol.for('cloud-storage.StoreDiagnostics');
export interface StoreDiagnostics {
  /** Which passphrase generation is current, and whether this device holds it (undefined: no store open). */
  readonly keyState: KeyState | undefined;
}

export interface ActivateOptions {
  /**
   * How long the first exchange with the shared location is awaited (ms; 0: not at all). Undefined:
   * until it ends (setting up, joining: what the person waits for). The startup guard gives a budget,
   * so that a server that answered the probe and then hangs never holds the start beyond HOST-API's 10 s.
   */
  readonly firstRoundMs?: number;
}

/** The store this device works on now: what the plugin itself may use. The host gets `store` only. */
export interface ActiveStore {
  readonly config: CloudConfig;
  readonly replica: PracticeReplica;
  readonly carrier: Carrier;
  readonly store: OpenPracticeStore;
}

/** How long activation waits for the key files of a generation the keychain names but the replica lacks (SharedFolderExchange.primeKeys). */
const PRIME_KEYS_MS = 5000;

@injectable()
export class CloudStorageService implements StoreDiagnostics {
  protected readonly access = new BehaviorSubject<AccessStatus>({ state: 'checking', since: new Date().toISOString() });
  protected readonly sync = new BehaviorSubject<SyncStatus>(LOCAL_ONLY);
  /** The open store's key state (undefined while none is open): the settings page re-renders on it. */
  protected readonly keys = new BehaviorSubject<KeyState | undefined>(undefined);
  readonly access$: Observable<AccessStatus> = this.access.asObservable();
  readonly sync$: Observable<SyncStatus> = this.sync.asObservable();
  readonly keyState$: Observable<KeyState | undefined> = this.keys.asObservable();
  protected readonly toDispose = new DisposableCollection();
  /** What ends with the active store (its subscriptions and monitor); renewed on every activation. */
  protected activeDisposables = new DisposableCollection();
  protected current?: ActiveStore;
  protected monitoring?: Promise<void>;
  protected readonly timings: CloudStorageTimings;
  /** Notices with stable ids, withdrawn when no longer true (HOST-API 1.1; a 1.0 host as before). */
  readonly notices: Notices;

  constructor(
    @inject(HostEnvironment) readonly env: HostEnvironment,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
    @inject(HostLogger) protected readonly logger: HostLogger,
    @inject(CloudConfigStore) readonly configStore: CloudConfigStore,
    @inject(StoreKeys) protected readonly storeKeys: StoreKeys,
    @inject(DeviceIdentity) protected readonly identity: DeviceIdentity,
    @inject(SharedFolderProbe) protected readonly prober: SharedFolderProbe,
    @inject(FolderClassifier) readonly classifier: FolderClassifier,
    @inject(CloudStorageTimings) @optional() timings?: CloudStorageTimings,
    @inject(Notices) @optional() notices?: Notices,
    @inject(ServerAccess) @optional() readonly servers?: ServerAccess,
    @inject(FolderMediumFactory) @optional() protected readonly folderMedium?: FolderMediumFactory,
  ) {
    this.notices = notices ?? new Notices(dialogs);
    this.timings = timings ?? DEFAULT_TIMINGS;
    this.toDispose.push(completing(this.access), completing(this.sync), completing(this.keys));
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
    return this.current !== undefined && !this.current.replica.isClosed;
  }

  get keyState(): KeyState | undefined {
    return this.active?.replica.keyState;
  }

  /** The store this device works on now, undefined while none is open. */
  get active(): ActiveStore | undefined {
    return this.current && !this.current.replica.isClosed ? this.current : undefined;
  }

  setAccess(state: AccessStatus['state'], folder?: string, detail?: LocalizedText): void {
    if (this.toDispose.disposed) return;
    const cur = this.access.value;
    if (cur.state === state && cur.folder === folder && JSON.stringify(cur.detail) === JSON.stringify(detail)) return;
    this.access.next({ state, folder, since: new Date().toISOString(), ...(detail ? { detail } : {}) });
    if (state === 'available') this.notices.withdraw(NoticeIds.offline); // "working offline" is no longer true
  }

  async readConfig(): Promise<ConfigReading> {
    const r = await this.configStore.read();
    if (r.kind === 'none') this.setAccess('not-configured');
    return r;
  }

  isNetworkShare(folder: string): boolean {
    return !ServerAccess.serverOf(folder) && this.classifier.classify(folder).kind === 'network';
  }

  /**
   * The bounded check of a folder (a child process killed after the time limit) or a server (in-process,
   * bounded). The access monitor's check of a server goes over the open store's connection (no new one,
   * no TLS handshake every few seconds) and lists the address without reading the header, which the
   * carrier's round reads and checks every 2 s.
   */
  probe(folder: string, expectStoreId?: string, opts: { monitor?: boolean } = {}): Promise<ProbeResult> {
    if (this.servers && ServerAccess.serverOf(folder)) {
      const medium = opts.monitor ? this.media.get(folder) : undefined;
      return this.servers.probe(folder, { expectStoreId, timeoutMs: this.timings.probeTimeoutMs, writeTest: !opts.monitor, ...(medium ? { medium, readHeader: false } : {}) });
    }
    return this.prober.probe(folder, {
      expectStoreId,
      timeoutMs: this.timings.probeTimeoutMs,
      networkShare: this.isNetworkShare(folder),
      ...(expectStoreId !== undefined ? { replicaRoot: this.localReplicaRoot(expectStoreId) } : {}),
    });
  }

  /** Connections to servers, one per address, with the login kept at the time (renewed after a new login). */
  protected readonly media = new Map<string, Medium>();

  /** Where the shared copy of a configured folder field is: the folder's path, or a connection to its server. */
  async location(folder: string): Promise<string | Medium> {
    if (!this.servers || !ServerAccess.serverOf(folder)) return folder;
    let m = this.media.get(folder);
    if (!m) this.media.set(folder, (m = await this.servers.medium(folder, this.timings.serverTimeoutMs ? { timeoutMs: this.timings.serverTimeoutMs } : {})));
    return m;
  }

  /** After a new login: the next connection to that server uses it. */
  forgetConnection(folder: string): void {
    this.media.get(folder)?.close?.();
    this.media.delete(folder);
  }

  localReplicaRoot(storeId: string): string {
    return path.join(pluginDataDir(this.env), 'replicas', storeId);
  }

  hasLocalReplica(storeId: string): Promise<boolean> {
    return exists(path.join(this.localReplicaRoot(storeId), Paths.header));
  }

  /** Opens this device's local replica of a store, without a carrier. */
  async openLocal(header: StoreHeader, keyring: Keyring): Promise<PracticeReplica> {
    const id = await this.identity.get();
    // Made by an older version with the umask's modes: the plugin's folder, its files and the
    // replicas' folder become private (each replica's own tree is tightened as it opens).
    await tightenTree(pluginDataDir(this.env), false);
    await tightenTree(path.dirname(this.localReplicaRoot(header.storeId)), false);
    return PracticeReplica.open({
      formerDeviceIds: id.replaces,
      localRoot: this.localReplicaRoot(header.storeId),
      header,
      key: keyring,
      keepKeys: (kr) => this.storeKeys.keep(kr),
      deviceId: id.deviceId,
      deviceName: this.env.deviceName,
      userName: this.env.userName,
      logger: this.logger,
    });
  }

  /** Starts working on a store: its local replica (opened here unless given) and its carrier to the shared location. */
  async activate(config: CloudConfig, header: StoreHeader, keyring: Keyring, opened?: PracticeReplica, opts: ActivateOptions = {}): Promise<ActiveStore> {
    if (this.current && !this.current.replica.isClosed && this.current.config.storeId === config.storeId) return this.current;
    await this.deactivate();
    const replica = opened ?? (await this.openLocal(header, keyring));
    const carrier = await this.newCarrier(config, replica);
    await carrier.primeKeys(PRIME_KEYS_MS); // a generation adopted whose key file is not here yet: fetched before anything is sealed
    return this.attach({ config, replica, carrier, store: new OpenPracticeStore(replica, carrier) }, opts);
  }

  /**
   * The store moved (this PC moved it, or follows a move): the open replica goes on with a carrier to
   * the new location, under the same store object the host holds. The old carrier is stopped first
   * (its last send goes to the old location only while that is still the store's).
   */
  async relocate(config: CloudConfig): Promise<ActiveStore> {
    const a = this.active;
    if (!a || a.config.storeId !== config.storeId) throw new Error('no open store to move');
    this.activeDisposables.dispose();
    await this.monitoring?.catch(() => undefined);
    await a.carrier.stop();
    const carrier = await this.newCarrier(config, a.replica);
    a.store.useCarrier(carrier);
    this.notices.withdraw(NoticeIds.moved);
    return this.attach({ config, replica: a.replica, carrier, store: a.store });
  }

  protected async newCarrier(config: CloudConfig, replica: PracticeReplica): Promise<SharedFolderExchange> {
    const at = await this.location(config.folder);
    const medium = typeof at === 'string' ? this.folderMedium?.(at) : at;
    return new SharedFolderExchange(replica, {
      sharedRoot: config.folder,
      ...(medium ? { medium } : {}),
      deviceName: this.env.deviceName,
      userName: this.env.userName,
      logger: this.logger,
      pollMs: this.timings.pollMs,
      heartbeatMs: this.timings.heartbeatMs,
      auditMs: this.timings.auditMs,
      repairGraceMs: this.timings.repairGraceMs,
      ...(this.timings.packMinFiles !== undefined ? { packMinFiles: this.timings.packMinFiles } : {}),
      ...(this.timings.packMarginMs !== undefined ? { packMarginMs: this.timings.packMarginMs } : {}),
      ...(this.timings.knownForMs !== undefined ? { knownForMs: this.timings.knownForMs } : {}),
    });
  }

  protected async attach(active: ActiveStore, opts: ActivateOptions = {}): Promise<ActiveStore> {
    const { config, replica, carrier } = active;
    this.current = active;
    const d = (this.activeDisposables = new DisposableCollection());
    let told = '';
    d.push(
      replica.keyState$.subscribe((k) => {
        this.keys.next(k);
        if (k.upToDate) {
          told = '';
          this.notices.withdraw(NoticeIds.passphraseChanged); // entered here (or no longer needed)
          return;
        }
        if (told === k.current) return;
        told = k.current; // once per new passphrase, not on every exchange
        this.notices.show(NoticeIds.passphraseChanged, 'warning', {
          de: `Das Praxis-Passwort wurde auf einem anderen PC geändert${replacedBy(k.currentBy, 'de')}. Bitte geben Sie es unter „Gruppenpraxis & Cloudspeicher“ → „Neues Praxis-Passwort eingeben“ ein, damit dieser PC die neuen Änderungen lesen kann.`,
            en: `The practice passphrase was changed on another PC${replacedBy(k.currentBy, 'en')}. Please enter it under "Group practice & cloud storage" → "Enter new practice passphrase" so this PC can read the new changes.`,
        });
      }),
      carrier.sync$.subscribe((s) => this.sync.next(s)),
      carrier.health$.subscribe((h) => {
        const own = accessOfHealth(h, carrier);
        if (!own) return; // starting: access stays what the probe said
        this.setAccess(own.state, config.folder, own.detail);
        if (h === 'moved' && carrier.movedTo) this.notices.show(NoticeIds.moved, 'warning', movedText(carrier.movedTo));
        else if (h === 'ok') this.notices.withdraw(NoticeIds.moved);
      }),
    );
    if (opts.firstRoundMs === undefined) await carrier.exchange();
    else await carrier.firstRound(opts.firstRoundMs);
    carrier.start();
    this.startMonitor(active, d);
    return active;
  }

  /** Keeps access$ current while the host runs: a pulled medium turns it `unavailable` within 10 s. */
  protected startMonitor(active: ActiveStore, d: DisposableCollection): void {
    const { config } = active;
    const tick = async () => {
      const r = await this.probe(config.folder, config.storeId, { monitor: true });
      if (d.disposed) return;
      const h = active.carrier.health;
      const own = accessOfHealth(h, active.carrier);
      // What the check cannot see stands while the location answers: a move (the note is the round's to
      // read), no room in the folders the round writes (the check writes its test file at the top), and on
      // a server another store's header (the check of a server does not read it; the round does).
      if (own && r.state === 'available' && (h === 'moved' || h === 'full' || h === 'too-large' || (h === 'wrong-folder' && ServerAccess.serverOf(config.folder)))) this.setAccess(own.state, config.folder, own.detail);
      else this.setAccess(r.state, config.folder, r.state === 'available' ? undefined : h === 'emptied' ? EMPTIED : r.state === 'auth-required' ? LOGIN_REFUSED : r.detail);
      if (r.state === 'available') active.carrier.trigger();
    };
    // One probe at a time: a slow folder never piles up child processes.
    const run = () => {
      if (!this.monitoring) this.monitoring = tick().finally(() => (this.monitoring = undefined));
    };
    run();
    const monitor = setInterval(run, this.timings.monitorMs);
    monitor.unref?.();
    d.push(() => clearInterval(monitor));
  }

  /**
   * The passphrase set on another PC, typed here once: asked until it opens a key this device lacks,
   * or the person cancels. True when a key was learned (the locked files are read at once).
   */
  async catchUp(): Promise<boolean> {
    const a = this.active;
    if (!a) return false;
    const st = a.replica.keyState;
    const learned = await this.storeKeys.catchUp(a.replica.header, a.replica.keyring, st.upToDate ? undefined : { by: st.currentBy }, [a.replica.local.root, await this.location(a.config.folder)]);
    if (!learned) return false;
    await a.replica.refreshKeys();
    a.carrier.keysChanged();
    return true;
  }

  /** The practice store for the host: the contract, nothing more. */
  async open(): Promise<PracticeStore> {
    const a = this.active;
    if (!a)
      throw storageError('not-configured', {
        de: 'Der Cloudspeicher ist auf diesem PC nicht eingerichtet oder nicht freigegeben. Bitte richten Sie ihn unter „Gruppenpraxis & Cloudspeicher“ ein.',
        en: 'Cloud storage is not set up or not unlocked on this PC. Set it up under "Group practice & cloud storage".',
      });
    return a.store;
  }

  /** Closes the active store (carrier, then replica) and ends what watched it. */
  async deactivate(): Promise<void> {
    this.activeDisposables.dispose();
    await this.monitoring?.catch(() => undefined);
    const a = this.current;
    this.current = undefined;
    if (!this.toDispose.disposed) this.keys.next(undefined);
    if (a) await a.store.close().catch((e) => this.logger.warn('cloud-storage: closing the store failed', { code: StorageError.is(e) ? e.code : 'unknown' }));
    if (!this.toDispose.disposed) this.sync.next(LOCAL_ONLY);
  }

  async dispose(): Promise<void> {
    for (const m of this.media.values()) m.interrupt?.(); // a server in maintenance does not hold the host's quit
    await this.deactivate();
    for (const m of this.media.values()) m.close?.();
    this.media.clear();
    this.toDispose.dispose();
  }
}
