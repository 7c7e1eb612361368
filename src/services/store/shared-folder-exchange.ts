// The shared-folder carrier: sends this device's immutable files, receives and verifies everyone
// else's, watches for changes with a polling fallback, backs off while the folder is away. It sees
// the replica only through its port. A file counts as sent only while the folder lists it (every
// round) and its bytes check out (the audit); what the folder lost is written again, same name,
// same bytes. Nothing here deletes a file in the shared folder. Snapshots are neither sent nor
// read: a PC believes only log files it verified itself (older PCs' snapshots/ are left alone).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BehaviorSubject, type Observable } from 'rxjs';
import type { HostLogger, SyncStatus } from '../../host-api';
import { DisposableCollection, clearing } from '../common/disposable';
import { DISK_FULL_CODES, errnoOf } from '../common/errors';
import { MAX_OBJECT_BYTES, PACK_PLAIN_TARGET, Paths, SHARED_FORMATS, segmentName, type Presence } from './format';
import { coveredBy, packCovers, packKey } from './pack-shelf';
import { FolderAudit } from './folder-audit';
import { LogListings } from './log-listings';
import { listOrNone, sameLocation, type Medium, type MediumStat, type WriteMode } from './medium';
import { BadFileError, HeldFileError, KeyMissingError, ReplicaFolder, UnreadableEntryError, asUnreadable, readBounded, type BadFile, type ListedSegment, type PackFile } from './replica-folder';
import { RefusedFiles, sameStamp } from './refused-files';
import { Budget, RotatingReads, ascending, descending } from './rotating-reads';
import type { Carrier, CarrierHealth, DeviceSeen, MissingChanges, MovedTo, ReplicaPort, TooLargeFile } from './replica-port';

export interface ExchangeOptions {
  /** The shared folder's path (shown, watched) … */
  readonly sharedRoot: string;
  /** … or, given, the medium that holds the shared copy (a server); `sharedRoot` is then only its label. */
  readonly medium?: Medium;
  readonly deviceName: string;
  readonly userName: string;
  readonly logger?: HostLogger;
  /** Polling interval; also the fallback where the file system sends no events. */
  readonly pollMs?: number;
  readonly heartbeatMs?: number;
  readonly maxBackoffMs?: number;
  /** Use fs.watch where available (default true). */
  readonly watch?: boolean;
  /** How often the full check of the shared folder runs (default 60 s; also after any doubt). */
  readonly auditMs?: number;
  /** How long a file held here may be missing or damaged there before this PC writes it again (default 2 min). */
  readonly repairGraceMs?: number;
  /** Bytes of the shared folder read and hashed per full check (default 32 MiB). */
  readonly auditBudgetBytes?: number;
  /** How long a server's copy read and matched at a listed version is not read again (default a day). */
  readonly auditVersionTrustMs?: number;
  /** Bytes of copies trusted by their version that each full check reads again anyway, rotating (default 64 KiB). */
  readonly auditRecheckBytes?: number;
  /**
   * The shared formats this PC announces and follows (default SHARED_FORMATS, [1, 2]); [1]: it behaves
   * as a PC of an older version (tests of a mixed fleet). Format 2: STORE-FORMAT.md "Packs".
   */
  readonly formats?: readonly number[];
  /**
   * Own log files are rolled into a pack once this many are in the shared location (default 500: with the
   * 7-day margin's files beside them, four PCs at 300 edits a day keep the folder below ~4,300 files,
   * docs/FORMAT-2.md "Packs and compaction"; 1,000 would pass 5,000).
   */
  readonly packMinFiles?: number;
  /** How long a pack lies in the shared location (on its clock) before what it holds is removed there (default 7 days). */
  readonly packMarginMs?: number;
  /** A PC not seen for this long (its presence's time, on the location's clock) is no longer waited for (default 60 days). */
  readonly knownForMs?: number;
  /**
   * On a folder (listed completely every round): format 2's maintenance also in other rounds, at most
   * this often (default: only in complete rounds, every `auditMs`). The decade bench uses 0.
   */
  readonly maintenanceMs?: number;
}

/** A device's presence as this PC last saw it, for the acknowledgements of format 2 (`compact`). */
interface SignOfLife {
  /** The presence's (or, without one, the device card's) time on the shared location's clock. */
  readonly mtimeMs: number;
  /** What its presence announces, when it was taken (read under a live key); undefined: not known. */
  readonly formats?: readonly number[];
  readonly holds?: Readonly<Record<string, number>>;
  /** Its presence's `heartbeatAt` (what a removal names: a later one says the PC is back). */
  readonly heartbeat?: string;
}

/** Store folders an emptied shared folder may still show (a sync client deletes files before folders). */
export const LAYOUT_DIRS: ReadonlySet<string> = new Set<string>([Paths.devicesDir, Paths.keysDir, Paths.objectsDir, Paths.snapshotsDir]);

export class SharedFolderExchange implements Carrier {
  protected readonly shared: ReplicaFolder;
  /** Where the shared copy is (a folder, a server). */
  protected readonly io: Medium;
  protected readonly status = new BehaviorSubject<SyncStatus>({ state: 'offline', pendingUploads: 0, awaited: 0, conflicts: 0, devices: [] });
  readonly sync$: Observable<SyncStatus> = this.status.asObservable();
  protected readonly healthSubject = new BehaviorSubject<CarrierHealth>('starting');
  readonly health$: Observable<CarrierHealth> = this.healthSubject.asObservable();
  protected readonly toDispose = new DisposableCollection();
  protected timer?: NodeJS.Timeout;
  protected watcher?: fs.FSWatcher;
  protected running?: Promise<void>;
  protected again = false;
  protected backoffMs = 0;
  protected stopped = false;
  protected stopping = false;
  /** This device's log files the shared folder listed in the last round ("<seq>-<hash>"). */
  protected ownListed = new Set<string>();
  /** The ranges of this device's own packs the location listed at the last push: the log files they hold count as sent. */
  protected ownPackedThere: readonly PackFile[] = [];
  /** Whether a round listed the shared folder yet; until then the replica's sent mark says what was sent (an offline start). */
  protected listedOnce = false;
  protected readonly audit: FolderAudit;
  /** The first full check waits a period: a start stays quick; the cheap check of our own files runs every round. */
  protected lastAudit = Date.now();
  protected doubt = false;
  /** The devices' log folders as the last listings gave them (incremental on a server: log-listings.ts). */
  protected readonly logs: LogListings;
  /** When the log folders were last listed completely; the next round lists completely when set to 0. */
  protected lastCompleteListing = 0;
  /** Whether this round lists completely (and reads every presence and lists `objects/` whatever the stamps say). */
  protected completeRound = true;
  /** Counts rounds: `devices/` is listed once in a round. */
  protected roundNo = 0;
  protected roundDevices?: { round: number; devices: string[]; bad: BadFile[] };
  /** Each device's presence as last read, with the state (size, time, tag) it was read at: read again only when that changes. */
  protected readonly presences = new Map<string, { stamp: MediumStat; read: PresenceReading | undefined }>();
  /** This device's own presence file's state after its last write (the folder's clock), until it writes again. */
  protected ownPresenceStat?: MediumStat;
  /** A listed attachment could not be taken yet (unreadable, gone between listing and reading): `objects/` is listed again next round. */
  protected objectsPending = true;
  protected readonly lastSeqs = new Map<string, number>();
  protected restoring = false;
  /** Device names from the cards held here, for devices whose presence is gone. */
  protected readonly names = new Map<string, string>();
  protected readonly sinceIso = new Date().toISOString();
  protected lastExchangeAt?: string;
  protected devices: DeviceSeen[] = [];
  /** The round's budget for presences of devices without an authenticated card that are not taken. */
  protected presenceBudget = new Budget();
  protected awaited = 0;
  protected writesSeen: string[] = [];
  protected presenceWritten = false;
  /** The presence found in the shared location was read before this run's first write of its own (`lookedAtOwnPresence`). */
  protected ownPresenceLooked = false;
  /** The own tip this device's presence in the shared location named (its word), while the replica has not taken it yet (`ownTips`). */
  protected ownWord: [number, string] | undefined;
  /** This run has listed the shared location's key files (and taken in those it lacked, as far as they could be read). */
  protected keysSeen = false;
  /** primeKeys' pull, which the first round waits for (one pull of the key files at a time). */
  protected priming: Promise<void> | undefined;
  protected lastPresence = { news: '', at: 0 };
  // What is known to be in place already, so a round does not ask the disk again every 2 s.
  protected cardInShared = false;
  protected readonly cardsHere = new Set<string>();
  protected objectsHere?: Set<string>;
  /** Files that failed a check, not read again until their size or time changes (bounded). */
  protected readonly refused = new RefusedFiles();
  /** Where each area's look at files that are not taken goes on from (a round looks at a bounded number). */
  protected readonly reads = new RotatingReads();
  protected readonly keysInShared = new Set<string>();
  protected keysHere?: Set<string>;
  /** Files encrypted with a key of a newer passphrase this device does not hold yet (path → true). */
  protected readonly locked = new Set<string>();
  /**
   * Log files sealed under a replaced key that nobody vouched for yet (path → the trust epoch they
   * were held at): tried again only once something changed that could vouch for them.
   */
  protected readonly held = new Map<string, number>();
  /** Counts what may vouch for a held file: a key learned, a presence's tip, a log file applied. */
  protected trustEpoch = 0;
  protected conflicts = 0;
  protected headerAltered = false;
  /** Own packs (by the first one's hash) whose merge with the nine after it would be larger than a pack is made: not tried again. */
  protected readonly tooLargeToMerge = new Set<string>();
  /** Per device: the removals its presence (taken under a live key) names (format 2, "remove this PC"). */
  protected readonly removalsBy = new Map<string, Readonly<Record<string, string>>>();
  /** Per device: the packs its own presence (taken under a live key) names — what vouches for a pack under a replaced key. */
  protected readonly vouchedPacks = new Map<string, Set<string>>();
  /** The shared header as this round read it, when it is this store's. */
  protected sharedHeader?: { raw: unknown; version: number };
  /** Each device's packs as this round's listing gave them (format 2). */
  protected readonly packsListed = new Map<string, { round: number; packs: PackFile[] }>();
  /** What each device's presence said (format 2's acknowledgements), by device. */
  protected readonly signs = new Map<string, SignOfLife>();
  /** The shared location's clock at the last reading of the presences (this PC's own presence file's time). */
  protected folderNow = 0;
  /** Where the store moved to, from a believed note in this location (checked on the first round, every audit period, and every round once seen). */
  protected moved?: MovedTo;
  protected lastMoveCheck = 0;

