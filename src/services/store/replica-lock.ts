// One process per local replica (invariant 7): a proper-lockfile lock beside the replica, and beside
// it a record of who holds it, so that a lock left by a process that no longer runs (power cut,
// task manager, SIGKILL) is taken over at once instead of after it turns stale. A lost lock never
// crashes the host: the replica turns read-only and says so. STORE-FORMAT.md, "The local replica's
// lock", has the format and the reasoning.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { z } from 'zod';
import type { HostLogger } from '../../host-api';
import { StorageError } from '../../host-api/storage';
import { writeDurable } from '../common/durable-fs';
import { PRIVATE_MODES, setMode } from '../common/private-fs';
import { DISK_FULL_CODES, errnoOf, localWriteError } from '../common/errors';
import { LocalPaths } from './format';

const fsp = fs.promises;

/** Local replica only, beside `replica.lock`: who holds the lock (no secret in it). */
export const OWNER_FILE = 'replica.owner.json';
/** Local replica only: exists for the few milliseconds in which a process takes the lock (or a dead owner's lock over). */
export const TAKEOVER_DIR = 'replica.lock.takeover';
/** Prefix of a dead owner's lock moved aside on take-over (removed at once; a leftover is removed by the next owner). */
const DEAD_PREFIX = 'replica.lock.dead-';
/** A take-over directory without a readable holder record (an older version's) older than this is stale. */
const TAKEOVER_STALE_MS = 2000;

export interface LockTimings {
  /** proper-lockfile's staleness (at least 2000 ms): a lock not refreshed for this long is taken over even when its owner is unknown. Default 10 s. */
  readonly staleMs?: number;
  /**
   * How long opening waits while another process is taking the lock (the take-over directory
   * exists): normally milliseconds; a directory left by a process that died inside that moment is
   * removed after 2 s. Never a wait for a dead owner. Default 3 s.
   */
  readonly waitMs?: number;
}

const OwnerSchema = z.object({
  format: z.literal('cloud-storage/replica-owner'),
  version: z.literal(1),
  host: z.string(),
  pid: z.number().int().positive(),
  /** `linux:<boot id>:<start time in clock ticks>` from /proc; null where the platform does not tell. */
  processStart: z.string().nullable(),
  /** Random per process: tells this process's own record from a former one with the same pid. */
  token: z.string().regex(/^[0-9a-f]{32}$/),
  /** The inode of the `replica.lock` directory this record belongs to (decimal). */
  lock: z.string(),
  since: z.string(),
});
export type LockOwner = z.infer<typeof OwnerSchema>;

/** Who holds the lock, as far as this process can tell. */
export type OwnerJudgement =
  | { kind: 'gone' } // no lock any more: try again
  | { kind: 'unknown' } // a lock without a record of its own (an older app version)
  | { kind: 'other-host'; host: string }
  | { kind: 'alive'; pid: number }
  | { kind: 'dead'; ino: string; why: 'no-process' | 'pid-reused' };

/** One per process, shared by every copy of this module in it (a host may load the plugin twice). */
const PROCESS_TOKEN: string = ((globalThis as Record<symbol, unknown>)[Symbol.for('cloud-storage.replicaLockToken')] ??= crypto.randomBytes(16).toString('hex')) as string;
let bootId: string | null | undefined;

/** `linux:<boot id>:<start ticks>` of a process, 'zombie' for one that ended and was not reaped, undefined where unknown. */
export function processStartOf(pid: number): string | 'zombie' | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    if (bootId === undefined) bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields 3… (the name may hold spaces)
    if (fields[0] === 'Z' || fields[0] === 'X') return 'zombie';
    const ticks = fields[19]; // field 22: starttime
    return bootId && ticks && /^\d+$/.test(ticks) ? `linux:${bootId}:${ticks}` : undefined;
  } catch {
    return undefined;
  }
}

const OWN_START = (() => {
  const s = processStartOf(process.pid);
  return s === 'zombie' ? undefined : s;
})();

/** Does the process of a record still run? Another start time under the same pid is another process. */
export function ownerRuns(o: Pick<LockOwner, 'pid' | 'processStart' | 'token'>): { runs: true } | { runs: false; why: 'no-process' | 'pid-reused' } {
  if (o.pid === process.pid) return o.token === PROCESS_TOKEN ? { runs: true } : { runs: false, why: 'pid-reused' };
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if (errnoOf(e) === 'ESRCH') return { runs: false, why: 'no-process' };
    // EPERM: it runs, under another user; anything else: assume it runs
  }
  const now = processStartOf(o.pid);
  if (now === 'zombie') return { runs: false, why: 'no-process' };
  if (o.processStart && now && now !== o.processStart) return { runs: false, why: 'pid-reused' };
  return { runs: true }; // without start times (other platforms) a live pid counts as the owner
}

