// Key generations: changing the practice passphrase retires the old one for everything written
// afterwards. The header (write-once) keeps wrapping the first store key; each change adds a key
// file `keys/<sha256>` with a new random key wrapped by the new passphrase, the keys before it
// wrapped under the new key, and an endorsement by the key it replaces (so a file planted by
// someone without the key is never believed). Format and reasoning: docs/STORE-FORMAT.md, docs/PASSPHRASE.md.
import * as crypto from 'node:crypto';
import { z } from 'zod';
import { BASE64, HEADER_KEY_ID, KeyIdRef, type KeyFile, type KeyFileEntry, type LinkFile, type ScryptParams, type StoreHeader, type Wrap } from '../store/format';
import { checkStoreKey, deriveKek, newScryptParams, unwrapStoreKey } from './store-crypto';

export interface NamedKeyFile {
  readonly hash: string;
  readonly file: KeyFileEntry;
}

/** The keys this device holds for one store. Shared (by reference) by every replica folder of the store. */
export class Keyring {
  protected readonly keys = new Map<string, Buffer>();
  protected writeId: string;

  /**
   * @param headerKeyCheck the header's keyCheck: a header key learned later (unwrapped from a key
   * file) is taken only when it checks out, so a planted file cannot bring its own "first" key.
   */
  constructor(
    readonly storeId: string,
    initial: Iterable<[string, Buffer]>,
    readonly headerKeyCheck?: string,
  ) {
    for (const [id, k] of initial) this.keys.set(id, k);
    if (this.keys.size === 0) throw new Error('a keyring needs at least one key');
    this.writeId = this.keys.has(HEADER_KEY_ID) ? HEADER_KEY_ID : [...this.keys.keys()][0]!;
  }

  static ofHeaderKey(storeId: string, key: Buffer, headerKeyCheck?: string): Keyring {
    return new Keyring(storeId, [[HEADER_KEY_ID, key]], headerKeyCheck);
  }

  /** An independent copy (checking a folder never changes what the open store holds). */
  copy(): Keyring {
    const k = new Keyring(this.storeId, this.ids.map((id): [string, Buffer] => [id, this.keys.get(id)!]), this.headerKeyCheck);
    k.writeId = this.writeId;
    return k;
  }

  get(id: string): Buffer | undefined {
    return this.keys.get(id);
  }

  has(id: string): boolean {
    return this.keys.has(id);
  }

  get ids(): string[] {
    return [...this.keys.keys()].sort();
  }

  get size(): number {
    return this.keys.size;
  }

  /** The key new files are sealed with. */
  get current(): { id: string; key: Buffer } {
    return { id: this.writeId, key: this.keys.get(this.writeId)! };
  }

  add(id: string, key: Buffer): boolean {
    if (this.keys.has(id)) return false;
    if (id === HEADER_KEY_ID && !(this.headerKeyCheck !== undefined && checkStoreKey({ storeId: this.storeId, keyCheck: this.headerKeyCheck }, key))) return false;
    this.keys.set(id, key);
    return true;
  }

  use(id: string): void {
    if (!this.keys.has(id)) throw new Error('unknown key');
    this.writeId = id;
  }

  /** What the OS keychain keeps: every key this device knows (never written anywhere else). */
  serialize(): string {
    return JSON.stringify({ v: 2, keys: Object.fromEntries([...this.keys].map(([id, k]) => [id, k.toString('base64')])) });
  }

  /**
   * Reads a keychain entry: version 2 (all keys) or the first format (the header key alone, base64).
   * Undefined when it is not usable for this store (the header key, when present, must check out).
   */
  static restore(header: StoreHeader, stored: string): Keyring | undefined {
    let entries: [string, Buffer][];
    if (stored.startsWith('{')) {
      try {
        const j = z.object({ v: z.literal(2), keys: z.record(KeyIdRef, BASE64) }).parse(JSON.parse(stored));
        entries = Object.entries(j.keys).map(([id, k]) => [id, Buffer.from(k, 'base64')]);
      } catch {
        return undefined;
      }
    } else entries = [[HEADER_KEY_ID, Buffer.from(stored, 'base64')]];
    if (entries.length === 0 || entries.some(([, k]) => k.length !== 32)) return undefined;
    const h = entries.find(([id]) => id === HEADER_KEY_ID);
    if (h && !checkStoreKey(header, h[1])) return undefined;
    return new Keyring(header.storeId, entries, header.keyCheck);
  }
}

