// Setting a store up on this device, in one place: reopen it at start-up, join one in a folder,
// create one, move the setup to another folder, remove the setup. Each answers with a typed
// outcome; the startup guard and the settings page only turn outcomes into verdicts and texts.
// Every step that can fail leaves the configuration, the keychain, the replicas and the shared
// folder as they were (docs/ARCHITECTURE.md, "Decisions").
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { inject, injectable } from 'inversify';
import { HostDialogs, type HostLocalData, type ImportRecord, type LocalizedText } from '../../host-api';
import { StorageError } from '../../host-api/storage';
import { ShareLogin } from '../access/share-login';
import type { DeviceSeen, MovedTo } from '../store/replica-port';
import { CloudStorageService, type ActiveStore } from '../cloud-storage-service';
import { pluginDataDir, type CloudConfig } from '../config/cloud-config';
import { KeychainUnavailableError } from '../credentials/credential-store';
import { Keyring } from '../crypto/keyring';
import { MIN_PASSPHRASE, newPassphraseProblem } from '../crypto/passphrase-strength';
import { createHeader } from '../crypto/store-crypto';
import { StoreKeys } from '../crypto/store-keys';
import type { MovedNote, StoreHeader } from '../store/format';
import type { PracticeReplica } from '../store/practice-replica';
import { ReplicaFolder } from '../store/replica-folder';
import { CopyIncompleteError, copyStore, type CopyProgress, type CopyReport } from '../store/store-copy';
import { sameLocation, type Medium } from '../store/medium';

export { sameLocation };
import { ServerAccess } from '../remote/server-access';
import { ReplicaInUseError } from '../store/replica-lock';
import { failureText } from '../common/errors';

export { MIN_PASSPHRASE };

/** Why a folder cannot be used now (from the bounded probe), with the probe's own words. */
export type Unusable = { kind: 'unreachable' | 'denied' | 'auth-required' | 'wrong-folder'; detail: LocalizedText };

export type ReopenOutcome =
  | { kind: 'not-configured' }
  | { kind: 'config-unreadable'; reason: string }
  | { kind: 'keychain-unavailable'; text: LocalizedText }
  | (Unusable & { folder: string; localReplica: boolean; timedOut?: boolean })
  | { kind: 'login-cancelled'; text?: LocalizedText; localReplica: boolean }
  | { kind: 'header-unreadable' }
  | { kind: 'passphrase-cancelled' }
  /** The store was taken out of the folder; this PC holds a copy and can write it back. */
  | { kind: 'emptied'; folder: string }
  /** The local replica is open in another process: another window on this PC, or (app data on a network drive) another PC. */
  | { kind: 'already-open'; where: 'this-pc' | 'other-pc'; host?: string }
  /** Anything else that went wrong while opening, in words. */
  | { kind: 'failed'; text: LocalizedText; localReplica: boolean }
  /**
   * `behind`: the passphrase was changed elsewhere and not entered here (own data open, newer changes wait).
   * `headerAltered`: the shared folder's header differs from this PC's copy, which is the one used.
   */
  | { kind: 'opened'; online: boolean; behind: boolean; headerAltered: boolean; others: readonly DeviceSeen[]; awaited: number; moved?: MovedTo };

export type TestOutcome = Unusable | { kind: 'foreign'; detail: LocalizedText } | { kind: 'store' | 'empty'; detail: LocalizedText };

export type SetUpOutcome =
  | { kind: 'other-folder-configured' }
  | { kind: 'login-cancelled'; text?: LocalizedText }
  | Unusable
  | { kind: 'foreign'; detail: LocalizedText }
  /** This PC is set up for a store that is not in this (empty) folder: never a second store beside it. */
  | { kind: 'configured-store-missing' }
  | { kind: 'header-unreadable' }
  | { kind: 'other-store' }
  | { kind: 'passphrase-cancelled' }
  | { kind: 'joined' }
  | { kind: 'create-cancelled' }
  | { kind: 'passphrase-too-short' }
  /** Too easy to guess (passphrase-strength.ts): why, and a hint, in both languages. */
  | { kind: 'passphrase-weak'; text: LocalizedText }
  | { kind: 'import-not-verified' }
  | { kind: 'import-invalid'; text: LocalizedText }
  | { kind: 'header-not-written' }
  | { kind: 'created'; imported: number };

