// A cloud-sync simulator: N device folders and a "cloud", with a replicator that behaves like real
// clients do — transfers in any order and at any time, files first visible truncated or under a
// temporary name, online-only placeholders (empty until hydrated), conflict copies in the styles of
// Dropbox, OneDrive, Nextcloud and Syncthing, stray desktop.ini/.DS_Store. Also a USB-stick mode:
// one folder carried between devices, present for one at a time, pulled out whenever the schedule says.
// It is also the instrument: it records which device folder created or changed each path.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Rng = () => number;
export function seededRng(seed: number): Rng {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

function walk(root: string, rel = ''): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(path.join(root, rel));
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const r = path.join(rel, n);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(root, r));
    } catch {
      continue;
    }
    if (st.isDirectory()) out.push(...walk(root, r));
    else if (st.isFile()) out.push(r);
  }
  return out;
}

const hashOf = (b: Buffer) => crypto.createHash('sha1').update(b).digest('hex');
// temp files: the store's own (.incoming-…, the access probe's .probe-…) and the simulated clients' (.~…); never synced
const isOwnTemp = (rel: string) => /^\.(incoming-|probe-|~)/.test(path.basename(rel));

export interface SimStats {
  transfers: number;
  truncatedFirst: number;
  tempNamesFirst: number;
  placeholders: number;
  conflictCopies: number;
  strayFiles: number;
  unplugs: number;
}

/** Faults from outside the sync clients' ordinary behaviour: people, backups, disks, strangers. */
export type FolderFault = 'rollback' | 'delete-old-logs' | 'delete-attachment' | 'delete-key-file' | 'bit-flip' | 'squat' | 'empty';
export const FOLDER_FAULTS: readonly FolderFault[] = ['rollback', 'delete-old-logs', 'delete-attachment', 'delete-key-file', 'bit-flip', 'squat', 'empty'];

export class CloudSim {
  readonly cloud: string;
  protected readonly known: Map<string, string>[] = []; // per device: path → hash last synced
  protected readonly pending: { dev: number; rel: string; bytes: Buffer; kind: 'truncated' | 'temp' | 'placeholder' }[] = [];
  protected readonly debris = new Set<string>(); // names the simulator made up
  /** path → device folders that created or changed it (the store's own files only). */
  readonly writers = new Map<string, Set<number>>();
  readonly violations: string[] = [];
  readonly stats: SimStats = { transfers: 0, truncatedFirst: 0, tempNamesFirst: 0, placeholders: 0, conflictCopies: 0, strayFiles: 0, unplugs: 0 };
  /** Faults done (a fault that found nothing to act on is not counted). */
  readonly faults: Record<FolderFault, number> = { rollback: 0, 'delete-old-logs': 0, 'delete-attachment': 0, 'delete-key-file': 0, 'bit-flip': 0, squat: 0, empty: 0 };
  /** Paths a fault deleted or damaged: writing them again (same name, same bytes) is a repair, not a second writer. */
  protected readonly faulted = new Set<string>();
  /** Per device: when what it sees as its shared folder last changed under it by a fault or a pulled stick (ms). */
  readonly lastFaultAt: number[] = [];
  protected snapshot?: Map<string, Buffer>;
  /** When a fault last changed any folder (ms). */
  lastFault = 0;

  constructor(
    readonly root: string,
    readonly devices: number,
    protected readonly rng: Rng,
    readonly mode: 'cloud' | 'usb' = 'cloud',
    /** The clients pass deletions on (format 2 removes packed files): one a client had synced and that is gone on its side goes everywhere. */
    readonly syncDeletions = false,
  ) {
    this.cloud = path.join(root, 'cloud');
    fs.mkdirSync(this.cloud, { recursive: true });
    for (let i = 0; i < devices; i++) {
      this.known.push(new Map());
      this.lastFaultAt.push(0);
      if (mode === 'cloud') fs.mkdirSync(this.folder(i), { recursive: true });
    }
    if (mode === 'usb') fs.mkdirSync(this.stickAtRest, { recursive: true });
  }

  /** The path device i uses as its shared folder. */
  folder(i: number): string {
    return path.join(this.root, this.mode === 'cloud' ? `pc${i}-cloud-folder` : `pc${i}-usb-mount`);
  }

  protected pick<T>(xs: readonly T[]): T | undefined {
    return xs.length ? xs[Math.floor(this.rng() * xs.length)] : undefined;
  }