function wrapAad(storeId: string, under: string, keyId: string): Buffer {
  return Buffer.from(`practice-store/v1/wrap/${storeId}/${under}/${keyId}`, 'utf8');
}

function passAad(storeId: string, keyId: string): Buffer {
  return Buffer.from(`practice-store/v1/key/${storeId}/${keyId}`, 'utf8');
}

function keyCheckOf(key: Buffer, storeId: string, keyId: string): string {
  return crypto.createHmac('sha256', key).update(`key-check/${storeId}/${keyId}`).digest('base64');
}

function gcmSeal(key: Buffer, aad: Buffer, plain: Buffer): { nonce: string; ciphertext: string; tag: string } {
  const nonce = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { nonce: nonce.toString('base64'), ciphertext: ct.toString('base64'), tag: c.getAuthTag().toString('base64') };
}

function gcmOpen(key: Buffer, aad: Buffer, s: { nonce: string; ciphertext: string; tag: string }): Buffer | undefined {
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(s.nonce, 'base64'));
    d.setAAD(aad);
    d.setAuthTag(Buffer.from(s.tag, 'base64'));
    const out = Buffer.concat([d.update(Buffer.from(s.ciphertext, 'base64')), d.final()]);
    return out.length === 32 ? out : undefined;
  } catch {
    return undefined;
  }
}

/** The bytes the endorsement covers: every field of the key file but the endorsement, in a fixed order. */
function endorsed(f: Omit<KeyFile, 'endorsement'>): Buffer {
  return Buffer.from(
    JSON.stringify([
      'key-endorsement/v1',
      f.storeId,
      f.keyId,
      f.parent,
      f.createdAt,
      f.createdBy,
      f.createdByName,
      [f.kdf.name, f.kdf.N, f.kdf.r, f.kdf.p, f.kdf.salt],
      [f.wrappedKey.nonce, f.wrappedKey.ciphertext, f.wrappedKey.tag],
      f.keyCheck,
      f.wraps.map((w) => [w.keyId, w.nonce, w.ciphertext, w.tag]),
    ]),
    'utf8',
  );
}

function endorsementOf(parentKey: Buffer, f: Omit<KeyFile, 'endorsement'>): string {
  return crypto.createHmac('sha256', parentKey).update(endorsed(f)).digest('base64');
}