  constructor(
    protected readonly replica: ReplicaPort,
    protected readonly opts: ExchangeOptions,
  ) {
    this.shared = new ReplicaFolder(opts.medium ?? opts.sharedRoot, replica.storeId, replica.keyring, true);
    this.io = this.shared.io;
    this.logs = new LogListings(this.shared, (f) => replica.hasLogFile(f));
    this.audit = new FolderAudit(replica, this.shared, (rel, bytes) => this.sharedWrite(rel, bytes, 'replace'), {
      graceMs: opts.repairGraceMs ?? 120_000,
      hashBudgetBytes: opts.auditBudgetBytes ?? 32 << 20,
      ...(opts.auditVersionTrustMs !== undefined ? { versionTrustMs: opts.auditVersionTrustMs } : {}),
      ...(opts.auditRecheckBytes !== undefined ? { recheckBytes: opts.auditRecheckBytes } : {}),
    });
  }

  get health(): CarrierHealth {
    return this.healthSubject.value;
  }

  /**
   * Every path this device wrote in the shared folder (tests assert write-once and disjointness): its
   * presence once however often it is rewritten, and the last SEEN_KEPT paths at most (a PC that runs
   * for months writes hundreds of thousands of log files).
   */
  get writtenPaths(): readonly string[] {
    return this.writesSeen;
  }

  protected readonly removedSeen: string[] = [];

  /** Every path this device removed from the shared folder (format 2: only its own files that its packs hold); the last SEEN_KEPT. */
  get removedPaths(): readonly string[] {
    return this.removedSeen;
  }

  start(): void {
    this.toDispose.push(
      // the status counts a change as pending from the moment it is acknowledged, not from the next round
      this.replica.changes$.subscribe((c) => {
        if (c.origin === 'local') this.publish();
      }),
      this.replica.outgoing$.subscribe(() => {
        this.publish();
        this.trigger();
      }),
      this.replica.conflictCount$.subscribe((n) => {
        this.conflicts = n;
        this.publish();
      }),
    );
    if (this.opts.watch !== false && this.io.root !== undefined) this.startWatching(this.io.root);
    this.trigger();
    const heartbeat = setInterval(() => void this.writePresence(true), this.opts.heartbeatMs ?? 15000);
    heartbeat.unref?.();
    this.toDispose.push(clearing(heartbeat));
  }

  protected startWatching(root: string): void {
    try {
      const watcher = fs.watch(root, { recursive: true, persistent: false }, (_ev, name) => {
        if (name && String(name).includes(this.replica.deviceId)) return; // our own writes
        this.trigger(50);
      });
      watcher.on('error', () => watcher.close()); // polling goes on
      this.toDispose.push(() => watcher.close());
    } catch {
      // no events on this file system: polling alone
    }
  }

  /**
   * The first round, awaited at most `timeoutMs` (0: not at all): a start never waits on a slow or
   * frozen server beyond its budget; the round goes on, and the rounds start() schedules follow it.
   */
  async firstRound(timeoutMs: number): Promise<void> {
    if (!this.running) {
      const run = this.exchange();
      this.running = run;
      void run.finally(() => {
        if (this.running !== run) return;
        this.running = undefined;
        if (this.again && !this.stopping) {
          this.again = false;
          this.trigger(0);
        }
      });
    }
    if (timeoutMs > 0) await withTimeout(this.running, timeoutMs);
  }

