// The practice store the host works on: a local replica in this device's app-data folder
// (STORE.md invariant 2, local first), exchanged with the shared folder by SharedFolderExchange.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import * as lockfile from 'proper-lockfile';
import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import type {
  AttachmentRef,
  HostLogger,
  ImportRecord,
  ImportReport,
  JsonObject,
  PracticeStore,
  RecordChange,
  RecordConflict,
  StoredRecord,
} from '../../host-api';
import { StorageError } from '../../host-api/storage';
import { SerialQueue } from '../common/serial-queue';
import { errnoOf, localWriteError, storageError } from '../common/errors';
import { listDir } from '../common/durable-fs';
import { open as openEnvelope, seal, type StoreHeader } from '../crypto/store-crypto';
import { Keyring, createKeyFile, createLinkFile, resolveKeys, type KeyState } from '../crypto/keyring';
import {
  COLLECTION,
  Contexts,
  HASH_HEX,
  JournalEntrySchema,
  MAX_BODY_BYTES,
  MAX_CHANGES_PER_SEGMENT,
  RECORD_ID,
  VERSION,
  jsonBytes,
  jsonProblem,
  isPlainJsonObject,
  type Change,
  type Segment,
  type Snapshot,
} from './format';
import { HybridClock } from './hybrid-clock';
import { verifyReplica, type VerifyReport } from './verify';
import { PracticeState, RecordEntry } from './record-state';
import { BadFileError, ReplicaFolder, type BadFile, type SegmentFile } from './replica-folder';

export interface ReplicaOptions {
  readonly localRoot: string;
  readonly header: StoreHeader;
  /** The header's store key alone, or every key generation this device holds. */
  readonly key: Buffer | Keyring;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly userName: string;
  readonly logger?: HostLogger;
  readonly now?: () => number;
  /** Write a snapshot once this many changes were sealed since the last one. */
  readonly snapshotEvery?: number;
  /** Delay between an acknowledged change and sealing it into a segment (batching). */
  readonly sealDelayMs?: number;
  /** Lock timings of proper-lockfile (stale ≥ 2000 ms). */
  readonly lockStaleMs?: number;
  /**
   * How long to wait for a lock left by a crashed process to turn stale before saying "already open"
   * (proper-lockfile may round the lock's mtime up by a second). Default 3.5 s.
   */
  readonly lockWaitMs?: number;
  /**
   * Ids this device had before (an app-data folder copied to another machine gets a fresh id). Their
   * changes that never reached the shared folder are written again under the current id.
   */
  readonly formerDeviceIds?: readonly string[];
}

const JOURNAL_DIR = 'journal';
const OUTBOX_DIR = 'outbox';
const LOCK_FILE = 'replica.lock';

function segmentKey(f: SegmentFile): string {
  return `${f.device}/${f.seq}-${f.hash}`;
}

/** Where a body lies: "<device>:<seq>" or "journal". */
function whereOf(f: { device: string; seq: number }): string {
  return `${f.device}:${f.seq}`;
}