  // ---- USB mode ---------------------------------------------------------------------------------

  protected get stickAtRest(): string {
    return path.join(this.root, 'usb-stick-in-the-drawer');
  }

  pluggedInto(): number | undefined {
    for (let i = 0; i < this.devices; i++) if (fs.existsSync(this.folder(i))) return i;
    return undefined;
  }

  /** Plugs the stick into device i (pulling it from wherever it was, even mid-write). */
  plug(i: number | undefined): void {
    const at = this.pluggedInto();
    if (at === i) return;
    if (at !== undefined) {
      fs.renameSync(this.folder(at), this.stickAtRest);
      this.stats.unplugs++;
      this.lastFaultAt[at] = Date.now();
    }
    if (i !== undefined) {
      fs.renameSync(this.stickAtRest, this.folder(i));
      this.lastFaultAt[i] = Date.now();
    }
  }

  // ---- cloud mode ---------------------------------------------------------------------------------

  /** One random action of the sync clients. */
  step(): void {
    if (this.mode === 'usb') {
      const r = this.rng();
      if (r < 0.35) this.plug(this.rng() < 0.2 ? undefined : Math.floor(this.rng() * this.devices));
      return;
    }
    const r = this.rng();
    const dev = Math.floor(this.rng() * this.devices);
    if (r < 0.4) this.uploadFrom(dev, 1);
    else if (r < 0.8) this.downloadTo(dev, 1);
    else if (r < 0.9) this.completePending(1);
    else this.litter(dev);
  }

  /** Everything everywhere: the state once every client has caught up. */
  settle(): void {
    if (this.mode === 'usb') return;
    for (let round = 0; round < 4; round++) {
      this.completePending(Infinity);
      for (let i = 0; i < this.devices; i++) this.uploadFrom(i, Infinity);
      for (let i = 0; i < this.devices; i++) this.downloadTo(i, Infinity);
    }
    this.completePending(Infinity);
  }

  protected record(dev: number, rel: string, existedBefore: boolean, bytes?: Buffer, cloudBytes?: Buffer): void {
    if (this.debris.has(rel)) return;
    // format 2's upgrade: the header written again with its version raised from 1 to 2, nothing else (any PC may, with the same bytes)
    if (rel === 'practice-store.json' && bytes && raisedVersion(cloudBytes, bytes)) return;
    if (this.faulted.has(rel)) return; // written again after a fault: a repair (same bytes, checked by their name)
    const w = this.writers.get(rel) ?? new Set<number>();
    w.add(dev);
    this.writers.set(rel, w);
    if (w.size > 1) this.violations.push(`${rel} written by two devices (${[...w].join(', ')})`);
    if (existedBefore && !rel.endsWith(`${path.sep}presence`)) this.violations.push(`${rel} changed after it was written`);
  }