function endorsementHolds(parentKey: Buffer, f: KeyFile): boolean {
  const a = Buffer.from(endorsementOf(parentKey, f), 'base64');
  const b = Buffer.from(f.endorsement, 'base64');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/**
 * A new key generation: a random key wrapped by the new passphrase, every key of `keyring` wrapped
 * under it (so the new passphrase alone opens everything written before), endorsed by `parent`.
 */
export async function createKeyFile(opts: {
  keyring: Keyring;
  parent: string;
  passphrase: string;
  deviceId: string;
  deviceName: string;
  notBefore?: string;
  kdf?: { N: number; r: number; p: number };
}): Promise<{ file: KeyFile; key: Buffer }> {
  const { keyring } = opts;
  const parentKey = keyring.get(opts.parent);
  if (!parentKey) throw new Error('the parent key is not known');
  const keyId = crypto.randomBytes(16).toString('hex');
  const key = crypto.randomBytes(32);
  const kdf: ScryptParams = newScryptParams(opts.kdf);
  const kek = await deriveKek(opts.passphrase, kdf);
  // Never dated before a key it replaces: the newest generation must also be the latest dated.
  const now = Date.now();
  const floor = opts.notBefore ? Date.parse(opts.notBefore) + 1 : 0;
  const body: Omit<KeyFile, 'endorsement'> = {
    t: 'key',
    v: 1,
    storeId: keyring.storeId,
    keyId,
    parent: opts.parent,
    createdAt: new Date(Math.max(now, floor)).toISOString(),
    createdBy: opts.deviceId,
    createdByName: '',
    kdf,
    wrappedKey: gcmSeal(kek, passAad(keyring.storeId, keyId), key),
    keyCheck: keyCheckOf(key, keyring.storeId, keyId),
    wraps: keyring.ids.map((id) => ({ keyId: id, ...gcmSeal(key, wrapAad(keyring.storeId, keyId, id), keyring.get(id)!) })),
  };
  return { file: { ...body, endorsement: endorsementOf(parentKey, body) }, key };
}

export function createLinkFile(keyring: Keyring, under: string, keyIds: readonly string[], deviceId: string): LinkFile {
  const outer = keyring.get(under);
  if (!outer) throw new Error('the outer key is not known');
  return {
    t: 'link',
    v: 1,
    storeId: keyring.storeId,
    under,
    createdAt: new Date().toISOString(),
    createdBy: deviceId,
    wraps: keyIds.map((id) => ({ keyId: id, ...gcmSeal(outer, wrapAad(keyring.storeId, under, id), keyring.get(id)!) })),
  };
}

/** The key a passphrase opens in one key file, or undefined. */
export async function unlockKeyFile(f: KeyFile, passphrase: string): Promise<Buffer | undefined> {
  const kek = await deriveKek(passphrase, f.kdf);
  const key = gcmOpen(kek, passAad(f.storeId, f.keyId), f.wrappedKey);
  if (!key) return undefined;
  const a = Buffer.from(keyCheckOf(key, f.storeId, f.keyId), 'base64');
  const b = Buffer.from(f.keyCheck, 'base64');
  return a.length === b.length && crypto.timingSafeEqual(a, b) ? key : undefined;
}

export interface KeyState {
  /** The key every device ends up writing with: the newest believed generation ('header' when there is none). */
  readonly current: string;
  /** This device holds the current key. When false, a newer passphrase was set elsewhere and is needed here. */
  readonly upToDate: boolean;
  /** Who set the current passphrase, and when (undefined for the header's). */
  readonly currentBy?: { name: string; at: string };
  /** Believed key files whose key this device lacks (a passphrase may open them). */
  readonly locked: readonly KeyFile[];
  /** Key files that claim a generation but are not endorsed by the key they name: never believed. */
  readonly forged: readonly NamedKeyFile[];
  /** Keys this device holds that the current key cannot reach: a link file must carry them. */
  readonly unlinked: readonly string[];
  /** Ids of the believed generations (endorsed key files), oldest first. */
  readonly generations: readonly string[];
}

const newer = (a: KeyFile, b: KeyFile) => (a.createdAt > b.createdAt ? true : a.createdAt < b.createdAt ? false : a.keyId > b.keyId);

/**
 * Learns every key the held ones open (wraps in key and link files), believes the key files down
 * an endorsed chain from the header's key, and names the current generation the same way on every
 * device that holds the keys (one lacking a key learns it is behind, or that files are locked).
 * Mutates `keyring` (adds keys, selects the write key).
 */
export function resolveKeys(keyring: Keyring, files: readonly NamedKeyFile[]): KeyState {
  const sid = keyring.storeId;
  const ours = files.filter((f) => f.file.storeId === sid);
  const learnFrom = (under: string, wraps: readonly Wrap[]): boolean => {
    const outer = keyring.get(under);
    if (!outer) return false;
    let added = false;
    for (const w of wraps) {
      if (keyring.has(w.keyId)) continue;
      const k = gcmOpen(outer, wrapAad(sid, under, w.keyId), w);
      if (k) added = keyring.add(w.keyId, k) || added;
    }
    return added;
  };
  // Believed = endorsed by the key it replaces, down a chain that ends at the header's key (which
  // only enters the keyring checked against the header). Keys are learned from any key held.
  const believed = new Map<string, KeyFile>(); // keyId → endorsed key file
  const forged = new Map<string, NamedKeyFile>();
  for (let progress = true; progress; ) {
    progress = false;
    for (const nf of ours) {
      const f = nf.file;
      if (f.t === 'link') {
        progress = learnFrom(f.under, f.wraps) || progress;
        continue;
      }
      progress = learnFrom(f.keyId, f.wraps) || progress;
      const parentKey = keyring.get(f.parent);
      const parentBelieved = f.parent === HEADER_KEY_ID || believed.has(f.parent);
      if (parentKey && parentBelieved && !believed.has(f.keyId) && !forged.has(nf.hash)) {
        if (endorsementHolds(parentKey, f)) {
          believed.set(f.keyId, f);
          progress = true;
        } else forged.set(nf.hash, nf);
      }
    }
  }
  // A key the device holds whose file does not check out is not a generation anyone should write with.
  const parents = new Set([...believed.values()].map((f) => f.parent));
  const heads = [...believed.values()].filter((f) => !parents.has(f.keyId));
  const head = heads.reduce<KeyFile | undefined>((best, f) => (!best || newer(f, best) ? f : best), undefined);
  const current = head?.keyId ?? HEADER_KEY_ID;
  // Generations this device cannot check yet (it lacks the key they name as parent), hanging below a
  // believed one. A claim newer than the head means the real current generation may lie beyond a key
  // this device does not hold: it is then behind, and a passphrase that stops here is not current.
  // (A planted claim can only do this where a key is missing anyway; with the parent key it is checked.)
  const claims = new Map<string, KeyFile>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const nf of ours) {
      const f = nf.file;
      if (f.t !== 'key' || believed.has(f.keyId) || forged.has(nf.hash) || claims.has(f.keyId)) continue;
      if (f.parent === HEADER_KEY_ID || believed.has(f.parent) || claims.has(f.parent)) {
        claims.set(f.keyId, f);
        grew = true;
      }
    }
  }
  const newestClaim = [...claims.values()].reduce<KeyFile | undefined>((b, f) => (!b || newer(f, b) ? f : b), undefined);
  const upToDate = keyring.has(current) && !(newestClaim && (!head || newer(newestClaim, head)));
  // A device behind writes with the newest generation it holds, until it is given the current one.
  const usable = [...believed.values()].filter((f) => keyring.has(f.keyId));
  const best = usable.reduce<KeyFile | undefined>((b, f) => (!b || newer(f, b) ? f : b), undefined);
  keyring.use(upToDate ? current : (best?.keyId ?? (keyring.has(HEADER_KEY_ID) ? HEADER_KEY_ID : keyring.current.id)));
  let unlinked: string[] = [];
  if (upToDate) {
    const reach = new Set<string>([current]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const nf of ours) {
        const f = nf.file;
        const under = f.t === 'link' ? f.under : f.keyId;
        if (f.t === 'key' && believed.get(f.keyId) !== f) continue;
        if (!reach.has(under)) continue;
        for (const w of f.wraps)
          if (!reach.has(w.keyId)) {
            reach.add(w.keyId);
            grew = true;
          }
      }
    }
    // Only believed generations: a key held before its file arrived (a device that just joined)
    // must never be wrapped under an older key, or the old passphrase would open the new one.
    unlinked = keyring.ids.filter((id) => believed.has(id) && !reach.has(id));
  }
  return {
    current,
    upToDate,
    // who set the current passphrase — only when it is known here (a claim's name is not checked)
    ...(head && upToDate === keyring.has(current) ? { currentBy: { name: head.createdByName, at: head.createdAt } } : {}),
    locked: [...believed.values()].filter((f) => !keyring.has(f.keyId)),
    forged: [...forged.values()],
    unlinked,
    generations: [...believed.values()].sort((a, b) => (newer(a, b) ? 1 : -1)).map((f) => f.keyId),
  };
}