async function lockIno(lockPath: string): Promise<string | undefined> {
  try {
    return String((await fsp.stat(lockPath, { bigint: true })).ino);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

async function readOwner(root: string): Promise<LockOwner | undefined> {
  try {
    return OwnerSchema.parse(JSON.parse(await fsp.readFile(path.join(root, OWNER_FILE), 'utf8')));
  } catch {
    return undefined;
  }
}

/** Who holds the lock of a replica now. */
export async function judgeOwner(root: string): Promise<OwnerJudgement> {
  const ino = await lockIno(path.join(root, LocalPaths.lock));
  if (ino === undefined) return { kind: 'gone' };
  const o = await readOwner(root);
  if (!o || o.lock !== ino) return { kind: 'unknown' };
  if (o.host !== os.hostname()) return { kind: 'other-host', host: o.host };
  const r = ownerRuns(o);
  return r.runs ? { kind: 'alive', pid: o.pid } : { kind: 'dead', ino, why: r.why };
}

/** The replica is open in another process: on this PC (another window), or on another PC (app data on a network drive). */
export class ReplicaInUseError extends StorageError {
  readonly inUse = true;
  constructor(
    readonly where: 'this-pc' | 'other-pc',
    readonly ownerHost?: string,
  ) {
    super(
      'unavailable',
      where === 'this-pc'
        ? {
            de: 'Die Praxisdaten sind auf diesem PC bereits in einem anderen Programmfenster geöffnet. Bitte schließen Sie das andere Fenster und versuchen Sie es erneut.',
            en: 'The practice data are already open in another window of the application on this PC. Close the other window and try again.',
          }
        : {
            de: `Die Praxisdaten dieses PCs sind gerade auf dem PC „${ownerHost}“ geöffnet (der Datenordner liegt auf einem Netzlaufwerk). Bitte beenden Sie das Programm dort und versuchen Sie es erneut.`,
            en: `This PC's practice data are open on the PC "${ownerHost}" right now (the data folder is on a network drive). Quit the application there and try again.`,
          },
    );
  }

  static isInUse(e: unknown): e is ReplicaInUseError {
    return StorageError.is(e) && (e as Partial<ReplicaInUseError>).inUse === true;
  }
}

const sleep = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms));

/**
 * The take-over directory: every process that takes the lock holds it from before it looks at the
 * lock until its owner record is written (or a dead owner's lock is moved aside). It appears whole —
 * a temporary directory holding a `holder` record (pid, start time, token) is renamed into place,
 * which fails while another one is there — so two starters never judge and take over at the same
 * time. One whose holder no longer runs is moved aside (only that very one); one whose holder runs
 * is waited for, however slow the machine.
 */