export type RestoreOutcome =
  | { kind: 'restored'; files: number }
  | { kind: 'not-configured' }
  | { kind: 'no-local-copy' }
  /** The folder holds something (another store, other files) or is away: nothing is written over or beside it. */
  | { kind: 'not-empty'; detail: LocalizedText }
  | { kind: 'not-needed' }
  | { kind: 'header-unreadable' }
  | { kind: 'passphrase-cancelled' };

/** Told while existing records are taken over: how many of how many were read so far. */
export type ImportProgress = (done: number, total: number) => void;

/** Passes the records on, telling `onProgress` every 100 records and at the end. */
async function* counted<T>(records: AsyncIterable<T>, total: number, onProgress?: ImportProgress): AsyncIterable<T> {
  let done = 0;
  onProgress?.(0, total);
  for await (const r of records) {
    yield r;
    done++;
    if (done % 100 === 0) onProgress?.(done, total);
  }
  onProgress?.(done, total);
}

/** What moving the store to another location (or following a move) came to. */
export type MoveStoreOutcome =
  | { kind: 'moved' | 'followed'; files: number; written: number; refused: number }
  | { kind: 'not-configured' | 'not-open' | 'same-location' | 'read-only' | 'behind' | 'not-moved' | 'other-store' }
  | { kind: 'login-cancelled'; text?: LocalizedText }
  | Unusable
  | { kind: 'foreign' | 'old-unreachable' | 'not-there'; detail: LocalizedText }
  /** Not every file could be copied and read back: the old location stays in use, nothing was switched. */
  | { kind: 'copy-failed'; missing?: number; text: LocalizedText };

/** How long the startup guard awaits the first exchange after the probe (whose own bound is 5 s). */
export const FIRST_ROUND_AT_START_MS = 3000;

export type MoveOutcome = { kind: 'moved' } | { kind: 'not-this-store' } | { kind: 'cancelled' } | { kind: 'not-configured' };

@injectable()
export class StoreSetup {
  constructor(
    @inject(CloudStorageService) protected readonly service: CloudStorageService,
    @inject(StoreKeys) protected readonly keys: StoreKeys,
    @inject(ShareLogin) protected readonly login: ShareLogin,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
  ) {}

  // ---- reopen (the startup guard) ------------------------------------------------------------

  /**
   * Opens the configured store: probe → share login → header → keys → open. `online: false` opens
   * this PC's copy without the shared folder (work offline). Never rejects: a keychain problem, a
   * replica open in another process and any other failure are outcomes too.
   */
  async reopen(online = true): Promise<ReopenOutcome> {
    let config: CloudConfig | undefined;
    try {
      const r = await this.service.readConfig();
      if (r.kind === 'none') return { kind: 'not-configured' };
      if (r.kind === 'unreadable') return { kind: 'config-unreadable', reason: r.reason };
      config = r.config;
      if (!online) return (await this.service.hasLocalReplica(r.config.storeId)) ? await this.unlockAndOpen(r.config, false) : await this.reopen(true);
      return await this.reopenConfigured(r.config);
    } catch (e) {
      if (KeychainUnavailableError.is(e)) return { kind: 'keychain-unavailable', text: e.text };
      // Nothing open: access must not go on saying `available` (the probe's word) while nothing can be used.
      const text = failureText(e);
      if (!this.service.isActive) this.service.setAccess('unavailable', config?.folder, text);
      if (ReplicaInUseError.isInUse(e)) return { kind: 'already-open', where: e.where, host: e.ownerHost };
      return { kind: 'failed', text, localReplica: await this.hasLocalReplica() };
    }
  }

