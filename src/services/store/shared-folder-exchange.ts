// Live exchange between the local replica and the shared folder: push this device's immutable
// files, pull and verify everyone else's, watch for changes with a polling fallback, back off
// while the folder is away. Nothing here ever deletes or rewrites a file in the shared folder.
import * as fs from 'node:fs';
import { BehaviorSubject, type Observable } from 'rxjs';
import type { HostLogger, SyncStatus } from '../../host-api';
import { errnoOf } from '../common/errors';
import { MAX_OBJECT_BYTES, Paths, type Presence } from './format';
import { BadFileError, KeyMissingError, ReplicaFolder, type BadFile } from './replica-folder';
import { KEYS_DIR } from '../crypto/keyring';
import type { PracticeReplica } from './practice-replica';

export interface ExchangeOptions {
  readonly sharedRoot: string;
  readonly deviceName: string;
  readonly userName: string;
  readonly logger?: HostLogger;
  /** Polling interval; also the fallback where the file system sends no events. */
  readonly pollMs?: number;
  readonly heartbeatMs?: number;
  readonly maxBackoffMs?: number;
  /** Use fs.watch where available (default true). */
  readonly watch?: boolean;
}

export type ExchangeHealth = 'ok' | 'unreachable' | 'wrong-folder';

export interface DeviceSeen {
  deviceId: string;
  name: string;
  user: string;
  active: boolean;
  lastSeenAt: string;
  thisDevice: boolean;
  since: string;
}

export class SharedFolderExchange {
  readonly shared: ReplicaFolder;
  protected readonly status = new BehaviorSubject<SyncStatus>({ state: 'offline', pendingUploads: 0, awaited: 0, conflicts: 0, devices: [] });
  readonly sync$: Observable<SyncStatus> = this.status.asObservable();
  readonly health$ = new BehaviorSubject<ExchangeHealth>('ok');
  protected timer?: NodeJS.Timeout;
  protected heartbeat?: NodeJS.Timeout;
  protected watcher?: fs.FSWatcher;
  protected running?: Promise<void>;
  protected again = false;
  protected backoffMs = 0;
  protected stopped = false;
  protected stopping = false;
  protected readonly sharedKnown = new Map<string, Set<number>>(); // device → seqs known to be in the shared folder
  protected readonly sinceIso = new Date().toISOString();
  protected lastExchangeAt?: string;
  protected devices: DeviceSeen[] = [];
  protected awaited = 0;
  protected writesSeen: string[] = [];
  protected lastPresence = { news: '', at: 0 };
  // What is known to be in place already, so a round does not ask the disk again every 2 s.
  protected cardInShared = false;
  protected readonly cardsHere = new Set<string>();
  protected readonly snapshotsInShared = new Set<string>();
  protected objectsHere?: Set<string>;
  protected readonly objectsRefused = new Map<string, number>(); // hash → size at which it failed the check
  protected readonly keysInShared = new Set<string>();
  protected keysHere?: Set<string>;
  /** Files sealed with a key of a newer passphrase this device does not hold yet (path → true). */
  protected readonly locked = new Set<string>();

  constructor(
    protected readonly replica: PracticeReplica,
    protected readonly opts: ExchangeOptions,
  ) {
    this.shared = replica.folderAt(opts.sharedRoot);
    replica.pushNow = (t) => this.pushWithin(t);
    replica.fetchObject = (h) => this.fetchObject(h);
    replica.beforeClose = () => this.stop();
  }

  /** Every path this device wrote in the shared folder (tests assert write-once and disjointness). */
  get writtenPaths(): readonly string[] {
    return this.writesSeen;
  }

  start(): void {
    const sub = this.replica.sealed$.subscribe(() => this.trigger());
    const changesSub = this.replica.conflicts$.subscribe(() => this.publish());
    this.stopHooks.push(() => sub.unsubscribe(), () => changesSub.unsubscribe());
    if (this.opts.watch !== false) this.startWatching();
    this.trigger();
    this.heartbeat = setInterval(() => void this.writePresence(true), this.opts.heartbeatMs ?? 15000);
    this.heartbeat.unref?.();
  }

