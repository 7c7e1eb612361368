// This device's local replica of a store (invariant 2, local first): every acknowledged change is
// durable here before the host hears "saved". A carrier exchanges it with the shared location
// through its port (replica-port.ts); the host sees it only through OpenPracticeStore.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { BehaviorSubject, Subject, distinctUntilChanged, map, type Observable } from 'rxjs';
import type { AttachmentRef, HostLogger, ImportRecord, ImportReport, JsonObject, RecordChange, RecordConflict, StoredRecord } from '../../host-api';
import { SerialQueue } from '../common/serial-queue';
import { errnoOf, localWriteError, storageError } from '../common/errors';
import { listDir, syncWritten } from '../common/durable-fs';
import { PRIVATE_MODES, makeDirs, tightenTree } from '../common/private-fs';
import { Keyring, type KeyState } from '../crypto/keyring';
import { LocalPaths, PACK_PLAIN_TARGET, Paths, RemovedDevicesSchema, sameHeader, storedDeviceName, type Change, type DeviceInfo, type Segment, type StoreHeader } from './format';
import { Journal } from './journal';
import { ReplicaKeys } from './replica-keys';
import { HybridClock } from './hybrid-clock';
import { verifyReplica, type VerifyReport } from './verify';
import type { RecordEntry } from './record-state';
import { AppliedLogs } from './applied-logs';
import { BadFileError, HeldFileError, ReplicaFolder, packSealedKeyId, type BadFile, type PackContent, type PackFile, type SegmentFile } from './replica-folder';
import { PackShelf, coveredBy, packCovers, packKey } from './pack-shelf';
import { sealedKeyId } from '../crypto/store-crypto';
import { ReplicaLock } from './replica-lock';
import type { OwnLogFile, ReplicaPort } from './replica-port';
import * as input from './record-input';
import { importInto } from './record-import';
import { listStoreFiles, type StoreFile } from './folder-audit';

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
  /** Keeps the keyring wherever keys are kept (the OS keychain) whenever the replica learned a key. */
  readonly keepKeys?: (keyring: Keyring) => Promise<void>;
  /** Write a snapshot once this many changes were sealed since the last one. */
  readonly snapshotEvery?: number;
  /** Delay between an acknowledged change and sealing it into a log file (batching). */
  readonly sealDelayMs?: number;
  /** proper-lockfile's staleness (≥ 2000 ms), see ReplicaLock. */
  readonly lockStaleMs?: number;
  /** How long opening waits while another process is taking the lock (never for a dead owner), see ReplicaLock. */
  readonly lockWaitMs?: number;
  /**
   * Ids this device had before (an app-data folder copied to another machine gets a fresh id). Their
   * changes that never reached the shared folder are written again under the current id.
   */
  readonly formerDeviceIds?: readonly string[];
}

/** Files not valid store data that are remembered (reported once each) and logged one by one. */
const MAX_BAD_FILES = 20_000;
const MAX_BAD_FILES_LOGGED = 200;

export class PracticeReplica implements ReplicaPort {
  readonly local: ReplicaFolder;
  protected readonly clock: HybridClock;
  protected readonly logs: AppliedLogs;
  protected readonly writes = new SerialQueue();
  /** Writes of this device's own log files (sealing, import): one at a time, beside the puts, not before them. */
  protected readonly seals = new SerialQueue();
  protected readonly journal: Journal;
  protected ownSeq = 0;
  protected ownTip: string | null = null;
  protected sealTimer?: NodeJS.Timeout;
  protected sinceSnapshot = 0;
  /** Received log files written without their fsyncs, made durable at the end of the round (syncReceived). */
  protected readonly unsynced: string[] = [];
  protected lock?: ReplicaLock;
  protected closed = false;
  protected readonly formerJournal: { change: Change; file: string }[] = [];
  protected readonly reissued = new Set<string>();
  /** See `sentMark()`: loaded at open, written by the carrier after a round that listed the shared location. */
  protected sentUpTo = 0;
  /** This replica's own copy of the header as read (JSON, every field): the trusted one (`sameHeader`). */
  protected headerJson: unknown;
  /** Log files were applied whose conflicts are not published yet (see `received`). */
  protected conflictsStale = false;
  readonly badFiles: BadFile[] = [];
  protected readonly badSeen = new Set<string>();

  protected readonly changesSubject = new Subject<RecordChange>();
  protected readonly conflictsSubject = new BehaviorSubject<readonly RecordConflict[]>([]);
  protected readonly outgoingSubject = new Subject<void>();
  readonly changes$: Observable<RecordChange> = this.changesSubject.asObservable();
  readonly conflicts$: Observable<readonly RecordConflict[]> = this.conflictsSubject.asObservable();
  readonly conflictCount$: Observable<number> = this.conflicts$.pipe(map((l) => l.length), distinctUntilChanged());
  readonly outgoing$: Observable<void> = this.outgoingSubject.asObservable();

  /** The keys of this store; shared with every folder of it, so a key learned is used everywhere at once. */
  readonly keyring: Keyring;
  protected readonly keys: ReplicaKeys;
  /** Which passphrase generation is current, and whether this device holds it. */
  readonly keyState$: Observable<KeyState>;
  /** Log files vouched for by a device holding the live key (presence tips), per device: hashes. */
  protected readonly vouched = new Map<string, Set<string>>();
  /** This device's name as its changes carry it (`by`): shortened to the format's bound. */
  protected readonly byName: string;