  /** Whether this PC holds a copy of the configured store (false when unsure). */
  async hasLocalReplica(): Promise<boolean> {
    try {
      const r = await this.service.configStore.read();
      return r.kind === 'ok' && (await this.service.hasLocalReplica(r.config.storeId));
    } catch {
      return false;
    }
  }

  protected async reopenConfigured(config: CloudConfig): Promise<ReopenOutcome> {
    const { service } = this;
    service.setAccess('checking', config.folder);
    let p = await service.probe(config.folder, config.storeId);
    if (p.state === 'auth-required' || (p.state === 'unavailable' && !p.timedOut && service.isNetworkShare(config.folder))) {
      // After a Windows restart the share's login is gone: reconnect silently with the stored one.
      if (await this.login.reconnect(config.folder)) p = await service.probe(config.folder, config.storeId);
    }
    service.setAccess(p.state, config.folder, p.state === 'available' ? undefined : p.detail);
    if (p.state === 'available') return this.unlockAndOpen(config, true);
    const localReplica = await service.hasLocalReplica(config.storeId);
    if (p.state === 'wrong-folder' && (p.content === 'empty' || p.content === 'remnants') && localReplica) return { kind: 'emptied', folder: config.folder };
    if (p.state === 'auth-required') {
      const c = await this.login.logIn(config.folder);
      if (c.ok) this.service.forgetConnection(config.folder);
      return c.ok ? this.reopenConfigured(config) : { kind: 'login-cancelled', text: c.text, localReplica };
    }
    const kind = p.state === 'unavailable' ? 'unreachable' : p.state;
    return { kind, detail: p.detail, folder: config.folder, localReplica, timedOut: p.state === 'unavailable' ? p.timedOut : undefined };
  }

  protected async unlockAndOpen(config: CloudConfig, online: boolean): Promise<ReopenOutcome> {
    const header = await this.headerFor(config, online);
    if (!header) return { kind: 'header-unreadable' };
    const local = this.service.localReplicaRoot(config.storeId);
    const k = await this.keys.unlock(header, online ? [await this.service.location(config.folder), local] : [local]);
    if (k.kind === 'cancelled') return { kind: 'passphrase-cancelled' };
    // Online, the first exchange gets what is left of the guard's 10 s after the probe (5 s); offline, nothing.
    const active = await this.service.activate(config, header, k.keyring, undefined, { firstRoundMs: online ? FIRST_ROUND_AT_START_MS : 0 });
    // The passphrase was changed on another PC: asked once now; cancelling still opens the data.
    const behind = !active.replica.keyState.upToDate && !(await this.service.catchUp());
    const headerAltered = online && active.carrier.sharedHeaderAltered;
    const moved = online ? active.carrier.movedTo : undefined;
    return { kind: 'opened', online, behind, headerAltered, others: active.carrier.devicesSeen.filter((d) => !d.thisDevice && d.active), awaited: active.carrier.syncStatus.awaited, ...(moved ? { moved } : {}) };
  }

  /**
   * The header a PC trusts: its local replica's copy whenever it has one (the shared folder's can be
   * swapped or edited by anyone who can write there: a lowered KDF cost, another wrapped key); the
   * shared folder's only for a PC without a local replica of the store. Whether the shared one differs
   * is the carrier's to report; nothing of it is used.
   */
  protected async headerFor(config: CloudConfig, fromShared: boolean): Promise<StoreHeader | undefined> {
    return this.trustedHeader(config.storeId, fromShared ? config.folder : undefined);
  }

  /** This PC's own copy of a store's header; without a local replica, the one in `shared` (if given). */
  protected async trustedHeader(storeId: string, shared: string | undefined): Promise<StoreHeader | undefined> {
    // A local copy that is there but unreadable is no reason to believe the shared one instead: a
    // damaged copy is "unreadable", and a local folder that cannot be read at all fails in words.
    const mine = await ReplicaFolder.readHeader(this.service.localReplicaRoot(storeId));
    const r = mine.kind === 'missing' && shared ? await ReplicaFolder.readHeader(await this.service.location(shared)).catch(() => undefined) : mine;
    return r?.kind === 'ok' && r.header.storeId === storeId ? r.header : undefined;
  }

