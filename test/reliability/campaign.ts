// The reliability campaign: random practice work on 2–4 devices through the real plugin (loaded by
// the reference loader), random sync-client schedules from the simulator, then quiescence; and the
// invariants checked after every run. Plain functions (no jest), shared by the test suite and by
// `npm run reliability`, which writes docs/RELIABILITY.md.
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Container } from 'inversify';
import {
  FeatureFlags,
  HostDialogs,
  HostEnvironment,
  HostLocalData,
  HostLogger,
  type PracticeStore,
  type RecordConflict,
  type StoredRecord,
  type SyncStatus,
} from '../../src/host-api';
import { loadPlugin, type LoadedPlugin } from '../../dev-host/loader';
import { CloudSim, FOLDER_FAULTS, seededRng, type FolderFault, type Rng, type SimStats } from '../support/cloud-sim';
import { ReplicaFolder } from '../../src/services/store/replica-folder';
import { Keyring, keyringFromPassphrase, unlockKeyFile } from '../../src/services/crypto/keyring';
import { HEADER_KEY_ID } from '../../src/services/store/format';
import { CloudStorageTimings, FolderMediumFactory, StoreDiagnostics } from '../../src/services/cloud-storage-service';
import { Fat32Medium } from '../support/fat32-medium';
import { walk } from '../support/files';
import { HEADER_KEY_ID as HEADER_KEY, Paths } from '../../src/services/store/format';
import { listOrNone, type Medium } from '../../src/services/store/medium';
import { PracticeReplica } from '../../src/services/store/practice-replica';
import { FaultProxy } from '../support/fault-proxy';
import { isServerCarrier, startCarrier, type CarrierEnv, type ServerCarrier } from './server-carriers';

const ROOT = path.resolve(__dirname, '..', '..');
const PASS = 'Kampagnen-Leuchtturm-1';
/** The full check of the shared folder every 700 ms, others' files written again after 1 s missing or damaged. */
// The probe's bound is the product's 5 s elsewhere (its own specs test it); here 15 s: the campaign tests what
// happens to the data, and a loaded CI machine once took over 5 s for the set-up's probe (a false failure).
const TIMINGS: CloudStorageTimings = { probeTimeoutMs: 15000, monitorMs: 60000, pollMs: 150, heartbeatMs: 400, auditMs: 700, repairGraceMs: 1000, serverTimeoutMs: 3000 };
/**
 * How long "in sync" may lag a fault under a PC's feet: a deleted or rolled-back file is noticed in
 * the next round (by name), a damaged one only by the next full check (auditMs), and repairs take a round.
 */
const IN_SYNC_LAG_MS = TIMINGS.auditMs! + 4 * TIMINGS.pollMs + 400;

/**
 * What can go wrong with a server and the PCs on it (server schedules): the server stopped for a few
 * operations, restarted, frozen (SIGSTOP) for up to five seconds, slowed (a delaying proxy in front of
 * one PC or all), an upload torn (the connection cut mid-PUT: rclone and s3rver keep the bytes that
 * arrived), an answer lost (the server has the file, the PC never hears it), and a PC's worker process
 * killed with SIGKILL (mid-upload too) and started again.
 */
export type ServerFault = 'server-down' | 'server-restart' | 'server-freeze' | 'slow' | 'torn-upload' | 'lost-answer' | 'pc-kill';
export const SERVER_FAULTS: readonly ServerFault[] = ['server-down', 'server-restart', 'server-freeze', 'slow', 'torn-upload', 'lost-answer', 'pc-kill'];
/** Every fault kind a schedule can draw: the simulator's folder faults, a PC's app-data restored from an older backup, the server faults. */
export type FaultKind = FolderFault | 'app-data-restore' | ServerFault;
/** The folder schedules' kinds. */
export const FAULT_KINDS: readonly FaultKind[] = [...FOLDER_FAULTS, 'app-data-restore'];
/** The server schedules' kinds: the server's faults and the PC-side ones that make sense there. */
export const SERVER_FAULT_KINDS: readonly FaultKind[] = [...SERVER_FAULTS, 'app-data-restore'];
export const ALL_FAULT_KINDS: readonly FaultKind[] = [...FAULT_KINDS, ...SERVER_FAULTS];
/** Where the shared copy is: a synced folder (`cloud`), a USB stick (`usb`; `usb-fat32`: one with FAT32's rules, test/support/fat32-medium.ts), or a server. */
export type Mode = 'cloud' | 'usb' | 'usb-fat32' | ServerCarrier;
const IDS = ['c0', 'c1', 'c2', 'c3', 'c4'];

type Op = 'put' | 'remove' | 'resolve' | 'attach' | 'restart' | 'sync' | 'passphrase' | 'fault';

class SimDevice {
  plugin?: LoadedPlugin;
  store?: PracticeStore;
  /** The provider's sync$ as last emitted (undefined while the plugin is unloaded). */
  sync?: SyncStatus;
  readonly keychain = new Map<string, string>();
  readonly secrets: string[] = [];
  constructor(
    readonly index: number,
    readonly appDataDir: string,
    readonly folder: string,
    /** What the person types into the host's login dialog (a server's login). */
    readonly login?: { username: string; password: string },
    /** The stick is FAT32: the carrier reaches it through the FAT32 rules. */
    readonly fat32 = false,
    readonly timings: CloudStorageTimings = TIMINGS,
  ) {}

  protected container(): Container {
    const c = new Container();
    c.bind(HostEnvironment).toConstantValue({ apiVersion: '1.0.0', appDataDir: this.appDataDir, deviceName: `PC${this.index}`, userName: 'kampagne', locale: 'de', platform: process.platform });
    c.bind(FeatureFlags).toConstantValue({ isEnabled: () => true });
    const dialogs: HostDialogs = { pickFolder: async () => this.folder, promptCredentials: async () => this.login, promptSecret: async () => this.secrets.shift(), notify: () => undefined };
    c.bind(HostDialogs).toConstantValue(dialogs);
    const say = process.env.CAMPAIGN_DEBUG ? (level: string) => (m: string, ...a: unknown[]) => console.log(`PC${this.index} ${level}: ${m}`, ...a.map((x) => (x instanceof Error ? x.message : JSON.stringify(x)))) : () => () => undefined;
    c.bind(HostLogger).toConstantValue({ debug: () => undefined, info: say('info'), warn: say('warn'), error: say('error') });
    c.bind(HostLocalData).toConstantValue({ count: async () => 0, records: async function* () {} });
    c.bind(CloudStorageTimings).toConstantValue(this.timings);
    if (this.fat32) c.bind(FolderMediumFactory).toConstantValue((f: string) => new Fat32Medium(f));
    const k = this.keychain;
    c.bind(Symbol.for('cloud-storage.CredentialStore')).toConstantValue({ get: async (a: string) => k.get(a), set: async (a: string, s: string) => void k.set(a, s), delete: async (a: string) => k.delete(a), accounts: async () => [...k.keys()] });
    return c;
  }