  /** Schedules a round soon (coalesced). */
  trigger(delayMs = 0): void {
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.exchange().finally(() => {
        this.running = undefined;
        if (this.stopping) return;
        const next = this.again ? 0 : this.backoffMs || (this.opts.pollMs ?? 2000);
        this.again = false;
        this.trigger(next);
      });
    }, delayMs);
  }

  /** One full round: check the folder, push, pull, presence. Never throws. */
  async exchange(): Promise<void> {
    try {
      if (this.priming) await withTimeout(this.priming, 30_000); // bounded: a drive that hangs is the round's to meet
      this.priming = undefined;
      const hdr = await ReplicaFolder.readHeader(this.io);
      // a header that names this store but breaks the format (a lowered KDF cost, say) is ours, altered:
      // this PC works on with its own copy, as with any other change to it
      const ours = hdr.kind === 'ok' ? hdr.header.storeId === this.replica.storeId : hdr.kind === 'foreign' && hdr.storeId === this.replica.storeId;
      if (!ours) {
        this.doubt = true;
        this.logs.reset();
        this.reads.reset();
        this.setHealth(hdr.kind !== 'missing' ? 'wrong-folder' : !(await this.io.exists('')) ? 'unreachable' : (await this.looksEmptied()) ? 'emptied' : 'wrong-folder');
        return;
      }
      this.noteHeader(hdr.kind === 'ok' || hdr.kind === 'foreign' ? hdr.raw : undefined);
      this.sharedHeader = hdr.kind === 'ok' ? { raw: hdr.raw, version: hdr.header.version } : undefined;
      this.beginListingRound();
      this.presenceBudget = new Budget(); // one for the round, however often it looks at the presences
      if (this.lastExchangeAt === undefined || this.moved || Date.now() - this.lastMoveCheck >= (this.opts.auditMs ?? 60_000)) await this.checkMoved();
      // The store lives elsewhere now: nothing more is sent here (this PC's changes wait, counted as
      // pending, until it follows); what late PCs still write here is received.
      if (this.moved) return await this.receiveOnly('moved');
      let refused: 'full' | 'too-large' | undefined;
      try {
        await this.push();
      } catch (e) {
        // No room there (a full disk or quota, a FAT32 stick's folder at its entry limit, a server's 507),
        // or a file above the server's upload limit (413): nothing more is sent, what the others write is
        // still received, and the changes wait here.
        const code = errnoOf(e) ?? '';
        if (DISK_FULL_CODES.has(code)) refused = 'full';
        else if (code === 'EFBIG') refused = 'too-large';
        else throw e;
      }
      if (refused) return await this.receiveOnly(refused);
      // the vouchers first where files may wait for them (a new PC after a passphrase change: every
      // older log file), so they are taken on their first reading, not held and read again
      if (this.lastExchangeAt === undefined || this.held.size > 0) await this.readPresence();
      await this.pull();
      await this.auditIfDue();
      await this.writePresence(true);
      // a presence that vouches for held log files: they are taken in this round, not the next
      if ((await this.readPresence()) && this.held.size > 0) await this.pull();
      await this.compact();
      this.lastExchangeAt = new Date().toISOString();
      this.backoffMs = 0;
      this.setHealth('ok');
    } catch (e) {
      if (e instanceof BadFileError) {
        this.replica.reportBad(e.bad);
        this.setHealth('ok');
        return;
      }
      this.lastCompleteListing = 0; // whatever happened to the location meanwhile, the next round lists it completely
      const code = errnoOf(e) ?? 'unknown';
      this.opts.logger?.warn(code === 'EAUTH' ? 'cloud-storage: the server refused the login, will retry' : 'cloud-storage: shared folder not reachable, will retry', { code });
      this.setHealth(code === 'EAUTH' ? 'auth-required' : 'unreachable');
    }
  }

  /**
   * The shared header is compared with the replica's own copy, the trusted one, every round. One that
   * differs in any field (a lowered KDF cost, another wrapped key) is reported; nothing of it is used
   * (only its storeId was checked above), and it is never written over.
   */
  protected noteHeader(raw: unknown): void {
    const altered = !this.replica.sameHeader(raw);
    if (altered === this.headerAltered) return;
    this.headerAltered = altered;
    if (altered) this.opts.logger?.warn('cloud-storage: the shared folder’s practice-store.json differs from this PC’s copy; working with this PC’s copy');
    this.publish();
  }

  /**
   * A "moved to" note is believed only when it authenticates under a key this PC writes with (one
   * sealed under a replaced key is someone's with an old passphrase) and names another location;
   * a note saying the store lives here (again) ends the move.
   */
  protected async checkMoved(): Promise<void> {
    this.lastMoveCheck = Date.now();
    let r: Awaited<ReturnType<ReplicaFolder['readMovedNote']>>;
    try {
      r = await this.unlessRefused(Paths.movedNote, () => this.shared.readMovedNote());
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || e instanceof KeyMissingError) r = undefined; // none; or under a key this PC lacks: believed once the key is learned
      else if (e instanceof BadFileError) {
        this.replica.reportBad(e.bad);
        r = undefined;
      } else throw e;
    }
    const note = r && r.sealedUnder !== undefined && this.replica.liveKeys().includes(r.sealedUnder) ? r.note : undefined;
    // a note naming this very location (written back here, or replayed from elsewhere) says the store lives here
    if (!note?.to || sameLocation(note.to, this.opts.sharedRoot)) {
      if (this.moved) this.opts.logger?.info('cloud-storage: the store lives in this location again');
      this.moved = undefined;
      return;
    }
    if (this.moved?.to === note.to && this.moved.at === note.at) return;
    const byName = this.devices.find((d) => d.deviceId === note.by)?.name ?? this.names.get(note.by) ?? (await this.replica.deviceCard(note.by).catch(() => undefined))?.name ?? note.by.slice(0, 8);
    this.moved = { to: note.to, kind: note.kind ?? 'server', at: note.at, byDevice: note.by, byName };
    this.opts.logger?.warn('cloud-storage: the store moved to another location; this PC sends nothing here until it follows');
  }

  get movedTo(): MovedTo | undefined {
    return this.moved;
  }

  /** The rest of a round that sends nothing (`moved`, `full`, `too-large`): it receives, and says why it sent nothing. */
  protected async receiveOnly(health: 'moved' | 'full' | 'too-large'): Promise<void> {
    await this.pull();
    this.lastExchangeAt = new Date().toISOString();
    this.backoffMs = 0;
    this.setHealth(health);
  }

  /** The file the server last refused as too large, while the carrier is `too-large`. */
  protected refusedTooLarge?: TooLargeFile;

  get tooLarge(): TooLargeFile | undefined {
    return this.health === 'too-large' ? this.refusedTooLarge : undefined;
  }

  get sharedHeaderAltered(): boolean {
    return this.headerAltered;
  }

  protected setHealth(h: CarrierHealth): void {
    if (h !== 'ok') this.backoffMs = Math.min(Math.max(this.backoffMs * 2, this.opts.pollMs ?? 2000), this.opts.maxBackoffMs ?? 30000);
    if (this.healthSubject.value !== h && !this.stopped) this.healthSubject.next(h);
    this.publish();
  }

  /**
   * No header, and nothing but system files and the store's folders holding no file (only empty
   * folders): the store was taken out of the folder. The same rule as the probe's `remnants`: a file
   * under `devices/` that this replica holds at the same path, of the same size, is the store's own (names
   * are content hashes) — a PC writing while the folder was emptied makes its folder again with the file.
   */
  protected async looksEmptied(): Promise<boolean> {
    const names = (await this.io.list('')).map((d) => d.name).filter((n) => !ignorable(n));
    if (!names.every((n) => LAYOUT_DIRS.has(n))) return false;
    const ours = async (rel: string, listed: number | undefined) => {
      if (!rel.startsWith(Paths.devicesDir + path.sep)) return false;
      const size = listed ?? (await this.io.stat(rel).then((st) => st.size, () => undefined)); // a folder's listing gives none
      return size !== undefined && (await this.replica.fileSize(rel).then((n) => n === size, () => false));
    };
    for (const n of names) if (!(await holdsNoFile(this.io, n, 3, ours))) return false;
    return true;
  }

  /**
   * Complete listings of the log folders (a removal or rollback shows only there on a server): in the
   * first round, at least every audit period (default 60 s), and in the round after any doubt or
   * failed round. Other rounds list only what is new (a folder medium lists completely anyway).
   */
  protected beginListingRound(): void {
    const complete = this.doubt || Date.now() - this.lastCompleteListing >= (this.opts.auditMs ?? 60_000);
    if (complete) this.lastCompleteListing = Date.now();
    this.completeRound = complete;
    this.roundNo++;
    this.logs.beginRound(complete);
  }

  /**
   * The devices' folders, listed once in a round (pull and presence both ask): a device that appears
   * later in the round is seen in the next one. Foreign names are reported to every caller that asks
   * with `bad`.
   */
  protected async roundDeviceList(bad?: (b: BadFile) => void): Promise<string[]> {
    let r = this.roundDevices;
    if (!r || r.round !== this.roundNo) {
      const found: BadFile[] = [];
      r = { round: this.roundNo, devices: await this.shared.listDevices((b) => found.push(b)), bad: found };
      this.roundDevices = r;
    }
    if (bad) for (const b of r.bad) bad(b);
    return r.devices;
  }

  /** The full check: on a schedule, and in the next round after any doubt (a file of ours gone, a folder back). */
  protected async auditIfDue(): Promise<void> {
    const every = this.opts.auditMs ?? 60_000;
    if (!this.doubt && Date.now() - this.lastAudit < every) return;
    this.doubt = false;
    this.lastAudit = Date.now();
    if (this.replica.writable && (await this.audit.run(this.lastSeqs, new Set([...this.locked, ...this.held.keys()]))) > 0) this.doubt = true;
    for (const g of this.audit.gaps)
      if (!this.names.has(g.device)) {
        const card = await this.replica.deviceCard(g.device).catch(() => undefined);
        if (card) this.names.set(g.device, card.name);
      }
    this.publish();
  }

  get missing(): readonly MissingChanges[] {
    return this.audit.gaps.map((g) => {
      const name = this.devices.find((x) => x.deviceId === g.device)?.name ?? this.names.get(g.device) ?? g.device.slice(0, 8);
      return { deviceId: g.device, name, files: g.seqs.length, since: new Date(g.since).toISOString() };
    });
  }

  async restore(): Promise<number> {
    if (!this.replica.writable) return 0;
    const hdr = await ReplicaFolder.readHeader(this.io);
    if (hdr.kind !== 'missing' || !(await this.looksEmptied())) throw new Error('the shared folder is not empty');
    let n: number;
    this.restoring = true; // into a folder without a header, on purpose: the header comes last
    try {
      n = await this.audit.restoreAll();
    } finally {
      this.restoring = false;
    }
    try {
      await ReplicaFolder.writeHeader(this.io, this.replica.header); // last, and never over another store
    } catch (e) {
      // Another PC restored it at the same moment: the same store is back, which is what was asked.
      const now = await ReplicaFolder.readHeader(this.io).catch(() => undefined);
      if (!(now?.kind === 'ok' && now.header.storeId === this.replica.storeId)) throw e;
    }
    this.seen(this.writesSeen, Paths.header);
    this.logs.reset();
    this.reads.reset();
    this.cardInShared = false;
    this.keysInShared.clear();
    this.doubt = true;
    this.trigger();
    return n + 1;
  }

  protected async sharedWrite(rel: string, bytes: Uint8Array, mode: WriteMode = 'create'): Promise<void> {
    if (!this.replica.writable) throw new Error('lock lost');
    await this.checkStillOurs(rel);
    try {
      await this.shared.write(rel, bytes, mode);
    } catch (e) {
      if (errnoOf(e) === 'EFBIG') this.refusedTooLarge = { kind: rel.startsWith(Paths.objectsDir) ? 'attachment' : /[\\/]log[\\/]/.test(rel) ? 'log file' : 'other', bytes: bytes.byteLength };
      throw e;
    }
    this.seen(this.writesSeen, rel);
  }

  protected seen(list: string[], rel: string): void {
    list.push(rel);
    if (list.length > SEEN_KEPT) list.splice(0, list.length - SEEN_KEPT / 2);
  }

  /**
   * A write that would create store folders does so only while the folder holds this store: a folder
   * swapped or emptied since the round began (stick out, another folder at the path) gets nothing.
   */
  protected async checkStillOurs(rel: string): Promise<void> {
    if (this.restoring || (await this.io.exists(path.dirname(rel)))) return;
    const h = await ReplicaFolder.readHeader(this.io).catch(() => undefined);
    const ours = h?.kind === 'ok' ? h.header.storeId === this.replica.storeId : h?.kind === 'foreign' && h.storeId === this.replica.storeId;
    if (!ours) throw Object.assign(new Error('the shared folder no longer holds the store'), { code: 'ENOENT' });
  }

  /** Sizes of this device's own files here (write-once: asked once per file). */
  protected readonly ownSizes = new Map<string, number>();

  protected async ownSize(rel: string): Promise<number> {
    let n = this.ownSizes.get(rel);
    if (n === undefined) this.ownSizes.set(rel, (n = await this.replica.fileSize(rel)));
    return n;
  }

  /** Copies a file of the replica to the same path in the shared folder, unless it is there already. */
  protected async sendIfMissing(rel: string): Promise<void> {
    if (!(await this.io.exists(rel))) await this.sharedWrite(rel, await this.replica.readFile(rel));
  }

  /** Sends this device's own files only: log files, device card and new attachments (never a snapshot). */
  protected async push(): Promise<void> {
    if (!this.replica.writable) return;
    const me = this.replica.deviceId;
    // Attachments first, so a record never arrives before the attachment it names.
    for (const hash of await this.replica.unsentAttachments()) {
      await this.sendIfMissing(Paths.object(hash));
      await this.replica.attachmentSent(hash);
    }
    // Key files before anything encrypted with their keys (content-addressed: any device may carry them).
    for (const hash of await this.replica.keyFileHashes()) {
      if (this.keysInShared.has(hash)) continue;
      await this.sendIfMissing(Paths.keyFile(hash));
      this.keysInShared.add(hash);
    }
    // The device card is written once: whether it is there is asked of the name, never of a
    // successful read (a card still syncing or damaged must not be written a second time).
    if (!this.cardInShared && !(this.cardInShared = await this.io.exists(Paths.deviceFile(me)))) {
      const rel = await this.replica.ownDeviceCard();
      await this.sharedWrite(rel, await this.replica.readFile(rel));
      this.cardInShared = true;
    }
    await this.reissueFormerLogFiles();
    // The cheap check, every round: a log file counts as sent while the folder lists its exact name
    // (number and hash: a stranger's file at our next number is not ours, and never blocks the chain).
    // On a server the names come from the last complete listing and what was listed new since; a
    // removal shows at the next complete one (beginListingRound), or at once where the medium tells.
    // Own packs (format 2) before the log files they hold: a pack missing there (a folder put back in
    // time) is written again at once; a log file a pack here holds counts as sent while the pack is listed.
    const packsThere = new Set((await this.listPacksOf(me)).map(packKey));
    const ownPacks = this.replica.ownPacks();
    for (const p of ownPacks) {
      if (packsThere.has(packKey(p))) continue;
      const rel = Paths.pack(me, p.first, p.last, p.hash);
      await this.sharedWrite(rel, await this.replica.readFile(rel));
      packsThere.add(packKey(p));
    }
    const mine = this.replica.ownLogFiles();
    const listing = (await this.logs.segments(me)).files;
    const listed = new Set(listing.map((f) => segmentName(f.seq, f.hash)));
    const sizes = new Map(listing.filter((f) => f.size !== undefined).map((f) => [segmentName(f.seq, f.hash), f.size!]));
    // held in a pack that is there: passed over without building its name (after years, most of `mine`)
    this.ownPackedThere = ownPacks.filter((p) => packsThere.has(packKey(p)));
    const packed = coveredBy(this.ownPackedThere);
    for (const f of mine) {
      if (packed(f.seq)) continue;
      const name = segmentName(f.seq, f.hash);
      const rel = Paths.segment(me, f.seq, f.hash);
      if (listed.has(name)) {
        // A server's listing says each file's size: a copy of ours
        // cut short (a torn upload kept, or someone) is not sent, and is written again at once.
        const there = sizes.get(name);
        if (there === undefined || there === (await this.ownSize(rel))) continue;
        this.opts.logger?.warn('cloud-storage: an own log file on the server has the wrong size; writing it again');
        this.doubt = true;
        await this.sharedWrite(rel, await this.replica.readFile(rel), 'replace');
        continue;
      }
      if (this.ownListed.has(name)) this.doubt = true; // it was there: the folder went back in time
      await this.sharedWrite(rel, await this.replica.readFile(rel));
      listed.add(name);
    }
    this.ownListed = listed;
    this.listedOnce = true;
    let upTo = 0;
    const packedToo = coveredBy(this.ownPackedThere);
    for (const f of mine) {
      if (!packedToo(f.seq) && !listed.has(segmentName(f.seq, f.hash))) break;
      upTo = f.seq;
    }
    // only a count for the next offline start: a local write that fails costs no round
    await this.replica.markSent(upTo).catch((e: unknown) => this.opts.logger?.debug('cloud-storage: sent mark not written', { code: errnoOf(e) }));
    this.publish();
  }

  /**
   * A copied app-data folder runs under a fresh id; the log files of its former id that never
   * reached the shared folder are written again under the new id (it never writes the old area).
   */
  protected async reissueFormerLogFiles(): Promise<void> {
    const listed = new Map<string, Set<string>>();
    for (const f of this.replica.formerLogFiles()) {
      if (!listed.has(f.device)) listed.set(f.device, new Set((await this.shared.listSegments(f.device)).map((s) => segmentName(s.seq, s.hash))));
      if (!listed.get(f.device)!.has(segmentName(f.seq, f.hash))) await this.replica.reissueFormer(f);
    }
  }

  /**
   * Receives every verified log file, key file, device card and attachment this replica lacks. Every
   * log file, also for a new PC: a snapshot in the folder is never read (it could hold other records
   * than the log files it names — anyone with a store key can write one).
   */
  protected async pull(): Promise<void> {
    try {
      await this.pullFiles();
    } finally {
      await this.replica.received();
    }
  }

  protected async pullFiles(): Promise<void> {
    const bad = (b: BadFile) => this.replica.reportBad(b);
    const epoch = this.trustEpoch;
    if (await this.pullKeys(bad)) {
      this.locked.clear(); // what was locked is tried again below
      this.trustEpoch++;
    }
    // This PC's folder and those of devices whose authenticated card is held here first, each with a
    // budget of its own for files that are not taken (a flood planted in one never holds up another);
    // then the devices without one: their card is read first (a real new PC writes it before any log
    // file), and while they have none, all of them share one budget (rotating-reads.ts).
    const me = this.replica.deviceId;
    const known: string[] = [];
    const unknown: string[] = [];
    for (const dev of await this.roundDeviceList(bad)) {
      if (dev === me || this.cardsHere.has(dev)) known.push(dev);
      else if (await this.replica.hasDeviceCard(dev)) {
        this.cardsHere.add(dev);
        known.push(dev);
      } else unknown.push(dev);
    }
    for (const dev of known) {
      await this.pullPacks(dev, new Budget(), bad);
      await this.pullLogFiles(dev, new Budget(), bad);
    }
    const strangers = new Budget();
    await this.reads.each('devices', unknown, ascending, strangers, async (dev) => {
      await this.pullDeviceCard(dev, bad);
      if (this.cardsHere.has(dev)) {
        await this.pullPacks(dev, new Budget(), bad);
        await this.pullLogFiles(dev, new Budget(), bad);
        return true;
      }
      strangers.left--; // the card's look and the folder's listing
      await this.pullLogFiles(dev, strangers, bad);
      return true;
    });
    // something was taken in (a log file, a key): the attachments its records name are listed now
    await this.pullObjects(bad, epoch !== this.trustEpoch);
  }

  /**
   * Attachments this replica lacks. A device writes an attachment before the log file that names it,
   * so on a server `objects/` (one listing per `objects/<aa>/` folder) is listed in a round that took
   * in a log file or a key, while an attachment listed before could not be taken yet, and in every
   * complete round (the first, every audit period, after any doubt or failed round: another PC's
   * repair, a restored server); `getAttachment` fetches one it lacks at once (`fetchAttachment`).
   * A folder is listed every round: a sync client delivers files in any order, and its listing is cheap.
   * Attachments that are not taken share one budget a round (rotating-reads.ts).
   */
  protected async pullObjects(bad: (b: BadFile) => void, tookSomething: boolean): Promise<void> {
    if (this.io.root === undefined && !tookSomething && !this.objectsPending && !this.completeRound) return;
    this.objectsHere ??= new Set(await this.replica.attachmentHashes());
    let pending = false;
    const objects = (await this.shared.listObjects(bad)).filter((h) => !this.objectsHere!.has(h)).sort(ascending);
    await this.reads.each('objects', objects, ascending, new Budget(), async (hash) => {
      if (await this.copyObject(hash)) {
        this.objectsHere!.add(hash);
        return true;
      }
      if (!this.refused.includes(Paths.object(hash)) && !this.locked.has(Paths.object(hash))) pending = true; // refused: read again only when it changes; locked: when a key arrives
      return false;
    });
    // one not looked at this round (the budget spent) is pending too
    this.objectsPending = pending || objects.some((h) => !this.objectsHere!.has(h) && !this.refused.includes(Paths.object(h)) && !this.locked.has(Paths.object(h)));
  }

  /**
   * A device's log files this replica lacks, newest first (an applied log file vouches for its
   * predecessor, its `prev`, in the same round); a file not taken costs one from `budget`, and once it
   * is spent the rest wait for the next round (rotating-reads.ts). A held file (sealed under a replaced
   * key: authentic, made by someone who had a passphrase) is not counted.
   */
  protected async pullLogFiles(dev: string, budget: Budget, bad: (b: BadFile) => void): Promise<void> {
    const listed = (await this.logs.segments(dev, bad)).files;
    const present = new Set(listed.map((f) => Paths.segment(dev, f.seq, f.hash)));
    for (const rel of this.held.keys()) if (rel.startsWith(Paths.logDir(dev)) && !present.has(rel)) this.held.delete(rel);
    const byName = new Map<string, ListedSegment>();
    for (const f of listed) if (!this.replica.hasLogFile(f)) byName.set(segmentName(f.seq, f.hash), f);
    const names = [...byName.keys()].reverse();
    await this.reads.each(`log:${dev}`, names, descending, budget, async (name) => {
      const f = byName.get(name)!;
      if (this.replica.hasLogFile(f)) return true;
      const rel = Paths.segment(dev, f.seq, f.hash);
      if (this.held.get(rel) === this.trustEpoch) return true;
      if (dev !== this.replica.deviceId && this.replica.hasLogPosition(dev, f.seq)) bad({ path: rel, reason: 'a second segment at the same position (forked chain) — applied, both kept' });
      return this.take(
        rel,
        async (st) => {
          const bytes = arrivedWhole(rel, await this.shared.readSegmentBytes(f), st);
          await this.replica.acceptLogFile(f, bytes, this.shared.decodeSegment(f, bytes));
        },
        bad,
      );
    });
  }

  /**
   * Reads one log file or pack of the shared location and hands it to the replica (`accept`), unless it
   * was refused before at the same size and time. True when it was taken — or held (sealed under a
   * replaced key, not vouched for yet: tried again once something could vouch, not counted against a
   * budget); false when it was not (bad, locked, or gone between listing and reading: next round).
   */
  protected async take(rel: string, accept: (st: MediumStat) => Promise<void>, bad: (b: BadFile) => void): Promise<boolean> {
    try {
      const taken = await this.unlessRefused(rel, async (st) => {
        await accept(st);
        this.held.delete(rel);
        this.trustEpoch++;
        return true;
      });
      return taken === true;
    } catch (e) {
      if (e instanceof HeldFileError) {
        if (!this.held.has(rel)) bad(e.bad);
        this.held.set(rel, this.trustEpoch);
        return true;
      } else if (e instanceof KeyMissingError) this.locked.add(e.bad.path);
      else if (e instanceof BadFileError) bad(e.bad);
      else if (errnoOf(e) !== 'ENOENT') throw e; // ENOENT: vanished between listing and reading: next round
      return false;
    }
  }

  /**
   * A device's packs as listed in this round (listed once a round; on a server only in complete rounds —
   * a pack stands beside the log files it holds for days before they go, STORE-FORMAT.md "Packs").
   */
  protected async listPacksOf(dev: string, bad?: (b: BadFile) => void): Promise<PackFile[]> {
    const known = this.packsListed.get(dev);
    if (known && (known.round === this.roundNo || (this.io.root === undefined && !this.completeRound))) return known.packs;
    const packs = await this.shared.listPacks(dev, bad);
    this.packsListed.set(dev, { round: this.roundNo, packs });
    return packs;
  }

  /**
   * A device's packs this replica lacks (format 2), oldest first; one that a pack held here covers is
   * passed over (an older pack not removed yet). Checked like a log file (ReplicaFolder.decodePack), then
   * handed to the replica, which takes one sealed under a replaced key only when vouched for. A pack not
   * taken costs one from `budget`.
   */
  protected async pullPacks(dev: string, budget: Budget, bad: (b: BadFile) => void): Promise<void> {
    const listed = await this.listPacksOf(dev, bad);
    const present = new Set(listed.map((p) => Paths.pack(dev, p.first, p.last, p.hash)));
    for (const rel of this.held.keys()) if (rel.startsWith(Paths.packsDir(dev)) && !present.has(rel)) this.held.delete(rel);
    const byName = new Map<string, PackFile>();
    for (const p of listed) if (!this.replica.hasPack(p) && !this.replica.packCovered(p)) byName.set(packKey(p), p);
    let asFiles: Set<string> | undefined;
    const listedAsFile = (f: { seq: number; hash: string }) => asFiles!.has(segmentName(f.seq, f.hash));
    await this.reads.each(`packs:${dev}`, [...byName.keys()], ascending, budget, async (name) => {
      const p = byName.get(name)!;
      asFiles ??= new Set((await this.logs.segments(dev, bad)).files.map((f) => segmentName(f.seq, f.hash)));
      if (this.replica.hasPack(p)) return true;
      const rel = Paths.pack(dev, p.first, p.last, p.hash);
      if (this.held.get(rel) === this.trustEpoch) return true;
      return this.take(
        rel,
        async (st) => {
          const bytes = arrivedWhole(rel, await this.shared.readPackBytes(p), st);
          const content = this.shared.decodePack(p, bytes);
          // under a key that is not live: only a pack its own device's presence names (format.ts Presence.packs)
          const vouched = this.vouchedPacks.get(dev)?.has(p.hash) === true;
          if (!(content.sealedUnder !== undefined && this.replica.liveKeys().includes(content.sealedUnder)) && !vouched)
            throw new HeldFileError({ path: rel, reason: 'a pack sealed with a replaced practice passphrase that its own PC does not name in its presence — not taken (written by someone with an old passphrase, or its PC has not been seen since)' });
          // vouched for: taken even where a log file it holds is listed but cannot be taken (damaged), which its PC no longer mends (it holds the pack)
          await this.replica.acceptPack(p, bytes, content, listedAsFile, vouched);
        },
        bad,
      );
    });
  }

  protected async pullDeviceCard(dev: string, bad: (b: BadFile) => void): Promise<void> {
    const rel = Paths.deviceFile(dev);
    try {
      if (await this.replica.hasDeviceCard(dev)) this.cardsHere.add(dev);
      else if (await this.unlessRefused(rel, () => this.shared.readDeviceInfo(dev))) {
        await this.replica.acceptDeviceCard(dev, await this.shared.readDeviceCardBytes(dev));
        this.cardsHere.add(dev);
      }
    } catch (e) {
      if (e instanceof KeyMissingError) this.locked.add(e.bad.path);
      else if (e instanceof BadFileError) bad(e.bad);
    }
  }

  /**
   * At activation, before the first round: when the keychain names a generation whose key file the
   * replica lacks (KeyState.awaitedAnchor: a new PC that joined with a passphrase whose key file it has
   * not copied yet, or a replica put back from a backup), the key files of the shared location are
   * taken in first, within `ms` — so nothing (its device card, a record saved at once) is sealed under
   * the older key the PC would otherwise write with until its first round.
   */
  async primeKeys(ms: number): Promise<void> {
    if (this.replica.awaitedAnchor() === undefined) return;
    const pulled = this.pullKeys((b) => this.replica.reportBad(b)).catch(() => false);
    this.priming = pulled.then(() => undefined);
    await withTimeout(pulled, ms);
  }

  /**
   * Copies key files this replica lacks (checked: name hash, format, store) and lets the replica
   * learn from them. True when it learned a key or now writes with another one.
   */
  protected async pullKeys(bad: (b: BadFile) => void): Promise<boolean> {
    this.keysHere ??= new Set(await this.replica.keyFileHashes());
    const arrived: { hash: string; bytes: Uint8Array }[] = [];
    const lacking = (await this.shared.listKeyFiles(bad)).filter((h) => !this.keysHere!.has(h)).sort(ascending);
    await this.reads.each('keys', lacking, ascending, new Budget(), async (hash) => {
      try {
        const read = await this.unlessRefused(Paths.keyFile(hash), () => this.shared.readKeyFile(hash));
        if (!read) return false;
        arrived.push({ hash, bytes: read.bytes });
        this.keysInShared.add(hash);
        return true;
      } catch (e) {
        if (e instanceof BadFileError) bad(e.bad);
        else if (errnoOf(e) !== 'ENOENT') throw e;
        return false;
      }
    });
    if (arrived.length === lacking.length) this.keysSeen = true; // every one listed is here now
    if (arrived.length === 0) return false;
    const changed = await this.replica.acceptKeyFiles(arrived);
    for (const h of await this.replica.keyFileHashes()) this.keysHere.add(h); // with a link file it wrote
    return changed;
  }

  get lockedCount(): number {
    return this.locked.size;
  }

  get heldCount(): number {
    return this.held.size;
  }

  keysChanged(): void {
    this.locked.clear();
    this.trustEpoch++;
    this.trigger();
  }

  /**
   * Copies one attachment into the replica, which keeps it only if it checks out (hash and
   * authentication). One that failed is not read again until the file changes (a half-synced file grows).
   */
  protected async copyObject(hash: string): Promise<boolean> {
    const rel = Paths.object(hash);
    try {
      const copied = await this.unlessRefused(rel, async (st) => {
        if (st.kind !== 'file' || st.size > MAX_OBJECT_BYTES) throw new BadFileError({ path: rel, reason: st.kind === 'file' ? `is too large (${st.size} bytes)` : 'is not a file' });
        await this.replica.acceptAttachment(hash, arrivedWhole(rel, await readBounded(this.io, rel, MAX_OBJECT_BYTES, true), st));
        return true;
      });
      return copied ?? false;
    } catch (e) {
      if (e instanceof KeyMissingError) this.locked.add(e.bad.path);
      else if (e instanceof BadFileError) this.replica.reportBad(e.bad);
      else if (errnoOf(e) !== 'ENOENT') throw e;
      return false;
    }
  }

  /**
   * Runs `read` on a file of the shared folder unless that file was refused before at the same size
   * and modification time (then undefined: it is not read and hashed again on every poll). A file that
   * fails a check is remembered; one that cannot be read at all, or waits for a key, is not.
   */
  protected async unlessRefused<T>(rel: string, read: (st: MediumStat) => Promise<T>, stat?: MediumStat): Promise<T | undefined> {
    const st: MediumStat = stat ?? (await this.io.stat(rel).catch((e: unknown) => Promise.reject<MediumStat>(asUnreadable(rel, e))));
    if (this.refused.has(rel, st)) return undefined;
    try {
      const out = await read(st);
      this.refused.delete(rel);
      return out;
    } catch (e) {
      if (e instanceof BadFileError && !(e instanceof KeyMissingError) && !(e instanceof HeldFileError) && !(e instanceof UnreadableEntryError)) this.refused.add(rel, st);
      throw e;
    }
  }

  fetchAttachment(hash: string): Promise<boolean> {
    return this.copyObject(hash);
  }

  // ---- presence -------------------------------------------------------------------------

  protected async writePresence(active: boolean, force = false): Promise<void> {
    if (!this.replica.writable || (this.health !== 'ok' && this.health !== 'starting')) return; // starting: its first round, which reached the location
    const me = this.replica.deviceId;
    const mine = this.replica.ownLogFiles();
    const changeCount = this.replica.changeCountOf(me);
    // Rewritten when there is news (new changes, going inactive) or a heartbeat is due — not on
    // every poll, which would keep the cloud client uploading this file every two seconds.
    const live = this.replica.liveKeys();
    const news = `${active}:${mine.length}:${changeCount - this.pendingUploads()}:${live.join()}`;
    if (!force && news === this.lastPresence.news && Date.now() - this.lastPresence.at < (this.opts.heartbeatMs ?? 15000) * 0.9) return;
    const presence = (): Presence => ({
      t: 'presence',
      v: 1,
      deviceId: me,
      name: this.opts.deviceName,
      user: this.opts.userName,
      since: this.sinceIso,
      heartbeatAt: new Date().toISOString(),
      active,
      lastSeq: mine.length ? mine[mine.length - 1]!.seq : 0,
      changeCount: Math.max(0, changeCount - this.pendingUploads()),
      // vouched for only by a device that writes with the live key (a device behind vouches for nothing)
      ...(live.length ? { tips: boundedTips(this.ownTips(), me) } : {}),
      formats: [...this.formats],
      ...(live.length ? { holds: boundedHolds(this.replica.holds(), me), packs: this.replica.ownPacks().slice(-400).map((p) => p.hash) } : {}),
      ...(live.length && Object.keys(this.replica.removedDevices()).length ? { removed: Object.fromEntries(Object.entries(this.replica.removedDevices()).slice(0, 400)) } : {}),
    });
    try {
      if (!(await this.lookedAtOwnPresence())) return;
      await this.checkStillOurs(Paths.presence(me));
      this.ownPresenceStat = undefined; // its time is asked again after the write (the folder's clock)
      await this.shared.writePresence(presence()); // made after the look: it carries the own tip read there (ownTips)
      this.lastPresence = { news, at: Date.now() };
      if (!this.presenceWritten) this.seen(this.writesSeen, Paths.presence(me)); // rewritten every few rounds: named once
      this.presenceWritten = true;
    } catch (e) {
      this.opts.logger?.debug('cloud-storage: presence not written', { code: errnoOf(e) });
    }
  }

  /**
   * What a presence taken under a live key vouches for: its tips and its packs (docs/PASSPHRASE.md,
   * "Retired keys"). This device's own presence too: a replica put back from a backup (a restored
   * disk) finds its own later log files and packs there, sealed under keys it has replaced since, and
   * its own presence is what says they are its own. True when something new is vouched for.
   */
  protected vouchFrom(dev: string, p: PresenceReading): boolean {
    if (!this.isWordOf(dev, p)) return false;
    let news = false;
    const ownTip = dev === this.replica.deviceId ? p.presence.tips?.[dev] : undefined;
    if (ownTip && (!this.ownWord || ownTip[0] > this.ownWord[0])) this.ownWord = [ownTip[0], ownTip[1]];
    if (p.presence.packs) {
      const known = this.vouchedPacks.get(dev);
      const now = new Set(p.presence.packs);
      if (!known || [...now].some((h) => !known.has(h))) news = true; // a held pack may be taken now
      this.vouchedPacks.set(dev, now);
    }
    if (p.presence.tips && this.replica.vouch(p.presence.tips)) news = true;
    if (news) this.trustEpoch++;
    return news;
  }

  /**
   * A presence is its device's word here when sealed under a live key; this device's own also when
   * sealed under the generation it adopted whose key file has not arrived (a replica put back from a
   * backup taken before it changed the passphrase; KeyState.awaitedAnchor): nobody else wrote that.
   */
  protected isWordOf(dev: string, p: PresenceReading): boolean {
    if (p.sealedUnder === undefined) return false;
    if (this.replica.liveKeys().includes(p.sealedUnder)) return true;
    return dev === this.replica.deviceId && p.sealedUnder === this.replica.awaitedAnchor();
  }

  /**
   * What this device's presence names as its own tip: the newest of its log files applied here, or
   * the tip its own presence in the shared location named, while that is newer — a replica put back from a backup
   * has not taken its own later files yet, and a presence naming only the older tip would take back the
   * word for them (a restart before they arrive would then hold them as sealed under replaced keys).
   */
  protected ownTips(): Record<string, [number, string]> {
    const me = this.replica.deviceId;
    const tips = this.replica.tips();
    const word = this.ownWord;
    if (!word) return tips;
    if (tips[me] && tips[me]![0] >= word[0]) {
      this.ownWord = undefined; // taken (or written past): the replica's own tip says it from now on
      return tips;
    }
    return { ...tips, [me]: word };
  }

  /**
   * Before this run first writes its presence, the one in the shared location is read: it may be the
   * only word for this device's own later log files (the replica put back from a backup while the
   * shared copy went on; `vouchFrom`), and the write would replace it. One sealed under a key this PC
   * does not hold is not written over (false), nor one sealed under the generation it adopted whose key
   * file has not arrived (until it arrives); a damaged one is. False too while it cannot be read.
   */
  protected async lookedAtOwnPresence(): Promise<boolean> {
    if (this.ownPresenceLooked) return true;
    const me = this.replica.deviceId;
    try {
      const st = await this.presenceStat(me);
      const p = st ? await this.shared.readPresence(me, st) : undefined;
      if (p) this.vouchFrom(me, p);
      // sealed under the generation this device adopted whose key file has not arrived: written over
      // under an older key, it would no longer vouch once that key file is here and the key live again
      // (until this run has taken in the key files of the shared location: then that key file is nowhere,
      // and the presence written under the live key carries the own tip it named, ownTips)
      if (p && p.sealedUnder !== undefined && p.sealedUnder === this.replica.awaitedAnchor() && !this.keysSeen) return false;
    } catch (e) {
      if (!(e instanceof BadFileError) || e instanceof KeyMissingError) return false;
    }
    this.ownPresenceLooked = true;
    return true;
  }

  /** Who else works in these data; staleness judged by the shared folder's clock (our presence file's mtime). */
  protected async readPresence(): Promise<boolean> {
    const me = this.replica.deviceId;
    const live = this.replica.liveKeys();
    let vouched = false;
    // One look at each presence file a round (its size, time and tag), one read only when that changed
    // since the last read — a presence changes every ~15 s, a round comes every 2 s — and every file
    // read again in each complete round (at least every audit period), should a server keep a tag and
    // time over a rewrite. This device's own file is looked at only after it wrote it (its time is the
    // folder's clock) and in complete rounds.
    const ownStat = (!this.completeRound && this.ownPresenceStat) || (await this.presenceStat(me).catch(() => undefined));
    if (ownStat && ownStat.kind === 'file') this.ownPresenceStat = ownStat;
    const folderNow = ownStat?.kind === 'file' ? ownStat.mtimeMs : Date.now();
    const stale = 3 * (this.opts.heartbeatMs ?? 15000);
    const devices: DeviceSeen[] = [];
    let awaited = 0;
    this.folderNow = folderNow;
    const listedDevices = await this.roundDeviceList();
    for (const dev of [...this.presences.keys()]) if (!listedDevices.includes(dev)) this.presences.delete(dev);
    for (const dev of [...this.signs.keys()]) if (!listedDevices.includes(dev)) this.signs.delete(dev);
    /** Looks at one device's presence; whether it was taken (read under a live key, or unchanged since). */
    const lookAt = async (dev: string): Promise<boolean> => {
      const rel = Paths.presence(dev);
      let p: PresenceReading | undefined;
      let st: MediumStat | undefined;
      try {
        st = dev === me ? ownStat : await this.presenceStat(dev);
        if (!st) {
          this.presences.delete(dev);
          return false; // none
        }
        const at = st;
        p = await this.unlessRefused(
          rel,
          async () => {
            const known = this.presences.get(dev);
            // a folder's presence is read every round (a local read costs no request, and a stick's or an
            // old file system's times come in 1–2 s steps: two rewrites of one size in a step look alike)
            if (known && !this.completeRound && this.io.root === undefined && known.stamp.kind === at.kind && sameStamp(known.stamp, at)) return known.read;
            this.presences.delete(dev);
            const read = await this.shared.readPresence(dev, at);
            this.presences.set(dev, { stamp: at, read });
            return read;
          },
          st,
        );
      } catch (e) {
        this.presences.delete(dev);
        // a PC of this store (its card authenticated here) is alive, but what it acknowledges is not known;
        // a planted folder's file is nobody's
        if (st && this.cardsHere.has(dev)) this.signs.set(dev, { mtimeMs: st.mtimeMs });
        if (e instanceof KeyMissingError) {
          const seen = await this.presenceFromCard(dev, folderNow, stale, st);
          if (seen) devices.push(seen);
        } else if (e instanceof BadFileError) this.replica.reportBad(e.bad);
        return false;
      }
      if (!p) return false;
      const thisDevice = dev === me;
      // read under a live key (and vouched from, below): the first write need not read it again
      if (thisDevice && p.sealedUnder !== undefined && live.includes(p.sealedUnder)) this.ownPresenceLooked = true;
      if (!thisDevice && (p.sealedUnder === undefined || !live.includes(p.sealedUnder))) {
        // written under a replaced key: nothing in it is taken (a PC not given the new passphrase
        // yet, or someone with an old one); the PC is shown from its card and the file's time, and a PC
        // of this store is waited for with nothing acknowledged (a planted folder's file is nobody's)
        if (this.cardsHere.has(dev)) this.signs.set(dev, { mtimeMs: p.mtimeMs });
        const seen = await this.presenceFromCard(dev, folderNow, stale, st);
        if (seen) devices.push(seen);
        return false;
      }
      this.signs.set(dev, { mtimeMs: p.mtimeMs, formats: p.presence.formats ?? [1], holds: p.presence.holds ?? {}, heartbeat: p.presence.heartbeatAt });
      if (!thisDevice) this.removalsBy.set(dev, p.presence.removed ?? {});
      if (this.vouchFrom(dev, p)) vouched = true;
      devices.push({
        deviceId: dev,
        // this PC by the host's own (full) names; the files hold them shortened to the format's bounds
        name: thisDevice ? this.opts.deviceName : p.presence.name,
        user: thisDevice ? this.opts.userName : p.presence.user,
        since: p.presence.since,
        active: thisDevice || (p.presence.active && folderNow - p.mtimeMs < stale),
        lastSeenAt: new Date(p.mtimeMs).toISOString(),
        thisDevice,
      });
      if (!thisDevice) {
        this.lastSeqs.set(dev, p.presence.lastSeq);
        const have = this.replica.changeCountOf(dev);
        awaited += Math.max(0, p.presence.changeCount - have);
      }
      return true;
    };
    // This PC and the devices whose authenticated card is held here: every round. Devices without one
    // (a PC whose card has not arrived yet, or names planted by someone without the passphrase) share
    // one budget for presences not taken, rotating (rotating-reads.ts): thousands of planted device
    // folders cost a bounded number of requests a round.
    const strangers: string[] = [];
    for (const dev of listedDevices) {
      if (dev === me || this.cardsHere.has(dev)) await lookAt(dev);
      else strangers.push(dev);
    }
    await this.reads.each('presences', strangers, ascending, this.presenceBudget, lookAt);
    this.devices = devices.sort((a, b) => (a.thisDevice ? -1 : b.thisDevice ? 1 : a.name.localeCompare(b.name)));
    this.awaited = awaited;
    this.publish();
    return vouched;
  }

  /**
   * A PC whose presence is not taken here — under a newer passphrase's key (unreadable) or a replaced
   * one (not vouched for): its device card (written once, under the key of its day) names it, and the
   * presence file's time says whether it is alive.
   */
  protected async presenceFromCard(dev: string, folderNow: number, stale: number, st?: MediumStat): Promise<DeviceSeen | undefined> {
    try {
      const mtimeMs = (st ?? (await this.io.stat(Paths.presence(dev)))).mtimeMs;
      const card = (await this.replica.deviceCard(dev).catch(() => undefined)) ?? (await this.shared.readDeviceInfo(dev).catch(() => undefined));
      if (!card) return undefined;
      return { deviceId: dev, name: card.name, user: card.user, since: card.createdAt, active: folderNow - mtimeMs < stale, lastSeenAt: new Date(mtimeMs).toISOString(), thisDevice: false };
    } catch {
      return undefined;
    }
  }

  /** A presence file's state, undefined when there is none; unreadable: reported as such (UnreadableEntryError). */
  protected async presenceStat(dev: string): Promise<MediumStat | undefined> {
    const rel = Paths.presence(dev);
    try {
      return await this.io.stat(rel);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw asUnreadable(rel, e);
    }
  }

  // ---- format 2: packs and their removal (STORE-FORMAT.md "Packs", invariant 10) ---------

  protected get formats(): readonly number[] {
    return this.opts.formats ?? SHARED_FORMATS;
  }

  /**
   * The other devices this PC waits for (format 2): every device in the location with a presence or
   * an authenticated card whose time, on the location's clock, is within `knownForMs` (default 60
   * days). A device whose presence is not taken here (a replaced key, a newer one, damaged) is waited
   * for with nothing acknowledged.
   */
  protected async waitedFor(): Promise<{ device: string; sign: SignOfLife }[]> {
    const me = this.replica.deviceId;
    const knownFor = this.opts.knownForMs ?? 60 * 24 * 3600_000;
    const out: { device: string; sign: SignOfLife }[] = [];
    for (const dev of await this.roundDeviceList()) {
      if (dev === me) continue;
      let sign = this.signs.get(dev);
      if (!sign) {
        if (!this.cardsHere.has(dev)) continue; // a name with neither presence nor card of this store: nobody
        const st = await this.io.stat(Paths.deviceFile(dev)).catch(() => undefined);
        if (!st) continue;
        sign = { mtimeMs: st.mtimeMs };
      }
      if (this.folderNow - sign.mtimeMs > knownFor) continue;
      if (this.removedNow(dev)) continue; // removed from the practice by a person, and not back since
      out.push({ device: dev, sign });
    }
    return out;
  }

  /** Whether a device stands removed: some PC's removal names the presence it still has (none: ''). */
  protected removedNow(dev: string): boolean {
    const current = this.signs.get(dev)?.heartbeat ?? '';
    if (this.replica.removedDevices()[dev] === current) return true;
    for (const [by, removed] of this.removalsBy) if (by !== dev && removed[dev] === current) return true;
    return false;
  }

  get removedDevices(): ReadonlySet<string> {
    const out = new Set<string>();
    for (const d of this.devices) if (!d.thisDevice && this.removedNow(d.deviceId)) out.add(d.deviceId);
    return out;
  }

  get removedBy(): { byName: string } | undefined {
    const me = this.replica.deviceId;
    for (const [by, removed] of this.removalsBy)
      if (removed[me] !== undefined) return { byName: this.devices.find((d) => d.deviceId === by)?.name ?? this.names.get(by) ?? by.slice(0, 8) };
    return undefined;
  }

  async removeDevice(deviceId: string): Promise<'removed' | 'this-device' | 'active' | 'unknown'> {
    if (deviceId === this.replica.deviceId) return 'this-device';
    const seen = this.devices.find((d) => d.deviceId === deviceId);
    if (!seen && !this.cardsHere.has(deviceId)) return 'unknown';
    if (seen?.active) return 'active';
    await this.replica.setRemoved(deviceId, this.signs.get(deviceId)?.heartbeat ?? '');
    this.opts.logger?.info('cloud-storage: a PC was removed from the practice on this PC; the others no longer wait for it');
    this.trigger();
    return 'removed';
  }

  /** A removal of this PC's that the removed device outlived (it wrote a presence since): dropped. */
  protected async dropOutlivedRemovals(): Promise<void> {
    for (const [dev, token] of Object.entries(this.replica.removedDevices())) {
      const now = this.signs.get(dev)?.heartbeat;
      if (now !== undefined && now !== token) await this.replica.setRemoved(dev, undefined).catch(() => undefined);
    }
  }

  /**
   * Format 2's maintenance, in complete rounds only (a fresh complete listing), and only while every
   * device waited for announces format 2 (a PC of an older version reads no pack: nothing is packed or
   * removed while it is around, so it is never cut off):
   * 1. this device's own log files in the location, oldest first, are rolled into packs of
   *    `packMinFiles`; ten packs of that size into one; files and packs sealed under a replaced key into
   *    a pack under the current key (with at least one later file, so no two packs share a range);
   * 2. a file of its own that one of its packs holds is removed from the location once the pack has
   *    lain there `packMarginMs` (7 days, on the location's clock) and every device waited for
   *    acknowledges (presence `holds`) every log file of this device up to the pack's last one.
   * Another device's file is never removed. Anything that fails waits for the next complete round.
   */
  protected async compact(): Promise<void> {
    const due = this.completeRound || (this.io.root !== undefined && this.opts.maintenanceMs !== undefined && Date.now() - this.lastCompact >= this.opts.maintenanceMs);
    if (!this.replica.writable || !due || !this.formats.includes(2) || this.replica.liveKeys().length === 0 || this.compacting) return;
    this.lastCompact = Date.now();
    this.compacting = true; // one at a time (a round asked for directly may run beside a scheduled one)
    try {
      await this.compactNow();
    } catch (e) {
      // maintenance that fails (a full local disk, the location gone mid-way) waits for the next round;
      // it never makes the round fail — sending and receiving went through already
      this.opts.logger?.debug('cloud-storage: packing or removing packed files deferred', { code: errnoOf(e) });
    } finally {
      this.compacting = false;
    }
  }

  protected compacting = false;
  protected lastCompact = 0;

  protected async compactNow(): Promise<void> {
    await this.dropOutlivedRemovals();
    const others = await this.waitedFor();
    if (!others.every((o) => o.sign.formats?.includes(2))) return;
    // A store of version 1 becomes version 2 first (its header, that field alone): a PC of version 1
    // that comes back after 60 days, or joins with an old installation, is told to update.
    if (this.sharedHeader && this.sharedHeader.version < 2) {
      if (this.headerAltered) return; // a header that is not this PC's copy is never written over
      await ReplicaFolder.raiseHeaderVersion(this.io, this.sharedHeader.raw);
      this.seen(this.writesSeen, Paths.header);
      this.sharedHeader = { raw: this.sharedHeader.raw, version: 2 };
    }
    const min = Math.max(1, this.opts.packMinFiles ?? PACK_MIN_FILES);
    const loose = (): SegmentFileOf[] => {
      // own log files held as files, in the location, without a gap: what may be packed
      const packs = this.replica.ownPacks();
      const out: SegmentFileOf[] = [];
      let next = packs.reduce((n, p) => Math.max(n, p.last + 1), 1);
      for (const f of this.replica.ownLogFiles()) {
        if (f.seq < next) continue;
        if (f.seq !== next || !this.ownListed.has(segmentName(f.seq, f.hash))) break;
        out.push(f);
        next++;
      }
      return out;
    };
    /** How many of `files`, from the first, one pack takes: `min`, or fewer that reach the size a pack is made for. */
    const chunk = async (files: readonly SegmentFileOf[]): Promise<number> => {
      let take = 0;
      let bytes = 0;
      while (take < files.length && take < min) {
        const f = files[take]!;
        const size = await this.ownSize(Paths.segment(f.device, f.seq, f.hash)).catch(() => 0);
        if (take > 0 && bytes + size > PACK_PLAIN_TARGET) break;
        bytes += size;
        take++;
      }
      return take;
    };
    let retired = await this.replica.retiredOwn();
    let files = loose();
    for (;;) {
      // not yet a pack's worth — unless files sealed under a replaced key are among them: packed now (a range no pack has)
      const retiredAmong = (n: number) => retired.files.some((r) => files.slice(0, n).some((f) => f.seq === r.seq && f.hash === r.hash));
      if (files.length < min && !retiredAmong(files.length)) break; // sizes are read only when a pack may be made
      const take = await chunk(files);
      if (take === 0 || (take < min && take === files.length && !retiredAmong(take))) break;
      if (!(await this.replica.makePack(files.slice(0, take), []))) return;
      files = files.slice(take);
    }
    // ten packs of `min` or fewer files into one, unless that one would be too large (checked by makePack)
    const small = this.replica.ownPacks().filter((p) => p.last - p.first + 1 <= min);
    if (small.length >= 10 && !this.tooLargeToMerge.has(small[0]!.hash)) {
      if (!(await this.replica.makePack([], small.slice(0, 10)))) this.tooLargeToMerge.add(small[0]!.hash);
    }
    // A pack sealed under a replaced key: packed again under the current key together with what follows
    // it (the next pack, or the next log file), so that the new pack's range is one no pack has; while
    // nothing follows it (its PC wrote nothing since), it stays, vouched for in the presence.
    retired = await this.replica.retiredOwn();
    for (const p of retired.packs) {
      if (!this.replica.hasPack(p)) continue; // taken into the pack made for the one before
      const packs = this.replica.ownPacks();
      const nextPack = packs.find((q) => q.first === p.last + 1);
      const nextFile = nextPack ? undefined : loose().find((f) => f.seq === p.last + 1);
      if (nextPack || nextFile) await this.replica.makePack(nextFile ? [nextFile] : [], nextPack ? [p, nextPack] : [p]);
    }
    // new packs go out in the next round's push; their margin starts when they are there
    await this.removePacked(others);
  }

  /** Step 2 of `compact`: removes own files in the location that a pack of this device there holds, once its margin passed and every device acknowledged it. */
  protected async removePacked(others: readonly { device: string; sign: SignOfLife }[]): Promise<void> {
    const me = this.replica.deviceId;
    if (!this.io.removePacked) return;
    const margin = this.opts.packMarginMs ?? 7 * 24 * 3600_000;
    const there = await this.listPacksOf(me);
    const logs = (await this.logs.segments(me)).files;
    // packs there that every device holds and that still have something to take away there
    const candidates = this.replica
      .ownPacks()
      .filter((p) => there.some((q) => packKey(q) === packKey(p)) && others.every((o) => (o.sign.holds?.[me] ?? 0) >= p.last))
      .filter((p) => logs.some((f) => f.seq >= p.first && f.seq <= p.last) || there.some((q) => packCovers(p, q)));
    if (candidates.length === 0) return;
    // the location's clock now: this PC's presence written just now (invariant 8), not a time of this PC
    await this.writePresence(true, true);
    const own = await this.presenceStat(me).catch(() => undefined);
    if (!own || own.kind !== 'file') return;
    for (const p of candidates) {
      const st = await this.io.stat(Paths.pack(me, p.first, p.last, p.hash)).catch(() => undefined);
      if (!st || st.kind !== 'file' || own.mtimeMs - st.mtimeMs < margin) continue;
      for (const f of logs)
        if (f.seq >= p.first && f.seq <= p.last && (await this.replica.packHolds(p, f))) await this.removeOwn(Paths.segment(me, f.seq, f.hash));
      for (const q of there) if (packCovers(p, q)) await this.removeOwn(Paths.pack(me, q.first, q.last, q.hash));
    }
  }

  protected async removeOwn(rel: string): Promise<void> {
    if (!this.replica.writable) return;
    await this.io.removePacked!(rel);
    this.ownSizes.delete(rel);
    this.seen(this.removedSeen, rel);
    this.packsListed.delete(this.replica.deviceId);
    this.logs.forget(this.replica.deviceId, path.basename(rel));
  }

  get devicesSeen(): readonly DeviceSeen[] {
    return this.devices;
  }

  // ---- status ----------------------------------------------------------------------------

  /**
   * This device's changes the shared folder is not known to hold (not listed, or found damaged there).
   * Before the first listing (a start without the folder) the sent mark of the last session stands in:
   * changes sent then are not "waiting" (#17 finding 5: „9 ↑“ after an offline start).
   */
  pendingUploads(): number {
    const me = this.replica.deviceId;
    const mark = this.listedOnce ? undefined : this.replica.sentMark();
    let n = this.replica.unsealedCount();
    const packed = coveredBy(mark === undefined ? this.ownPackedThere : []);
    const damaged = this.audit.damagedCount() > 0;
    for (const f of this.replica.ownLogFiles()) {
      if (packed(f.seq)) continue; // held by an own pack the location lists
      const unsent = mark === undefined ? !this.ownListed.has(segmentName(f.seq, f.hash)) : f.seq > mark;
      if (unsent || (damaged && this.audit.isDamaged(Paths.segment(me, f.seq, f.hash)))) n += f.changes;
    }
    return n;
  }

  protected publish(): void {
    if (this.stopped) return;
    const pending = this.pendingUploads();
    const conflicts = this.conflicts;
    const health = this.health;
    // Log files here that wait for a newer passphrase's key hold at least one change each: they are
    // "announced, not arrived" too, even when the presence that announces them is itself unreadable.
    // A gap nobody fills counts too: at least one change per missing log file.
    const gapFiles = this.audit.gaps.reduce((n, g) => n + g.seqs.length, 0);
    // Held log files (sealed under a replaced key, not vouched for) likewise: this PC does not hold what they hold.
    const awaited = Math.max(this.awaited, [...this.locked].filter((p) => /(^|[\\/])log[\\/]/.test(p)).length + gapFiles + this.held.size);
    const state: SyncStatus['state'] =
      health !== 'ok' ? 'offline' : conflicts > 0 ? 'conflicts' : pending > 0 ? 'uploading' : awaited > 0 ? 'receiving' : 'in-sync';
    this.status.next({ state, pendingUploads: pending, awaited, conflicts, lastExchangeAt: this.lastExchangeAt, devices: this.devices.map(({ since: _s, ...d }) => d) });
  }

  async sendWithin(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.running) await withTimeout(this.running, Math.max(0, deadline - Date.now()));
      if (!this.running && !this.stopping) {
        const run = this.exchange();
        this.running = run;
        await withTimeout(run.finally(() => (this.running = this.running === run ? undefined : this.running)), Math.max(0, deadline - Date.now()));
      }
      const pending = this.pendingUploads();
      if (pending === 0 || Date.now() >= deadline || this.health !== 'ok' || this.stopping) return pending;
      await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true; // from here on nothing schedules another round
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.toDispose.dispose();
    if (this.running) await this.running.catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    this.logs.beginRound(false);
    if (this.health === 'ok') await withTimeout(this.push().then(() => this.writePresence(false)), 3000).catch(() => undefined);
    this.stopped = true;
    this.status.complete();
    this.healthSubject.complete();
  }

  get syncStatus(): SyncStatus {
    return this.status.value;
  }
}

