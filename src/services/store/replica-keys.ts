// The key generations a replica holds (docs/PASSPHRASE.md): which is current, whether this device
// holds it, what the held keys open, and a new generation when the passphrase is changed.
import { BehaviorSubject, type Observable } from 'rxjs';
import type { HostLogger } from '../../host-api';
import { localWriteError } from '../common/errors';
import { createKeyFile, createLinkFile, resolveKeys, type Keyring, type KeyState, type NamedKeyFile } from '../crypto/keyring';
import { DEFAULT_SCRYPT } from '../crypto/store-crypto';
import { Paths, type StoreHeader } from './format';
import type { BadFile, ReplicaFolder } from './replica-folder';

export interface ReplicaKeysOptions {
  readonly header: StoreHeader;
  readonly deviceId: string;
  readonly logger?: HostLogger;
  /** Keeps the keyring wherever keys are kept (the OS keychain). */
  readonly keepKeys?: (keyring: Keyring) => Promise<void>;
  /** Whether the replica may write (its lock held, not closed): a link file is written only then. */
  readonly writable: () => boolean;
  readonly reportBad: (b: BadFile) => void;
}

export class ReplicaKeys {
  protected readonly subject: BehaviorSubject<KeyState>;
  readonly keyState$: Observable<KeyState>;
  /** The state of the last refresh; `keyState$` tells only what a person sees change (current, behind, locked, others, awaited anchor, keys learned). */
  protected latest: KeyState;

  constructor(
    /** Shared by reference with every folder of the store, so a key learned is used everywhere at once. */
    readonly keyring: Keyring,
    protected readonly local: ReplicaFolder,
    protected readonly opts: ReplicaKeysOptions,
  ) {
    this.latest = { current: keyring.current.id, upToDate: true, locked: [], others: [], forged: [], future: [], unlinked: [], generations: [], live: [keyring.current.id] };
    this.subject = new BehaviorSubject<KeyState>(this.latest);
    this.keyState$ = this.subject.asObservable();
  }

  get state(): KeyState {
    return this.latest;
  }

  /**
   * Reads the replica's key files, learns what the held keys open, selects the key to write with,
   * and writes a link file when this device holds a key the current one cannot reach. True when a
   * key was learned or the write key changed (locked files may be readable now).
   */
  async refresh(): Promise<boolean> {
    const bad = this.opts.reportBad;
    const size = this.keyring.size;
    const writing = this.keyring.current.id;
    const anchor = this.keyring.anchor;
    let files = await this.local.readKeyFiles(bad);
    let st = resolveKeys(this.keyring, files);
    if (st.upToDate && st.unlinked.length > 0 && this.opts.writable()) {
      await this.local.writeKeyFile(createLinkFile(this.keyring, st.current, st.unlinked, this.opts.deviceId));
      st = resolveKeys(this.keyring, (files = await this.local.readKeyFiles(bad)));
    }
    st = await this.namedBy(st, files);
    for (const f of st.forged) bad({ path: Paths.keyFile(f.hash), reason: 'a key file not endorsed by the key it claims to replace — never believed' });
    for (const f of st.future) bad({ path: Paths.keyFile(f.hash), reason: `a key file dated ${f.file.createdAt}, ahead of this PC's clock — never believed` });
    const learned = this.keyring.size > size;
    if (learned || this.keyring.anchor !== anchor) await this.opts.keepKeys?.(this.keyring).catch(() => this.opts.logger?.warn('cloud-storage: a key learned could not be kept in the keychain; it will be asked for again'));
    this.latest = st;
    const prev = this.subject.value;
    if (!this.subject.closed && (prev.current !== st.current || prev.upToDate !== st.upToDate || prev.locked.length !== st.locked.length || prev.others.length !== st.others.length || prev.awaitedAnchor !== st.awaitedAnchor || learned)) this.subject.next(st);
    return learned || this.keyring.current.id !== writing;
  }

  /**
   * A new passphrase: a new key generation, wrapping every key held, endorsed by the current one.
   * The keyring is kept (`keepKeys`: the OS keychain) before the key file is written, so a
   * published generation is never one this device could lose. On failure nothing is changed.
   */
  async changePassphrase(passphrase: string, deviceName: string): Promise<void> {
    const persist = this.opts.keepKeys ?? (async () => undefined);
    const st = this.latest;
    if (!st.upToDate) throw new Error('not up to date');
    const files = await this.local.readKeyFiles();
    // dated after every generation believed here (a file dated ahead of the clock is not believed)
    const latest = files.reduce((m, f) => (st.generations.includes(f.file.t === 'key' ? f.file.keyId : '') && f.file.createdAt > m ? f.file.createdAt : m), '');
    // This version's cost, never the header's: nothing in the shared folder lowers (or raises) it.
    const { file, key } = await createKeyFile({ keyring: this.keyring, parent: st.current, passphrase, deviceId: this.opts.deviceId, deviceName, notBefore: latest || undefined, kdf: DEFAULT_SCRYPT });
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
    await this.refresh();
  }

  /**
   * Who set the current passphrase, by name. Key files carry no names in plaintext (only the device id,
   * `createdBy`); the name is that device's, from its card (encrypted) where this replica holds one it
   * can read. Otherwise the name stays what the file says ('' since names left the plaintext), and the
   * texts say "on another PC" without one.
   */
  protected async namedBy(st: KeyState, files: readonly NamedKeyFile[]): Promise<KeyState> {
    if (!st.currentBy) return st;
    const head = files.find((f) => f.file.t === 'key' && f.file.keyId === st.current)?.file;
    const card = head && (await this.local.readDeviceInfo(head.createdBy).catch(() => undefined));
    return card ? { ...st, currentBy: { ...st.currentBy, name: card.name } } : st;
  }

  dispose(): void {
    this.subject.complete();
  }
}