  async load(): Promise<void> {
    const r = await loadPlugin(ROOT, this.container());
    if (r.kind !== 'loaded') throw new Error('plugin not loaded');
    this.plugin = r.plugin;
    this.sync = undefined;
    r.plugin.storageProviders[0]!.sync$.subscribe((s) => (this.sync = s));
    if (process.env.CAMPAIGN_DEBUG) r.plugin.storageProviders[0]!.access$.subscribe((a) => console.log(`PC${this.index} access: ${a.state}${'reason' in a && a.reason ? ` (${String(a.reason)})` : ''}`));
  }

  /** First start: set up through the settings page (create on the first device, join on the others). */
  async setUp(): Promise<void> {
    await this.load();
    this.secrets.push(PASS);
    const page = this.plugin!.settingsPages[0]!.open();
    page.setValue('folder', this.folder);
    const out = await page.invoke('save');
    page.dispose();
    if (!out.ok) throw new Error(`setup of PC${this.index} failed: ${out.message.en}`);
    this.store = await this.plugin!.storageProviders[0]!.open();
  }

  /**
   * An app restart: unload, load, startup guard (working offline if the folder is away), open. The
   * guard may ask for a passphrase changed elsewhere: `secrets` are what the person would try.
   */
  async restart(secrets: readonly string[] = [], whileClosed?: () => Promise<void> | void): Promise<void> {
    await this.unload();
    await whileClosed?.();
    await this.load();
    this.secrets.splice(0, Infinity, ...secrets);
    const guard = this.plugin!.startupGuards[0]!;
    let v = await guard.check();
    if (v.kind === 'blocked') v = await guard.act(v.actions.some((a) => a.id === 'work-offline') ? 'work-offline' : 'retry');
    this.secrets.length = 0;
    if (v.kind === 'blocked') throw new Error(`PC${this.index} blocked at start: ${v.message.en}`);
    this.store = await this.plugin!.storageProviders[0]!.open();
  }

  /** A settings-page action, with the passphrases the person types when asked. */
  async act(action: string, secrets: readonly string[]): Promise<{ ok: boolean; en: string }> {
    this.secrets.splice(0, Infinity, ...secrets);
    const page = this.plugin!.settingsPages[0]!.open();
    try {
      const out = await page.invoke(action);
      return { ok: out.ok, en: out.message?.en ?? '' };
    } finally {
      page.dispose();
      this.secrets.length = 0;
    }
  }

  /** Instrumentation only: which generation this device writes with, and whether it is the current one. */
  get keys(): { current: string; upToDate: boolean } {
    return this.plugin!.container.get<StoreDiagnostics>(StoreDiagnostics).keyState!;
  }

  async unload(): Promise<void> {
    await this.plugin?.unload();
    this.plugin = undefined;
    this.store = undefined;
    this.sync = undefined;
  }
}

/** What each write knew, observed through the API only: the oracle for the expected end state. */
interface Observed {
  col: string;
  id: string;
  version: string;
  supersedes: string[];
  data: unknown;
}

export interface RunResult {
  devices: number;
  mode: Mode;
  operations: number;
  restarts: number;
  acknowledged: number;
  lost: string[];
  divergent: boolean;
  conflictMismatches: string[];
  writeViolations: string[];
  verifyProblems: string[];
  /** Passphrase changes made, passphrases typed on a PC that was behind, and violations of "a replaced passphrase opens nothing new". */
  passphrase: { changes: number; entries: number; violations: string[] };
  sim: SimStats;
  /** Faults done, by kind (a drawn fault that found nothing to act on is not counted). */
  faults: Record<FaultKind, number>;
  /** App-data backups taken, and acknowledged changes that went with a restored disk (never sent: allowed). */
  appData: { backups: number; forgiven: number };
  /** Emptied folders written back through the startup guard's restore-shared-folder. */
  restoredFolders: number;
  /** Faults the product did not recover from as promised (an emptied folder it would not restore, …). */
  faultFailures: string[];
  /** Checks of "in sync" against the shared folder's files (quiet moments and the end), skipped ones (a fault too recent), and false in-sync found. */
  inSync: { checks: number; deferred: number; falseInSync: string[] };
  /** Server schedules: runs of the PC's worker process (each but the last ended by SIGKILL) and the changes it acknowledged. */
  worker: { runs: number; acknowledged: number };
  /** Server schedules: a PC that after the quiescence still had something pending or awaited, or was not online. */
  pending: string[];
  /** Folder schedules: packs and log files in the shared folder at the end (format 2). */
  shelf: { packs: number; logFiles: number };
}