async function enterTakeover(root: string): Promise<(() => Promise<void>) | undefined> {
  const dir = path.join(root, TAKEOVER_DIR);
  const nonce = crypto.randomBytes(8).toString('hex');
  const tmp = `${dir}.new-${nonce}`;
  await fsp.mkdir(tmp, PRIVATE_MODES.dir);
  try {
    try {
      await fsp.writeFile(path.join(tmp, 'holder'), JSON.stringify({ pid: process.pid, processStart: OWN_START ?? null, token: PROCESS_TOKEN, nonce }), { mode: PRIVATE_MODES.file });
    } catch (e) {
      // A full disk must not stop a replica from opening (its data are all there): a bare directory, judged by age.
      if (!DISK_FULL_CODES.has(errnoOf(e) ?? '')) throw e;
      await fsp.rm(tmp, { recursive: true, force: true });
      await fsp.mkdir(dir, PRIVATE_MODES.dir);
      return () => fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
    await fsp.rename(tmp, dir);
    return async () => {
      if ((await readHolder(dir))?.nonce === nonce) await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    };
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (!['EEXIST', 'ENOTEMPTY', 'EPERM', 'EACCES'].includes(errnoOf(e) ?? '')) throw e;
  }
  const h = await readHolder(dir);
  if (h ? !ownerRuns(h).runs : Date.now() - ((await fsp.stat(dir).catch(() => undefined))?.mtimeMs ?? Date.now()) > TAKEOVER_STALE_MS) {
    // Left by a process that died inside that moment: moved aside, and put back if it was not the one judged.
    const aside = `${dir}.dead-${crypto.randomBytes(4).toString('hex')}`;
    if (await fsp.rename(dir, aside).then(() => true, () => false)) {
      if ((await readHolder(aside))?.nonce !== h?.nonce) await fsp.rename(aside, dir).catch(() => undefined);
      else await fsp.rm(aside, { recursive: true, force: true }).catch(() => undefined);
    }
  }
  return undefined;
}

const HolderSchema = z.object({ pid: z.number().int().positive(), processStart: z.string().nullable(), token: z.string(), nonce: z.string() });

async function readHolder(dir: string): Promise<z.infer<typeof HolderSchema> | undefined> {
  try {
    return HolderSchema.parse(JSON.parse(await fsp.readFile(path.join(dir, 'holder'), 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * Moves a dead owner's lock aside, but only the very directory that was judged (its inode): if it
 * was replaced in between (by proper-lockfile's own stale take-over in an older app version), it is
 * put back untouched.
 */
async function removeDeadLock(root: string, ino: string): Promise<void> {
  const lockPath = path.join(root, LocalPaths.lock);
  const aside = path.join(root, `${DEAD_PREFIX}${crypto.randomBytes(4).toString('hex')}`);
  try {
    await fsp.rename(lockPath, aside);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return;
    throw e;
  }
  if ((await lockIno(aside)) !== ino) {
    await fsp.rename(aside, lockPath).catch(() => undefined);
    return;
  }
  await fsp.rm(aside, { recursive: true, force: true });
}

export class ReplicaLock {
  protected lostLock = false;

  protected constructor(
    protected readonly root: string,
    protected readonly release: () => Promise<void>,
  ) {}

  /**
   * Takes the lock on a replica's root. A lock whose owner no longer runs on this PC is taken over
   * at once; a live owner (or one on another PC) makes it throw `ReplicaInUseError`.
   */
  static async acquire(root: string, timings: LockTimings, logger?: HostLogger): Promise<ReplicaLock> {
    const deadline = Date.now() + (timings.waitMs ?? 3000);
    const lockPath = path.join(root, LocalPaths.lock);
    for (;;) {
      let leave: (() => Promise<void>) | undefined;
      try {
        leave = await enterTakeover(root);
      } catch (e) {
        throw localWriteError(e);
      }
      if (!leave) {
        if (Date.now() > deadline) throw new ReplicaInUseError('this-pc');
        await sleep(25);
        continue;
      }
      try {
        for (let attempt = 0; attempt < 3; attempt++) {
          const lock = await ReplicaLock.tryLock(root, lockPath, timings, logger);
          if (lock) return lock;
          const o = await judgeOwner(root);
          if (o.kind === 'gone') continue;
          if (o.kind === 'alive' || o.kind === 'unknown') throw new ReplicaInUseError('this-pc');
          if (o.kind === 'other-host') throw new ReplicaInUseError('other-pc', o.host);
          logger?.warn('cloud-storage: the local replica was still locked by a process that no longer runs; the lock is taken over', { why: o.why });
          await removeDeadLock(root, o.ino);
        }
        throw new ReplicaInUseError('this-pc');
      } catch (e) {
        if (ReplicaInUseError.isInUse(e)) throw e;
        throw localWriteError(e);
      } finally {
        await leave();
      }
    }
  }

  /** proper-lockfile's lock, once (it takes over a stale lock itself); then this process's owner record. */
  protected static async tryLock(root: string, lockPath: string, timings: LockTimings, logger?: HostLogger): Promise<ReplicaLock | undefined> {
    let lock: ReplicaLock | undefined;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(root, {
        realpath: false,
        lockfilePath: lockPath,
        stale: Math.max(2000, timings.staleMs ?? 10000),
        retries: 0,
        onCompromised: (err) => {
          // Never crash the host: stop writing and say so.
          if (lock) lock.lostLock = true;
          logger?.error('cloud-storage: the lock on the local replica was lost; writing stopped until the app is restarted', { reason: err.message });
        },
      });
    } catch (e) {
      if (errnoOf(e) === 'ELOCKED') return undefined;
      throw e;
    }
    lock = new ReplicaLock(root, release);
    await setMode(lockPath, PRIVATE_MODES.dir); // proper-lockfile makes it with the umask's mode
    try {
      const owner: LockOwner = {
        format: 'cloud-storage/replica-owner',
        version: 1,
        host: os.hostname(),
        pid: process.pid,
        processStart: OWN_START ?? null,
        token: PROCESS_TOKEN,
        lock: (await lockIno(lockPath)) ?? '',
        since: new Date().toISOString(),
      };
      await writeDurable(path.join(root, OWNER_FILE), JSON.stringify(owner, null, 2) + '\n', root, PRIVATE_MODES);
    } catch (e) {
      // On a full disk the lock holds without its record (another start then says "in use" until it is stale).
      if (!DISK_FULL_CODES.has(errnoOf(e) ?? '')) {
        await release().catch(() => undefined);
        throw e;
      }
      logger?.warn('cloud-storage: the lock\'s owner record could not be written (disk full)');
    }
    for (const n of await fsp.readdir(root).catch(() => [] as string[]))
      if (n.startsWith(DEAD_PREFIX)) await fsp.rm(path.join(root, n), { recursive: true, force: true }).catch(() => undefined);
    return lock;
  }

  /** True once another process took the lock over (or it could not be refreshed). */
  get lost(): boolean {
    return this.lostLock;
  }

  /** Removes this process's owner record and releases the lock, unless it was lost (then both are someone else's). */
  async dispose(): Promise<void> {
    if (this.lostLock) return;
    // Under the take-over directory (briefly, best effort), so nobody sees the lock without its record.
    let leave: (() => Promise<void>) | undefined;
    for (let i = 0; i < 20 && !leave; i++) leave = (await enterTakeover(this.root).catch(() => undefined)) ?? (await sleep(25));
    try {
      const o = await readOwner(this.root);
      if (o?.token === PROCESS_TOKEN && o.pid === process.pid) await fsp.rm(path.join(this.root, OWNER_FILE), { force: true }).catch(() => undefined);
      await this.release().catch(() => undefined);
    } finally {
      await leave?.();
    }
  }
}