export function recordDigest(col: string, id: string, data: JsonObject | null): string {
  return crypto.createHash('sha256').update(JSON.stringify([col, id, canonical(data)])).digest('hex');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export class PracticeReplica implements PracticeStore {
  readonly local: ReplicaFolder;
  readonly state = new PracticeState();
  protected readonly clock: HybridClock;
  protected readonly writes = new SerialQueue();
  /** Writes of this device's own segments (sealing, import): one at a time, beside the puts, not before them. */
  protected readonly seals = new SerialQueue();
  protected readonly journal = new Map<string, Change>();
  /** Segments applied, per device: seq → hash. */
  readonly segments = new Map<string, Map<number, string>>();
  /** Every segment file applied, by name: also the second file of a forked position, so none is applied twice. */
  protected readonly applied = new Set<string>();
  protected ownSeq = 0;
  protected ownTip: string | null = null;
  protected sealTimer?: NodeJS.Timeout;
  protected sinceSnapshot = 0;
  protected releaseLock?: () => Promise<void>;
  protected closed = false;
  protected lockLost = false;
  protected readonly segmentCache = new Map<string, Segment>();
  readonly badFiles: BadFile[] = [];

  protected readonly changesSubject = new Subject<RecordChange>();
  protected readonly conflictsSubject = new BehaviorSubject<readonly RecordConflict[]>([]);
  /** Fires after every seal so the exchange can push; and after remote changes were applied. */
  readonly sealed$ = new Subject<void>();
  readonly changes$: Observable<RecordChange> = this.changesSubject.asObservable();
  readonly conflicts$: Observable<readonly RecordConflict[]> = this.conflictsSubject.asObservable();

  /** The keys of this store; shared with every folder of it, so a key learned is used everywhere at once. */
  readonly keyring: Keyring;
  protected readonly keyStateSubject: BehaviorSubject<KeyState>;
  /** Which passphrase generation is current, and whether this device holds it. */
  readonly keyState$: Observable<KeyState>;
  /** Called with the keyring whenever it learned a key (the service keeps it in the OS keychain). */
  onKeysLearned?: (keyring: Keyring) => Promise<void>;

  protected constructor(protected readonly opts: ReplicaOptions) {
    this.keyring = Buffer.isBuffer(opts.key) ? Keyring.ofHeaderKey(opts.header.storeId, opts.key, opts.header.keyCheck) : opts.key;
    this.keyStateSubject = new BehaviorSubject<KeyState>({ current: this.keyring.current.id, upToDate: true, locked: [], forged: [], unlinked: [], generations: [] });
    this.keyState$ = this.keyStateSubject.asObservable();
    this.local = new ReplicaFolder(opts.localRoot, opts.header.storeId, this.keyring);
    this.clock = new HybridClock(opts.deviceId, opts.now);
  }

  get readOnly(): boolean {
    return this.lockLost;
  }

  get deviceId(): string {
    return this.opts.deviceId;
  }

  get header(): StoreHeader {
    return this.opts.header;
  }

  /** The full integrity check of this device's replica (or of another folder of the same store). */
  verify(root = this.opts.localRoot): Promise<VerifyReport> {
    return verifyReplica(root, this.opts.header, this.keyring);
  }

  /** Another replica of the same store (the shared folder), readable and writable with this store's key. */
  folderAt(root: string): ReplicaFolder {
    return new ReplicaFolder(root, this.opts.header.storeId, this.keyring);
  }

  /** Opens (creating if needed) the local replica; refuses a second process on the same replica. */
  static async open(opts: ReplicaOptions): Promise<PracticeReplica> {
    const r = new PracticeReplica(opts);
    await r.init();
    return r;
  }

  protected async init(): Promise<void> {
    const root = this.opts.localRoot;
    await fsp.mkdir(path.join(root, JOURNAL_DIR), { recursive: true });
    await fsp.mkdir(path.join(root, OUTBOX_DIR), { recursive: true });
    try {
      this.releaseLock = await lockfile.lock(root, {
        realpath: false,
        lockfilePath: path.join(root, LOCK_FILE),
        stale: Math.max(2000, this.opts.lockStaleMs ?? 10000),
        retries: { retries: Math.ceil((this.opts.lockWaitMs ?? 3500) / 250), factor: 1, minTimeout: 250, maxTimeout: 250 },
        onCompromised: (err) => this.onLockCompromised(err),
      });
    } catch (e) {
      if (errnoOf(e) === 'ELOCKED')
        throw storageError('unavailable', {
          de: 'Die Praxisdaten sind auf diesem PC bereits in einem anderen Programmfenster geöffnet. Bitte schließen Sie das andere Fenster und versuchen Sie es erneut.',
          en: 'The practice data are already open in another window of the application on this PC. Close the other window and try again.',
        });
      throw localWriteError(e);
    }
    try {
      const hdr = await ReplicaFolder.readHeader(root);
      if (hdr.kind === 'missing') await ReplicaFolder.writeHeader(root, this.opts.header);
      else if (hdr.kind !== 'ok' || hdr.header.storeId !== this.opts.header.storeId)
        throw storageError('corrupt', {
          de: 'Der lokale Datenbestand dieses PCs gehört zu einem anderen Praxis-Speicher. Es wurde nichts verändert; bitte wenden Sie sich an den Support.',
          en: "This PC's local replica belongs to another practice store. Nothing was changed; please contact support.",
        });
      await this.refreshKeys();
      await this.load();
      if (this.formerJournal.length) await this.reissueFormerJournal();
    } catch (e) {
      await this.releaseLock?.().catch(() => undefined);
      throw e;
    }
  }

  protected onLockCompromised(err: Error): void {
    // Never crash the host: stop writing and say so.
    this.lockLost = true;
    this.opts.logger?.error('cloud-storage: the lock on the local replica was lost; writing stopped until the app is restarted', { reason: err.message });
  }

  // ---- loading ---------------------------------------------------------------------------

  /** Temp files of writes a crash interrupted: never published, so safe to remove here (we hold the lock). */
  protected async removeLeftoverTemps(): Promise<void> {
    const root = this.opts.localRoot;
    const dirs = [
      JOURNAL_DIR,
      'objects',
      'keys',
      ...(await listDir(path.join(root, 'devices'))).map((d) => path.join('devices', d, 'log')),
      ...(await listDir(path.join(root, 'snapshots'))).map((d) => path.join('snapshots', d)),
    ];
    for (const d of dirs)
      for (const n of await listDir(path.join(root, d))) if (/^\.incoming-[0-9a-f]+\.tmp$/.test(n)) await fsp.rm(path.join(root, d, n), { force: true });
  }

  protected async load(): Promise<void> {
    await this.removeLeftoverTemps();
    const bad = (b: BadFile) => this.reportBad(b);
    await this.loadBestSnapshot(await this.local.listSnapshots(bad));
    for (const dev of await this.local.listDevices(bad)) {
      for (const f of await this.local.listSegments(dev, bad)) {
        if (this.hasApplied(f)) continue;
        try {
          this.applySegment(f, await this.local.readSegment(f), false);
        } catch (e) {
          if (e instanceof BadFileError) this.reportBad(e.bad);
          else throw e;
        }
      }
    }
    this.updateOwnTip();
    for (const name of (await listDir(path.join(this.opts.localRoot, JOURNAL_DIR))).sort()) {
      if (!VERSION.test(name)) continue;
      const file = path.join(this.opts.localRoot, JOURNAL_DIR, name);
      const owner = name.slice(name.lastIndexOf('.') + 1);
      const former = owner !== this.opts.deviceId && (this.opts.formerDeviceIds ?? []).includes(owner);
      let change: Change;
      try {
        const plain = openEnvelope(this.keyring, this.opts.header.storeId, Contexts.journal(owner === this.opts.deviceId || former ? owner : this.opts.deviceId, name), await fsp.readFile(file));
        change = JournalEntrySchema.parse(JSON.parse(plain.toString('utf8'))).change;
      } catch {
        // A journal file is only renamed into place once complete and fsynced; anything else is not acknowledged.
        this.reportBad({ path: path.join(JOURNAL_DIR, name), reason: 'unreadable journal entry (ignored, kept on disk)' });
        continue;
      }
      if (this.state.entry(change.col, change.id)?.versions.has(change.ver)) {
        await fsp.rm(file, { force: true }); // sealed before a crash: the segment has it
        continue;
      }
      this.clock.observe(change.ver);
      if (former) {
        this.formerJournal.push({ change, file }); // acknowledged under the old id: written again below
        continue;
      }
      this.state.apply(change, 'journal');
      this.journal.set(change.ver, change);
    }
    this.publishConflicts();
    if (this.journal.size > 0) this.scheduleSeal();
  }

  protected readonly formerJournal: { change: Change; file: string }[] = [];

  /**
   * Changes of a former id of this device that were never sealed (their bodies exist only in those
   * journal files): written again under the current id with the same parents and content — if the
   * original ever arrives too, the two are identical and not a conflict — then the old entry goes.
   */
  protected async reissueFormerJournal(): Promise<void> {
    for (const { change, file } of this.formerJournal.splice(0)) {
      await this.writes.run(() => this.commit({ col: change.col, id: change.id, parents: change.parents, data: change.data, op: change.op }));
      await fsp.rm(file, { force: true });
    }
  }

  /**
   * Sealed changes of a former id that the shared folder never got: written again under the current
   * id, replacing the original version (whose body stays readable in the local segment).
   */
  reissue(changes: readonly Change[]): Promise<void> {
    return this.writes.run(async () => {
      for (const c of changes) await this.commit({ col: c.col, id: c.id, parents: [c.ver], data: c.data, op: c.op });
    });
  }

  /** Segments of former ids, for the exchange to re-issue what the shared folder never got. */
  formerSegments(): { device: string; seq: number; hash: string }[] {
    const out: { device: string; seq: number; hash: string }[] = [];
    for (const dev of this.opts.formerDeviceIds ?? []) for (const [seq, hash] of this.segments.get(dev) ?? []) out.push({ device: dev, seq, hash });
    return out;
  }

  async readOwnSegment(f: SegmentFile): Promise<Segment> {
    return this.local.readSegment(f);
  }

  /** Loads the newest snapshot that verifies (a new device starts from it instead of replaying). */
  async loadBestSnapshot(snaps: SegmentFile[]): Promise<void> {
    const ordered = await this.local.snapshotsToTry(snaps);
    for (const f of ordered) {
      try {
        this.applySnapshot(this.local.openSnapshot(f, await this.local.readSnapshotBytes(f)));
        return;
      } catch (e) {
        this.resetState(); // a snapshot found bad half-way leaves nothing behind
        if (e instanceof BadFileError) this.reportBad(e.bad);
        else throw e;
      }
    }
  }

  /** Back to an empty state; only used while loading, before anything else was applied. */
  protected resetState(): void {
    this.state.records.clear();
    this.state.countByDevice.clear();
    this.state.countByWhere.clear();
    this.state.changeCount = 0;
    this.segments.clear();
    this.applied.clear();
  }

  protected applySnapshot(snap: ReturnType<ReplicaFolder['openSnapshot']>): void {
    for (const [dev, cover] of Object.entries(snap.header.covers)) {
      const m = this.segmentsOf(dev);
      for (const [seqText, hash] of Object.entries(cover.hashes)) {
        m.set(Number(seqText), hash);
        this.applied.add(segmentKey({ device: dev, seq: Number(seqText), hash }));
      }
    }
    // JSON.parse makes a string per occurrence; the few device names and places are shared instead.
    const interned = new Map<string, string>();
    const intern = (s: string) => interned.get(s) ?? (interned.set(s, s), s);
    let newest = ''; // versions sort by their clock: observing the greatest is observing all
    for (const batch of snap.batches()) {
      for (const r of batch) {
        const e = new RecordEntry(r.col, r.id);
        for (const [ver, parents, at, by, deleted, where] of r.versions) {
          e.addVersion({ ver, parents, at, by: intern(by), deleted, where: intern(where), superseded: false });
          this.state.count(ver, where);
          if (ver > newest) newest = ver;
        }
        for (const [ver, data] of Object.entries(r.heads)) if (e.versions.get(ver)?.superseded === false) e.heads.set(ver, data);
        this.state.records.set(`${r.col}\u0000${r.id}`, e);
      }
    }
    if (newest) this.clock.observe(newest);
  }

  hasApplied(f: SegmentFile): boolean {
    return this.applied.has(segmentKey(f));
  }

  protected segmentsOf(dev: string): Map<number, string> {
    let m = this.segments.get(dev);
    if (!m) this.segments.set(dev, (m = new Map()));
    return m;
  }

  /** Applies a verified segment; returns the records it changed (for changes$). */
  applySegment(f: SegmentFile, seg: Segment, emit: boolean): void {
    if (!this.segmentsOf(f.device).has(f.seq)) this.segmentsOf(f.device).set(f.seq, f.hash); // a fork's first file stays the body's home
    this.applied.add(segmentKey(f));
    this.cacheSegment(f, seg);
    const origin = f.device === this.opts.deviceId ? 'local' : 'remote';
    for (const c of seg.changes) {
      this.clock.observe(c.ver);
      if (this.state.apply(c, whereOf(f))) {
        if (emit) {
          const rec = this.state.entry(c.col, c.id)?.toStored();
          if (rec) this.changesSubject.next({ origin, record: rec });
        }
      } else {
        const meta = this.state.entry(c.col, c.id)?.versions.get(c.ver);
        if (meta && meta.where === 'journal' && f.device === this.opts.deviceId) this.state.move(meta, whereOf(f));
      }
    }
    if (f.device === this.opts.deviceId) this.updateOwnTip();
    if (emit) this.publishConflicts();
  }

  protected updateOwnTip(): void {
    const mine = this.segments.get(this.opts.deviceId);
    if (!mine) return;
    for (const [seq, hash] of mine) if (seq > this.ownSeq) [this.ownSeq, this.ownTip] = [seq, hash];
  }

  // ---- key generations (docs/PASSPHRASE.md) ------------------------------------------------

  get keyState(): KeyState {
    return this.keyStateSubject.value;
  }

  /**
   * Reads this replica's key files, learns what the held keys open, selects the key to write with,
   * and writes a link file when this device holds a key the current one cannot reach. True when a
   * key was learned or the write key changed (locked files may be readable now).
   */
  async refreshKeys(): Promise<boolean> {
    const bad = (b: BadFile) => this.reportBad(b);
    const size = this.keyring.size;
    const writing = this.keyring.current.id;
    let st = resolveKeys(this.keyring, await this.local.readKeyFiles(bad));
    if (st.upToDate && st.unlinked.length > 0 && !this.lockLost && !this.closed) {
      await this.local.writeKeyFile(createLinkFile(this.keyring, st.current, st.unlinked, this.opts.deviceId));
      st = resolveKeys(this.keyring, await this.local.readKeyFiles(bad));
    }
    for (const f of st.forged) this.reportBad({ path: `keys/${f.hash}`, reason: 'a key file not endorsed by the key it claims to replace — never believed' });
    const learned = this.keyring.size > size;
    if (learned) await this.onKeysLearned?.(this.keyring).catch(() => this.opts.logger?.warn('cloud-storage: a key learned could not be kept in the keychain; it will be asked for again'));
    const prev = this.keyStateSubject.value;
    if (!this.closed && (prev.current !== st.current || prev.upToDate !== st.upToDate || prev.locked.length !== st.locked.length || learned)) this.keyStateSubject.next(st);
    return learned || this.keyring.current.id !== writing;
  }

  /**
   * A new passphrase: a new key generation, wrapping every key held, endorsed by the current one.
   * `persist` keeps the keyring in the OS keychain; it runs before the key file is written, so a
   * published generation is never one this device could lose. On failure nothing is changed.
   */
  async changePassphrase(passphrase: string, deviceName: string, persist: (keyring: Keyring) => Promise<void>): Promise<void> {
    this.checkOpen();
    const st = this.keyStateSubject.value;
    if (!st.upToDate) throw new Error('not up to date');
    const files = await this.local.readKeyFiles();
    const latest = files.reduce((m, f) => (f.file.createdAt > m ? f.file.createdAt : m), '');
    const { N, r, p } = this.opts.header.kdf;
    const { file, key } = await createKeyFile({ keyring: this.keyring, parent: st.current, passphrase, deviceId: this.opts.deviceId, deviceName, notBefore: latest || undefined, kdf: { N, r, p } });
    const next = this.keyring.copy();
    next.add(file.keyId, key);
    await persist(next);
    try {
      await this.local.writeKeyFile(file);
    } catch (e) {
      await persist(this.keyring).catch(() => undefined);
      throw localWriteError(e);
    }
    this.keyring.add(file.keyId, key);
    await this.refreshKeys();
    this.sealed$.next(); // the exchange pushes the key file before anything sealed with it
  }

  reportBad(b: BadFile): void {
    if (b.reason.startsWith('a temporary')) return; // a write in progress, by us or a sync client: not a finding
    if (this.badFiles.some((x) => x.path === b.path && x.reason === b.reason)) return;
    this.badFiles.push(b);
    this.opts.logger?.warn('cloud-storage: ignored a file that is not valid store data', { path: b.path, reason: b.reason });
  }

  // ---- reading ---------------------------------------------------------------------------

  async get(collection: string, id: string): Promise<StoredRecord | undefined> {
    this.checkOpen();
    this.checkKey(collection, id);
    const e = this.state.entry(collection, id);
    return e && e.isLive() ? e.toStored() : undefined;
  }

  async list(collection: string): Promise<readonly StoredRecord[]> {
    this.checkOpen();
    this.checkCollection(collection);
    const out: StoredRecord[] = [];
    for (const e of this.state.records.values()) if (e.col === collection && e.isLive()) out.push(e.toStored()!);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async history(collection: string, id: string): Promise<readonly StoredRecord[]> {
    this.checkOpen();
    this.checkKey(collection, id);
    const e = this.state.entry(collection, id);
    if (!e) return [];
    const out: StoredRecord[] = [];
    for (const meta of [...e.versions.values()].sort((a, b) => (a.ver < b.ver ? -1 : 1))) {
      const data = e.heads.has(meta.ver) ? e.heads.get(meta.ver)! : await this.bodyOf(collection, id, meta.ver, meta.where);
      out.push({ collection, id, version: meta.ver, data, updatedAt: meta.at, updatedBy: meta.by, conflict: e.heads.has(meta.ver) && e.inConflict() });
    }
    return out;
  }

  protected async bodyOf(col: string, id: string, ver: string, where: string): Promise<JsonObject | null> {
    if (where === 'journal') {
      const c = this.journal.get(ver);
      if (c) return c.data;
    }
    const [dev, seqText] = where.split(':');
    const seq = Number(seqText);
    const hash = this.segments.get(dev!)?.get(seq);
    if (!hash) throw this.corrupt(`the body of version ${ver} is missing`);
    const f = { device: dev!, seq, hash };
    let seg = this.segmentCache.get(whereOf(f));
    if (!seg) {
      try {
        seg = await this.local.readSegment(f);
      } catch (e) {
        if (e instanceof BadFileError) throw this.corrupt(e.message);
        throw e;
      }
      this.cacheSegment(f, seg);
    }
    const c = seg.changes.find((x) => x.ver === ver && x.col === col && x.id === id);
    if (!c) throw this.corrupt(`version ${ver} is not in the segment that should hold it`);
    return c.data;
  }

  protected cacheSegment(f: SegmentFile, seg: Segment): void {
    this.segmentCache.set(whereOf(f), seg);
    if (this.segmentCache.size > 64) this.segmentCache.delete(this.segmentCache.keys().next().value!);
  }

  protected corrupt(what: string): StorageError {
    return storageError('corrupt', {
      de: `Ein Teil des lokalen Datenbestands ist beschädigt (${what}). Bitte führen Sie „Daten prüfen“ aus; die Daten im gemeinsamen Ordner sind davon nicht betroffen.`,
      en: `Part of the local replica is damaged (${what}). Please run "Verify data"; the data in the shared folder are not affected.`,
    });
  }

  // ---- writing ---------------------------------------------------------------------------

  async put(collection: string, id: string, data: JsonObject, opts?: { baseVersion?: string }): Promise<StoredRecord> {
    this.checkOpen();
    this.checkKey(collection, id);
    this.checkData(data);
    this.checkBase(opts?.baseVersion);
    const copy = JSON.parse(JSON.stringify(data)) as JsonObject; // the caller may mutate its object later
    return this.writes.run(async () => {
      const e = this.state.entry(collection, id);
      const parents = this.parentsFor(e, opts?.baseVersion);
      return this.commit({ col: collection, id, parents, data: copy, op: 'put' });
    });
  }

  async remove(collection: string, id: string, opts?: { baseVersion?: string }): Promise<void> {
    this.checkOpen();
    this.checkKey(collection, id);
    this.checkBase(opts?.baseVersion);
    return this.writes.run(async () => {
      const e = this.state.entry(collection, id);
      const parents = this.parentsFor(e, opts?.baseVersion);
      if (!e || !e.isLive()) return; // removing what is not there changes nothing
      await this.commit({ col: collection, id, parents, data: null, op: 'remove' });
    });
  }

  async resolveConflict(collection: string, id: string, data: JsonObject | null): Promise<void> {
    this.checkOpen();
    this.checkKey(collection, id);
    if (data !== null) this.checkData(data);
    const copy = data === null ? null : (JSON.parse(JSON.stringify(data)) as JsonObject);
    return this.writes.run(async () => {
      const e = this.state.entry(collection, id);
      if (!e || e.heads.size === 0)
        throw storageError('invalid-input', {
          de: `Den Datensatz ${collection}/${id} gibt es nicht; es ist nichts aufzulösen.`,
          en: `There is no record ${collection}/${id}; there is nothing to resolve.`,
        });
      await this.commit({ col: collection, id, parents: [...e.heads.keys()].sort(), data: copy, op: 'resolve' });
    });
  }

  /**
   * What a write replaces: the version shown (or `base`). Heads with identical contents (the same edit
   * or delete made on two devices) are one version to the user, so a write replaces all of them; a
   * real conflict stays open until resolveConflict.
   */
  protected parentsFor(e: RecordEntry | undefined, base: string | undefined): string[] {
    const shown = e?.shownVersion();
    const all = (v: string) => (e!.inConflict() ? [v] : [...e!.heads.keys()].sort());
    if (base === undefined) return shown ? all(shown) : [];
    if (e && e.heads.has(base)) return all(base);
    throw storageError(
      'version-mismatch',
      {
        de: `Der Datensatz wurde inzwischen geändert (aktuelle Version ${shown ?? 'keine'}, Ihre Grundlage ${base}). Bitte laden Sie ihn neu und übernehmen Sie Ihre Änderung erneut.`,
        en: `The record was changed in the meantime (current version ${shown ?? 'none'}, yours was based on ${base}). Reload it and apply your change again.`,
      },
      { currentVersion: shown },
    );
  }

  /** The acknowledgement point: the change is durable in the journal before the promise resolves. */
  protected async commit(c: Omit<Change, 'ver' | 'at' | 'by'>): Promise<StoredRecord> {
    if (this.lockLost) throw this.readOnlyError();
    const change: Change = { ...c, ver: this.clock.next(), at: new Date((this.opts.now ?? Date.now)()).toISOString(), by: this.opts.deviceName };
    const bytes = seal(this.keyring, this.opts.header.storeId, Contexts.journal(this.opts.deviceId, change.ver), jsonBytes({ t: 'journal', v: 1, change }));
    try {
      await this.local.write(path.join(JOURNAL_DIR, change.ver), bytes);
    } catch (e) {
      throw localWriteError(e);
    }
    this.state.apply(change, 'journal');
    this.journal.set(change.ver, change);
    const entry = this.state.entry(change.col, change.id)!;
    const rec: StoredRecord = { collection: change.col, id: change.id, version: change.ver, data: change.data, updatedAt: change.at, updatedBy: change.by, conflict: entry.inConflict() };
    this.changesSubject.next({ origin: 'local', record: entry.toStored() ?? rec });
    this.publishConflicts();
    this.scheduleSeal();
    return rec;
  }

  protected scheduleSeal(): void {
    if (this.sealTimer || this.closed) return;
    this.sealTimer = setTimeout(() => {
      this.sealTimer = undefined;
      void this.seals.run(() => this.sealJournal()).catch((e) => this.opts.logger?.warn('cloud-storage: sealing deferred', { code: errnoOf(e) }));
    }, this.opts.sealDelayMs ?? 50);
    // A pending seal never keeps the host's process alive: the change is already durable in the
    // journal, and the next open seals it.
    this.sealTimer.unref?.();
  }

  /**
   * Moves journal entries into this device's next immutable segment(s). Runs in the seal queue, so
   * puts go on meanwhile (each writes its own journal file); a batch is what the journal held when taken.
   */
  protected async sealJournal(): Promise<void> {
    while (this.journal.size > 0 && !this.lockLost) {
      const batch = [...this.journal.values()].sort((a, b) => (a.ver < b.ver ? -1 : 1)).slice(0, MAX_CHANGES_PER_SEGMENT);
      const f = await this.local.writeSegment(this.opts.deviceId, this.ownSeq + 1, this.ownTip, batch);
      this.segmentsOf(f.device).set(f.seq, f.hash);
      this.applied.add(segmentKey(f));
      [this.ownSeq, this.ownTip] = [f.seq, f.hash];
      for (const c of batch) {
        const meta = this.state.entry(c.col, c.id)?.versions.get(c.ver);
        if (meta) this.state.move(meta, whereOf(f));
        this.journal.delete(c.ver);
      }
      await Promise.all(batch.map((c) => fsp.rm(path.join(this.opts.localRoot, JOURNAL_DIR, c.ver), { force: true })));
      this.sinceSnapshot += batch.length;
    }
    if (this.sinceSnapshot >= (this.opts.snapshotEvery ?? 20000)) await this.writeSnapshot();
    this.sealed$.next();
  }

  /** Seals everything now (used by flush and close). */
  sealNow(): Promise<void> {
    if (this.sealTimer) {
      clearTimeout(this.sealTimer);
      this.sealTimer = undefined;
    }
    return this.seals.run(() => this.sealJournal());
  }

  /** A snapshot of the state of every sealed segment; written when the journal is empty. */
  async writeSnapshot(): Promise<SegmentFile | undefined> {
    if (this.journal.size > 0 || this.lockLost) return undefined;
    const covers: Snapshot['covers'] = {};
    for (const [dev, m] of this.segments) {
      const seqs = [...m.keys()].sort((a, b) => a - b);
      const ranges: [number, number][] = [];
      for (const s of seqs) {
        const last = ranges[ranges.length - 1];
        if (last && last[1] === s - 1) last[1] = s;
        else ranges.push([s, s]);
      }
      covers[dev] = { ranges, hashes: Object.fromEntries(seqs.map((s) => [String(s), m.get(s)!])) };
    }
    const records: Snapshot['records'] = [];
    for (const e of this.state.records.values()) {
      records.push({
        col: e.col,
        id: e.id,
        versions: [...e.versions.values()].map((m) => [m.ver, [...m.parents], m.at, m.by, m.deleted, m.where] as [string, string[], string, string, boolean, string]),
        heads: Object.fromEntries(e.heads),
      });
    }
    const existing = await this.local.listSnapshots();
    const seq = Math.max(0, ...existing.filter((s) => s.device === this.opts.deviceId).map((s) => s.seq)) + 1;
    const f = await this.local.writeSnapshot({ t: 'snapshot', v: 1, device: this.opts.deviceId, seq, createdAt: new Date().toISOString(), covers, records });
    this.sinceSnapshot = 0;
    return f;
  }

  // ---- attachments -------------------------------------------------------------------------

  async putAttachment(bytes: Uint8Array, meta: { name: string; mediaType: string }): Promise<AttachmentRef> {
    this.checkOpen();
    if (!(bytes instanceof Uint8Array))
      throw this.invalid('Der Anhang muss aus Bytes bestehen (Uint8Array).', 'An attachment must be bytes (a Uint8Array).');
    if (bytes.byteLength > 50 * 1024 * 1024)
      throw this.invalid(`Der Anhang ist zu groß (${(bytes.byteLength / 1048576).toFixed(1)} MiB, höchstens 50 MiB).`, `The attachment is too large (${(bytes.byteLength / 1048576).toFixed(1)} MiB, at most 50 MiB).`);
    if (typeof meta?.name !== 'string' || meta.name.length === 0 || meta.name.length > 255)
      throw this.invalid('Der Anhang braucht einen Dateinamen (1–255 Zeichen).', 'An attachment needs a file name (1–255 characters).');
    if (typeof meta.mediaType !== 'string' || !/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(meta.mediaType))
      throw this.invalid(`„${String(meta.mediaType).slice(0, 60)}“ ist kein Medientyp wie application/pdf.`, `"${String(meta.mediaType).slice(0, 60)}" is not a media type like application/pdf.`);
    if (this.lockLost) throw this.readOnlyError();
    try {
      const { hash, size } = await this.local.writeObject(bytes);
      await this.local.write(path.join(OUTBOX_DIR, hash), '');
      this.scheduleSeal();
      return { id: hash, name: meta.name, mediaType: meta.mediaType, size };
    } catch (e) {
      throw localWriteError(e);
    }
  }

  async getAttachment(ref: AttachmentRef): Promise<Uint8Array> {
    this.checkOpen();
    if (!ref || typeof ref.id !== 'string' || !HASH_HEX.test(ref.id))
      throw this.invalid('Das ist kein gültiger Verweis auf einen Anhang.', 'That is not a valid attachment reference.');
    try {
      return (await this.local.readObject(ref.id, true))!;
    } catch (e) {
      if (e instanceof BadFileError) throw this.corrupt(e.message);
      if (errnoOf(e) === 'ENOENT' && this.fetchObject) {
        const got = await this.fetchObject(ref.id);
        if (got) return got;
      }
      if (errnoOf(e) === 'ENOENT')
        throw storageError('unavailable', {
          de: 'Dieser Anhang ist auf diesem PC noch nicht angekommen. Sobald der gemeinsame Ordner erreichbar ist, wird er geholt.',
          en: 'This attachment has not arrived on this PC yet. It is fetched as soon as the shared folder is reachable.',
        });
      throw e;
    }
  }

  /** Set by the exchange: fetches an object that has not been copied here yet. */
  fetchObject?: (hash: string) => Promise<Uint8Array | undefined>;

  async outbox(): Promise<string[]> {
    return (await listDir(path.join(this.opts.localRoot, OUTBOX_DIR))).filter((n) => HASH_HEX.test(n));
  }

  async outboxDone(hash: string): Promise<void> {
    await fsp.rm(path.join(this.opts.localRoot, OUTBOX_DIR, hash), { force: true });
  }

  // ---- import ------------------------------------------------------------------------------

  async importRecords(records: Iterable<ImportRecord> | AsyncIterable<ImportRecord>): Promise<ImportReport> {
    this.checkOpen();
    return this.writes.run(() => this.seals.run(async () => {
      await this.sealJournal();
      let imported = 0;
      let skipped = 0;
      let index = 0;
      const expected = new Map<string, string>(); // written version → digest of what was asked
      const written: SegmentFile[] = [];
      let batch: Change[] = [];
      const flushBatch = async () => {
        if (batch.length === 0) return;
        const f = await this.local.writeSegment(this.opts.deviceId, this.ownSeq + 1, this.ownTip, batch).catch((e) => {
          throw localWriteError(e);
        });
        [this.ownSeq, this.ownTip] = [f.seq, f.hash];
        this.applySegment(f, { t: 'log', v: 1, device: f.device, seq: f.seq, prev: null, createdAt: '', changes: batch }, true);
        written.push(f);
        this.sinceSnapshot += batch.length;
        batch = [];
      };
      const seen = new Set<string>();
      for await (const r of records as AsyncIterable<ImportRecord>) {
        index++;
        const problem = this.importProblem(r);
        if (problem) {
          await flushBatch();
          throw this.invalid(
            `Import angehalten bei Datensatz Nr. ${index}: ${problem.de}. Die ${imported} Datensätze davor sind gespeichert; ein erneuter Import überspringt sie.`,
            `Import stopped at record no. ${index}: ${problem.en}. The ${imported} records before it are saved; importing again skips them.`,
          );
        }
        const key = `${r.collection}\u0000${r.id}`;
        const e = this.state.entry(r.collection, r.id);
        const shown = e?.toStored();
        if (seen.has(key) || (shown && isDeepStrictEqual(shown.data, r.data))) {
          skipped++;
          continue;
        }
        seen.add(key);
        const data = JSON.parse(JSON.stringify(r.data)) as JsonObject;
        const change: Change = { ver: this.clock.next(), col: r.collection, id: r.id, parents: shown ? [shown.version] : [], at: new Date((this.opts.now ?? Date.now)()).toISOString(), by: this.opts.deviceName, op: 'import', data };
        expected.set(change.ver, recordDigest(r.collection, r.id, data));
        batch.push(change);
        imported++;
        if (batch.length >= 1000) await flushBatch();
      }
      await flushBatch();
      // Verified means: every written change read back from disk, authenticated, and equal to what was asked.
      let readBack = 0;
      for (const f of written) {
        this.segmentCache.delete(whereOf(f));
        const seg = await this.local.readSegment(f);
        for (const c of seg.changes) if (expected.get(c.ver) === recordDigest(c.col, c.id, c.data)) readBack++;
      }
      const verified = readBack === imported && expected.size === imported;
      this.sealed$.next();
      return { imported, skipped, verified };
    }));
  }

  protected importProblem(r: ImportRecord): { de: string; en: string } | undefined {
    if (!r || typeof r !== 'object') return { de: 'kein Datensatz', en: 'not a record' };
    if (typeof r.collection !== 'string' || !COLLECTION.test(r.collection)) return { de: `ungültige Sammlung „${String(r.collection).slice(0, 70)}“`, en: `invalid collection "${String(r.collection).slice(0, 70)}"` };
    if (typeof r.id !== 'string' || !RECORD_ID.test(r.id)) return { de: `ungültige Kennung „${String(r.id).slice(0, 130)}“`, en: `invalid id "${String(r.id).slice(0, 130)}"` };
    try {
      this.checkData(r.data);
    } catch (e) {
      if (StorageError.is(e)) return { de: e.text.de.replace(/\.$/, ''), en: e.text.en.replace(/\.$/, '') };
      throw e;
    }
    return undefined;
  }

  // ---- flush and close ------------------------------------------------------------------------

  /** Set by the exchange: pushes and reports how many of this device's changes are not in the shared folder. */
  pushNow?: (timeoutMs: number) => Promise<number>;

  async flush(opts?: { timeoutMs?: number }): Promise<{ pending: number }> {
    this.checkOpen();
    await this.sealNow();
    if (!this.pushNow) return { pending: this.pendingLocal() };
    return { pending: await this.pushNow(opts?.timeoutMs ?? 10000) };
  }

  pendingLocal(): number {
    return this.journal.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs before close releases anything (the exchange's last push and presence). */
  beforeClose?: () => Promise<void>;

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sealNow().catch(() => undefined);
    await this.beforeClose?.().catch(() => undefined);
    this.closed = true;
    if (this.sealTimer) clearTimeout(this.sealTimer);
    await this.writes.idle();
    await this.seals.idle();
    if (this.sinceSnapshot >= 2000) await this.writeSnapshot().catch(() => undefined);
    this.changesSubject.complete();
    this.conflictsSubject.complete();
    this.sealed$.complete();
    if (!this.lockLost) await this.releaseLock?.().catch(() => undefined);
  }

  // ---- checks ----------------------------------------------------------------------------------

  publishConflicts(): void {
    if (this.closed) return;
    const list = this.state.conflicts().map((e) => ({
      collection: e.col,
      id: e.id,
      versions: [...e.heads.keys()].sort().map((v) => e.toStored(v)!),
    }));
    const prev = this.conflictsSubject.value;
    if (!isDeepStrictEqual(prev, list)) this.conflictsSubject.next(list);
  }

  get conflictCount(): number {
    return this.conflictsSubject.value.length;
  }

  /** The unresolved conflicts now (what conflicts$ last emitted). */
  get conflictList(): readonly RecordConflict[] {
    return this.conflictsSubject.value;
  }

  protected checkOpen(): void {
    if (this.closed)
      throw storageError('closed', { de: 'Der Praxis-Speicher ist bereits geschlossen. Bitte öffnen Sie ihn erneut.', en: 'The practice store is closed. Open it again.' });
  }

  protected readOnlyError(): StorageError {
    return storageError('read-only', {
      de: 'Die Sperre auf den lokalen Daten ging verloren (z. B. weil ein zweites Programmfenster sie übernommen hat). Um nichts zu überschreiben, wird nicht mehr gespeichert. Bitte starten Sie das Programm neu.',
      en: 'The lock on the local data was lost (for example because a second window took it over). To overwrite nothing, saving has stopped. Please restart the application.',
    });
  }

  protected invalid(de: string, en: string): StorageError {
    return storageError('invalid-input', { de, en });
  }

  protected checkCollection(collection: string): void {
    if (typeof collection !== 'string' || !COLLECTION.test(collection))
      throw this.invalid(
        `„${String(collection).slice(0, 70)}“ ist kein gültiger Sammlungsname (Kleinbuchstaben, Ziffern und „-“, mit einem Buchstaben beginnend, höchstens 64 Zeichen).`,
        `"${String(collection).slice(0, 70)}" is not a valid collection name (lowercase letters, digits and "-", starting with a letter, at most 64 characters).`,
      );
  }

  protected checkKey(collection: string, id: string): void {
    this.checkCollection(collection);
    if (typeof id !== 'string' || !RECORD_ID.test(id))
      throw this.invalid(
        `„${String(id).slice(0, 130)}“ ist keine gültige Kennung (1–128 Zeichen aus A–Z, a–z, 0–9, „.“, „_“, „-“).`,
        `"${String(id).slice(0, 130)}" is not a valid id (1–128 characters of A–Z, a–z, 0–9, ".", "_", "-").`,
      );
  }

  protected checkBase(base: unknown): void {
    if (base !== undefined && (typeof base !== 'string' || !VERSION.test(base)))
      throw this.invalid(`„${String(base).slice(0, 80)}“ ist keine Versionskennung dieses Speichers.`, `"${String(base).slice(0, 80)}" is not a version id of this store.`);
  }

  protected checkData(data: unknown): void {
    if (!isPlainJsonObject(data))
      throw this.invalid('Die Daten eines Datensatzes müssen ein JSON-Objekt sein.', "A record's data must be a JSON object.");
    const problem = jsonProblem(data);
    if (problem) throw this.invalid(`Die Daten sind kein gültiges JSON (${problem}).`, `The data are not valid JSON (${problem}).`);
    const size = Buffer.byteLength(JSON.stringify(data), 'utf8');
    if (size > MAX_BODY_BYTES)
      throw this.invalid(
        `Der Datensatz ist zu groß (${(size / 1048576).toFixed(2)} MiB, höchstens 1 MiB). Große Inhalte bitte als Anhang speichern.`,
        `The record is too large (${(size / 1048576).toFixed(2)} MiB, at most 1 MiB). Store large content as an attachment.`,
      );
  }
}