export type PassphraseOutcome =
  | { kind: 'ok'; keyring: Keyring; state: KeyState }
  | { kind: 'wrong' }
  /** The passphrase opens an older generation only: it was replaced (by `by`) and may not open the store. */
  | { kind: 'retired'; by?: { name: string; at: string }; keyring: Keyring };

/**
 * What a typed passphrase opens: the header's key and/or key files. Accepted only when the result
 * holds the current generation — a replaced passphrase no longer lets a device in.
 */
export async function keyringFromPassphrase(header: StoreHeader, files: readonly NamedKeyFile[], passphrase: string, base?: Keyring): Promise<PassphraseOutcome> {
  const found: [string, Buffer][] = [];
  const h = await unwrapStoreKey(header, passphrase);
  if (h) found.push([HEADER_KEY_ID, h]);
  const seen = new Set<string>();
  for (const nf of files) {
    const f = nf.file;
    if (f.t !== 'key' || f.storeId !== header.storeId || seen.has(f.keyId) || base?.has(f.keyId)) continue;
    seen.add(f.keyId);
    const k = await unlockKeyFile(f, passphrase);
    if (k) found.push([f.keyId, k]);
  }
  if (found.length === 0) return { kind: 'wrong' };
  const keyring = new Keyring(header.storeId, [...(base ? base.ids.map((id): [string, Buffer] => [id, base.get(id)!]) : []), ...found], header.keyCheck);
  const state = resolveKeys(keyring, files);
  // A key opened by the passphrase must belong to a believed generation (or be the header's).
  if (!found.some(([id]) => id === HEADER_KEY_ID || state.generations.includes(id))) return { kind: 'wrong' };
  if (!state.upToDate) return { kind: 'retired', keyring, ...(state.currentBy ? { by: state.currentBy } : {}) };
  return { kind: 'ok', keyring, state };
}