async function view(store: PracticeStore): Promise<unknown> {
  const out: unknown[] = [];
  for (const r of await store.list('clients')) out.push(r);
  for (const r of await store.list('notes')) out.push(r); // the server schedules' worker PC writes notes
  for (const id of IDS) out.push(await store.history('clients', id));
  let conflicts: readonly RecordConflict[] = [];
  store.conflicts$.subscribe((c) => (conflicts = c)).unsubscribe();
  return { out, conflicts };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ScheduleOptions {
  passphraseChanges?: boolean;
  /**
   * Faults between the operations: true draws any kind the carrier has, a kind draws only that one, a
   * list takes its kinds in turn (so that a short schedule has each).
   */
  faults?: boolean | FaultKind | readonly FaultKind[];
  /**
   * Years in minutes (format 2, #16): every PC packs its own log files two at a time, ten packs into one,
   * and removes what its packs hold once acknowledged and 300 ms old on the folder's clock; the sync
   * clients pass removals on. What a practice sees over years — packs, packs of packs, removals, files
   * packed again after a passphrase change — happens many times in one schedule.
   */
  years?: boolean;
}

/** The local replica folders in a PC's app data (one per store it has opened). */
function replicasOf(d: { appDataDir: string }): string[] {
  const replicas = path.join(d.appDataDir, 'cloud-storage', 'replicas');
  return fs.existsSync(replicas) ? fs.readdirSync(replicas).map((r) => path.join(replicas, r)) : [];
}

/** The pack rules of a `years` schedule. */
export const YEARS_TIMINGS: CloudStorageTimings = { ...TIMINGS, packMinFiles: 2, packMarginMs: 300, knownForMs: 10 * 60_000 };

const WRITER = path.join(__dirname, '..', 'support', 'crash-writer.js');

export async function runSchedule(seed: number, devices: number, operations: number, mode: Mode, opts: ScheduleOptions = {}): Promise<RunResult> {
  const rng: Rng = seededRng(seed);
  // quiet-moment checks draw from their own stream, so that every earlier seed keeps its schedule
  const quietRng: Rng = seededRng(seed ^ 0x5bd1e995);
  // and so do the proxies (where a tear cuts, which PUTs it hits): they draw as requests come
  const proxyRng: Rng = seededRng(seed ^ 0x27d4eb2f);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-campaign-'));
  const serverMode = isServerCarrier(mode);
  const T0 = Date.now();
  const faults = Object.fromEntries(ALL_FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  // a server: started for this schedule, each PC behind its own fault proxy
  let env: CarrierEnv | undefined;
  const proxies: FaultProxy[] = [];
  try {
    if (serverMode) {
      env = await startCarrier(mode);
      for (let i = 0; i < devices; i++)
        proxies.push(
          await new FaultProxy(env.port, {
            // presence files are rewritten every heartbeat: a tear hits mostly the files that are written once
            target: (p) => !p.endsWith('/presence') || proxyRng() < 0.25,
            random: proxyRng,
            onEvent: (e) => {
              if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] proxy of PC${i}: ${e.kind} ${e.path} ${e.sent}/${e.length}`);
              if (e.kind === 'lost-answer') return void faults['lost-answer']++;
              faults['torn-upload']++;
              sim.lastFault = sim.lastFaultAt[i] = Date.now();
            },
          }).start(),
        );
    }
  } catch (e) {
    for (const p of proxies) await p.close();
    await env?.server.stop();
    fs.rmSync(root, { recursive: true, force: true });
    throw e;
  }
  const usb = mode === 'usb' || mode === 'usb-fat32';
  const sim = new CloudSim(root, devices, rng, serverMode ? 'cloud' : usb ? 'usb' : 'cloud', opts.years === true);
  const ds = Array.from(
    { length: devices },
    (_, i) => new SimDevice(i, path.join(root, `app-data-${i}`), env ? env.address(proxies[i]!.port) : sim.folder(i), env?.login, mode === 'usb-fat32', opts.years ? YEARS_TIMINGS : TIMINGS),
  );
  const observed: Observed[] = [];
  let acked: { dev: number; version: string; id: string }[] = [];
  let restarts = 0;
  const appData = { backups: 0, forgiven: 0 };
  const faultFailures: string[] = [];
  const inSync = { checks: 0, deferred: 0, falseInSync: [] as string[] };
  let restoredFolders = 0;
  /** Per device: its app-data backup, and how many acknowledged changes there were when it was taken. */
  const backups: ({ dir: string; ackedBefore: number; at: number } | undefined)[] = ds.map(() => undefined);
  let ackCount = 0; // acknowledged changes ever (acked shrinks when a restored disk takes some along)
  const ackSeq = new Map<string, number>(); // version → its number in ackCount
  const passphrases = [PASS]; // every passphrase ever set, oldest first
  /** Who set each passphrase after the set-up, and when: one whose key file went with a restored disk opens nothing, and may not. */
  const setBy = new Map<string, { dev: number; at: number }>();
  /** Passphrases whose key file went with a restored disk (never sent anywhere): like its unsent changes, not a product loss. */
  const goneWithDisk = new Set<string>();
  const newestFirst = () => [...passphrases].reverse();
  const pp = { changes: 0, entries: 0, violations: [] as string[] };
  /** A person at this PC enters the passphrase set elsewhere, trying the ones they were told, newest first. */
  async function catchUp(d: SimDevice): Promise<void> {
    if (!opts.passphraseChanges) return;
    const k = d.keys;
    const out = await d.act('enter-passphrase', newestFirst());
    if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] PC${d.index} enter-passphrase: ${out.ok} ${out.en}`);
    if (out.ok && !out.en.includes('already knows')) pp.entries++;
    else if (!k.upToDate && out.ok) pp.violations.push(`PC${d.index}: enter-passphrase said "${out.en}" while behind`);
  }
  /**
   * The oracle's model of what a put or remove on this device replaces, from the API and from the
   * writes observed so far (not from the store's parents): every version this device knows that no
   * known write replaced — the conflicting ones included.
   */
  async function replacedBy(store: PracticeStore, id: string): Promise<string[]> {
    // in a conflict too: a put or remove replaces every version shown as current (#17: editing a
    // conflicted record resolves it; ARCHITECTURE.md "Decisions")
    const known = new Set((await store.history('clients', id)).map((h) => h.version));
    const replacedKnown = new Set(observed.filter((o) => o.id === id && known.has(o.version)).flatMap((o) => o.supersedes));
    return [...known].filter((v) => !replacedKnown.has(v));
  }
  function ack(dev: number, version: string, id: string): void {
    acked.push({ dev, version, id });
    if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] PC${dev} acknowledged ${id}@${version}`);
    ackSeq.set(version, ackCount++);
  }
  /** The store's keys as the PCs' keychains hold them (every generation any PC learned). */
  function storeKeys(): { storeId: string; keyring: Keyring } | undefined {
    const keys = new Map<string, Buffer>();
    let storeId: string | undefined;
    for (const d of ds)
      for (const [account, secret] of d.keychain) {
        if (!account.startsWith('store-key:')) continue;
        storeId = account.slice('store-key:'.length);
        const parsed = secret.startsWith('{') ? (JSON.parse(secret) as { keys: Record<string, string> }).keys : { header: secret };
        for (const [id, b64] of Object.entries(parsed)) keys.set(id, Buffer.from(b64, 'base64'));
      }
    return storeId && keys.size ? { storeId, keyring: new Keyring(storeId, keys) } : undefined;
  }
  /** The changes a folder really holds: log files whose bytes match their name and open with the store's keys. */
  async function changesIn(root: string | Medium, keys = storeKeys()): Promise<Set<string>> {
    const out = new Set<string>();
    if (!keys) return out;
    if (typeof root !== 'string') {
      // a server, read from its disk
      const folder = new ReplicaFolder(root, keys.storeId, keys.keyring);
      const devs = (await listOrNone(root, Paths.devicesDir).catch(() => [])).map((e) => e.name).filter((x) => /^[0-9a-f]{32}$/.test(x));
      for (const dev of devs)
        for (const f of await folder.listSegments(dev).catch(() => [])) {
          try {
            const seg = folder.decodeSegment(f, await root.read(Paths.segment(dev, f.seq, f.hash), 64 << 20));
            for (const c of seg.changes) out.add(c.ver);
          } catch {
            // damaged, torn, or a key not held: not there
          }
        }
      for (const dev of devs) await packedChanges(folder, dev, out, (rel) => root.read(rel, 128 << 20));
      return out;
    }
    const folder = new ReplicaFolder(root, keys.storeId, keys.keyring);
    let devs: string[] = [];
    try {
      devs = fs.readdirSync(path.join(root, 'devices')).filter((x) => /^[0-9a-f]{32}$/.test(x));
    } catch {
      return out;
    }
    for (const dev of devs)
      for (const f of await folder.listSegments(dev).catch(() => [])) {
        try {
          const seg = folder.decodeSegment(f, fs.readFileSync(path.join(root, 'devices', dev, 'log', `${String(f.seq).padStart(10, '0')}-${f.hash}`)));
          for (const c of seg.changes) out.add(c.ver);
        } catch {
          // damaged, half-synced, junk at our name, or a key not held: not there
        }
      }
    for (const dev of devs) await packedChanges(folder, dev, out, async (rel) => fs.readFileSync(path.join(root, rel)));
    return out;
  }
  /** Format 2: the changes in a device's packs whose bytes match their name and open with the store's keys. */
  async function packedChanges(folder: ReplicaFolder, dev: string, out: Set<string>, read: (rel: string) => Promise<Buffer>): Promise<void> {
    for (const p of await folder.listPacks(dev).catch(() => []))
      try {
        for (const { seg } of folder.decodePack(p, await read(Paths.pack(dev, p.first, p.last, p.hash))).files) for (const c of seg.changes) out.add(c.ver);
      } catch {
        // damaged, half-synced, or a key not held: not there
      }
  }
  /**
   * Invariant: no false in-sync. The simulator is passive (it moves files only when the schedule
   * says), so sync$ sampled first and the folders read afterwards are one consistent moment; a PC's
   * own writes only add files. A PC that says in-sync must find each of its acknowledged changes in
   * its shared folder (its sync client's copy; the stick wherever it is), in a log file whose bytes
   * match its name and open with the store key. A PC whose folder changed under it by a fault less
   * than IN_SYNC_LAG_MS ago is not judged (counted as deferred), except at the end.
   */
  async function checkInSync(where: string, final: boolean): Promise<void> {
    const states = ds.map((d) => d.sync?.state);
    const now = Date.now();
    const keys = storeKeys();
    const seen = new Map<string, Set<string>>();
    for (const d of ds) {
      if (states[d.index] !== 'in-sync') continue;
      if (!final && now - sim.lastFaultAt[d.index]! < IN_SYNC_LAG_MS) {
        inSync.deferred++;
        continue;
      }
      inSync.checks++;
      const folder = env ? 'server' : mode === 'cloud' ? sim.folder(d.index) : sim.medium();
      if (!seen.has(folder)) seen.set(folder, await changesIn(env ? env.disk : folder, keys));
      const there = seen.get(folder)!;
      const missing = acked.filter((a) => a.dev === d.index && !there.has(a.version));
      if (missing.length && process.env.CAMPAIGN_DEBUG && env) {
        const lines: string[] = [];
        for (const dev of (await listOrNone(env.disk, Paths.devicesDir)).map((e) => e.name))
          for (const e of await listOrNone(env.disk, Paths.logDir(dev))) {
            const b = await env.disk.read(path.join(Paths.logDir(dev), e.name), 64 << 20).catch(() => Buffer.alloc(0));
            lines.push(`${dev.slice(0, 6)}/${e.name.slice(0, 20)} ${b.length} ${crypto.createHash('sha256').update(b).digest('hex') === e.name.slice(11) ? 'ok' : 'TORN'}`);
          }
        console.log(`[${Date.now() - T0} ms] FALSE IN-SYNC PC${d.index}, last fault under it ${now - sim.lastFaultAt[d.index]!} ms ago`, JSON.stringify(d.sync), missing.map((m) => m.version).join(), '\n' + lines.join('\n'));
      }
      if (missing.length) inSync.falseInSync.push(`${where}: PC${d.index} said in-sync while ${missing.length} of its acknowledged changes were not in its shared folder (first ${missing[0]!.id}@${missing[0]!.version})`);
    }
  }
  async function quietCheck(): Promise<void> {
    await sleep(3 * TIMINGS.pollMs + 150); // deliberate: nothing moves, the PCs finish the round they are in
    await checkInSync(`quiet moment after ${ackCount} acknowledged changes`, false);
  }
  /**
   * A PC's app-data folder restored from an older backup (the PC's disk replaced, a backup tool's
   * "restore"): its local replica goes back in time. The rule: a change this PC acknowledged after
   * the backup and that neither reached a shared folder copy (the stick, the cloud, any PC's sync
   * folder) nor another PC's replica is gone with the disk — not a product loss, and removed from the
   * oracle. Everything else must come back, on this PC too.
   */
  async function appDataFault(d: SimDevice): Promise<void> {
    const backup = backups[d.index];
    if (!backup) {
      // the backup is taken while the app is closed (a copy of a live folder is not a backup)
      const dir = path.join(root, `app-data-${d.index}-backup-${ackCount}`);
      await d.restart(opts.passphraseChanges ? newestFirst() : [], () => fs.cpSync(d.appDataDir, dir, { recursive: true }));
      backups[d.index] = { dir, ackedBefore: ackCount, at: Date.now() };
      appData.backups++;
      restarts++;
      return;
    }
    await d.restart(opts.passphraseChanges ? newestFirst() : [], async () => {
      const keys = storeKeys();
      const folders = [sim.cloud, ...ds.map((x) => sim.folder(x.index)), path.join(root, 'usb-stick-in-the-drawer')];
      const reached = new Set<string>();
      if (env) for (const v of await changesIn(env.disk, keys)) reached.add(v);
      else for (const f of folders) if (fs.existsSync(f)) for (const v of await changesIn(f, keys)) reached.add(v);
      for (const o of ds)
        if (o !== d && o.store)
          for (const id of IDS) for (const h of await o.store.history('clients', id)) reached.add(h.version);
      const gone = new Set(acked.filter((a) => a.dev === d.index && ackSeq.get(a.version)! >= backup.ackedBefore && !reached.has(a.version)).map((a) => a.version));
      appData.forgiven += gone.size;
      // a passphrase set on this PC after the backup whose key file reached no folder copy and no other PC
      // (folders only: on a server no passphrase is forgiven)
      const keyDirs = env ? [] : [...folders, ...ds.filter((o) => o !== d).flatMap(replicasOf)];
      for (const [pass, by] of setBy) {
        if (env || by.dev !== d.index || by.at < backup.at || goneWithDisk.has(pass)) continue;
        let reached = false;
        for (const dir of keyDirs) {
          const hdr = await ReplicaFolder.readHeader(dir).catch(() => undefined);
          if (!hdr || hdr.kind !== 'ok') continue;
          for (const { file: f } of await ReplicaFolder.keyFilesAt(dir, hdr.header.storeId).catch(() => [])) if (f.t === 'key' && (await unlockKeyFile(f, pass))) reached = true;
          if (reached) break;
        }
        if (!reached) goneWithDisk.add(pass);
      }
      if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] PC${d.index}'s app data restored (backup after ${backup.ackedBefore} acknowledged); gone with the disk: ${[...gone].join() || 'none'}`);
      acked = acked.filter((a) => !gone.has(a.version));
      for (let k = observed.length - 1; k >= 0; k--) if (gone.has(observed[k]!.version)) observed.splice(k, 1);
      fs.rmSync(d.appDataDir, { recursive: true, force: true });
      fs.cpSync(backup.dir, d.appDataDir, { recursive: true });
    });
    faults['app-data-restore']++;
    restarts++;
  }
  /** A person finds the shared folder emptied and writes it back from this PC through the startup guard. */
  async function emptyAndRestore(d: SimDevice): Promise<void> {
    if (usb) sim.plug(d.index);
    if (!sim.fault('empty')) return;
    faults.empty++;
    await d.unload();
    await d.load();
    d.secrets.splice(0, Infinity, ...(opts.passphraseChanges ? newestFirst() : []));
    const guard = d.plugin!.startupGuards[0]!;
    let v = await guard.check();
    if (v.kind === 'blocked' && v.actions.some((a) => a.id === 'restore-shared-folder')) {
      v = await guard.act('restore-shared-folder');
      if (v.kind === 'proceed') restoredFolders++;
    } else faultFailures.push(`emptied folder: PC${d.index}'s startup guard did not offer restore-shared-folder (${v.kind}${v.kind === 'blocked' ? `: ${v.message.en}` : ''})`);
    if (v.kind === 'blocked') {
      faultFailures.push(`emptied folder: restore-shared-folder on PC${d.index} left it blocked: ${v.message.en}`);
      if (v.actions.some((a) => a.id === 'work-offline')) v = await guard.act('work-offline');
    }
    d.secrets.length = 0;
    if (v.kind === 'blocked') throw new Error(`PC${d.index} blocked after restoring the emptied folder: ${v.message.en}`);
    d.store = await d.plugin!.storageProviders[0]!.open();
    restarts++;
    sim.takeSnapshot();
  }
  // ---- server schedules: the server's state, and the PC whose worker process is killed ----
  const srv = { down: false, upAt: 0, frozen: undefined as NodeJS.Timeout | undefined, slowUntil: 0 };
  /** The server answers again (a freeze ends early when the server is to be stopped or the schedule ends). */
  function thaw(): void {
    if (!srv.frozen) return;
    clearTimeout(srv.frozen);
    srv.frozen = undefined;
    env!.server.resume();
  }
  /** Before each operation: a stopped server comes back, a slowed link ends, after their number of operations. */
  async function serverTick(n: number): Promise<void> {
    if (srv.down && n >= srv.upAt) {
      await env!.server.up();
      srv.down = false;
    }
    if (srv.slowUntil && n >= srv.slowUntil) {
      for (const p of proxies) p.delayMs = 0;
      srv.slowUntil = 0;
    }
  }
  /**
   * A PC of the practice whose program runs as its own process (test/support/crash-writer.js: notes as
   * fast as it can, exchanging with the server all the while), killed with SIGKILL at a random moment —
   * mid-upload too — and started again on the same replica. Its acknowledged changes must reach every PC.
   */
  const worker = { localRoot: path.join(root, 'worker-replica'), deviceId: crypto.randomBytes(16).toString('hex'), acked: new Map<string, string>(), removed: new Set<string>(), start: 0, runs: 0, idle: undefined as ReturnType<typeof spawn> | undefined, log: '' };
  function workerPayload(idle: boolean): object {
    const local = replicasOf(ds[0]!)[0]!;
    const headerFile = JSON.parse(fs.readFileSync(path.join(local, Paths.header), 'utf8')) as object;
    const secret = [...ds[0]!.keychain].find(([a]) => a.startsWith('store-key:'))![1];
    const key = secret.startsWith('{') ? (JSON.parse(secret) as { keys: Record<string, string> }).keys[HEADER_KEY]! : secret;
    return { header: headerFile, key, localRoot: worker.localRoot, sharedRoot: '', deviceId: worker.deviceId, start: worker.start, idle, medium: env!.writerMedium, pauseMs: 10, exchange: { auditMs: TIMINGS.auditMs, repairGraceMs: TIMINGS.repairGraceMs } };
  }
  /** One run of the worker: killed `killAfterMs` after it is ready, or (idle) left running until stopped. */
  function workerRun(killAfterMs: number | 'idle'): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [WRITER], { stdio: ['pipe', 'pipe', 'pipe'] });
      worker.runs++;
      let buf = '';
      child.stderr!.on('data', (b: Buffer) => (worker.log = (worker.log + b.toString()).slice(-3000)));
      child.stdout!.on('data', (b: Buffer) => {
        buf += b.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === 'ready') {
            if (killAfterMs === 'idle') {
              worker.idle = child;
              resolve();
            } else setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          }
          const m = /^ack (\S+) (\S+)$/.exec(line);
          if (m && m[2] === 'removed') {
            worker.removed.add(m[1]!);
            worker.acked.delete(m[1]!);
          } else if (m) worker.acked.set(m[1]!, m[2]!);
        }
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        worker.start = Math.max(worker.start, ...[...worker.acked.keys(), ...worker.removed].map((id) => Number(id.slice(1)) + 1)) + 1;
        if (killAfterMs === 'idle') worker.idle = undefined;
        if (signal === 'SIGKILL' || killAfterMs === 'idle') resolve();
        else reject(new Error(`the worker PC ended by itself (${signal ?? code}): ${worker.log}`));
      });
      child.stdin!.end(JSON.stringify(workerPayload(killAfterMs === 'idle')));
    });
  }
  async function stopIdleWorker(): Promise<void> {
    const child = worker.idle;
    if (!child) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  }
  /** Whether every change the worker acknowledged has reached this PC (its removals included). */
  async function workerArrived(d: SimDevice): Promise<string[]> {
    const missing: string[] = [];
    for (const [id, version] of worker.acked) if (!(await d.store!.history('notes', id)).some((h) => h.version === version)) missing.push(`${id}@${version}`);
    for (const id of worker.removed) {
      const r = await d.store!.get('notes', id);
      if (r && r.data !== null) missing.push(`the removal of ${id}`);
    }
    return missing;
  }
  /** A server fault; `d` is the PC the operation drew (the one whose connection a proxy fault hits). */
  async function serverFault(kind: FaultKind, d: SimDevice, n: number): Promise<void> {
    const server = env!.server;
    if (kind === 'server-down') {
      if (srv.down) return;
      thaw();
      await server.down();
      srv.down = true;
      srv.upAt = n + 1 + Math.floor(rng() * 4);
      faults[kind]++;
    } else if (kind === 'server-restart') {
      if (srv.down) return;
      thaw();
      await server.restart();
      faults[kind]++;
    } else if (kind === 'server-freeze') {
      if (srv.down || srv.frozen) return;
      try {
        server.pause();
      } catch {
        server.resume(); // a process that would not stop (servers.ts gives up after a second): no freeze
        return;
      }
      // up to five seconds: past the PCs' time limit per request (3 s here) in about half of them
      srv.frozen = setTimeout(() => thaw(), 300 + Math.floor(rng() * 5000));
      faults[kind]++;
    } else if (kind === 'slow') {
      const delay = 20 + Math.floor(rng() * 400);
      if (rng() < 0.5) for (const p of proxies) p.delayMs = delay;
      else proxies[d.index]!.delayMs = delay;
      srv.slowUntil = n + 1 + Math.floor(rng() * 5);
      faults[kind]++;
    } else if (kind === 'torn-upload') proxies[d.index]!.tear(1 + Math.floor(rng() * 5)); // counted as they happen
    else if (kind === 'lost-answer') proxies[d.index]!.loseAnswers(1 + Math.floor(rng() * 3));
    else if (kind === 'pc-kill') {
      if (opts.passphraseChanges) return; // the worker knows the first passphrase only
      for (let k = 1 + Math.floor(rng() * 3); k > 0; k--) {
        await workerRun(50 + Math.floor(rng() * 1200));
        faults[kind]++;
      }
    } else if (kind === 'app-data-restore') await appDataFault(d);
  }
  try {
    // set up: the first device creates the store, the others join once it reached them
    for (const d of ds) {
      if (usb) sim.plug(d.index);
      if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] setting up PC${d.index}`);
      await d.setUp();
      if (mode === 'cloud') {
        await d.store!.flush({ timeoutMs: 3000 });
        sim.settle();
      } else await d.store!.flush({ timeoutMs: 3000 });
    }
    if (opts.faults) sim.takeSnapshot(); // the oldest copy a rollback can go back to
    if (opts.faults === 'delete-attachment') {
      // something to delete: an attachment before the first operation (no draw, the schedule stays the same)
      const d = ds[0]!;
      const ref = await d.store!.putAttachment(Buffer.from(`Befund ${seed}`), { name: 'befund.txt', mediaType: 'text/plain' });
      const replaces = await replacedBy(d.store!, 'c0');
      const data = { attachment: ref as never, by: 0 };
      const rec = await d.store!.put('clients', 'c0', data);
      ack(0, rec.version, 'c0');
      observed.push({ col: 'clients', id: 'c0', version: rec.version, supersedes: replaces, data });
      // and it is in the cloud's copy before the first draw (else the fault found nothing to delete)
      await d.store!.flush({ timeoutMs: 3000 });
      if (mode === 'cloud') sim.settle();
    }
    if (opts.faults === 'delete-key-file' && opts.passphraseChanges) {
      // something to delete: key files exist once the passphrase was changed (no draw, the schedule stays the same)
      // as a person would: tried again when the page says so; a set-up that never happened fails here with the page's words
      const next = `Kampagnen-Leuchtturm-${passphrases.length + 1}-${seed}`;
      let out = { ok: false, en: '' };
      for (let attempt = 0; attempt < 5 && !out.ok; attempt++) {
        if (attempt > 0) await sleep(500);
        out = await ds[0]!.act('change-passphrase', [PASS, next]);
      }
      if (!out.ok) throw new Error(`PC0: the set-up's passphrase change failed: ${out.en}`);
      passphrases.push(next);
      setBy.set(next, { dev: 0, at: Date.now() });
      pp.changes++;
      // and the key file is in the cloud's copy before the first draw (else the fault found nothing to delete)
      await ds[0]!.store!.flush({ timeoutMs: 3000 });
      if (mode === 'cloud') sim.settle();
    }
    let faultNo = 0;
    if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] set up`);
    for (let n = 0; n < operations; n++) {
      if (process.env.CAMPAIGN_DEBUG) {
        // where things stand before each operation: the stick, the acknowledged changes the shared copy holds, each PC's key
        const onShared = env ? undefined : await changesIn(sim.medium());
        const keys = ds.map((x) => (x.plugin ? `PC${x.index} ${x.keys.current.slice(0, 8)}${x.keys.upToDate ? '' : ' (behind)'}` : `PC${x.index} closed`));
        console.log(`[${Date.now() - T0} ms] op ${n}${usb ? `, stick in ${sim.pluggedInto() ?? 'the drawer'}` : ''}${onShared ? `; ${acked.filter((a) => onShared.has(a.version)).length} of ${acked.length} acknowledged on the shared copy` : ''}; ${keys.join(', ')}`);
      }
      if (env) await serverTick(n);
      if (n > 0 && quietRng() < 0.06) await quietCheck();
      const d = ds[Math.floor(rng() * devices)]!;
      const store = d.store!;
      const r = rng();
      let op: Op = r < 0.45 ? 'put' : r < 0.55 ? 'remove' : r < 0.63 ? 'resolve' : r < 0.68 ? 'attach' : r < 0.72 ? 'restart' : 'sync';
      // drawn only when enabled, so the schedules of earlier seeds (and the regression cases) stay the same
      if (op === 'sync' && opts.passphraseChanges && rng() < 0.12) op = 'passphrase';
      if (op === 'sync' && opts.faults && rng() < (env ? 0.8 : opts.faults === true ? 0.35 : 0.7)) op = 'fault'; // one kind only, or a server: more often
      if (Array.isArray(opts.faults) && n % 4 === 2) op = 'fault'; // a list: at least every fourth operation, so that a short schedule has each kind
      const id = IDS[Math.floor(rng() * IDS.length)]!;
      if (op === 'put') {
        const replaces = await replacedBy(store, id);
        const data = { v: Math.floor(rng() * 1000), by: d.index };
        const rec = await store.put('clients', id, data);
        ack(d.index, rec.version, id);
        observed.push({ col: 'clients', id, version: rec.version, supersedes: replaces, data });
      } else if (op === 'remove') {
        const shown = await store.get('clients', id);
        if (!shown || shown.data === null) continue;
        const replaces = await replacedBy(store, id);
        await store.remove('clients', id);
        const h = await store.history('clients', id);
        const mine = h.filter((x) => x.data === null && x.updatedBy === `PC${d.index}`).pop()!;
        ack(d.index, mine.version, id);
        observed.push({ col: 'clients', id, version: mine.version, supersedes: replaces, data: null });
      } else if (op === 'resolve') {
        let conflicts: readonly RecordConflict[] = [];
        store.conflicts$.subscribe((c) => (conflicts = c)).unsubscribe();
        const c = conflicts[0];
        if (!c) continue;
        const keep = c.versions[Math.floor(rng() * c.versions.length)]!;
        await store.resolveConflict(c.collection, c.id, keep.data);
        const h = await store.history(c.collection, c.id);
        const mine = h[h.length - 1]!;
        ack(d.index, mine.version, c.id);
        observed.push({ col: c.collection, id: c.id, version: mine.version, supersedes: c.versions.map((v) => v.version), data: keep.data });
      } else if (op === 'attach') {
        const bytes = Buffer.from(`Befund ${seed}-${n} `.repeat(1 + Math.floor(rng() * 200)));
        const ref = await store.putAttachment(bytes, { name: `befund-${n}.txt`, mediaType: 'text/plain' });
        const replaces = await replacedBy(store, id);
        const data = { attachment: ref as never, by: d.index };
        const rec = await store.put('clients', id, data);
        ack(d.index, rec.version, id);
        observed.push({ col: 'clients', id, version: rec.version, supersedes: replaces, data });
      } else if (op === 'restart') {
        await d.restart(opts.passphraseChanges ? newestFirst() : []);
        restarts++;
      } else if (op === 'fault' && env) {
        const kind = Array.isArray(opts.faults) ? opts.faults[faultNo++ % opts.faults.length]! : typeof opts.faults === 'string' ? (opts.faults as FaultKind) : SERVER_FAULT_KINDS[Math.floor(rng() * SERVER_FAULT_KINDS.length)]!;
        if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] fault ${kind} on PC${d.index}`);
        await serverFault(kind, d, n);
      } else if (op === 'fault') {
        const kinds = typeof opts.faults === 'string' ? [opts.faults] : FAULT_KINDS;
        const kind = kinds[Math.floor(rng() * kinds.length)]!;
        if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] fault ${kind} on PC${d.index}`);
        if (kind === 'app-data-restore') await appDataFault(d);
        else if (kind === 'empty') await emptyAndRestore(d);
        else if (sim.fault(kind as FolderFault)) faults[kind]++;
        if (rng() < 0.3) sim.takeSnapshot();
      } else if (op === 'passphrase') {
        // the person tries the passphrases they know as "the current one", newest first
        const next = `Kampagnen-Leuchtturm-${passphrases.length + 1}-${seed}`;
        for (const current of newestFirst()) {
          const out = await d.act('change-passphrase', [current, next]);
          if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] PC${d.index} change-passphrase: ${out.ok} ${out.en}`);
          if (out.ok) {
            passphrases.push(next);
            setBy.set(next, { dev: d.index, at: Date.now() });
            pp.changes++;
            break;
          }
          if (out.en.includes('already changed on another PC')) {
            await catchUp(d);
            break;
          }
          if (!/is wrong|already replaced|changed while you were typing/.test(out.en)) throw new Error(`PC${d.index}: change-passphrase failed: ${out.en}`);
        }
      } else if (env) {
        await sleep(Math.floor(rng() * 300)); // deliberate: idle time between operations; the PCs' own rounds run meanwhile
      } else {
        for (let k = 0; k < 1 + Math.floor(rng() * 4); k++) sim.step();
        if (opts.faults && rng() < 0.2) sim.takeSnapshot();
        await sleep(Math.floor(rng() * 120)); // deliberate: random idle time between operations is part of the schedule
      }
    }
    if (env) {
      // the server answers again, at full speed; torn uploads and lost answers still armed may hit the
      // first PUTs of the quiescence; the worker PC starts once more and sends what it has
      thaw();
      if (srv.down) await env.server.up();
      srv.down = false;
      for (const p of proxies) p.delayMs = 0;
      if (worker.runs > 0) await workerRun('idle');
    }
    // quiescence: every client catches up, every device pushes and pulls, until nothing moves (on a
    // server also: every PC online with nothing pending or announced and not arrived — the worker PC
    // runs on meanwhile, so its full check can write again a file of its own torn by its SIGKILL)
    const settled = (d: SimDevice) => d.sync !== undefined && (d.sync.state === 'in-sync' || d.sync.state === 'conflicts') && d.sync.pendingUploads === 0 && d.sync.awaited === 0;
    let agreed = false;
    for (let round = 0; round < 40 && !(agreed && (!env || ds.every(settled))); round++) {
      for (const d of ds) {
        if (usb) sim.plug(d.index);
        if (!env) sim.settle();
        await d.store!.flush({ timeoutMs: 3000 });
        if (!env) sim.settle();
        await sleep(usb ? 350 : 100); // deliberate: lets polls (and the USB monitor) run between rounds; the rounds' agreement check is the condition
        await catchUp(d);
      }
      const views = await Promise.all(ds.map((d) => view(d.store!)));
      agreed = views.every((v) => isDeepStrictEqual(v, views[0])) && ds.every((d) => d.keys.upToDate && d.keys.current === ds[0]!.keys.current) && (worker.runs === 0 || (await workerArrived(ds[0]!)).length === 0);
      if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] quiescence round ${round}: agreed ${agreed}, ${ds.map((d) => `PC${d.index} ${d.sync?.state} (awaited ${d.sync?.awaited}; key ${JSON.stringify(d.keys)})`).join(' ')}`);
    }
    for (const p of proxies) p.clear();
    await stopIdleWorker();
    // invariants
    const lost: string[] = [];
    for (const d of ds)
      for (const a of acked) {
        const h = await d.store!.history('clients', a.id);
        if (!h.some((x) => x.version === a.version)) lost.push(`PC${d.index} lacks ${a.id}@${a.version} (by PC${a.dev})`);
      }
    // the worker PC's changes, on every PC and in its own replica (verify finds nothing there)
    const verifyProblems: string[] = [];
    if (worker.runs > 0) {
      for (const d of ds) for (const m of await workerArrived(d)) lost.push(`PC${d.index} lacks the worker PC's ${m}`);
      const p = workerPayload(true) as { header: never; key: string };
      const replica = await PracticeReplica.open({ localRoot: worker.localRoot, header: p.header, key: Buffer.from(p.key, 'base64'), deviceId: worker.deviceId, deviceName: 'crash', userName: 'crash', lockStaleMs: 2000 });
      try {
        for (const [id, version] of worker.acked) if (!(await replica.history('notes', id)).some((h) => h.version === version)) lost.push(`the worker PC's own replica lacks ${id}@${version}`);
        for (const pr of (await replica.verify()).problems) verifyProblems.push(`the worker PC: ${pr.path}: ${pr.reason}`);
      } finally {
        await replica.close();
      }
    }
    const conflictMismatches: string[] = [];
    for (const id of IDS) {
      const mine = observed.filter((o) => o.id === id);
      const superseded = new Set(mine.flatMap((o) => o.supersedes));
      const heads = mine.filter((o) => !superseded.has(o.version));
      const expectConflict = heads.length > 1 && heads.some((h) => !isDeepStrictEqual(h.data, heads[0]!.data));
      for (const d of ds) {
        const rec: StoredRecord | undefined = await d.store!.get('clients', id);
        const flagged = rec?.conflict ?? false;
        if (flagged !== expectConflict) conflictMismatches.push(`PC${d.index} ${id}: conflict ${flagged}, expected ${expectConflict} (heads ${heads.map((h) => h.version).join(', ')})`);
      }
    }
    // A replaced passphrase opens nothing new: the current passphrase opens the key every PC writes
    // with, and no passphrase replaced by a later change (an ancestor of the current generation down the
    // endorsed chain) opens it. The two passphrases of a crossing both open it until the next change
    // (each side carried the other's key under its own: docs/PASSPHRASE.md, "Two PCs changing it").
    if (opts.passphraseChanges) {
      const local = replicasOf(ds[0]!)[0]!;
      const hdr = await ReplicaFolder.readHeader(local);
      if (hdr.kind !== 'ok') throw new Error('no header');
      const files = await ReplicaFolder.keyFilesAt(local, hdr.header.storeId);
      const current = ds[0]!.keys.current;
      const parentOf = new Map(files.flatMap(({ file: f }) => (f.t === 'key' ? [[f.keyId, f.parent] as const] : [])));
      const replacedByCurrent = (gen: string) => {
        for (let p = parentOf.get(current); p !== undefined; p = parentOf.get(p)) if (p === gen) return true;
        return gen === HEADER_KEY_ID && current !== HEADER_KEY_ID;
      };
      /** The generation a passphrase was set for: the key file it unlocks, else the header's. */
      const generationOf = async (pass: string) => {
        for (const { file: f } of files) if (f.t === 'key' && (await unlockKeyFile(f, pass))) return f.keyId;
        return HEADER_KEY_ID;
      };
      let currentOpens = false;
      const short = (id: string) => id.slice(0, 6);
      for (const p of passphrases) {
        const r = await keyringFromPassphrase(hdr.header, files, p);
        const no = `passphrase no. ${passphrases.indexOf(p) + 1}`;
        if (r.kind === 'wrong' && !goneWithDisk.has(p)) pp.violations.push(`${no} opens nothing`);
        const opens = r.kind === 'ok' && r.keyring.has(current);
        const gen = await generationOf(p);
        if (gen === current) currentOpens ||= opens;
        else if (opens && replacedByCurrent(gen)) pp.violations.push(`${no} (generation ${short(gen)}) was replaced by the current ${short(current)} and still opens it`);
      }
      if (!currentOpens) {
        const desc = files.map(({ file: f }) => (f.t === 'key' ? `key ${short(f.keyId)}<-${short(f.parent)} ${f.createdAt} by ${short(f.createdBy)} wraps ${f.wraps.map((w) => short(w.keyId))}` : `link under ${short(f.under)} wraps ${f.wraps.map((w) => short(w.keyId))} by ${short(f.createdBy)}`));
        pp.violations.push(`the current passphrase does not open the current key ${short(current)}; key files: ${desc.join(' | ')}`);
      }
    }
    // nothing pending (server schedules; a folder PC's status depends on where its sync client is): every
    // PC online, nothing waiting to go up or announced and not arrived — within a few of its rounds
    const pending: string[] = [];
    if (env) {
      const until = Date.now() + 10 * TIMINGS.pollMs + 2000;
      while (!ds.every(settled) && Date.now() < until) await sleep(TIMINGS.pollMs);
      for (const d of ds) if (!settled(d)) pending.push(`PC${d.index} after the quiescence: ${JSON.stringify({ state: d.sync?.state, pendingUploads: d.sync?.pendingUploads, awaited: d.sync?.awaited })}`);
    }
    if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] invariants checked`);
    // no false in-sync at the end: once a fault is older than the lag a full check needs
    if (!env) sim.settle();
    await sleep(Math.max(0, IN_SYNC_LAG_MS - (Date.now() - sim.lastFault)));
    await checkInSync('end of the schedule', true);
    // verify every replica: each device's local one, and (cloud mode) the cloud folder itself
    for (const d of ds) {
      const page = d.plugin!.settingsPages[0]!.open();
      const out = await page.invoke('verify');
      page.dispose();
      if (!out.ok) verifyProblems.push(`PC${d.index}: ${out.message.en}`);
    }
    if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] verified`);
    // format 2 at the end: packs and log files in the shared folder (a `years` schedule must have packed and removed)
    const shelf = { packs: 0, logFiles: 0 };
    if (!env)
      for (const rel of walk(sim.medium())) {
        if (/^devices[\\/][0-9a-f]{32}[\\/]packs[\\/]/.test(rel)) shelf.packs++;
        else if (/^devices[\\/][0-9a-f]{32}[\\/]log[\\/]\d{10}-/.test(rel)) shelf.logFiles++;
      }
    return {
      shelf,
      devices,
      mode,
      operations,
      restarts,
      acknowledged: acked.length + worker.acked.size + worker.removed.size,
      lost,
      divergent: !agreed,
      conflictMismatches,
      writeViolations: [...sim.violations],
      verifyProblems,
      passphrase: pp,
      sim: sim.stats,
      faults,
      appData,
      restoredFolders,
      faultFailures,
      inSync,
      worker: { runs: worker.runs, acknowledged: worker.acked.size + worker.removed.size },
      pending,
    };
  } finally {
    for (const d of ds) await d.unload().catch(() => undefined);
    if (env) {
      if (srv.frozen) clearTimeout(srv.frozen);
      worker.idle?.kill('SIGKILL');
      for (const p of proxies) await p.close();
      await env.server.stop();
    }
    if (usb && sim.pluggedInto() !== undefined) sim.plug(undefined);
    if (process.env.CAMPAIGN_DEBUG) console.log(`[${Date.now() - T0} ms] torn down`);
    if (process.env.CAMPAIGN_KEEP) console.log(`kept ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}

export function failuresOf(r: RunResult): string[] {
  return [...r.lost, ...(r.divergent ? ['devices did not converge'] : []), ...r.conflictMismatches, ...r.writeViolations, ...r.verifyProblems, ...r.passphrase.violations, ...r.faultFailures, ...r.inSync.falseInSync, ...r.pending];
}