  /** The folder this PC is set up for (undefined when none, or the configuration is unreadable). */
  async configuredFolder(): Promise<string | undefined> {
    const r = await this.service.configStore.read();
    return r.kind === 'ok' ? r.config.folder : undefined;
  }

  /** The setup points at another folder (a drive letter changed): only one that holds this very store. */
  async moveTo(folder: string): Promise<MoveOutcome> {
    const r = await this.service.readConfig();
    if (r.kind !== 'ok') return { kind: 'not-configured' };
    const hdr = await ReplicaFolder.readHeader(await this.service.location(folder)).catch(() => undefined);
    if (hdr?.kind !== 'ok' || hdr.header.storeId !== r.config.storeId) return { kind: 'not-this-store' };
    await this.service.configStore.write({ ...r.config, folder });
    return { kind: 'moved' };
  }

  /**
   * Writes this PC's copy of the store back into its shared folder after the store was taken out of
   * it (invariant 11): only into that folder, only while it is empty, the header last and never over
   * another store. The other PCs then go on, and new PCs can join again.
   */
  async restoreShared(): Promise<RestoreOutcome> {
    const r = await this.service.readConfig();
    if (r.kind !== 'ok') return { kind: 'not-configured' };
    const { config } = r;
    if (!(await this.service.hasLocalReplica(config.storeId))) return { kind: 'no-local-copy' };
    const p = await this.service.probe(config.folder, config.storeId);
    if (p.state === 'available') return { kind: 'not-needed' };
    if (!(p.state === 'wrong-folder' && (p.content === 'empty' || p.content === 'remnants'))) return { kind: 'not-empty', detail: p.detail };
    let active = this.service.active;
    if (!active || active.config.storeId !== config.storeId) {
      const header = await this.headerFor(config, false);
      if (!header) return { kind: 'header-unreadable' };
      const k = await this.keys.unlock(header, [this.service.localReplicaRoot(config.storeId)]);
      if (k.kind === 'cancelled') return { kind: 'passphrase-cancelled' };
      active = await this.service.activate(config, header, k.keyring);
    }
    let files: number;
    try {
      files = await active.carrier.restore();
    } catch {
      return { kind: 'not-empty', detail: (await this.service.probe(config.folder, config.storeId)).detail };
    }
    await active.carrier.sendWithin(10_000); // the round restore() started: never a second one beside it
    return { kind: 'restored', files };
  }

  // ---- set up (the settings page) ---------------------------------------------------------------

  /** What saving would do with a folder, without changing anything. */
  async test(folder: string): Promise<TestOutcome> {
    const p = await this.service.probe(folder);
    if (p.state !== 'available') return { kind: p.state === 'unavailable' ? 'unreachable' : p.state, detail: p.detail };
    // An available folder holds a store, nothing, or something else (a newer store is `wrong-folder`).
    return { kind: p.content === 'store' || p.content === 'empty' ? p.content : 'foreign', detail: p.detail };
  }