  protected uploadFrom(dev: number, max: number): void {
    const folder = this.folder(dev);
    const known = this.known[dev]!;
    if (this.syncDeletions)
      for (const [rel, h] of [...known]) {
        if (fs.existsSync(path.join(folder, rel)) || this.pending.some((p) => p.dev === dev && p.rel === rel)) continue;
        // removed on this PC: removed in the cloud, unless it changed there meanwhile
        const cloudFile = path.join(this.cloud, rel);
        try {
          if (hashOf(fs.readFileSync(cloudFile)) === h) fs.rmSync(cloudFile);
        } catch {
          // not in the cloud (any more)
        }
        known.delete(rel);
        this.stats.transfers++;
      }
    const changed = walk(folder).filter((rel) => !isOwnTemp(rel) && !this.pending.some((p) => p.dev === dev && p.rel === rel));
    const order = changed.sort(() => this.rng() - 0.5);
    let n = 0;
    for (const rel of order) {
      if (n >= max) break;
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(path.join(folder, rel));
      } catch {
        continue;
      }
      const h = hashOf(bytes);
      const before = known.get(rel);
      if (before === h) continue;
      n++;
      const cloudFile = path.join(this.cloud, rel);
      let cloudHash: string | undefined;
      let cloudBytes: Buffer | undefined;
      try {
        cloudBytes = fs.readFileSync(cloudFile);
        cloudHash = hashOf(cloudBytes);
      } catch {
        cloudHash = undefined;
      }
      this.record(dev, rel, before !== undefined, bytes, cloudBytes);
      if (rel === 'practice-store.json' && cloudBytes && raisedVersion(cloudBytes, bytes)) {
        // the upgrade's header: every client takes it over its synced copy (the same bytes from any PC)
        fs.writeFileSync(cloudFile, bytes);
        known.set(rel, h);
        this.stats.transfers++;
        continue;
      }
      if (cloudHash !== undefined && cloudHash !== before && cloudHash !== h) {
        // changed on two sides: the cloud keeps its version, ours becomes a conflict copy
        const copy = this.conflictName(rel, dev);
        this.debris.add(copy);
        fs.mkdirSync(path.dirname(path.join(this.cloud, copy)), { recursive: true });
        fs.writeFileSync(path.join(this.cloud, copy), bytes);
        this.stats.conflictCopies++;
        continue;
      }
      fs.mkdirSync(path.dirname(cloudFile), { recursive: true });
      fs.writeFileSync(cloudFile, bytes);
      known.set(rel, h);
      this.stats.transfers++;
    }
  }

  protected downloadTo(dev: number, max: number): void {
    const folder = this.folder(dev);
    const known = this.known[dev]!;
    if (this.syncDeletions)
      for (const [rel, h] of [...known]) {
        if (fs.existsSync(path.join(this.cloud, rel))) continue;
        // removed in the cloud: removed here, unless it changed here meanwhile (then its upload decides)
        const local = path.join(folder, rel);
        try {
          if (hashOf(fs.readFileSync(local)) !== h) continue;
          fs.rmSync(local);
        } catch {
          // gone here too
        }
        known.delete(rel);
        this.stats.transfers++;
      }
    const order = walk(this.cloud).sort(() => this.rng() - 0.5);
    let n = 0;
    for (const rel of order) {
      if (n >= max) break;
      if (this.pending.some((p) => p.dev === dev && p.rel === rel)) continue;
      const bytes = fs.readFileSync(path.join(this.cloud, rel));
      const h = hashOf(bytes);
      if (known.get(rel) === h) continue;
      const local = path.join(folder, rel);
      let localHash: string | undefined;
      try {
        localHash = hashOf(fs.readFileSync(local));
      } catch {
        localHash = undefined;
      }
      if (localHash === h) {
        known.set(rel, h);
        continue;
      }
      if (localHash !== undefined && localHash !== known.get(rel)) continue; // changed here too: its upload decides
      n++;
      if (this.faulted.has(rel) || this.debris.has(rel)) this.lastFault = this.lastFaultAt[dev] = Date.now();
      fs.mkdirSync(path.dirname(local), { recursive: true });
      const r = this.rng();
      if (bytes.length > 8 && r < 0.15) {
        fs.writeFileSync(local, bytes.subarray(0, Math.floor(bytes.length / 2))); // visible half-written
        this.pending.push({ dev, rel, bytes, kind: 'truncated' });
        this.stats.truncatedFirst++;
      } else if (r < 0.3) {
        fs.writeFileSync(path.join(path.dirname(local), `.~${path.basename(rel)}.partial`), bytes.subarray(0, bytes.length >> 1));
        this.pending.push({ dev, rel, bytes, kind: 'temp' });
        this.stats.tempNamesFirst++;
      } else if (r < 0.4 && !fs.existsSync(local)) {
        fs.writeFileSync(local, ''); // an online-only placeholder: there, but nothing to read until hydrated
        this.pending.push({ dev, rel, bytes, kind: 'placeholder' });
        this.stats.placeholders++;
      } else {
        this.place(dev, rel, bytes);
      }
      known.set(rel, h);
    }
  }

  protected place(dev: number, rel: string, bytes: Buffer): void {
    const local = path.join(this.folder(dev), rel);
    const tmp = path.join(path.dirname(local), `.~sim-${crypto.randomBytes(4).toString('hex')}.tmp`);
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, local);
    this.stats.transfers++;
  }

  protected completePending(max: number): void {
    let n = 0;
    while (this.pending.length && n < max) {
      const i = Math.floor(this.rng() * this.pending.length);
      const p = this.pending.splice(i, 1)[0]!;
      if (p.kind === 'temp') fs.rmSync(path.join(this.folder(p.dev), path.dirname(p.rel), `.~${path.basename(p.rel)}.partial`), { force: true });
      this.place(p.dev, p.rel, p.bytes);
      n++;
    }
  }

  // ---- faults nobody's model imagined ----------------------------------------------------------

  /** The shared folder's truth: the cloud, or the stick wherever it is. */
  medium(): string {
    if (this.mode === 'cloud') return this.cloud;
    const at = this.pluggedInto();
    return at === undefined ? this.stickAtRest : this.folder(at);
  }

  protected touchAll(): void {
    this.lastFault = Date.now();
    for (let i = 0; i < this.devices; i++) this.lastFaultAt[i] = this.lastFault;
  }

  protected storeFiles(root: string): string[] {
    return walk(root).filter((rel) => !isOwnTemp(rel) && !this.debris.has(rel) && !path.basename(rel).startsWith('.incoming-'));
  }

  /** A backup of the shared folder as it is now (what a later rollback goes back to). */
  takeSnapshot(): void {
    const m = this.medium();
    this.snapshot = new Map(this.storeFiles(m).map((rel) => [rel, fs.readFileSync(path.join(m, rel))]));
  }

  /**
   * A change in the cloud that every client applies to its copy: files it had synced are deleted or
   * replaced (what it had not uploaded yet stays and is uploaded later, as real clients do).
   */
  protected propagate(rel: string, bytes: Buffer | undefined): void {
    this.faulted.add(rel);
    if (this.mode === 'usb') return;
    for (let dev = 0; dev < this.devices; dev++) {
      const known = this.known[dev]!;
      const local = path.join(this.folder(dev), rel);
      let localHash: string | undefined;
      try {
        localHash = hashOf(fs.readFileSync(local));
      } catch {
        localHash = undefined;
      }
      if (localHash !== undefined && localHash !== known.get(rel)) continue; // changed here, not uploaded yet
      for (let k = this.pending.length - 1; k >= 0; k--) if (this.pending[k]!.dev === dev && this.pending[k]!.rel === rel) this.pending.splice(k, 1);
      if (bytes === undefined) {
        fs.rmSync(local, { force: true });
        known.delete(rel);
      } else if (localHash !== undefined) {
        fs.writeFileSync(local, bytes);
        known.set(rel, hashOf(bytes));
      }
    }
  }

  /** One fault of this kind; false when there was nothing to act on. */
  fault(kind: FolderFault): boolean {
    const m = this.medium();
    const files = this.storeFiles(m);
    const isLog = (rel: string) => /(^|[\\/])log[\\/]\d{10}-[0-9a-f]{64}$/.test(rel);
    let done = false;
    if (kind === 'rollback') {
      // OneDrive "restore your files", a Dropbox rewind, a NAS snapshot: the folder as it was then
      if (!this.snapshot) return false;
      for (const rel of files)
        if (!this.snapshot.has(rel)) {
          fs.rmSync(path.join(m, rel), { force: true });
          this.propagate(rel, undefined);
          done = true;
        }
      for (const [rel, bytes] of this.snapshot) {
        let now: Buffer | undefined;
        try {
          now = fs.readFileSync(path.join(m, rel));
        } catch {
          now = undefined;
        }
        if (now && now.equals(bytes)) continue;
        fs.mkdirSync(path.dirname(path.join(m, rel)), { recursive: true });
        fs.writeFileSync(path.join(m, rel), bytes);
        this.propagate(rel, bytes);
        done = true;
      }
    } else if (kind === 'delete-old-logs') {
      // "old files" deleted by a person tidying up, or by a sync client's selective sync
      const logs = files.filter(isLog).sort();
      const byDev = new Map<string, string[]>();
      for (const rel of logs) byDev.set(path.dirname(rel), [...(byDev.get(path.dirname(rel)) ?? []), rel]);
      const dir = this.pick([...byDev.keys()]);
      if (dir === undefined) return false;
      const mine = byDev.get(dir)!;
      for (const rel of mine.slice(0, 1 + Math.floor(this.rng() * mine.length))) {
        fs.rmSync(path.join(m, rel), { force: true });
        this.propagate(rel, undefined);
        done = true;
      }
    } else if (kind === 'delete-attachment' || kind === 'delete-key-file') {
      const prefix = kind === 'delete-attachment' ? 'objects' : 'keys';
      const rel = this.pick(files.filter((r) => r.split(path.sep)[0] === prefix));
      if (rel === undefined) return false;
      fs.rmSync(path.join(m, rel), { force: true });
      this.propagate(rel, undefined);
      done = true;
    } else if (kind === 'bit-flip') {
      // a disk or a transfer damaged a file already in the shared folder
      const rel = this.pick(files.filter((r) => isLog(r) || /^(objects|keys|snapshots)[\\/]/.test(r)));
      if (rel === undefined) return false;
      const bytes = fs.readFileSync(path.join(m, rel));
      if (bytes.length === 0) return false;
      bytes[Math.floor(this.rng() * bytes.length)]! ^= 1 << Math.floor(this.rng() * 8);
      fs.writeFileSync(path.join(m, rel), bytes);
      this.faulted.add(rel); // the clients download it as an ordinary change in the cloud
      done = true;
    } else if (kind === 'squat') {
      // junk planted at a PC's next log file names
      const devDir = path.join(m, 'devices');
      let devs: string[] = [];
      try {
        devs = fs.readdirSync(devDir).filter((d) => /^[0-9a-f]{32}$/.test(d));
      } catch {
        return false;
      }
      const dev = this.pick(devs);
      if (dev === undefined) return false;
      const logDir = path.join(devDir, dev, 'log');
      let max = 0;
      try {
        for (const n of fs.readdirSync(logDir)) if (/^\d{10}-/.test(n)) max = Math.max(max, Number(n.slice(0, 10)));
      } catch {
        return false;
      }
      for (let k = 1; k <= 1 + Math.floor(this.rng() * 3); k++) {
        const rel = path.join('devices', dev, 'log', `${String(max + k).padStart(10, '0')}-${crypto.randomBytes(32).toString('hex')}`);
        this.debris.add(rel);
        fs.writeFileSync(path.join(m, rel), crypto.randomBytes(100 + Math.floor(this.rng() * 400)));
      }
      done = true;
    } else if (kind === 'empty') {
      // somebody deleted everything in the shared folder, and every client followed
      const roots = this.mode === 'cloud' ? [this.cloud, ...Array.from({ length: this.devices }, (_, i) => this.folder(i))] : [m];
      for (const r of roots) for (const n of fs.readdirSync(r)) fs.rmSync(path.join(r, n), { recursive: true, force: true });
      this.pending.length = 0;
      for (const k of this.known) k.clear();
      for (const rel of files) this.faulted.add(rel);
      this.snapshot = undefined;
      done = true;
    }
    if (done) {
      this.faults[kind]++;
      this.touchAll();
    }
    return done;
  }

  protected conflictName(rel: string, dev: number): string {
    const dir = path.dirname(rel);
    const base = path.basename(rel);
    const styles = [
      `${base} (PC${dev}'s conflicted copy 2026-11-28)`, // Dropbox
      `${base}-PC${dev}`, // OneDrive
      `${base} (conflicted copy 2026-11-28 081500)`, // Nextcloud
      `${base}.sync-conflict-20261128-081500-ABCDEFG`, // Syncthing
    ];
    return path.join(dir, this.pick(styles)!);
  }

  /** Sync-client and OS debris in a device folder: system files and conflict copies. */
  protected litter(dev: number): void {
    const folder = this.folder(dev);
    const existing = walk(folder).filter((r) => !isOwnTemp(r));
    const r = this.rng();
    let rel: string;
    if (r < 0.5 || existing.length === 0) rel = path.join(this.pick(['', 'devices', 'objects'])!, this.pick(['desktop.ini', '.DS_Store', 'Thumbs.db', '~$Brief.docx'])!);
    else {
      const src = this.pick(existing)!;
      rel = this.conflictName(src, dev);
    }
    this.debris.add(rel);
    fs.mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
    fs.writeFileSync(path.join(folder, rel), crypto.randomBytes(20));
    this.stats.strayFiles++;
  }
}

/** Whether `after` is the header `before` with its version raised from 1 to 2 and nothing else changed. */
function raisedVersion(before: Buffer | undefined, after: Buffer): boolean {
  if (!before) return false;
  try {
    const a = JSON.parse(before.toString('utf8')) as Record<string, unknown>;
    const b = JSON.parse(after.toString('utf8')) as Record<string, unknown>;
    return a.version === 1 && b.version === 2 && JSON.stringify({ ...a, version: 2 }) === JSON.stringify(b);
  } catch {
    return false;
  }
}
