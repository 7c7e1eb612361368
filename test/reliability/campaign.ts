// The reliability campaign: random practice work on 2–4 devices through the real plugin (loaded by
// the reference loader), random sync-client schedules from the simulator, then quiescence; and the
// invariants checked after every run. Plain functions (no jest), shared by the test suite and by
// `npm run reliability`, which writes docs/RELIABILITY.md.
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
import { CloudStorageTimings, StoreDiagnostics } from '../../src/services/cloud-storage-service';

const ROOT = path.resolve(__dirname, '..', '..');
const PASS = 'Kampagnen-Leuchtturm-1';
/** The full check of the shared folder every 700 ms, others' files written again after 1 s missing or damaged. */
const TIMINGS: CloudStorageTimings = { probeTimeoutMs: 5000, monitorMs: 60000, pollMs: 150, heartbeatMs: 400, auditMs: 700, repairGraceMs: 1000 };
/**
 * How long "in sync" may lag a fault under a PC's feet: a deleted or rolled-back file is noticed in
 * the next round (by name), a damaged one only by the next full check (auditMs), and repairs take a round.
 */
const IN_SYNC_LAG_MS = TIMINGS.auditMs! + 4 * TIMINGS.pollMs + 400;

/** Every fault kind a schedule can draw: the simulator's folder faults and a PC's app-data restored from an older backup. */
export type FaultKind = FolderFault | 'app-data-restore';
export const FAULT_KINDS: readonly FaultKind[] = [...FOLDER_FAULTS, 'app-data-restore'];
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
  ) {}

  protected container(): Container {
    const c = new Container();
    c.bind(HostEnvironment).toConstantValue({ apiVersion: '1.0.0', appDataDir: this.appDataDir, deviceName: `PC${this.index}`, userName: 'kampagne', locale: 'de', platform: process.platform });
    c.bind(FeatureFlags).toConstantValue({ isEnabled: () => true });
    const dialogs: HostDialogs = { pickFolder: async () => this.folder, promptCredentials: async () => undefined, promptSecret: async () => this.secrets.shift(), notify: () => undefined };
    c.bind(HostDialogs).toConstantValue(dialogs);
    c.bind(HostLogger).toConstantValue({ debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined });
    c.bind(HostLocalData).toConstantValue({ count: async () => 0, records: async function* () {} });
    c.bind(CloudStorageTimings).toConstantValue(TIMINGS);
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
  mode: 'cloud' | 'usb';
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
}