  /** probe → credentials → join or create (+ import) → only then the configuration is written. */
  async setUp(folder: string, localData?: HostLocalData, onProgress?: ImportProgress): Promise<SetUpOutcome> {
    const current = await this.service.configStore.read();
    if (current.kind === 'ok' && current.config.folder !== folder) return { kind: 'other-folder-configured' };
    let p = await this.service.probe(folder);
    if (p.state === 'auth-required') {
      const c = await this.login.logIn(folder);
      if (c.ok) this.service.forgetConnection(folder);
      if (!c.ok) return { kind: 'login-cancelled', text: c.text };
      p = await this.service.probe(folder);
    }
    if (p.state !== 'available') return { kind: p.state === 'unavailable' ? 'unreachable' : p.state, detail: p.detail };
    // Both ways on ask for the passphrase and keep the key in the keychain: a missing keychain is said first.
    if (p.content === 'store' || p.content === 'empty') await this.keys.ensureKeychain();
    if (p.content === 'store') return this.join(folder);
    // Set up for a store that is not in this folder (empty, or only a store's empty folders left): never a second one.
    if (current.kind === 'ok' && (p.content === 'empty' || p.content === 'remnants')) return { kind: 'configured-store-missing' };
    if (p.content !== 'empty') return { kind: 'foreign', detail: p.detail };
    return this.create(folder, localData, onProgress);
  }

  protected async join(folder: string): Promise<SetUpOutcome> {
    const hdr = await ReplicaFolder.readHeader(await this.service.location(folder));
    if (hdr.kind !== 'ok') return { kind: 'header-unreadable' };
    const current = await this.service.configStore.read();
    if (current.kind === 'ok' && current.config.storeId !== hdr.header.storeId) return { kind: 'other-store' };
    // Joining again (the setup was removed, the replica kept): this PC's own copy of the header, not the folder's.
    const header = await this.trustedHeader(hdr.header.storeId, folder);
    if (!header) return { kind: 'header-unreadable' };
    const k = await this.keys.unlock(header, [await this.service.location(folder), this.service.localReplicaRoot(header.storeId)]);
    if (k.kind === 'cancelled') return { kind: 'passphrase-cancelled' };
    const config = { version: 1 as const, folder, storeId: header.storeId, configuredAt: new Date().toISOString() };
    await this.service.activate(config, header, k.keyring);
    try {
      await this.service.configStore.write(config);
    } catch (e) {
      await this.service.deactivate(); // not configured, so not in use
      throw e;
    }
    return { kind: 'joined' };
  }

  /**
   * A new store, in an order that can fail at any step and leave everything as it was: the existing
   * data are imported into a new local replica and verified first; then the configuration is
   * written; publishing the store in the shared folder (its header, written once) comes last.
   */
  protected async create(folder: string, localData?: HostLocalData, onProgress?: ImportProgress): Promise<SetUpOutcome> {
    const pass = await this.dialogs.promptSecret({
      title: { de: 'Praxis-Passwort festlegen', en: 'Choose the practice passphrase' },
      message: {
        de: `Die Daten im gemeinsamen Ordner werden mit diesem Passwort verschlüsselt. Jeder PC der Praxis braucht es einmal. Bitte notieren Sie es an einem sicheren Ort: Ohne das Passwort kann niemand – auch der Support nicht – die Daten öffnen. Mindestens ${MIN_PASSPHRASE} Zeichen und schwer zu erraten: am besten mehrere Wörter, die nichts miteinander und nichts mit der Praxis zu tun haben.`,
        en: `The data in the shared folder are encrypted with this passphrase. Each PC of the practice needs it once. Write it down somewhere safe: without it nobody — not even support — can open the data. At least ${MIN_PASSPHRASE} characters and hard to guess: best several words that have nothing to do with each other or with the practice.`,
      },
      confirm: true,
    });
    if (pass === undefined) return { kind: 'create-cancelled' };
    // Judged before anything is derived or written: a refused passphrase leaves no trace.
    const problem = newPassphraseProblem(pass, this.service.env);
    if (problem?.kind === 'too-short') return { kind: 'passphrase-too-short' };
    if (problem) return { kind: 'passphrase-weak', text: problem.text };
    const { header, storeKey } = await createHeader(pass);
    const keyring = Keyring.ofHeaderKey(header.storeId, storeKey, header.keyCheck);
    const localRoot = this.service.localReplicaRoot(header.storeId);
    let replica: PracticeReplica | undefined;
    let configured = false;
    try {
      await this.keys.keep(keyring);
      replica = await this.service.openLocal(header, keyring);
      let imported = 0;
      const total = localData ? await localData.count() : 0;
      if (localData && total > 0) {
        const rep = await replica.importRecords(counted(localData.records(), total, onProgress));
        if (!rep.verified) return await this.undoCreate(replica, localRoot, header.storeId, { kind: 'import-not-verified' });
        imported = rep.imported;
      }
      const config = { version: 1 as const, folder, storeId: header.storeId, configuredAt: new Date().toISOString() };
      await this.service.configStore.write(config);
      try {
        await ReplicaFolder.writeHeader(await this.service.location(folder), header);
      } catch {
        await this.service.configStore.remove();
        return await this.undoCreate(replica, localRoot, header.storeId, { kind: 'header-not-written' });
      }
      configured = true;
      const active = await this.service.activate(config, header, keyring, replica);
      await active.store.flush({ timeoutMs: 10000 });
      return { kind: 'created', imported };
    } catch (e) {
      if (configured) throw e; // the store is there and in use
      if (StorageError.is(e) && e.code === 'invalid-input') return this.undoCreate(replica, localRoot, header.storeId, { kind: 'import-invalid', text: e.text });
      await this.undoCreate(replica, localRoot, header.storeId, undefined);
      throw e;
    }
  }