  protected constructor(protected readonly opts: ReplicaOptions) {
    this.byName = storedDeviceName(opts.deviceName);
    this.keyring = Buffer.isBuffer(opts.key) ? Keyring.ofHeaderKey(opts.header.storeId, opts.key, opts.header.keyCheck) : opts.key;
    // In the host's app-data folder: this user's alone (files 0600, folders 0700, private-fs.ts).
    this.local = new ReplicaFolder(opts.localRoot, opts.header.storeId, this.keyring, false, PRIVATE_MODES);
    this.keys = new ReplicaKeys(this.keyring, this.local, { header: opts.header, deviceId: opts.deviceId, logger: opts.logger, keepKeys: opts.keepKeys, writable: () => this.writable, reportBad: (b) => this.reportBad(b) });
    this.keyState$ = this.keys.keyState$;
    this.journal = new Journal(this.local, this.keyring, opts.header.storeId, opts.deviceId);
    this.clock = new HybridClock(opts.deviceId, opts.now);
    this.packs = new PackShelf(this.local);
    this.logs = new AppliedLogs(this.local, this.clock, (f) => this.readLogFile(f));
  }

  /** The packs this replica holds (format 2). */
  readonly packs: PackShelf;
  /** Packs kept since the last round's end whose log files, held here as files too, are removed once the pack is durable. */
  protected readonly packsToSettle: PackFile[] = [];

  /** An applied log file's content: its own file here, or the pack here that holds it. */
  protected async readLogFile(f: SegmentFile): Promise<Segment> {
    try {
      return await this.local.readSegment(f);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
      const seg = await this.packs.segment(f);
      if (!seg) throw e;
      return seg;
    }
  }

  protected get state() {
    return this.logs.state;
  }

  get readOnly(): boolean {
    return this.lock?.lost ?? false;
  }

  get writable(): boolean {
    return !this.readOnly && !this.closed;
  }

  get deviceId(): string {
    return this.opts.deviceId;
  }

  get storeId(): string {
    return this.opts.header.storeId;
  }

  /** The header this replica was opened with: its own copy, when it had one (StoreSetup trusts that one). */
  get header(): StoreHeader {
    return this.opts.header;
  }