/** How many written and removed paths an exchange remembers (writtenPaths, removedPaths). */
const SEEN_KEPT = 20_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

type SegmentFileOf = ReturnType<ReplicaPort['ownLogFiles']>[number];

type PresenceReading = NonNullable<Awaited<ReturnType<ReplicaFolder['readPresence']>>>;

/** Own log files per pack by default (ExchangeOptions.packMinFiles). */
export const PACK_MIN_FILES = 500;

/** At most 400 acknowledgements, this device's own first (like the tips). */
function boundedHolds(holds: Record<string, number>, me: string): Record<string, number> {
  const ids = Object.keys(holds);
  if (ids.length <= 400) return holds;
  return Object.fromEntries([me, ...ids.filter((d) => d !== me)].slice(0, 400).flatMap((d) => (holds[d] !== undefined ? [[d, holds[d]!]] : [])));
}

/** At most 400 tips (a presence stays far below the 64 KiB small-file bound), this device's own first. */
function boundedTips(tips: Record<string, [number, string]>, me: string): Record<string, [number, string]> {
  const ids = Object.keys(tips);
  if (ids.length <= 400) return tips;
  return Object.fromEntries([me, ...ids.filter((d) => d !== me)].slice(0, 400).flatMap((d) => (tips[d] ? [[d, tips[d]!]] : [])));
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]);
  } finally {
    if (t) clearTimeout(t);
  }
}