  /** Removes exactly what a failed create made: its replica, its keychain entry. */
  protected async undoCreate<T>(replica: PracticeReplica | undefined, localRoot: string, storeId: string, outcome: T): Promise<T> {
    await replica?.close().catch(() => undefined);
    await fs.promises.rm(localRoot, { recursive: true, force: true });
    await this.keys.forget(storeId);
    return outcome;
  }

  /**
   * The running PC's server login stopped working (access `auth-required`): asked for with the host's
   * dialog, tested, kept in the keychain; the open store then goes on with a new connection.
   */
  async logInAgain(): Promise<{ kind: 'logged-in' } | { kind: 'not-open' } | { kind: 'login-cancelled'; text?: LocalizedText }> {
    const active = this.service.active;
    if (!active) return { kind: 'not-open' };
    const c = await this.login.logIn(active.config.folder);
    if (!c.ok) return { kind: 'login-cancelled', text: c.text };
    this.service.forgetConnection(active.config.folder);
    await this.service.relocate(active.config);
    return { kind: 'logged-in' };
  }

  // ---- moving the store to another location (issue #15) ------------------------------------------

  /**
   * Moves the practice's store to another location (a folder to a server, back, or between servers):
   * every file is copied and read back (copyStore); then an encrypted note in the old location tells
   * the other PCs where it went, and this PC goes on there with the same open store. Nothing is
   * deleted anywhere. A move cut off half-way leaves the old location in use and the new one holding
   * part of this store (nobody is sent there): trying again carries on.
   */
  async moveStore(target: string, onProgress?: (p: CopyProgress) => void): Promise<MoveStoreOutcome> {
    const r = await this.service.readConfig();
    if (r.kind !== 'ok') return { kind: 'not-configured' };
    const { config } = r;
    const active = this.service.active;
    if (!active || active.config.storeId !== config.storeId) return { kind: 'not-open' };
    if (sameLocation(target, config.folder)) return { kind: 'same-location' };
    if (active.replica.readOnly) return { kind: 'read-only' };
    // The note must be sealed under the key the practice writes with, or the other PCs do not believe it.
    if (!active.replica.keyState.upToDate) return { kind: 'behind' };
    const ready = await this.reachTarget(target, config.storeId);
    if (ready.kind !== 'ready') return ready;
    // The note goes into the old location: it must be there now, holding this store.
    const old = await this.service.probe(config.folder, config.storeId);
    if (old.state !== 'available') return { kind: 'old-unreachable', detail: old.detail };
    const report = await this.copyTo(active, config.folder, target, true, onProgress);
    if (report.kind !== 'copied') return report;
    // Where the store comes back to, an earlier note pointing away is ended ("lives here").
    const targetFolder = this.folderAt(await this.service.location(target), active);
    if (await targetFolder.readMovedNote().catch(() => undefined)) await targetFolder.writeMovedNote(this.note(active, null, target));
    await this.folderAt(await this.service.location(config.folder), active).writeMovedNote(this.note(active, target, target));
    await this.switchTo(config, target);
    return { kind: 'moved', files: report.files, written: report.written, refused: report.refused };
  }

