// The shared folder is checked, not trusted (invariant 11): sync clients roll folders back, people
// restore old backups or delete "old files", bits flip. The audit compares what this replica holds
// with what the shared folder holds — by name, and on a rotating budget by content — and writes
// again what is missing or damaged there: same name, same bytes (content addressing makes that
// safe). This device's own files at once when missing; anything else only after a grace period, so
// that the owner and the sync client go first. Chain gaps nobody here can fill are reported.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { errnoOf } from '../common/errors';
import { sha256Hex } from '../crypto/store-crypto';
import { HASH_HEX, MAX_OBJECT_BYTES, Paths } from './format';
import { FolderMedium, listedOf } from './medium';
import { ReplicaFolder, type BadFile, type SegmentFile } from './replica-folder';
import type { ReplicaPort } from './replica-port';

/** A store file by its path; `hash` when its name is the SHA-256 of its bytes (all but device cards). */
export interface StoreFile {
  readonly rel: string;
  readonly kind: 'key' | 'card' | 'log' | 'pack' | 'object';
  readonly device?: string;
  readonly seq?: number;
  /** A pack's last log file (`seq` is its first). */
  readonly last?: number;
  readonly hash?: string;
  /** Its size as the listing gave it (a server's listing does): the full check needs no `stat` of it. */
  readonly size?: number;
  /** The server's version of it as the listing gave it: a copy verified at this version is not read again soon. */
  readonly version?: string;
}

/** A position in a device's chain that this replica lacks and the shared folder does not deliver. */
export interface ChainGap {
  readonly device: string;
  readonly seqs: readonly number[];
  /** When this replica first found the earliest of them missing (ms, this PC's clock). */
  readonly since: number;
}

export interface AuditOptions {
  /** How long a file held here may be missing or damaged in the shared folder before this PC writes it. */
  readonly graceMs: number;
  /** Bytes of the shared folder read and hashed per audit (the rotating full check). */
  readonly hashBudgetBytes: number;
  /**
   * How long a server's copy verified at a listed version counts as checked while the listing names
   * the same version (default a day): the server's bytes are not downloaded again every audit.
   */
  readonly versionTrustMs?: number;
  /** Bytes of copies trusted by their version read again per audit, rotating (default 64 KiB). */
  readonly recheckBytes?: number;
  readonly now?: () => number;
}

/** How far past its last verified log file a device's chain is believed to reach (by names or presence). */
const MAX_LOOKAHEAD = 1000;

