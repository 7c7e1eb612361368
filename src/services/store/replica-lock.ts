// One process per local replica (invariant 7): a proper-lockfile lock beside the replica. A lost
// lock never crashes the host: the replica turns read-only and says so.
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import type { HostLogger } from '../../host-api';
import { errnoOf, localWriteError, storageError } from '../common/errors';
import { LocalPaths } from './format';

export interface LockTimings {
  /** proper-lockfile's staleness (at least 2000 ms): a lock not refreshed for this long is a dead process's. Default 10 s. */
  readonly staleMs?: number;
  /**
   * How long to wait for a lock left by a crashed process to turn stale before saying "already open"
   * (proper-lockfile may round the lock's mtime up by a second). Default 3.5 s.
   */
  readonly waitMs?: number;
}

export class ReplicaLock {
  protected lostLock = false;

  protected constructor(
    protected readonly release: () => Promise<void>,
  ) {}

  /** Takes the lock on a replica's root, or throws "already open in another window". */
  static async acquire(root: string, timings: LockTimings, logger?: HostLogger): Promise<ReplicaLock> {
    let lock: ReplicaLock | undefined;
    try {
      const release = await lockfile.lock(root, {
        realpath: false,
        lockfilePath: path.join(root, LocalPaths.lock),
        stale: Math.max(2000, timings.staleMs ?? 10000),
        retries: { retries: Math.ceil((timings.waitMs ?? 3500) / 250), factor: 1, minTimeout: 250, maxTimeout: 250 },
        onCompromised: (err) => {
          // Never crash the host: stop writing and say so.
          if (lock) lock.lostLock = true;
          logger?.error('cloud-storage: the lock on the local replica was lost; writing stopped until the app is restarted', { reason: err.message });
        },
      });
      lock = new ReplicaLock(release);
      return lock;
    } catch (e) {
      if (errnoOf(e) === 'ELOCKED')
        throw storageError('unavailable', {
          de: 'Die Praxisdaten sind auf diesem PC bereits in einem anderen Programmfenster geöffnet. Bitte schließen Sie das andere Fenster und versuchen Sie es erneut.',
          en: 'The practice data are already open in another window of the application on this PC. Close the other window and try again.',
        });
      throw localWriteError(e);
    }
  }

  /** True once another process took the lock over (or it could not be refreshed). */
  get lost(): boolean {
    return this.lostLock;
  }

  /** Releases the lock unless it was lost (then it is someone else's). */
  async dispose(): Promise<void> {
    if (!this.lostLock) await this.release().catch(() => undefined);
  }
}