async function view(store: PracticeStore): Promise<unknown> {
  const out: unknown[] = [];
  for (const r of await store.list('clients')) out.push(r);
  for (const id of IDS) out.push(await store.history('clients', id));
  let conflicts: readonly RecordConflict[] = [];
  store.conflicts$.subscribe((c) => (conflicts = c)).unsubscribe();
  return { out, conflicts };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ScheduleOptions {
  passphraseChanges?: boolean;
  /** Faults between the operations: true draws any kind, a kind draws only that one. */
  faults?: boolean | FaultKind;
}

export async function runSchedule(seed: number, devices: number, operations: number, mode: 'cloud' | 'usb', opts: ScheduleOptions = {}): Promise<RunResult> {
  const rng: Rng = seededRng(seed);
  // quiet-moment checks draw from their own stream, so that every earlier seed keeps its schedule
  const quietRng: Rng = seededRng(seed ^ 0x5bd1e995);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-campaign-'));
  const sim = new CloudSim(root, devices, rng, mode);
  const ds = Array.from({ length: devices }, (_, i) => new SimDevice(i, path.join(root, `app-data-${i}`), sim.folder(i)));
  const observed: Observed[] = [];
  let acked: { dev: number; version: string; id: string }[] = [];
  let restarts = 0;
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const appData = { backups: 0, forgiven: 0 };
  const faultFailures: string[] = [];
  const inSync = { checks: 0, deferred: 0, falseInSync: [] as string[] };
  let restoredFolders = 0;
  /** Per device: its app-data backup, and how many acknowledged changes there were when it was taken. */
  const backups: ({ dir: string; ackedBefore: number } | undefined)[] = ds.map(() => undefined);
  let ackCount = 0; // acknowledged changes ever (acked shrinks when a restored disk takes some along)
  const ackSeq = new Map<string, number>(); // version → its number in ackCount
  const passphrases = [PASS]; // every passphrase ever set, oldest first
  const newestFirst = () => [...passphrases].reverse();
  const pp = { changes: 0, entries: 0, violations: [] as string[] };
  /** A person at this PC enters the passphrase set elsewhere, trying the ones they were told, newest first. */
  async function catchUp(d: SimDevice): Promise<void> {
    if (!opts.passphraseChanges) return;
    const k = d.keys;
    const out = await d.act('enter-passphrase', newestFirst());
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
  async function changesIn(root: string, keys = storeKeys()): Promise<Set<string>> {
    const out = new Set<string>();
    if (!keys) return out;
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
    return out;
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
      const folder = mode === 'cloud' ? sim.folder(d.index) : sim.medium();
      if (!seen.has(folder)) seen.set(folder, await changesIn(folder, keys));
      const there = seen.get(folder)!;
      const missing = acked.filter((a) => a.dev === d.index && !there.has(a.version));
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
      backups[d.index] = { dir, ackedBefore: ackCount };
      appData.backups++;
      restarts++;
      return;
    }
    await d.restart(opts.passphraseChanges ? newestFirst() : [], async () => {
      const keys = storeKeys();
      const folders = [sim.cloud, ...ds.map((x) => sim.folder(x.index)), path.join(root, 'usb-stick-in-the-drawer')];
      const reached = new Set<string>();
      for (const f of folders) if (fs.existsSync(f)) for (const v of await changesIn(f, keys)) reached.add(v);
      for (const o of ds)
        if (o !== d && o.store)
          for (const id of IDS) for (const h of await o.store.history('clients', id)) reached.add(h.version);
      const gone = new Set(acked.filter((a) => a.dev === d.index && ackSeq.get(a.version)! >= backup.ackedBefore && !reached.has(a.version)).map((a) => a.version));
      appData.forgiven += gone.size;
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
    if (mode === 'usb') sim.plug(d.index);
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
  try {
    // set up: the first device creates the store, the others join once it reached them
    for (const d of ds) {
      if (mode === 'usb') sim.plug(d.index);
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
      pp.changes++;
      // and the key file is in the cloud's copy before the first draw (else the fault found nothing to delete)
      await ds[0]!.store!.flush({ timeoutMs: 3000 });
      if (mode === 'cloud') sim.settle();
    }
    for (let n = 0; n < operations; n++) {
      if (n > 0 && quietRng() < 0.06) await quietCheck();
      const d = ds[Math.floor(rng() * devices)]!;
      const store = d.store!;
      const r = rng();
      let op: Op = r < 0.45 ? 'put' : r < 0.55 ? 'remove' : r < 0.63 ? 'resolve' : r < 0.68 ? 'attach' : r < 0.72 ? 'restart' : 'sync';
      // drawn only when enabled, so the schedules of earlier seeds (and the regression cases) stay the same
      if (op === 'sync' && opts.passphraseChanges && rng() < 0.12) op = 'passphrase';
      if (op === 'sync' && opts.faults && rng() < (opts.faults === true ? 0.35 : 0.7)) op = 'fault'; // one kind only: more often
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
      } else if (op === 'fault') {
        const kinds = typeof opts.faults === 'string' ? [opts.faults] : FAULT_KINDS;
        const kind = kinds[Math.floor(rng() * kinds.length)]!;
        if (kind === 'app-data-restore') await appDataFault(d);
        else if (kind === 'empty') await emptyAndRestore(d);
        else if (sim.fault(kind)) faults[kind]++;
        if (rng() < 0.3) sim.takeSnapshot();
      } else if (op === 'passphrase') {
        // the person tries the passphrases they know as "the current one", newest first
        const next = `Kampagnen-Leuchtturm-${passphrases.length + 1}-${seed}`;
        for (const current of newestFirst()) {
          const out = await d.act('change-passphrase', [current, next]);
          if (out.ok) {
            passphrases.push(next);
            pp.changes++;
            break;
          }
          if (out.en.includes('already changed on another PC')) {
            await catchUp(d);
            break;
          }
          if (!/is wrong|already replaced|changed while you were typing/.test(out.en)) throw new Error(`PC${d.index}: change-passphrase failed: ${out.en}`);
        }
      } else {
        for (let k = 0; k < 1 + Math.floor(rng() * 4); k++) sim.step();
        if (opts.faults && rng() < 0.2) sim.takeSnapshot();
        await sleep(Math.floor(rng() * 120)); // deliberate: random idle time between operations is part of the schedule
      }
    }
    // quiescence: every client catches up, every device pushes and pulls, until nothing moves
    let agreed = false;
    for (let round = 0; round < 40 && !agreed; round++) {
      for (const d of ds) {
        if (mode === 'usb') sim.plug(d.index);
        sim.settle();
        await d.store!.flush({ timeoutMs: 3000 });
        sim.settle();
        await sleep(mode === 'usb' ? 350 : 100); // deliberate: lets polls (and the USB monitor) run between rounds; the rounds' agreement check is the condition
        await catchUp(d);
      }
      const views = await Promise.all(ds.map((d) => view(d.store!)));
      agreed = views.every((v) => isDeepStrictEqual(v, views[0])) && ds.every((d) => d.keys.upToDate && d.keys.current === ds[0]!.keys.current);
    }
    // invariants
    const lost: string[] = [];
    for (const d of ds)
      for (const a of acked) {
        const h = await d.store!.history('clients', a.id);
        if (!h.some((x) => x.version === a.version)) lost.push(`PC${d.index} lacks ${a.id}@${a.version} (by PC${a.dev})`);
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
      const replicas = path.join(ds[0]!.appDataDir, 'cloud-storage', 'replicas');
      const local = path.join(replicas, fs.readdirSync(replicas)[0]!);
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
        if (r.kind === 'wrong') pp.violations.push(`${no} opens nothing`);
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
    // no false in-sync at the end: once a fault is older than the lag a full check needs
    sim.settle();
    await sleep(Math.max(0, IN_SYNC_LAG_MS - (Date.now() - sim.lastFault)));
    await checkInSync('end of the schedule', true);
    const verifyProblems: string[] = [];
    // verify every replica: each device's local one, and (cloud mode) the cloud folder itself
    for (const d of ds) {
      const page = d.plugin!.settingsPages[0]!.open();
      const out = await page.invoke('verify');
      page.dispose();
      if (!out.ok) verifyProblems.push(`PC${d.index}: ${out.message.en}`);
    }
    return {
      devices,
      mode,
      operations,
      restarts,
      acknowledged: acked.length,
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
    };
  } finally {
    for (const d of ds) await d.unload().catch(() => undefined);
    if (mode === 'usb' && sim.pluggedInto() !== undefined) sim.plug(undefined);
    if (process.env.CAMPAIGN_KEEP) console.log(`kept ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}

export function failuresOf(r: RunResult): string[] {
  return [...r.lost, ...(r.divergent ? ['devices did not converge'] : []), ...r.conflictMismatches, ...r.writeViolations, ...r.verifyProblems, ...r.passphrase.violations, ...r.faultFailures, ...r.inSync.falseInSync];
}