  protected readonly stopHooks: (() => void)[] = [];

  protected startWatching(): void {
    try {
      this.watcher = fs.watch(this.opts.sharedRoot, { recursive: true, persistent: false }, (_ev, name) => {
        if (name && String(name).includes(this.replica.deviceId)) return; // our own writes
        this.trigger(50);
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined; // polling goes on
      });
    } catch {
      this.watcher = undefined;
    }
  }

  /** Schedules an exchange soon (coalesced). */
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
      const hdr = await ReplicaFolder.readHeader(this.opts.sharedRoot);
      if (hdr.kind !== 'ok' || hdr.header.storeId !== this.replica.header.storeId) {
        this.setHealth(hdr.kind === 'missing' && !(await folderExists(this.opts.sharedRoot)) ? 'unreachable' : 'wrong-folder');
        return;
      }
      await this.push();
      await this.pull();
      await this.writePresence(true);
      await this.readPresence();
      this.lastExchangeAt = new Date().toISOString();
      this.backoffMs = 0;
      this.setHealth('ok');
    } catch (e) {
      if (e instanceof BadFileError) {
        this.replica.reportBad(e.bad);
        this.setHealth('ok');
        return;
      }
      this.opts.logger?.warn('cloud-storage: shared folder not reachable, will retry', { code: errnoOf(e) ?? 'unknown' });
      this.setHealth('unreachable');
    }
  }

  protected setHealth(h: ExchangeHealth): void {
    if (h !== 'ok') this.backoffMs = Math.min(Math.max(this.backoffMs * 2, this.opts.pollMs ?? 2000), this.opts.maxBackoffMs ?? 30000);
    if (this.health$.value !== h) this.health$.next(h);
    this.publish();
  }

  protected knownShared(dev: string): Set<number> {
    let s = this.sharedKnown.get(dev);
    if (!s) this.sharedKnown.set(dev, (s = new Set()));
    return s;
  }

  protected async sharedWrite(rel: string, bytes: Uint8Array): Promise<void> {
    if (this.replica.readOnly) throw new Error('lock lost');
    await this.shared.write(rel, bytes);
    this.writesSeen.push(rel);
  }

  /** Pushes this device's own files only: segments, device card, snapshots and new attachments. */
  protected async push(): Promise<void> {
    if (this.replica.readOnly) return;
    const me = this.replica.deviceId;
    // Attachments first, so a record never arrives before the attachment it names.
    for (const hash of await this.replica.outbox()) {
      const rel = Paths.object(hash);
      if (!(await folderExists(this.shared.abs(rel)))) await this.sharedWrite(rel, await fs.promises.readFile(this.replica.local.abs(rel)));
      await this.replica.outboxDone(hash);
    }
    // Key files before anything sealed with their keys (content-addressed: any device may carry them).
    for (const hash of await this.replica.local.listKeyFiles()) {
      if (this.keysInShared.has(hash)) continue;
      const rel = `${KEYS_DIR}/${hash}`;
      if (!(await folderExists(this.shared.abs(rel)))) await this.sharedWrite(rel, await fs.promises.readFile(this.replica.local.abs(rel)));
      this.keysInShared.add(hash);
    }
    // The device card is written once: whether it is there is asked of the name, never of a
    // successful read (a card still syncing or damaged must not be written a second time).
    if (!this.cardInShared && !(this.cardInShared = await folderExists(this.shared.abs(Paths.deviceFile(me))))) {
      if (!(await folderExists(this.replica.local.abs(Paths.deviceFile(me)))))
        await this.replica.local.writeDeviceInfo({ t: 'device', v: 1, deviceId: me, name: this.opts.deviceName, user: this.opts.userName, createdAt: new Date().toISOString() });
      await this.sharedWrite(Paths.deviceFile(me), await fs.promises.readFile(this.replica.local.abs(Paths.deviceFile(me))));
      this.cardInShared = true;
    }
    await this.reissueFormerSegments();
    const inShared = this.knownShared(me);
    if (inShared.size < (this.replica.segments.get(me)?.size ?? 0))
      for (const f of await this.shared.listSegments(me)) inShared.add(f.seq);
    const mine = [...(this.replica.segments.get(me) ?? new Map<number, string>())].sort((a, b) => a[0] - b[0]);
    for (const [seq, hash] of mine) {
      if (inShared.has(seq)) continue;
      const rel = Paths.segment(me, seq, hash);
      await this.sharedWrite(rel, await fs.promises.readFile(this.replica.local.abs(rel)));
      inShared.add(seq);
    }
    for (const s of await this.replica.local.listSnapshots()) {
      const rel = Paths.snapshot(s.device, s.seq, s.hash);
      if (s.device !== me || this.snapshotsInShared.has(rel)) continue;
      if (!(await folderExists(this.shared.abs(rel)))) await this.sharedWrite(rel, await fs.promises.readFile(this.replica.local.abs(rel)));
      this.snapshotsInShared.add(rel);
    }
    this.publish();
  }

  /**
   * A copied app-data folder runs under a fresh id; the sealed changes of its former id that never
   * reached the shared folder are written again under the new id (it never writes the old area).
   */
  protected async reissueFormerSegments(): Promise<void> {
    const formers = this.replica.formerSegments();
    if (formers.length === 0) return;
    const listed = new Set<string>();
    for (const f of formers) {
      const marker = `reissued/${f.device}-${f.seq}`;
      if (this.reissued.has(marker)) continue;
      if (!listed.has(f.device)) {
        for (const s of await this.shared.listSegments(f.device)) this.knownShared(f.device).add(s.seq);
        listed.add(f.device);
      }
      if (!this.knownShared(f.device).has(f.seq) && !(await folderExists(this.replica.local.abs(marker)))) {
        await this.replica.reissue((await this.replica.readOwnSegment(f)).changes);
        await this.replica.local.write(marker, '');
      }
      this.reissued.add(marker);
    }
    await this.replica.sealNow();
  }

  protected readonly reissued = new Set<string>();

  /** Pulls every verified segment and attachment this replica lacks. */
  protected async pull(): Promise<void> {
    const bad = (b: BadFile) => this.replica.reportBad(b);
    if (await this.pullKeys(bad)) this.locked.clear(); // what was locked is tried again below
    if (this.replica.state.changeCount === 0) await this.pullSnapshot(bad);
    let applied = false;
    for (const dev of await this.shared.listDevices(bad)) {
      const have = this.replica.segments.get(dev);
      const inShared = this.knownShared(dev);
      for (const f of await this.shared.listSegments(dev, bad)) {
        inShared.add(f.seq);
        if (this.replica.hasApplied(f)) continue;
        if (have?.has(f.seq) && dev !== this.replica.deviceId) {
          bad({ path: Paths.segment(dev, f.seq, f.hash), reason: 'a second segment at the same position (forked chain) — applied, both kept' });
        }
        try {
          const bytes = await this.shared.readSegmentBytes(f);
          const seg = this.shared.decodeSegment(f, bytes);
          await this.replica.local.write(Paths.segment(f.device, f.seq, f.hash), bytes);
          this.replica.applySegment(f, seg, true);
          applied = true;
        } catch (e) {
          if (e instanceof KeyMissingError) this.locked.add(e.bad.path);
          else if (e instanceof BadFileError) bad(e.bad);
          else if (errnoOf(e) === 'ENOENT') continue; // vanished between listing and reading: next round
          else throw e;
        }
      }
      if (dev !== this.replica.deviceId && !this.cardsHere.has(dev)) {
        const rel = Paths.deviceFile(dev);
        try {
          if (await folderExists(this.replica.local.abs(rel))) this.cardsHere.add(dev);
          else if (await this.shared.readDeviceInfo(dev)) {
            await this.replica.local.write(rel, await fs.promises.readFile(this.shared.abs(rel)));
            this.cardsHere.add(dev);
          }
        } catch (e) {
          if (e instanceof KeyMissingError) this.locked.add(e.bad.path);
          else if (e instanceof BadFileError) bad(e.bad);
        }
      }
    }
    this.objectsHere ??= new Set(await this.replica.local.listObjects());
    for (const hash of await this.shared.listObjects(bad)) {
      if (this.objectsHere.has(hash)) continue;
      if (await this.copyObject(hash)) this.objectsHere.add(hash);
    }
    if (applied) this.replica.publishConflicts();
  }

  /**
   * Copies key files this replica lacks (checked: name hash, format, store) and lets the replica
   * learn from them. True when it learned a key or now writes with another one.
   */
  protected async pullKeys(bad: (b: BadFile) => void): Promise<boolean> {
    this.keysHere ??= new Set(await this.replica.local.listKeyFiles());
    let copied = false;
    for (const hash of await this.shared.listKeyFiles(bad)) {
      if (this.keysHere.has(hash)) continue;
      try {
        const { bytes } = await this.shared.readKeyFile(hash);
        await this.replica.local.write(`${KEYS_DIR}/${hash}`, bytes);
        this.keysHere.add(hash);
        this.keysInShared.add(hash);
        copied = true;
      } catch (e) {
        if (e instanceof BadFileError) bad(e.bad);
        else if (errnoOf(e) !== 'ENOENT') throw e;
      }
    }
    if (!copied) return false;
    const changed = await this.replica.refreshKeys();
    for (const h of await this.replica.local.listKeyFiles()) this.keysHere.add(h); // a link file it wrote
    return changed;
  }

  /** Files here that wait for the key of a newer passphrase. */
  get lockedCount(): number {
    return this.locked.size;
  }

  /** After the replica learned keys outside a round (a passphrase typed): try the locked files again now. */
  keysChanged(): void {
    this.locked.clear();
    this.trigger();
  }

  /** A new device starts from the newest verified snapshot instead of replaying every change. */
  protected async pullSnapshot(bad: (b: BadFile) => void): Promise<void> {
    const snaps = await this.shared.snapshotsToTry(await this.shared.listSnapshots(bad));
    for (const f of snaps.slice(0, 3)) {
      try {
        const bytes = await this.shared.readSnapshotBytes(f);
        this.shared.openSnapshot(f, bytes); // name, authentication, header; its records are checked as they load
        await this.replica.local.write(Paths.snapshot(f.device, f.seq, f.hash), bytes);
        await this.replica.loadBestSnapshot([f]);
        return;
      } catch (e) {
        if (e instanceof KeyMissingError) continue; // sealed under a newer passphrase: segments will do
        if (e instanceof BadFileError) bad(e.bad);
        else throw e;
      }
    }
  }

  /**
   * Copies one attachment here and checks the copy (hash and authentication, chunk by chunk) — the
   * bytes we keep are the bytes checked, and the plaintext is never in memory beside the ciphertext.
   * A copy that fails the check is removed again (it is only ever in this device's private replica).
   */
  protected async copyObject(hash: string): Promise<boolean> {
    const rel = Paths.object(hash);
    let size: number | undefined;
    try {
      const st = await fs.promises.lstat(this.shared.abs(rel));
      size = st.size;
      if (this.objectsRefused.get(hash) === size) return false; // refused at this size; a half-synced file grows
      if (!st.isFile() || st.size > MAX_OBJECT_BYTES) throw new BadFileError({ path: rel, reason: st.isFile() ? `is too large (${st.size} bytes)` : 'is not a file' });
      await this.replica.local.write(rel, await fs.promises.readFile(this.shared.abs(rel)));
      try {
        await this.replica.local.readObject(hash, false);
      } catch (e) {
        await fs.promises.rm(this.replica.local.abs(rel), { force: true });
        throw e;
      }
      this.objectsRefused.delete(hash);
      return true;
    } catch (e) {
      if (e instanceof KeyMissingError) this.locked.add(e.bad.path);
      else if (e instanceof BadFileError) {
        this.replica.reportBad(e.bad);
        if (size !== undefined) this.objectsRefused.set(hash, size);
      }
      else if (errnoOf(e) !== 'ENOENT') throw e;
      return false;
    }
  }

  /** An attachment asked for before the exchange brought it: copy it now, then read it from here. */
  protected async fetchObject(hash: string): Promise<Uint8Array | undefined> {
    return (await this.copyObject(hash)) ? this.replica.local.readObject(hash, true) : undefined;
  }

  // ---- presence -------------------------------------------------------------------------

  protected async writePresence(active: boolean): Promise<void> {
    if (this.replica.readOnly || this.health$.value !== 'ok') return;
    const me = this.replica.deviceId;
    const mine = this.replica.segments.get(me);
    const changeCount = this.replica.state.countByDevice.get(me) ?? 0;
    // Rewritten when there is news (new changes, going inactive) or a heartbeat is due — not on
    // every poll, which would keep the cloud client uploading this file every two seconds.
    const news = `${active}:${mine?.size ?? 0}:${changeCount - this.pendingUploads()}`;
    if (news === this.lastPresence.news && Date.now() - this.lastPresence.at < (this.opts.heartbeatMs ?? 15000) * 0.9) return;
    const p: Presence = {
      t: 'presence',
      v: 1,
      deviceId: me,
      name: this.opts.deviceName,
      user: this.opts.userName,
      since: this.sinceIso,
      heartbeatAt: new Date().toISOString(),
      active,
      lastSeq: mine ? Math.max(0, ...mine.keys()) : 0,
      changeCount: Math.max(0, changeCount - this.pendingUploads()),
    };
    try {
      await this.shared.writePresence(p);
      this.lastPresence = { news, at: Date.now() };
      this.writesSeen.push(Paths.presence(me));
    } catch (e) {
      this.opts.logger?.debug('cloud-storage: presence not written', { code: errnoOf(e) });
    }
  }

  /** Who else works in these data; staleness judged by the shared folder's clock (our presence file's mtime). */
  protected async readPresence(): Promise<void> {
    const me = this.replica.deviceId;
    const own = await this.shared.readPresence(me).catch(() => undefined);
    const folderNow = own?.mtimeMs ?? Date.now();
    const stale = 3 * (this.opts.heartbeatMs ?? 15000);
    const devices: DeviceSeen[] = [];
    let awaited = 0;
    for (const dev of await this.shared.listDevices()) {
      let p: Awaited<ReturnType<ReplicaFolder['readPresence']>>;
      try {
        p = await this.shared.readPresence(dev);
      } catch (e) {
        if (e instanceof KeyMissingError) {
          const seen = await this.presenceUnderNewerKey(dev, folderNow, stale);
          if (seen) devices.push(seen);
        } else if (e instanceof BadFileError) this.replica.reportBad(e.bad);
        continue;
      }
      if (!p) continue;
      const thisDevice = dev === me;
      devices.push({
        deviceId: dev,
        name: p.presence.name,
        user: p.presence.user,
        since: p.presence.since,
        active: thisDevice || (p.presence.active && folderNow - p.mtimeMs < stale),
        lastSeenAt: new Date(p.mtimeMs).toISOString(),
        thisDevice,
      });
      if (!thisDevice) {
        const have = this.replica.state.countByDevice.get(dev) ?? 0;
        awaited += Math.max(0, p.presence.changeCount - have);
      }
    }
    this.devices = devices.sort((a, b) => (a.thisDevice ? -1 : b.thisDevice ? 1 : a.name.localeCompare(b.name)));
    this.awaited = awaited;
    this.publish();
  }

  /**
   * A PC that already writes under a newer passphrase: its presence is unreadable here, but its device
   * card (written once, under the key of its day) names it, and the file's time says whether it is alive.
   */
  protected async presenceUnderNewerKey(dev: string, folderNow: number, stale: number): Promise<DeviceSeen | undefined> {
    try {
      const mtimeMs = (await fs.promises.stat(this.shared.abs(Paths.presence(dev)))).mtimeMs;
      const card = (await this.replica.local.readDeviceInfo(dev).catch(() => undefined)) ?? (await this.shared.readDeviceInfo(dev).catch(() => undefined));
      if (!card) return undefined;
      return { deviceId: dev, name: card.name, user: card.user, since: card.createdAt, active: folderNow - mtimeMs < stale, lastSeenAt: new Date(mtimeMs).toISOString(), thisDevice: false };
    } catch {
      return undefined;
    }
  }

  get devicesSeen(): readonly DeviceSeen[] {
    return this.devices;
  }

  // ---- status ----------------------------------------------------------------------------

  /** This device's changes that are not yet in the shared folder. */
  pendingUploads(): number {
    const me = this.replica.deviceId;
    const inShared = this.knownShared(me);
    let n = this.replica.pendingLocal();
    for (const seq of this.replica.segments.get(me)?.keys() ?? []) if (!inShared.has(seq)) n += this.replica.state.countByWhere.get(`${me}:${seq}`) ?? 0;
    return n;
  }

  protected publish(): void {
    if (this.stopped) return;
    const pending = this.pendingUploads();
    const conflicts = this.replica.conflictCount;
    const health = this.health$.value;
    // Log files here that wait for a newer passphrase's key hold at least one change each: they are
    // "announced, not arrived" too, even when the presence that announces them is itself unreadable.
    const awaited = Math.max(this.awaited, [...this.locked].filter((p) => /(^|[\\/])log[\\/]/.test(p)).length);
    const state: SyncStatus['state'] =
      health !== 'ok' ? 'offline' : conflicts > 0 ? 'conflicts' : pending > 0 ? 'uploading' : awaited > 0 ? 'receiving' : 'in-sync';
    this.status.next({ state, pendingUploads: pending, awaited, conflicts, lastExchangeAt: this.lastExchangeAt, devices: this.devices.map(({ since: _s, ...d }) => d) });
  }

  /** Seals and pushes until nothing is pending or the time is up; returns what is still pending. */
  async pushWithin(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.running) await withTimeout(this.running, Math.max(0, deadline - Date.now()));
      if (!this.running && !this.stopping) {
        const run = this.exchange();
        this.running = run;
        await withTimeout(run.finally(() => (this.running = this.running === run ? undefined : this.running)), Math.max(0, deadline - Date.now()));
      }
      const pending = this.pendingUploads();
      if (pending === 0 || Date.now() >= deadline || this.health$.value !== 'ok' || this.stopping) return pending;
      await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true; // from here on nothing schedules another round
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.watcher?.close();
    for (const h of this.stopHooks.splice(0)) h();
    if (this.running) await this.running.catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
    if (this.health$.value === 'ok') await withTimeout(this.push().then(() => this.writePresence(false)), 3000).catch(() => undefined);
    this.stopped = true;
    this.status.complete();
    this.health$.complete();
  }

  get syncStatus(): SyncStatus {
    return this.status.value;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)))]);
  } finally {
    if (t) clearTimeout(t);
  }
}

async function folderExists(p: string): Promise<boolean> {
  try {
    await fs.promises.stat(p);
    return true;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return false;
    throw e;
  }
}