  /** Whether a header read elsewhere (JSON as parsed) says exactly what this replica's own copy says. */
  sameHeader(raw: unknown): boolean {
    return sameHeader(raw, this.headerJson);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The full integrity check of this device's replica (or of another folder of the same store). */
  verify(root = this.opts.localRoot): Promise<VerifyReport> {
    return verifyReplica(root, this.opts.header, this.keyring);
  }

  /** Opens (creating if needed) the local replica; refuses a second process on the same replica. */
  static async open(opts: ReplicaOptions): Promise<PracticeReplica> {
    const r = new PracticeReplica(opts);
    await r.init();
    return r;
  }

  protected async init(): Promise<void> {
    const root = this.opts.localRoot;
    await makeDirs(path.join(root, LocalPaths.journalDir), PRIVATE_MODES);
    await makeDirs(path.join(root, LocalPaths.outboxDir), PRIVATE_MODES);
    this.lock = await ReplicaLock.acquire(root, { staleMs: this.opts.lockStaleMs, waitMs: this.opts.lockWaitMs }, this.opts.logger);
    try {
      await tightenTree(root, true); // a replica an older version made with the umask's modes
      const hdr = await ReplicaFolder.readHeader(root);
      if (hdr.kind === 'missing') {
        await ReplicaFolder.writeHeader(root, this.opts.header, PRIVATE_MODES);
        this.headerJson = JSON.parse(JSON.stringify(this.opts.header));
      } else if (hdr.kind === 'ok') this.headerJson = hdr.raw;
      if (hdr.kind !== 'missing' && (hdr.kind !== 'ok' || hdr.header.storeId !== this.opts.header.storeId))
        throw storageError('corrupt', {
          de: 'Der lokale Datenbestand dieses PCs gehört zu einem anderen Praxis-Speicher. Es wurde nichts verändert; bitte wenden Sie sich an den Support.',
          en: "This PC's local replica belongs to another practice store. Nothing was changed; please contact support.",
        });
      await this.refreshKeys();
      await this.load();
      this.sentUpTo = await this.readSentMark();
      this.removedList = await this.readRemoved();
      if (this.formerJournal.length) await this.reissueFormerJournal();
    } catch (e) {
      await this.logs.release();
      await this.lock.dispose();
      throw e;
    }
  }

  // ---- loading ---------------------------------------------------------------------------

  protected async load(): Promise<void> {
    await this.local.removeIncomingTemps(); // we hold the lock: nobody else writes here
    const bad = (b: BadFile) => this.reportBad(b);
    const files: SegmentFile[] = [];
    for (const dev of await this.local.listDevices(bad)) {
      files.push(...(await this.local.listSegments(dev, bad)));
      for (const p of await this.local.listPacks(dev, bad)) {
        // believed by its name only once it checks out (PackShelf.check): one that does not is reported and left alone
        try {
          await this.packs.check(p);
          this.packs.add(p);
        } catch (e) {
          if (e instanceof BadFileError) this.reportBad(e.bad);
          else throw e;
        }
      }
    }
    // A snapshot is only this replica's own cache of log files it holds and verified itself: one
    // written under another id (earlier releases let a new PC start from another PC's snapshot), or
    // covering a log file this replica does not hold, is not loaded. This id's newest first.
    const me = this.opts.deviceId;
    const own = new Set([me, ...(this.opts.formerDeviceIds ?? [])]);
    const held = new Set(files.map((f) => Paths.segment(f.device, f.seq, f.hash)));
    const snaps = (await this.local.listSnapshots(bad)).filter((s) => own.has(s.device)).sort((a, b) => Number(a.device !== me) - Number(b.device !== me) || b.seq - a.seq);
    // a log file in a pack held here counts as held (a pack was checked when it was kept)
    await this.logs.loadOwnSnapshot(snaps, (f) => held.has(Paths.segment(f.device, f.seq, f.hash)) || this.packs.covering(f.device, f.seq).length > 0, bad, () => !this.readOnly);
    for (const p of this.packs.all()) {
      let whole = true;
      for (let seq = p.first; seq <= p.last && whole; seq++) whole = this.logs.hasPosition(p.device, seq);
      if (whole) continue;
      try {
        for (const { f, seg } of (await this.packs.content(p)).files) if (!this.logs.has(f)) this.logs.apply(f, seg, this.opts.deviceId);
      } catch (e) {
        if (!(e instanceof BadFileError)) throw e;
        // damaged here (a section changed in place: its index still checks out): not held, so that the
        // shared location's copy is fetched again over it — held, its log files would never come
        this.reportBad(e.bad);
        this.packs.remove(p);
      }
    }
    for (const f of files) {
      if (this.logs.has(f)) continue;
      try {
        this.logs.apply(f, await this.local.readSegment(f), this.opts.deviceId);
      } catch (e) {
        if (e instanceof BadFileError) this.reportBad(e.bad);
        else throw e;
      }
    }
    // files a pack here holds, left by a crash between keeping the pack and removing them
    for (const p of this.packs.all()) this.packsToSettle.push(p);
    this.updateOwnTip();
    await this.loadJournal();
    this.publishConflicts();
    if (this.journal.size > 0) this.scheduleSeal();
  }

  /** Journal entries: acknowledged changes not sealed before the last close (or crash). */
  protected async loadJournal(): Promise<void> {
    const formerIds = this.opts.formerDeviceIds ?? [];
    for (const { change, owner, file } of await this.journal.read(formerIds, (b) => this.reportBad(b))) {
      if (this.state.entry(change.col, change.id)?.has(change.ver)) {
        await fsp.rm(file, { force: true }); // sealed before a crash: the log file has it
        continue;
      }
      this.clock.observe(change.ver);
      if (owner !== this.opts.deviceId && formerIds.includes(owner)) {
        this.formerJournal.push({ change, file }); // acknowledged under the old id: written again after loading
        continue;
      }
      this.state.apply(change, 'journal');
      this.journal.adopt(change);
    }
  }

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

  async heldFiles(): Promise<StoreFile[]> {
    // Snapshots are not store files to share (listStoreFiles leaves them out): this replica's own cache.
    // A former id's files are never written to its old area (its changes are reissued under this id).
    const former = new Set(this.opts.formerDeviceIds ?? []);
    return (await listStoreFiles(this.local)).filter((f) => !(f.device && former.has(f.device)));
  }

  formerLogFiles(): readonly SegmentFile[] {
    const out: SegmentFile[] = [];
    for (const dev of this.opts.formerDeviceIds ?? [])
      for (const f of this.logs.filesOf(dev)) if (!this.reissued.has(LocalPaths.reissued(dev, f.seq))) out.push({ device: dev, seq: f.seq, hash: f.hash });
    return out;
  }

  /**
   * A former id's log file the shared folder never got: its changes are written again under the
   * current id, each replacing the original version (whose body stays readable in the local log file).
   */
  async reissueFormer(f: SegmentFile): Promise<void> {
    const marker = LocalPaths.reissued(f.device, f.seq);
    if (!(await this.local.exists(marker))) {
      const { changes } = await this.local.readSegment(f);
      await this.writes.run(async () => {
        for (const c of changes) await this.commit({ col: c.col, id: c.id, parents: [c.ver], data: c.data, op: c.op });
      });
      await this.sealNow();
      await this.local.write(marker, '');
    }
    this.reissued.add(marker);
  }

  /** Applies a verified log file and announces the records it changed (the conflicts too, unless `later`). */
  protected applyLogFile(f: SegmentFile, seg: Segment, later = false): void {
    const origin = f.device === this.opts.deviceId ? 'local' : 'remote';
    for (const record of this.logs.apply(f, seg, this.opts.deviceId)) this.changesSubject.next({ origin, record });
    if (f.device === this.opts.deviceId) this.updateOwnTip();
    if (later) this.conflictsStale = true;
    else this.publishConflicts();
  }

  protected updateOwnTip(): void {
    const tip = this.logs.tipOf(this.opts.deviceId);
    if (tip.seq > this.ownSeq) [this.ownSeq, this.ownTip] = [tip.seq, tip.hash];
  }

  // ---- the port: what this device offers a carrier ------------------------------------------

  ownLogFiles(): readonly OwnLogFile[] {
    return this.logs.filesOf(this.opts.deviceId);
  }

  unsealedCount(): number {
    return this.journal.size;
  }

  readFile(rel: string): Promise<Buffer> {
    return fsp.readFile(this.local.abs(rel));
  }

  async fileSize(rel: string): Promise<number> {
    return (await fsp.stat(this.local.abs(rel))).size;
  }

  async unsentAttachments(): Promise<string[]> {
    return (await listDir(path.join(this.opts.localRoot, LocalPaths.outboxDir))).filter((n) => /^[0-9a-f]{64}$/.test(n));
  }

  async attachmentSent(hash: string): Promise<void> {
    await fsp.rm(this.local.abs(LocalPaths.outbox(hash)), { force: true });
  }

  sentMark(): number {
    return this.sentUpTo;
  }

  async markSent(seq: number): Promise<void> {
    if (seq === this.sentUpTo || !this.writable) return;
    this.sentUpTo = seq;
    await this.local.write(LocalPaths.sentMark, JSON.stringify({ v: 1, deviceId: this.opts.deviceId, seq }));
  }

  /** 0 when there is none, it is unreadable, or it was written under another device id (a copied app-data folder). */
  protected async readSentMark(): Promise<number> {
    try {
      const j = JSON.parse(await fsp.readFile(this.local.abs(LocalPaths.sentMark), 'utf8')) as { v?: unknown; deviceId?: unknown; seq?: unknown };
      return j.v === 1 && j.deviceId === this.opts.deviceId && Number.isSafeInteger(j.seq) && (j.seq as number) >= 0 ? (j.seq as number) : 0;
    } catch {
      return 0;
    }
  }

  keyFileHashes(): Promise<string[]> {
    return this.local.listKeyFiles();
  }

  async ownDeviceCard(): Promise<string> {
    const me = this.opts.deviceId;
    if (!(await this.local.exists(Paths.deviceFile(me))))
      await this.local.writeDeviceInfo({ t: 'device', v: 1, deviceId: me, name: this.opts.deviceName, user: this.opts.userName, createdAt: new Date().toISOString() });
    return Paths.deviceFile(me);
  }

  // ---- the port: what a carrier brings ------------------------------------------------------

  logTip(device: string): number {
    return this.logs.tipOf(device).seq;
  }

  /** Every version this replica holds, of every device. */
  get changeCount(): number {
    return this.state.changeCount;
  }

  hasLogFile(f: SegmentFile): boolean {
    return this.logs.has(f);
  }

  hasLogPosition(device: string, seq: number): boolean {
    return this.logs.hasPosition(device, seq);
  }

  async acceptLogFile(f: SegmentFile, bytes: Uint8Array, seg: Segment): Promise<void> {
    if (!(await this.mayTake(f, sealedKeyId(bytes))))
      throw new HeldFileError({
        path: Paths.segment(f.device, f.seq, f.hash),
        reason: 'sealed with a replaced practice passphrase and not confirmed by a PC that has the current one — not taken (a PC not given the new passphrase yet, or someone with an old one)',
      });
    // Without its fsyncs (a new PC takes in every log file of the store, and two fsyncs a file were
    // most of a join): made durable together when the carrier's round has handed everything over,
    // before any snapshot, and at close. A file lost to a power cut before then is not applied at the
    // next open (missing, or damaged and reported) and is received again.
    const unsynced = await this.local.writeReceived(Paths.segment(f.device, f.seq, f.hash), bytes);
    if (unsynced) this.unsynced.push(unsynced);
    // The conflicts once the carrier's round has handed everything over (`received`): a new PC
    // applies every log file of the store, and the whole list after each one cost seconds.
    this.applyLogFile(f, seg, true);
  }

  async received(): Promise<void> {
    await this.syncReceived();
    if (this.unsynced.length === 0) await this.settlePacks();
    if (this.conflictsStale) this.publishConflicts();
  }

  // ---- packs (format 2, docs/STORE-FORMAT.md "Packs") ----------------------------------------

  /** Devices removed from the practice on this PC (format 2), with the presence each had then: kept across restarts. */
  protected removedList: Record<string, string> = {};

  removedDevices(): Readonly<Record<string, string>> {
    return this.removedList;
  }

  /** Records (durably, in this replica) that a person removed a device here, or forgets it (`token` undefined: it came back). */
  async setRemoved(device: string, token: string | undefined): Promise<void> {
    const next = { ...this.removedList };
    if (token === undefined) delete next[device];
    else next[device] = token;
    await this.local.write(LocalPaths.removedDevices, JSON.stringify({ v: 1, removed: next }), 'replace');
    this.removedList = next;
  }

  protected async readRemoved(): Promise<Record<string, string>> {
    try {
      const j = RemovedDevicesSchema.safeParse(JSON.parse(await fsp.readFile(this.local.abs(LocalPaths.removedDevices), 'utf8')));
      return j.success ? j.data.removed : {};
    } catch {
      return {};
    }
  }

  hasPack(p: PackFile): boolean {
    return this.packs.has(p);
  }

  packCovered(p: PackFile): boolean {
    return this.packs.of(p.device).some((q) => packKey(q) !== packKey(p) && packCovers(q, p));
  }

  /** This device's packs held here, by first log file. */
  ownPacks(): readonly PackFile[] {
    return this.packs.of(this.opts.deviceId);
  }

  /** What this device acknowledges in its presence: per device, every log file 1…n held here. */
  holds(): Record<string, number> {
    return this.logs.holds();
  }

  /**
   * Keeps a pack the carrier checked (ReplicaFolder.decodePack) and applies the log files in it this
   * replica lacks. One sealed under a replaced key is kept only when every log file in it is vouched
   * for (as a log file would be: `mayTake`, newest first, each vouching for its `prev`); else HeldFileError.
   */
  async acceptPack(p: PackFile, bytes: Uint8Array, content: PackContent, listedAsFile?: (f: SegmentFile) => boolean, vouched = false): Promise<void> {
    const rel = Paths.pack(p.device, p.first, p.last, p.hash);
    if (!(content.sealedUnder !== undefined && this.keys.state.live.includes(content.sealedUnder))) {
      // A pack holds plaintexts: nothing binds a line to the hash its header names, and whoever holds a
      // replaced key can seal a pack that names real log files (their names are in the listing) over
      // other changes. So a log file held here must be the same in the pack, and one the location lists
      // as a file is taken as that file (its hash checked) before the pack is looked at again.
      let vouchedPrev: string | null | undefined;
      for (let i = content.files.length - 1; i >= 0; i--) {
        const { f, seg } = content.files[i]!;
        if (this.logs.has(f)) {
          if (!isDeepStrictEqual(await this.readLogFile(f), seg))
            throw new BadFileError({ path: rel, reason: `a pack sealed with a replaced practice passphrase whose log file ${f.seq} differs from the one of that name held here — not taken` });
        } else if (vouched) {
          // its own PC names it in its presence (under a live key): its lines are that PC's log files
        } else if (listedAsFile?.(f)) {
          throw new HeldFileError({ path: rel, reason: 'a pack sealed with a replaced practice passphrase: the log files it names are taken as files first — not taken yet' });
        } else if (!(vouchedPrev === f.hash || (await this.mayTake(f, undefined))))
          throw new HeldFileError({ path: rel, reason: 'a pack sealed with a replaced practice passphrase that no PC with the current one confirmed — not taken' });
        vouchedPrev = seg.prev;
      }
    }
    const unsynced = await this.local.writeReceived(rel, bytes);
    if (unsynced) this.unsynced.push(unsynced);
    this.packs.add(p);
    for (const { f, seg } of content.files) if (!this.logs.has(f)) this.applyLogFile(f, seg, true);
    this.packsToSettle.push(p);
  }

  /**
   * Once packs kept here are durable: the log files they hold that lie here as files too, and older
   * packs of the same device a newer one covers, are removed from this replica (never from the shared
   * location: that is only ever done by the pack's own device, SharedFolderExchange.compact).
   */
  protected async settlePacks(): Promise<void> {
    if (!this.writable) return;
    const listed = new Map<string, SegmentFile[]>(); // each device's log files here, listed once
    for (const p of this.packsToSettle.splice(0)) {
      if (!this.packs.has(p)) continue;
      if (this.packCovered(p)) {
        // an older pack that arrived after the one that holds it all
        await fsp.rm(this.local.abs(Paths.pack(p.device, p.first, p.last, p.hash)), { force: true });
        this.packs.remove(p);
        continue;
      }
      if (!listed.has(p.device)) listed.set(p.device, await this.local.listSegments(p.device));
      for (const f of listed.get(p.device)!)
        if (f.seq >= p.first && f.seq <= p.last && this.logs.has(f) && (await this.packs.segment(f))) await fsp.rm(this.local.abs(Paths.segment(f.device, f.seq, f.hash)), { force: true });
      for (const q of this.packs.of(p.device))
        if (packKey(q) !== packKey(p) && packCovers(p, q)) {
          await fsp.rm(this.local.abs(Paths.pack(q.device, q.first, q.last, q.hash)), { force: true });
          this.packs.remove(q);
        }
    }
  }

  /** The key each of this replica's own sealed files was sealed under (files never change: asked once each). */
  protected readonly sealedUnderMemo = new Map<string, string | undefined>();

  /** This device's log files (held as files) and packs sealed under a key that is not live any more: to be packed again under the current key. */
  async retiredOwn(): Promise<{ files: SegmentFile[]; packs: PackFile[] }> {
    const live = this.keys.state.live;
    const under = async (rel: string, pack = false): Promise<string | undefined> => {
      if (this.sealedUnderMemo.has(rel)) return this.sealedUnderMemo.get(rel);
      let id: string | undefined;
      const h = await fsp.open(this.local.abs(rel), 'r');
      try {
        const b = Buffer.alloc(64);
        const { bytesRead } = await h.read(b, 0, 64, 0);
        id = pack ? packSealedKeyId(b.subarray(0, bytesRead)) : sealedKeyId(b.subarray(0, bytesRead)); // a pack of version 2: its index's envelope
      } finally {
        await h.close();
      }
      this.sealedUnderMemo.set(rel, id);
      return id;
    };
    const me = this.opts.deviceId;
    const out = { files: [] as SegmentFile[], packs: [] as PackFile[] };
    if (live.length === 0) return out;
    for (const p of this.packs.of(me)) if (!live.includes((await under(Paths.pack(me, p.first, p.last, p.hash), true).catch(() => live[0])) ?? '')) out.packs.push(p);
    const packed = coveredBy(this.packs.of(me));
    for (const f of this.logs.filesOf(me)) {
      if (packed(f.seq)) continue; // held by an own pack
      const id = await under(Paths.segment(me, f.seq, f.hash)).catch(() => live[0]);
      if (!live.includes(id ?? '')) out.files.push(f);
    }
    return out;
  }

  /** Whether a pack held here holds exactly this log file (its number and hash). */
  async packHolds(p: PackFile, f: SegmentFile): Promise<boolean> {
    return this.packs.has(p) && p.device === f.device && f.seq >= p.first && f.seq <= p.last && (await this.packs.segment(f)) !== undefined;
  }

  /**
   * Rolls this device's own log files and packs into one new pack under the current key (format 2): the
   * content of each is read here and checked. Refused without the current key (a retired key writes
   * nothing new). The pack is durable here before anything it holds is removed here.
   */
  async makePack(files: readonly SegmentFile[], packs: readonly PackFile[]): Promise<PackFile | undefined> {
    const me = this.opts.deviceId;
    if (!this.writable || !this.keys.state.upToDate) return undefined;
    const byName = new Map<string, { f: SegmentFile; seg: Segment }>();
    for (const p of packs) for (const e of (await this.packs.content(p)).files) byName.set(`${e.f.seq}-${e.f.hash}`, e);
    for (const f of files) byName.set(`${f.seq}-${f.hash}`, { f, seg: await this.readLogFile(f) });
    const all = [...byName.values()].filter((e) => e.f.device === me).sort((a, b) => a.f.seq - b.f.seq || (a.f.hash < b.f.hash ? -1 : 1));
    if (all.length === 0) return undefined;
    // never a pack larger than a reader takes: a merge that would be is not made (the packs stay as they are)
    if (all.length > 1 && all.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e.seg)) + 1, 0) > PACK_PLAIN_TARGET) return undefined;
    const p = await this.seals.run(() => this.local.writePack(me, all));
    this.packs.add(p);
    this.packsToSettle.push(p);
    await this.settlePacks();
    return p;
  }

  /** Makes the log files received since the last time durable (acceptLogFile); kept for the next try when that fails. */
  protected async syncReceived(): Promise<void> {
    if (this.unsynced.length === 0) return;
    const files = this.unsynced.splice(0);
    try {
      await syncWritten(files);
    } catch (e) {
      this.unsynced.unshift(...files);
      this.opts.logger?.warn('cloud-storage: received log files not yet durable, tried again later', { code: errnoOf(e) });
    }
  }

  /**
   * Whether a log file sealed under `under` may be applied (docs/PASSPHRASE.md, "Retired keys"): one
   * sealed under the live key, or one vouched for by a device holding it — named as a tip in its
   * presence, or the `prev` of a log file applied here (so a vouched tip carries its whole chain).
   */
  protected async mayTake(f: SegmentFile, under: string | undefined): Promise<boolean> {
    if (under !== undefined && this.keys.state.live.includes(under)) return true;
    if (this.vouched.get(f.device)?.has(f.hash)) return true;
    const next = this.logs.hashAt(f.device, f.seq + 1);
    return next !== undefined && (await this.logs.prevOf({ device: f.device, seq: f.seq + 1, hash: next }).catch(() => null)) === f.hash;
  }

  /**
   * Tips a device holding the live key vouches for (its presence, read by a carrier). True when one
   * is new here: files held back may be taken now.
   */
  vouch(tips: Readonly<Record<string, readonly [number, string]>>): boolean {
    let news = false;
    for (const [dev, [seq, hash]] of Object.entries(tips)) {
      if (this.logs.has({ device: dev, seq, hash })) continue;
      const set = this.vouched.get(dev) ?? this.vouched.set(dev, new Set()).get(dev)!;
      if (set.size >= 4096) set.clear(); // bounded: what is forgotten is vouched again by the next presence
      if (!set.has(hash)) (set.add(hash), (news = true));
    }
    return news;
  }

  /** The newest log file applied here of every device: what this device vouches for in its presence. */
  tips(): Record<string, [number, string]> {
    return this.logs.tips();
  }

  liveKeys(): readonly string[] {
    return this.keys.state.live;
  }

  awaitedAnchor(): string | undefined {
    return this.keys.state.awaitedAnchor;
  }

  async acceptKeyFiles(files: readonly { hash: string; bytes: Uint8Array }[]): Promise<boolean> {
    for (const f of files) await this.local.write(Paths.keyFile(f.hash), f.bytes);
    return this.refreshKeys();
  }

  hasDeviceCard(device: string): Promise<boolean> {
    return this.local.exists(Paths.deviceFile(device));
  }

  async acceptDeviceCard(device: string, bytes: Uint8Array): Promise<void> {
    await this.local.write(Paths.deviceFile(device), bytes);
  }

  deviceCard(device: string): Promise<DeviceInfo | undefined> {
    return this.local.readDeviceInfo(device);
  }

  attachmentHashes(): Promise<string[]> {
    return this.local.listObjects();
  }

  async acceptAttachment(hash: string, bytes: Uint8Array): Promise<void> {
    const rel = Paths.object(hash);
    await this.local.write(rel, bytes);
    try {
      await this.local.readObject(hash, false); // the bytes kept are the bytes checked, chunk by chunk
    } catch (e) {
      await fsp.rm(this.local.abs(rel), { force: true }); // only ever in this device's private replica
      throw e;
    }
  }

  hasAttachment(hash: string): Promise<boolean> {
    return this.local.exists(Paths.object(hash));
  }

  changeCountOf(device: string): number {
    return this.state.countByDevice.get(device) ?? 0;
  }

  reportBad(b: BadFile): void {
    if (b.reason.startsWith('a temporary')) return; // a write in progress, by us or a sync client: not a finding
    const key = `${b.path}\n${b.reason}`;
    if (this.badSeen.has(key)) return; // a set: thousands of planted files make no quadratic work
    // bounded: thousands of planted names are neither kept one by one for ever nor logged line by line
    if (this.badSeen.size >= MAX_BAD_FILES) return;
    this.badSeen.add(key);
    this.badFiles.push(b);
    if (this.badFiles.length <= MAX_BAD_FILES_LOGGED) this.opts.logger?.warn('cloud-storage: ignored a file that is not valid store data', { path: b.path, reason: b.reason });
    if (this.badFiles.length === MAX_BAD_FILES_LOGGED) this.opts.logger?.warn(`cloud-storage: more files that are not valid store data are ignored without a log line each (${MAX_BAD_FILES_LOGGED} logged)`);
  }

  // ---- key generations (docs/PASSPHRASE.md) ------------------------------------------------

  get keyState(): KeyState {
    return this.keys.state;
  }

  /** Reads the key files and learns what the held keys open (see ReplicaKeys.refresh). */
  refreshKeys(): Promise<boolean> {
    return this.keys.refresh();
  }

  /** A new passphrase: a new key generation (see ReplicaKeys.changePassphrase), sent before anything encrypted with it. */
  async changePassphrase(passphrase: string, deviceName: string): Promise<void> {
    this.assertOpen();
    if (this.readOnly) throw input.readOnlyError();
    await this.keys.changePassphrase(passphrase, deviceName);
    this.outgoingSubject.next();
  }

  // ---- reading ---------------------------------------------------------------------------

  async get(collection: string, id: string): Promise<StoredRecord | undefined> {
    this.assertOpen();
    input.checkKey(collection, id);
    const e = this.state.entry(collection, id);
    await this.readable(e);
    return e && e.isLive() ? e.toStored() : undefined;
  }

  async list(collection: string): Promise<readonly StoredRecord[]> {
    this.assertOpen();
    input.checkCollection(collection);
    const out: StoredRecord[] = [];
    for (const e of this.state.collection(collection)) {
      if (e.unreadableHeads().length > 0) await this.readable(e);
      if (e.isLive()) out.push(e.toStored()!);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async history(collection: string, id: string): Promise<readonly StoredRecord[]> {
    this.assertOpen();
    input.checkKey(collection, id);
    const e = this.state.entry(collection, id);
    if (!e) return [];
    await this.readable(e);
    // The heads, and the versions still in the journal, are in memory; an older version's time, author
    // and body are read from the log file that holds it (record-state.ts keeps its id and place alone).
    const conflict = e.inConflict();
    const out: StoredRecord[] = [];
    for (const h of e.heads()) out.push({ collection, id, version: h.ver, data: h.data, updatedAt: h.at, updatedBy: h.by, conflict });
    for (const { ver, where, kept } of [...e.older()]) {
      const c = kept ?? (await this.logs.change(collection, id, ver, where));
      out.push({ collection, id, version: ver, data: c.data, updatedAt: c.at, updatedBy: c.by, conflict: false });
    }
    return out.sort((a, b) => (a.version < b.version ? -1 : 1));
  }

  /**
   * Makes every head of a record readable before a host reads or writes it: data a loaded snapshot's
   * bytes could not give (damaged after it was written; noted, the snapshot removed) are read from the
   * log file that holds the version, as history() reads an older one. Throws 'corrupt' only when that
   * fails too, so a version nobody can see is never shown as missing nor written over blindly.
   */
  protected async readable(e: RecordEntry | undefined): Promise<void> {
    if (!e) return;
    for (const h of e.unreadableHeads()) {
      const c = await this.logs.change(e.col, e.id, h.ver, h.where).catch(() => undefined);
      if (c?.data) h.repair(c.data);
    }
    e.assertReadable();
  }

  // ---- writing ---------------------------------------------------------------------------

  async put(collection: string, id: string, data: JsonObject, opts?: { baseVersion?: string }): Promise<StoredRecord> {
    this.assertOpen();
    input.checkKey(collection, id);
    input.checkData(data);
    input.checkBase(opts?.baseVersion);
    const copy = JSON.parse(JSON.stringify(data)) as JsonObject; // the caller may mutate its object later
    return this.writes.run(async () => {
      const e = this.state.entry(collection, id);
      await this.readable(e); // no write over a version nobody could see
      const parents = this.parentsFor(e, opts?.baseVersion);
      return this.commit({ col: collection, id, parents, data: copy, op: 'put' });
    });
  }

  async remove(collection: string, id: string, opts?: { baseVersion?: string }): Promise<void> {
    this.assertOpen();
    input.checkKey(collection, id);
    input.checkBase(opts?.baseVersion);
    return this.writes.run(async () => {
      const e = this.state.entry(collection, id);
      await this.readable(e);
      const parents = this.parentsFor(e, opts?.baseVersion);
      if (!e || !e.isLive()) return; // removing what is not there changes nothing
      await this.commit({ col: collection, id, parents, data: null, op: 'remove' });
    });
  }

  async resolveConflict(collection: string, id: string, data: JsonObject | null): Promise<void> {
    this.assertOpen();
    input.checkKey(collection, id);
    if (data !== null) input.checkData(data);
    const copy = data === null ? null : (JSON.parse(JSON.stringify(data)) as JsonObject);
    return this.writes.run(async () => {
      const e = this.state.entry(collection, id);
      if (!e || e.headCount === 0) throw input.invalid(`Den Datensatz ${collection}/${id} gibt es nicht; es ist nichts aufzulösen.`, `There is no record ${collection}/${id}; there is nothing to resolve.`);
      await this.readable(e);
      await this.commit({ col: collection, id, parents: e.headVersions(), data: copy, op: 'resolve' });
    });
  }

  /**
   * What a write replaces: every current head. The host writes what a person saw and edited: the record
   * shown (with `conflict: true` where versions compete), so a put or remove on a record in conflict
   * replaces all its versions and resolves the conflict (issue #17: editing a client to hold both changes
   * must clear it). Heads with identical contents are one version to the user anyway. With `base`, it
   * must be one of the current heads (compare-and-set), else version-mismatch. Nothing is lost: every
   * replaced version stays in history().
   */
  protected parentsFor(e: RecordEntry | undefined, base: string | undefined): string[] {
    const shown = e?.shownVersion();
    const all = () => e!.headVersions();
    if (base === undefined) return shown ? all() : [];
    if (e && e.head(base)) return all();
    throw storageError(
      'version-mismatch',
      {
        de: `Der Datensatz wurde inzwischen geändert (aktuelle Version ${shown ?? 'keine'}, Ihre Grundlage ${base}). Bitte laden Sie ihn neu und übernehmen Sie Ihre Änderung erneut.`,
        en: `The record was changed in the meantime (current version ${shown ?? 'none'}, yours was based on ${base}). Reload it and apply your change again.`,
      },
      { currentVersion: shown },
    );
  }

  protected newChange(c: Omit<Change, 'ver' | 'at' | 'by'>): Change {
    return { ...c, ver: this.clock.next(), at: new Date((this.opts.now ?? Date.now)()).toISOString(), by: this.byName };
  }

  /** The acknowledgement point: the change is durable in the journal before the promise resolves. */
  protected async commit(c: Omit<Change, 'ver' | 'at' | 'by'>): Promise<StoredRecord> {
    if (this.readOnly) throw input.readOnlyError();
    const change = this.newChange(c);
    await this.journal.write(change);
    this.state.apply(change, 'journal');
    const entry = this.state.entry(change.col, change.id)!;
    const rec: StoredRecord = { collection: change.col, id: change.id, version: change.ver, data: change.data, updatedAt: change.at, updatedBy: change.by, conflict: entry.inConflict() };
    this.changesSubject.next({ origin: 'local', record: entry.toStoredIfReadable() ?? rec });
    this.publishConflicts();
    this.scheduleSeal();
    return rec;
  }

  // ---- sealing: journal entries into this device's next immutable log file -------------------

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

  /** Runs in the seal queue, so puts go on meanwhile; a batch is what the journal held when taken. */
  protected async sealJournal(): Promise<void> {
    while (this.journal.size > 0 && !this.readOnly) {
      const batch = this.journal.nextBatch();
      const f = await this.local.writeSegment(this.opts.deviceId, this.ownSeq + 1, this.ownTip, batch);
      this.logs.sealed(f, batch);
      [this.ownSeq, this.ownTip] = [f.seq, f.hash];
      await this.journal.sealed(batch);
      this.sinceSnapshot += batch.length;
    }
    if (this.sinceSnapshot >= (this.opts.snapshotEvery ?? 20000)) await this.writeSnapshot();
    this.outgoingSubject.next();
  }

  /** Seals everything now (flush, close, and before a former id's changes are sent). */
  sealNow(): Promise<void> {
    if (this.sealTimer) {
      clearTimeout(this.sealTimer);
      this.sealTimer = undefined;
    }
    return this.seals.run(() => this.sealJournal());
  }

  /**
   * A snapshot of the state of every sealed log file, written when the journal is empty: this
   * replica's own cache for its next open. It stays in the local replica (never sent: another PC
   * believes only log files it verified itself).
   */
  async writeSnapshot(): Promise<SegmentFile | undefined> {
    if (this.journal.size > 0 || this.readOnly) return undefined;
    const mine = (await this.local.listSnapshots()).filter((s) => s.device === this.opts.deviceId);
    const seq = Math.max(0, ...mine.map((s) => s.seq)) + 1;
    // A snapshot names the log files it covers: they are durable before it is. Its content is taken
    // right after that (no await between), so a file received meanwhile is not among them.
    await this.syncReceived();
    if (this.unsynced.length > 0 || this.journal.size > 0) return undefined; // a put came meanwhile: its body is in the journal
    const content = this.logs.snapshot();
    if (!content) return undefined;
    const f = await this.local.writeSnapshot({ t: 'snapshot', v: 4, device: this.opts.deviceId, seq, createdAt: new Date().toISOString(), ...content });
    this.sinceSnapshot = 0;
    // The two newest stay (the older in case the newest does not check out at the next open); the rest
    // go: each is about the practice's size, and a PC writes one every 20,000 changes and at closes.
    for (const old of mine.sort((a, b) => b.seq - a.seq).slice(1)) await this.local.removeSnapshot(old).catch(() => undefined);
    return f;
  }

  // ---- attachments -------------------------------------------------------------------------

  async putAttachment(bytes: Uint8Array, meta: { name: string; mediaType: string }): Promise<AttachmentRef> {
    this.assertOpen();
    input.checkAttachment(bytes, meta);
    if (this.readOnly) throw input.readOnlyError();
    try {
      const { hash, size } = await this.local.writeObject(bytes);
      await this.local.write(LocalPaths.outbox(hash), '');
      this.scheduleSeal();
      return { id: hash, name: meta.name, mediaType: meta.mediaType, size };
    } catch (e) {
      throw localWriteError(e);
    }
  }

  /** An attachment held here; "not arrived yet" (unavailable) when this replica lacks it. */
  async getAttachment(ref: AttachmentRef): Promise<Uint8Array> {
    this.assertOpen();
    input.checkAttachmentRef(ref);
    try {
      return (await this.local.readObject(ref.id, true))!;
    } catch (e) {
      if (e instanceof BadFileError) throw input.corruptReplica(e.message);
      if (errnoOf(e) === 'ENOENT') throw input.attachmentNotArrived();
      throw e;
    }
  }

  // ---- import ------------------------------------------------------------------------------

  async importRecords(records: Iterable<ImportRecord> | AsyncIterable<ImportRecord>): Promise<ImportReport> {
    this.assertOpen();
    return this.writes.run(() =>
      this.seals.run(async () => {
        await this.sealJournal();
        const report = await importInto(
          {
            shown: async (col, id) => {
              const e = this.state.entry(col, id);
              if (e && e.unreadableHeads().length > 0) await this.readable(e);
              return e?.toStored();
            },
            change: (c) => this.newChange(c),
            writeLogFile: async (changes) => {
              const f = await this.local.writeSegment(this.opts.deviceId, this.ownSeq + 1, this.ownTip, changes).catch((e) => {
                throw localWriteError(e);
              });
              [this.ownSeq, this.ownTip] = [f.seq, f.hash];
              this.applyLogFile(f, { t: 'log', v: 1, device: f.device, seq: f.seq, prev: null, createdAt: '', changes });
              this.sinceSnapshot += changes.length;
              return f;
            },
            readBack: (f) => this.logs.reread(f),
          },
          records,
        );
        this.outgoingSubject.next();
        return report;
      }),
    );
  }

  /**
   * Takes over records kept outside the store — the host's own data, entered while this PC was not set
   * up (issue #17): a record the store lacks is added; where the store holds other content, the record
   * becomes a version beside the store's (no parents: concurrent), so a person is asked which one stands.
   * Identical content changes nothing. Each record is durable before the next is read.
   */
  async takeOver(records: Iterable<ImportRecord> | AsyncIterable<ImportRecord>): Promise<{ added: number; conflicting: number; same: number }> {
    this.assertOpen();
    const out = { added: 0, conflicting: 0, same: 0 };
    for await (const r of records) {
      input.checkKey(r.collection, r.id);
      input.checkData(r.data);
      const copy = JSON.parse(JSON.stringify(r.data)) as JsonObject;
      await this.writes.run(async () => {
        const e = this.state.entry(r.collection, r.id);
        await this.readable(e);
        const heads = e ? e.headData() : [];
        if (heads.length > 0 && heads.every((d) => isDeepStrictEqual(d, copy))) return void out.same++;
        await this.commit({ col: r.collection, id: r.id, parents: [], data: copy, op: 'put' });
        if (heads.length > 0) out.conflicting++;
        else out.added++;
      });
    }
    return out;
  }

  // ---- close -------------------------------------------------------------------------------

  /** Seals what is left, writes a snapshot when many changes came since the last, releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.sealNow().catch(() => undefined);
    this.closed = true;
    if (this.sealTimer) clearTimeout(this.sealTimer);
    await this.writes.idle();
    await this.seals.idle();
    if (this.sinceSnapshot >= 2000) await this.writeSnapshot().catch(() => undefined);
    await this.logs.release();
    await this.syncReceived();
    this.changesSubject.complete();
    this.conflictsSubject.complete();
    this.outgoingSubject.complete();
    this.keys.dispose();
    await this.lock?.dispose();
  }

  // ---- conflicts ---------------------------------------------------------------------------

  protected publishConflicts(): void {
    this.conflictsStale = false;
    if (this.closed) return;
    // (a record whose snapshot bytes turned out bad is in no conflict: inConflict does not tell its heads apart)
    const list: RecordConflict[] = [];
    for (const e of this.state.conflicts()) {
      const versions = e.headVersions().map((v) => e.toStoredIfReadable(v));
      if (versions.every((v) => v !== undefined)) list.push({ collection: e.col, id: e.id, versions });
    }
    if (!isDeepStrictEqual(this.conflictsSubject.value, list)) this.conflictsSubject.next(list);
  }

  /** The unresolved conflicts now (what conflicts$ last emitted). */
  get conflictList(): readonly RecordConflict[] {
    return this.conflictsSubject.value;
  }

  /** Throws "closed" (StorageError) once the replica was closed. */
  assertOpen(): void {
    if (this.closed) throw input.closedError();
  }
}