  /**
   * Follows a move another PC made: the new location must hold this very store; what the old location
   * holds and the new one lacks (changes of PCs that have not followed yet) is copied over; then this
   * PC works there, and its own changes that waited are sent. `folder`: where a moved-to folder lies
   * on this PC (its path may differ from the moving PC's); a server's address is the same everywhere.
   */
  async followMove(folder?: string, onProgress?: (p: CopyProgress) => void): Promise<MoveStoreOutcome> {
    const r = await this.service.readConfig();
    if (r.kind !== 'ok') return { kind: 'not-configured' };
    const { config } = r;
    const active = this.service.active;
    if (!active || active.config.storeId !== config.storeId) return { kind: 'not-open' };
    const moved = active.carrier.movedTo;
    if (!moved) return { kind: 'not-moved' };
    const target = folder ?? moved.to;
    if (sameLocation(target, config.folder)) return { kind: 'same-location' }; // the old place chosen again: it says the store is elsewhere
    const ready = await this.reachTarget(target, config.storeId);
    if (ready.kind !== 'ready') return ready;
    if (!ready.holdsStore) return { kind: 'not-there', detail: ready.detail };
    const report = await this.copyTo(active, config.folder, target, false, onProgress);
    if (report.kind !== 'copied') return report;
    await this.switchTo(config, target);
    return { kind: 'followed', files: report.files, written: report.written, refused: report.refused };
  }

  /** The target reachable (asking for its login once), and empty or holding this store. */
  protected async reachTarget(target: string, storeId: string): Promise<{ kind: 'ready'; holdsStore: boolean; detail: LocalizedText } | Exclude<MoveStoreOutcome, { kind: 'moved' | 'followed' }>> {
    let p = await this.service.probe(target);
    if (p.state === 'auth-required') {
      const c = await this.login.logIn(target);
      if (!c.ok) return { kind: 'login-cancelled', text: c.text };
      this.service.forgetConnection(target);
      p = await this.service.probe(target);
    }
    if (p.state !== 'available') return { kind: p.state === 'unavailable' ? 'unreachable' : p.state, detail: p.detail };
    if (p.content === 'store') return p.storeId === storeId ? { kind: 'ready', holdsStore: true, detail: p.detail } : { kind: 'other-store' };
    if (p.content === 'empty' || p.content === 'remnants') return { kind: 'ready', holdsStore: false, detail: p.detail };
    return { kind: 'foreign', detail: p.detail };
  }

  protected async copyTo(active: ActiveStore, from: string, to: string, verifyExisting: boolean, onProgress?: (p: CopyProgress) => void): Promise<{ kind: 'copied' } & CopyReport | Extract<MoveStoreOutcome, { kind: 'copy-failed' }>> {
    // This PC's own changes are sealed first, so the copy carries them too.
    await active.store.flush({ timeoutMs: 10_000 }).catch(() => undefined);
    try {
      const report = await copyStore(
        { replica: active.replica, from: this.folderAt(await this.service.location(from), active), to: this.folderAt(await this.service.location(to), active), header: active.replica.header },
        { verifyExisting, onProgress, bad: (b) => active.replica.reportBad(b) },
      );
      return { kind: 'copied', ...report };
    } catch (e) {
      return { kind: 'copy-failed', missing: e instanceof CopyIncompleteError ? e.missing.length : undefined, text: failureText(e instanceof CopyIncompleteError && e.cause ? e.cause : e) };
    }
  }

  protected folderAt(at: string | Medium, active: ActiveStore): ReplicaFolder {
    return new ReplicaFolder(at, active.config.storeId, active.replica.keyring, true);
  }