/**
 * The bytes of a read, unless fewer or more arrived than the file's size said just before (a transfer
 * cut short that nothing at the HTTP level told, a file still growing): then the file is not judged —
 * reported as unreadable for now and read again in the next round, never remembered as refused (its
 * size and time are the same next round: a refused file would never be read again).
 */
function arrivedWhole(rel: string, bytes: Buffer, st: MediumStat): Buffer {
  if (bytes.length === st.size) return bytes;
  throw new UnreadableEntryError({ path: rel, reason: `arrived with ${bytes.length} of ${st.size} bytes (cut short or still changing); read again`, unreadable: true });
}

/** System files, temp files and dot-names (sync clients' own, e.g. `.stfolder`): never store content. */
export function ignorable(name: string): boolean {
  return name.startsWith('.') || ['desktop.ini', 'thumbs.db', 'icon\r'].includes(name.toLowerCase()) || name.startsWith('~$') || /\.(tmp|temp|partial)$/i.test(name);
}

/** True when a folder holds no file other than ignorable ones (and those `ours` accepts), down to `depth` levels (deeper: not empty). */
async function holdsNoFile(io: Medium, dir: string, depth: number, ours?: (rel: string, size: number | undefined) => Promise<boolean>): Promise<boolean> {
  for (const e of await listOrNone(io, dir)) {
    if (ignorable(e.name)) continue;
    if (e.kind !== 'dir' && ours && (await ours(path.join(dir, e.name), e.size))) continue;
    if (e.kind !== 'dir' || depth === 0 || !(await holdsNoFile(io, path.join(dir, e.name), depth - 1, ours))) return false;
  }
  return true;
}