/** SHA-256 of a file, streamed (an attachment may be 50 MiB). */
async function hashFile(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const ORDER: Record<StoreFile['kind'], number> = { key: 0, card: 1, object: 2, pack: 3, log: 4 };

/**
 * Every store file in a folder, in the order to write them (keys before what they open, attachments
 * before records). Snapshots are not among them: a local replica's are its own cache, never shared,
 * and those older PCs left in a shared folder are neither listed, read nor reported.
 */
export async function listStoreFiles(folder: ReplicaFolder, bad?: (b: BadFile) => void, onlyDevices?: ReadonlySet<string>): Promise<StoreFile[]> {
  // With `bad`, an entry that cannot be listed (a link loop, no permission) is reported and skipped.
  // With `onlyDevices`, other devices' folders are not looked into (a name in `devices/` costs nothing).
  const out: StoreFile[] = [];
  for (const k of await folder.listKeyFileEntries(bad)) out.push({ rel: Paths.keyFile(k.hash), kind: 'key', hash: k.hash, ...listedOf(k) });
  for (const dev of await folder.listDevices(bad)) {
    if (onlyDevices && !onlyDevices.has(dev)) continue;
    const card = await folder.cardEntry(dev, bad);
    if (card) out.push({ rel: Paths.deviceFile(dev), kind: 'card', device: dev, ...listedOf(card) });
    for (const f of await folder.listSegments(dev, bad)) out.push({ rel: Paths.segment(dev, f.seq, f.hash), kind: 'log', device: dev, seq: f.seq, hash: f.hash, ...listedOf(f) });
    for (const p of await folder.listPacks(dev, bad)) out.push({ rel: Paths.pack(dev, p.first, p.last, p.hash), kind: 'pack', device: dev, seq: p.first, last: p.last, hash: p.hash, ...listedOf(p) });
  }
  for (const o of await folder.listObjectFiles(bad)) out.push({ rel: Paths.object(o.hash), kind: 'object', hash: o.hash, ...listedOf(o) });
  return out.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

export class FolderAudit {
  /** Path → when it was first found missing or damaged in the shared folder. */
  protected readonly firstBad = new Map<string, number>();
  protected readonly damaged = new Set<string>();
  protected readonly gapSince = new Map<string, number>();
  /** Path → the server's version whose bytes were read and matched, and when. */
  protected readonly verified = new Map<string, { version: string; at: number }>();
  protected cursor = 0;
  /** Where the rotating re-read of copies trusted by their version goes on. */
  protected recheckCursor = 0;
  protected found: ChainGap[] = [];

  constructor(
    protected readonly replica: ReplicaPort,
    protected readonly shared: ReplicaFolder,
    /** Writes a file again at the shared location, over a damaged copy there. */
    protected readonly write: (rel: string, bytes: Uint8Array) => Promise<void>,
    protected readonly opts: AuditOptions,
  ) {}

  protected now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Files of this device known damaged in the shared folder (not delivered until written again). */
  isDamaged(rel: string): boolean {
    return this.damaged.has(rel);
  }

  damagedCount(): number {
    return this.damaged.size;
  }

  get gaps(): readonly ChainGap[] {
    return this.found;
  }

  /**
   * One full check. `lastSeqs`: what each device's presence announces as its last log file.
   * Returns how many files it wrote again.
   */
  async run(lastSeqs: ReadonlyMap<string, number>, locked: ReadonlySet<string>): Promise<number> {
    if (!(await this.holdsThisStore())) return 0;
    const held = await this.replica.heldFiles();
    // Only the folders of devices this replica holds files of or has a presence of: nothing of another
    // folder is compared or repaired, and thousands of planted device folders would cost two requests
    // each on a server (the outside try held a round for 60 s with 3,000 of them).
    const known = this.knownDevices(held, lastSeqs);
    const listed = new Map((await listStoreFiles(this.shared, (b) => this.replica.reportBad(b), known)).map((f) => [f.rel, f]));
    const inShared = new Set(listed.keys());
    const now = this.now();
    let written = 0;
    // the size and version the listing gave travel with the file: a server is not asked for them once more per file
    const present = held.filter((f) => inShared.has(f.rel)).map((f) => ({ ...f, ...listedOf(listed.get(f.rel)!) }));
    for (const rel of [...this.verified.keys()]) if (!inShared.has(rel)) this.verified.delete(rel);
    const checked = await this.hashSome(present);
    // Format 2: a log file or pack held here that a pack of its device holds, where that pack lies in the
    // shared folder and is held here too (its bytes were checked here: a planted name covers nothing), was
    // removed there by its device on purpose (STORE-FORMAT.md "Packs"): it is not written again.
    const packsThere = present.filter((f) => f.kind === 'pack');
    const coveredThere = (f: StoreFile): boolean =>
      (f.kind === 'log' || f.kind === 'pack') &&
      packsThere.some((p) => p.device === f.device && p.rel !== f.rel && p.seq! <= f.seq! && (f.kind === 'log' ? f.seq! : f.last!) <= p.last! && (f.kind === 'log' || p.seq !== f.seq || p.last !== f.last));
    for (const f of held) {
      const missing = !inShared.has(f.rel);
      if (missing && coveredThere(f)) {
        this.firstBad.delete(f.rel);
        this.damaged.delete(f.rel);
        continue;
      }
      const bad = missing || checked.get(f.rel) === false;
      if (!bad) {
        if (checked.get(f.rel) === true || !this.damaged.has(f.rel)) {
          this.firstBad.delete(f.rel);
          this.damaged.delete(f.rel);
        }
        continue;
      }
      if (!missing) this.damaged.add(f.rel);
      const since = this.firstBad.get(f.rel) ?? now;
      this.firstBad.set(f.rel, since);
      // This device's own files are written at once (the bytes are its own); anything else after the grace period.
      const own = f.device === this.replica.deviceId && f.kind !== 'object' && f.kind !== 'key';
      if (own || now - since >= this.opts.graceMs) if (await this.writeAgain(f)) written++;
    }
    this.findGaps(inShared, lastSeqs, locked, now);
    return written;
  }

  /** The devices whose folders a full check looks into: this one, those it holds files of, those with a presence taken. */
  protected knownDevices(held: readonly StoreFile[], lastSeqs: ReadonlyMap<string, number>): Set<string> {
    const out = new Set<string>([this.replica.deviceId, ...lastSeqs.keys()]);
    for (const f of held) if (f.device) out.add(f.device);
    return out;
  }

  /** Writes every file this replica holds that the shared folder lacks (an emptied folder); returns how many. */
  async restoreAll(): Promise<number> {
    const held = await this.replica.heldFiles();
    const inShared = new Set((await listStoreFiles(this.shared, (b) => this.replica.reportBad(b), this.knownDevices(held, new Map()))).map((f) => f.rel));
    let written = 0;
    for (const f of held)
      if (!inShared.has(f.rel) && (await this.writeAgain(f))) written++;
    return written;
  }

  /** The shared folder's header names this store (a folder swapped in mid-round gets nothing). */
  protected async holdsThisStore(): Promise<boolean> {
    const h = await ReplicaFolder.readHeader(this.shared.io).catch(() => undefined);
    return h?.kind === 'ok' && h.header.storeId === this.replica.storeId;
  }

  /**
   * Copies the local file after checking its own bytes (against its name; a device card by
   * authenticating it): a damaged local copy is never spread. A file that cannot be written now is
   * reported and tried again at the next audit; the rest of the audit goes on.
   */
  protected async writeAgain(f: StoreFile): Promise<boolean> {
    try {
      const bytes = await this.replica.readFile(f.rel);
      if (f.hash && HASH_HEX.test(f.hash) && sha256Hex(bytes) !== f.hash) {
        this.replica.reportBad({ path: f.rel, reason: "this PC's own copy does not match its name; not written to the shared folder" });
        return false;
      }
      if (f.kind === 'card' && !(await this.replica.deviceCard(f.device!).catch(() => undefined))) return false;
      await this.write(f.rel, bytes);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') this.replica.reportBad({ path: f.rel, reason: `could not be written to the shared folder again (${errnoOf(e) ?? 'error'}); tried again later` });
      return false;
    }
    this.firstBad.delete(f.rel);
    this.damaged.delete(f.rel);
    return true;
  }

  /**
   * The rotating full check: reads shared copies, up to the byte budget, from where the last audit
   * stopped. true = the bytes match the name (device cards: the copy held here), false = damaged.
   */
  protected async hashSome(files: readonly StoreFile[]): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    if (files.length === 0) return out;
    let budget = this.opts.hashBudgetBytes;
    const now = this.now();
    const trustMs = this.opts.versionTrustMs ?? 24 * 3600_000;
    const trusted: StoreFile[] = [];
    const start = this.cursor; // fixed for this pass: the cursor moves below, the walk must not jump with it
    for (let i = 0; i < files.length && budget > 0; i++) {
      const f = files[(start + i) % files.length]!;
      // Read and matched at the version the server lists now: the same bytes (a server gives a changed
      // file another tag, size or time), read again on the small rotating slice below and at the latest
      // after a day. A folder lists no versions: its copies are read on the rotating budget (reading
      // them costs no transfer; a stick's bits can rot).
      const v = f.version !== undefined ? this.verified.get(f.rel) : undefined;
      if (v && v.version === f.version && now - v.at < trustMs) {
        out.set(f.rel, true);
        trusted.push(f);
      } else budget -= await this.checkOne(f, now, out);
      this.cursor = (start + i + 1) % files.length;
    }
    // A rotating slice of the trusted copies is read whatever their version says (a server's disk whose
    // bits rot, or a copy changed at the disk with its time put back, keeps tag, size and time): every
    // copy within ceil(store bytes / slice) checks — about an hour for a 10,000-record store.
    let slice = this.opts.recheckBytes ?? 64 << 10;
    if (trusted.length > 0) {
      const from = this.recheckCursor % trusted.length;
      for (let i = 0; i < trusted.length && slice > 0; i++) {
        slice -= await this.checkOne(trusted[(from + i) % trusted.length]!, now, out);
        this.recheckCursor = from + i + 1;
      }
    }
    return out;
  }

  /** Reads one shared copy and judges it into `out` (true: it matches its name; a card: it authenticates); the bytes it read. */
  protected async checkOne(f: StoreFile, now: number, out: Map<string, boolean>): Promise<number> {
    try {
      const io = this.shared.io;
      // a server's listing said the size (and that it is a file); a folder is asked (an lstat is cheap)
      const st = f.size !== undefined ? { kind: 'file' as const, size: f.size } : await io.stat(f.rel);
      if (st.kind !== 'file') {
        out.set(f.rel, false);
        return 0;
      }
      // A device card is not named by its hash: damaged means it no longer authenticates (an authentic
      // card that differs from the copy here is never "repaired" — two PCs would overwrite each other).
      let hash: string | undefined;
      if (f.hash && io instanceof FolderMedium) hash = await hashFile(io.abs(f.rel));
      else if (f.hash) {
        const bytes = await io.read(f.rel, MAX_OBJECT_BYTES);
        if (bytes.length !== st.size) {
          out.delete(f.rel); // a transfer cut short (or a file changing): not judged in this pass
          return st.size;
        }
        hash = sha256Hex(bytes);
      }
      const good = f.hash ? hash === f.hash : await this.shared.readDeviceInfo(f.device!).then(() => true, () => false);
      out.set(f.rel, good);
      if (good && f.version !== undefined) this.verified.set(f.rel, { version: f.version, at: now });
      else this.verified.delete(f.rel);
      return st.size;
    } catch {
      // gone, or unreadable (a link loop, no permission): the listing reports it; nothing is judged here
      out.delete(f.rel);
      return 0;
    }
  }


  /** Positions before a device's last known log file that this replica lacks and the folder does not deliver. */
  protected findGaps(inShared: ReadonlySet<string>, lastSeqs: ReadonlyMap<string, number>, locked: ReadonlySet<string>, now: number): void {
    const listed = new Map<string, SegmentFile[]>();
    for (const rel of inShared) {
      const m = /^devices[\\/]([0-9a-f]{32})[\\/]log[\\/](\d{10})-([0-9a-f]{64})$/.exec(rel);
      if (m) (listed.get(m[1]!) ?? listed.set(m[1]!, []).get(m[1]!)!).push({ device: m[1]!, seq: Number(m[2]), hash: m[3]! });
    }
    // Only devices this replica knows from authenticated files (a planted name alone is no device).
    const devices = new Set([...listed.keys(), ...lastSeqs.keys()].filter((d) => this.replica.logTip(d) > 0 || lastSeqs.has(d)));
    devices.delete(this.replica.deviceId);
    const gaps: ChainGap[] = [];
    const open = new Set<string>();
    for (const dev of devices) {
      const files = listed.get(dev) ?? [];
      // Names and presence say where a chain ends, but are believed only a bounded way past what was
      // verified here: a planted name at no. 2,000,000,000 must not make every PC count to it.
      const tip = this.replica.logTip(dev);
      let last = Math.min(lastSeqs.get(dev) ?? 0, tip + MAX_LOOKAHEAD);
      for (const f of files) if (f.seq <= tip + MAX_LOOKAHEAD && f.seq > last) last = f.seq;
      if (tip > last) last = tip;
      const seqs: number[] = [];
      let since = now;
      for (let seq = 1; seq <= last; seq++) {
        if (this.replica.hasLogPosition(dev, seq)) continue;
        // A file there that waits for a newer passphrase's key is arriving, not missing.
        if (files.some((f) => f.seq === seq && locked.has(Paths.segment(dev, seq, f.hash)))) continue;
        const key = `${dev}:${seq}`;
        open.add(key);
        const first = this.gapSince.get(key) ?? now;
        this.gapSince.set(key, first);
        if (now - first >= this.opts.graceMs) {
          seqs.push(seq);
          since = Math.min(since, first);
        }
      }
      if (seqs.length) gaps.push({ device: dev, seqs, since });
    }
    for (const key of [...this.gapSince.keys()]) if (!open.has(key)) this.gapSince.delete(key);
    this.found = gaps;
  }
}