  protected note(active: ActiveStore, to: string | null, target: string): MovedNote {
    return { t: 'moved', v: 1, storeId: active.config.storeId, to, kind: ServerAccess.serverOf(target) ? 'server' : 'folder', at: new Date().toISOString(), by: active.replica.deviceId };
  }

  /** The configuration names the new location, then the open store's carrier goes there. */
  protected async switchTo(config: CloudConfig, target: string): Promise<void> {
    const next: CloudConfig = { ...config, folder: target };
    await this.service.configStore.write(next);
    await this.service.relocate(next);
  }

  // ---- remove ---------------------------------------------------------------------------------

  /**
   * Removes this PC's cloud setup: closes the store, deletes the configuration and this setup's
   * keychain entries. Never touches the shared folder; the local replica (with any unsent changes)
   * stays on disk, and joining the same store again sends them.
   */
  async remove(localData?: HostLocalData): Promise<void> {
    const r = await this.service.configStore.read();
    // What the host's own data hold now: joining again offers only what is entered after this (issue #17).
    if (r.kind === 'ok' && localData) await this.writeBaseline(r.config.storeId, localData).catch(() => undefined);
    await this.service.deactivate();
    await this.service.configStore.remove();
    if (r.kind === 'ok') {
      await this.keys.forget(r.config.storeId);
      await this.login.forget(r.config.folder);
    }
    this.service.setAccess('not-configured');
  }

  // ---- the host's own data after joining again (issue #17, 1) ---------------------------------------

  protected baselineFile(): string {
    return path.join(pluginDataDir(this.service.env), 'local-baseline.json');
  }

  /** A digest per record of the host's own data (no content, no names), for the store the setup was removed from. */
  protected async writeBaseline(storeId: string, localData: HostLocalData): Promise<void> {
    const digests: Record<string, string> = {};
    for await (const r of localData.records()) digests[`${r.collection}/${r.id}`] = digestOf(r);
    await fs.promises.writeFile(this.baselineFile(), JSON.stringify({ storeId, digests }), { mode: 0o600 });
  }

  protected async readBaseline(storeId: string): Promise<Record<string, string> | undefined> {
    try {
      const b = JSON.parse(await fs.promises.readFile(this.baselineFile(), 'utf8')) as { storeId?: string; digests?: Record<string, string> };
      return b.storeId === storeId && b.digests ? b.digests : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The host's own records the open store does not hold as they are, and that changed since the setup
   * was removed (all of them when this PC never removed a setup of this store): what joining again offers.
   */
  async localPending(localData?: HostLocalData): Promise<ImportRecord[]> {
    const active = this.service.active;
    if (!active || !localData || (await localData.count()) === 0) return [];
    const baseline = await this.readBaseline(active.config.storeId);
    const out: ImportRecord[] = [];
    for await (const r of localData.records()) {
      if (baseline && baseline[`${r.collection}/${r.id}`] === digestOf(r)) continue;
      const stored = await active.replica.get(r.collection, r.id).catch(() => undefined);
      if (stored && JSON.stringify(stored.data) === JSON.stringify(r.data)) continue;
      out.push(r);
    }
    return out;
  }

  /** Takes the pending records over (a conflict where the store holds another version); then they are no longer offered. */
  async takeOverLocal(localData?: HostLocalData): Promise<{ added: number; conflicting: number; same: number } | undefined> {
    const active = this.service.active;
    if (!active || !localData) return undefined;
    const report = await active.replica.takeOver(await this.localPending(localData));
    await this.writeBaseline(active.config.storeId, localData).catch(() => undefined);
    return report;
  }

  /** The store open now (for the page's own actions), undefined while none is. */
  get active(): ActiveStore | undefined {
    return this.service.active;
  }
}

function digestOf(r: ImportRecord): string {
  return createHash('sha256').update(JSON.stringify([r.collection, r.id, r.data])).digest('hex');
}
