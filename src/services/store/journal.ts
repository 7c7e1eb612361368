// The journal of a local replica: every acknowledged change that is not sealed into a log file
// yet, one encrypted file each (`journal/<version>`), durable before the host hears "saved".
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { listDir } from '../common/durable-fs';
import { localWriteError } from '../common/errors';
import { decrypt, encrypt } from '../crypto/store-crypto';
import type { Keyring } from '../crypto/keyring';
import { Contexts, JournalEntrySchema, LocalPaths, MAX_CHANGES_PER_SEGMENT, VERSION, jsonBytes, type Change } from './format';
import type { BadFile, ReplicaFolder } from './replica-folder';

/** A journal entry found on disk, with the id of the device that wrote it. */
export interface JournalFound {
  readonly change: Change;
  readonly owner: string;
  readonly file: string;
}

export class Journal {
  protected readonly entries = new Map<string, Change>();

  constructor(
    protected readonly local: ReplicaFolder,
    protected readonly keyring: Keyring,
    protected readonly storeId: string,
    protected readonly deviceId: string,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(ver: string): Change | undefined {
    return this.entries.get(ver);
  }

  /** Writes a change durably (fsync, rename, directory fsync); only then is it in the journal. */
  async write(change: Change): Promise<void> {
    const bytes = encrypt(this.keyring, this.storeId, Contexts.journal(this.deviceId, change.ver), jsonBytes({ t: 'journal', v: 1, change }));
    try {
      await this.local.write(LocalPaths.journal(change.ver), bytes);
    } catch (e) {
      throw localWriteError(e);
    }
    this.entries.set(change.ver, change);
  }

  /** Takes an entry found on disk back in (after a restart). */
  adopt(change: Change): void {
    this.entries.set(change.ver, change);
  }

  /** The oldest entries, as many as one log file holds. */
  nextBatch(): Change[] {
    return [...this.entries.values()].sort((a, b) => (a.ver < b.ver ? -1 : 1)).slice(0, MAX_CHANGES_PER_SEGMENT);
  }

  /** The batch is in a log file now: its entries go. */
  async sealed(batch: readonly Change[]): Promise<void> {
    for (const c of batch) this.entries.delete(c.ver);
    await Promise.all(batch.map((c) => fsp.rm(this.local.abs(LocalPaths.journal(c.ver)), { force: true })));
  }

  /**
   * Reads every journal file; `formerIds` are earlier ids of this device (a copied app-data folder),
   * whose entries are decrypted in their own context. An unreadable file was never acknowledged (a
   * journal file is renamed into place only once complete and fsynced): reported, kept on disk.
   */
  async read(formerIds: readonly string[], bad: (b: BadFile) => void): Promise<JournalFound[]> {
    const out: JournalFound[] = [];
    for (const name of (await listDir(this.local.abs(LocalPaths.journalDir))).sort()) {
      if (!VERSION.test(name)) continue;
      const file = this.local.abs(LocalPaths.journal(name));
      const owner = name.slice(name.lastIndexOf('.') + 1);
      const context = Contexts.journal(owner === this.deviceId || formerIds.includes(owner) ? owner : this.deviceId, name);
      try {
        const plain = decrypt(this.keyring, this.storeId, context, await fsp.readFile(file));
        out.push({ change: JournalEntrySchema.parse(JSON.parse(plain.toString('utf8'))).change, owner, file });
      } catch {
        bad({ path: path.join(LocalPaths.journalDir, name), reason: 'unreadable journal entry (ignored, kept on disk)' });
      }
    }
    return out;
  }
}
