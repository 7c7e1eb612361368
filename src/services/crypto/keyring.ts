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
   * The generation this device last adopted (kept in the keychain with the keys): it moves on only to
   * a generation verifiably after it (resolveKeys). Undefined for an entry from before anchors.
   */
  anchor: string | undefined;

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
    k.anchor = this.anchor;
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
    return JSON.stringify({ v: 3, keys: Object.fromEntries([...this.keys].map(([id, k]) => [id, k.toString('base64')])), ...(this.anchor ? { anchor: this.anchor } : {}) });
  }

  /**
   * Reads a keychain entry: version 3 (all keys and the anchor), 2 (all keys) or the first format (the header key alone, base64).
   * Undefined when it is not usable for this store (the header key, when present, must check out).
   */
  static restore(header: StoreHeader, stored: string): Keyring | undefined {
    let entries: [string, Buffer][];
    let anchor: string | undefined;
    if (stored.startsWith('{')) {
      try {
        const j = z.object({ v: z.union([z.literal(2), z.literal(3)]), keys: z.record(KeyIdRef, BASE64), anchor: KeyIdRef.optional() }).parse(JSON.parse(stored));
        entries = Object.entries(j.keys).map(([id, k]) => [id, Buffer.from(k, 'base64')]);
        anchor = j.anchor !== undefined && j.keys[j.anchor] !== undefined ? j.anchor : undefined;
      } catch {
        return undefined;
      }
    } else entries = [[HEADER_KEY_ID, Buffer.from(stored, 'base64')]];
    if (entries.length === 0 || entries.some(([, k]) => k.length !== 32)) return undefined;
    const h = entries.find(([id]) => id === HEADER_KEY_ID);
    if (h && !checkStoreKey(header, h[1])) return undefined;
    const keyring = new Keyring(header.storeId, entries, header.keyCheck);
    keyring.anchor = anchor;
    return keyring;
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
  /**
   * The generation the practice writes with, as far as this device can tell: the newest generation
   * descending from the one this device writes with ('header' when there is none). When this device
   * lacks it, it is behind.
   */
  readonly current: string;
  /** This device holds the current key. When false, a newer passphrase was set elsewhere and is needed here. */
  readonly upToDate: boolean;
  /** Who set the current passphrase (a device id; the name only as the file says, '' in new files), and when. */
  readonly currentBy?: { deviceId: string; name: string; at: string };
  /** Believed key files whose key this device lacks (a passphrase may open them). */
  readonly locked: readonly KeyFile[];
  /**
   * Believed generations on another line: neither before nor after the one this device writes with,
   * and not held. Two PCs changing the passphrase at the same time make one — and so does anyone
   * holding a replaced key. Never taken as current; the settings page names them (docs/PASSPHRASE.md).
   */
  readonly others: readonly KeyFile[];
  /** Key files that claim a generation but are not endorsed by the key they name: never believed. */
  readonly forged: readonly NamedKeyFile[];
  /** Key files dated further ahead of this device's clock than KEY_FILE_SKEW_MS: never believed. */
  readonly future: readonly NamedKeyFile[];
  /** Keys this device holds that the current key cannot reach: a link file must carry them. */
  readonly unlinked: readonly string[];
  /** Ids of the believed generations (endorsed key files), oldest first. */
  readonly generations: readonly string[];
  /**
   * The keys whose new files this device takes without a voucher: the one it writes with, when it is
   * current. Everything sealed under another key is retired here (docs/PASSPHRASE.md, "Retired keys").
   */
  readonly live: readonly string[];
  /**
   * The generation this device last adopted (changed to, or entered) when its key file is not here:
   * a replica put back from a backup taken before the change. Not written with (no other PC could
   * read it) until its key file arrives; meanwhile this device's own presence sealed under it is still
   * its own word (docs/PASSPHRASE.md, "Retired keys"). Absent in every other case.
   */
  readonly awaitedAnchor?: string;
}

/** How far ahead of this device's clock a key file may be dated (clocks of PCs and cloud servers differ). */
export const KEY_FILE_SKEW_MS = 10 * 60_000;
/** A typed passphrase tries at most this many key files (cheapest first, then newest): planted files cannot make it slow. */
export const MAX_KEY_FILES_TRIED = 8;
/** Derivations run side by side when a typed passphrase tries key files (each up to 256 MiB). */
const KDF_PARALLEL = 2;

const newer = (a: KeyFile, b: KeyFile) => (a.createdAt > b.createdAt ? true : a.createdAt < b.createdAt ? false : a.keyId > b.keyId);

/**
 * Learns every key the held ones open (wraps in key and link files), believes the key files down
 * an endorsed chain from the header's key, and decides which key this device writes with.
 *
 * Trust (docs/PASSPHRASE.md): the device writes with its anchor — the generation it last adopted,
 * kept in the keychain — and moves on only to a generation it holds that is verifiably after it:
 * endorsed down the chain from it, or holding its key (the anchor's key wrapped under it, opened
 * here). Anyone holding a replaced key can endorse a new generation beside the current one; such a
 * generation never becomes current by itself, whatever its date. Mutates `keyring` (adds keys,
 * selects the write key, moves the anchor).
 */
export function resolveKeys(keyring: Keyring, files: readonly NamedKeyFile[], now = Date.now()): KeyState {
  const sid = keyring.storeId;
  const future: NamedKeyFile[] = [];
  const ours = files.filter((nf) => {
    if (nf.file.storeId !== sid) return false;
    if (Date.parse(nf.file.createdAt) > now + KEY_FILE_SKEW_MS) return (future.push(nf), false);
    return true;
  });
  // Verified reach: under → keys opened under it (by this device, not as a file lists them).
  const opened = new Map<string, Set<string>>();
  const learnFrom = (under: string, wraps: readonly Wrap[]): boolean => {
    const outer = keyring.get(under);
    if (!outer) return false;
    let added = false;
    const set = opened.get(under) ?? opened.set(under, new Set()).get(under)!;
    for (const w of wraps) {
      if (set.has(w.keyId)) continue;
      const k = gcmOpen(outer, wrapAad(sid, under, w.keyId), w);
      if (!k) continue;
      const held = keyring.get(w.keyId);
      if (held) {
        if (held.equals(k)) set.add(w.keyId);
      } else if (checked(w.keyId, k) && keyring.add(w.keyId, k)) {
        set.add(w.keyId);
        added = true;
      }
    }
    return added;
  };
  // Believed = endorsed by the key it replaces, down a chain that ends at the header's key (which
  // only enters the keyring checked against the header).
  const believed = new Map<string, KeyFile>(); // keyId → endorsed key file
  const forged = new Map<string, NamedKeyFile>();
  const keyFiles = ours.filter((nf): nf is { hash: string; file: KeyFile } => nf.file.t === 'key');
  const checks = new Map<string, Set<string>>(); // keyId → the keyChecks its key files state
  for (const { file: f } of keyFiles) (checks.get(f.keyId) ?? checks.set(f.keyId, new Set()).get(f.keyId)!).add(f.keyCheck);
  // A key is learned only when a key file of its id states its check (so a wrap cannot bring a forged
  // key under a real id); the header's key is checked against the header (Keyring.add).
  const checked = (id: string, k: Buffer) => id === HEADER_KEY_ID || (checks.get(id)?.has(keyCheckOf(k, sid, id)) ?? false);
  const parents = () => new Set([...believed.values()].map((f) => f.parent));
  for (let progress = true; progress; ) {
    progress = false;
    for (const nf of keyFiles) {
      const f = nf.file;
      progress = learnFrom(f.keyId, f.wraps) || progress;
      if (believed.has(f.keyId) || forged.has(nf.hash)) continue;
      const parentKey = keyring.get(f.parent);
      const parentBelieved = f.parent === HEADER_KEY_ID || believed.has(f.parent);
      if (parentKey && parentBelieved) {
        // endorsed by the key it replaces, and about the key this device holds under that id, if any
        const held = keyring.get(f.keyId);
        if (endorsementHolds(parentKey, f) && (!held || keyCheckOf(held, sid, f.keyId) === f.keyCheck)) {
          believed.set(f.keyId, f);
          progress = true;
        } else forged.set(nf.hash, nf);
      }
    }
    if (progress) continue;
    // Link files only under a key nothing believed replaces: under a replaced key, anyone holding it
    // could carry a key of his own to every device that still holds that one.
    const replaced = parents();
    for (const nf of ours) if (nf.file.t === 'link' && !replaced.has(nf.file.under)) progress = learnFrom(nf.file.under, nf.file.wraps) || progress;
  }
  const isGen = (id: string) => id === HEADER_KEY_ID || believed.has(id);
  const date = (id: string) => believed.get(id)?.createdAt ?? '';
  const newerId = (a: string, b: string) => (date(a) > date(b) ? true : date(a) < date(b) ? false : a > b);
  /** `h` descends from `k` down the endorsed chain. */
  const descends = (h: string, k: string): boolean => {
    const seen = new Set<string>();
    for (let p = believed.get(h)?.parent; p !== undefined && !seen.has(p); p = believed.get(p)?.parent) {
      if (p === k) return true;
      seen.add(p);
    }
    return false;
  };
  const reachable = (from: string): Set<string> => {
    const out = new Set<string>();
    const todo = [from];
    while (todo.length) for (const k of opened.get(todo.pop()!) ?? []) if (!out.has(k)) (out.add(k), todo.push(k));
    return out;
  };
  /** `h` is verifiably after `k`: endorsed down the chain from it, or holding its key. */
  const after = (h: string, k: string) => h !== k && (descends(h, k) || reachable(h).has(k));

  // The anchor: kept in the keychain; for an entry from before anchors, the newest generation held.
  // An anchor whose key file is not here (believed) is not written with: a replica put back from a
  // backup taken before this PC changed the passphrase, the key file never sent — no other PC can ever
  // hold that key, so what is sealed under it would reach nobody. The newest generation held is written
  // with instead (the PC is behind where a newer one exists: the person enters that passphrase); the key
  // stays held (what was sealed under it stays readable here, and format 2 packs it under the live key).
  // The anchor itself stays in the keychain (`awaitedAnchor`): when its key file does arrive (it had
  // reached the shared folder before the disk was put back), it is written with again.
  const anchorHeld = keyring.anchor !== undefined && keyring.has(keyring.anchor);
  const anchorHere = anchorHeld && isGen(keyring.anchor!);
  const awaitedAnchor = anchorHeld && !anchorHere ? keyring.anchor : undefined;
  let w = anchorHere ? keyring.anchor! : legacyAnchor(keyring, believed);
  for (const seen = new Set<string>([w]); ; ) {
    const next = keyring.ids.filter((h) => isGen(h) && after(h, w));
    // strictly after (w is not after it) first; where both hold each other's key (a crossing
    // resolved from both sides) the newer of the two, the same on every device
    const strict = next.filter((h) => !after(w, h));
    const pick = (strict.length ? strict : next.filter((h) => newerId(h, w))).reduce<string | undefined>((b, h) => (!b || newerId(h, b) ? h : b), undefined);
    if (!pick || seen.has(pick)) break;
    seen.add(pick);
    w = pick;
  }
  // the awaited anchor stays until a generation verifiably after it is written with (this PC changed
  // the passphrase again: its new key file wraps the awaited key)
  const keepAwaited = awaitedAnchor !== undefined && !after(w, awaitedAnchor);
  keyring.anchor = keepAwaited ? awaitedAnchor : w;
  keyring.use(w);
  const descendants = [...believed.keys()].filter((id) => descends(id, w));
  const lacking = descendants.filter((id) => !keyring.has(id));
  const upToDate = lacking.length === 0;
  const headOf = [...descendants].filter((id) => !descendants.some((d) => believed.get(d)!.parent === id));
  const current = upToDate ? w : headOf.reduce((b, id) => (newerId(id, b) ? id : b), lacking[0]!);
  const ancestors = new Set([...believed.keys()].filter((id) => descends(w, id)));
  if (w !== HEADER_KEY_ID) ancestors.add(HEADER_KEY_ID);
  const others = [...believed.values()].filter((f) => f.keyId !== w && !ancestors.has(f.keyId) && !descendants.includes(f.keyId) && !keyring.has(f.keyId));
  // Keys held that the write key cannot reach: carried under it by a link file — never the other way
  // round (the write key is never wrapped under a key beside it: that would hand it to whoever set that one).
  // Believed generations only: the header's key is under every generation, and a key whose file has
  // not arrived yet is not one to link before it is checked.
  let unlinked: string[] = [];
  if (upToDate) {
    const reach = reachable(w);
    unlinked = keyring.ids.filter((id) => id !== w && believed.has(id) && !reach.has(id) && !descends(id, w));
  }
  const head = believed.get(current);
  return {
    current,
    upToDate,
    ...(head ? { currentBy: { deviceId: head.createdBy, name: head.createdByName, at: head.createdAt } } : {}),
    locked: [...believed.values()].filter((f) => !keyring.has(f.keyId) && !others.includes(f)),
    others,
    forged: [...forged.values()],
    future,
    unlinked,
    generations: [...believed.values()].sort((a, b) => (newer(a, b) ? 1 : -1)).map((f) => f.keyId),
    live: upToDate ? [w] : [],
    ...(keepAwaited ? { awaitedAnchor } : {}),
  };
}

/** For a keychain entry written before anchors: the newest believed generation held, else the header's key. */
function legacyAnchor(keyring: Keyring, believed: ReadonlyMap<string, KeyFile>): string {
  const held = [...believed.values()].filter((f) => keyring.has(f.keyId));
  const best = held.reduce<KeyFile | undefined>((b, f) => (!b || newer(f, b) ? f : b), undefined);
  return best?.keyId ?? (keyring.has(HEADER_KEY_ID) ? HEADER_KEY_ID : keyring.ids[0]!);
}

export type PassphraseOutcome =
  | { kind: 'ok'; keyring: Keyring; state: KeyState }
  /**
   * Opens nothing here. `headerMismatch`: it opened a key file whose copy of the header's key does not
   * match the header's `keyCheck` — the header was swapped or edited, not the passphrase wrong.
   */
  | { kind: 'wrong'; headerMismatch?: true }
  /** The passphrase opens a generation that was replaced (by `by`): it may not open the store. */
  | { kind: 'retired'; by?: { deviceId: string; name: string; at: string }; keyring: Keyring };

/** What one scrypt derivation with these parameters costs, in units of N·r·p. */
export const kdfCost = (k: { N: number; r: number; p: number }) => k.N * k.r * k.p;

/**
 * What a typed passphrase opens: the header's key and/or key files. Accepted only when the result
 * holds the current generation of its line — a replaced passphrase no longer lets a device in.
 *
 * The key files tried are capped (MAX_KEY_FILES_TRIED, each within the format's cost bounds) and
 * ordered: chained to the header first (orphans last), then cheapest, deepest, newest; two at a time,
 * the header's wrapped key last. The first key file the passphrase opens ends the search (a newer
 * generation wraps the older ones). Files planted by someone who can write to the folder cost a
 * bounded number of derivations at the normal cost — and enough of them can crowd the real one out
 * (docs/PASSPHRASE.md: a writer can always deny service). With `base` (a device that holds keys), the
 * result keeps base's anchor: a passphrase of a generation beside it adds that key, never replaces it.
 */
export async function keyringFromPassphrase(header: StoreHeader, files: readonly NamedKeyFile[], passphrase: string, base?: Keyring, now = Date.now()): Promise<PassphraseOutcome> {
  const found: [string, Buffer][] = [];
  const candidates = new Map<string, KeyFile>();
  for (const nf of files) {
    const f = nf.file;
    if (f.t !== 'key' || f.storeId !== header.storeId || base?.has(f.keyId) || Date.parse(f.createdAt) > now + KEY_FILE_SKEW_MS) continue;
    const had = candidates.get(f.keyId);
    if (!had || kdfCost(f.kdf) < kdfCost(had.kdf)) candidates.set(f.keyId, f);
  }
  // Chained first (each parent named is a key file here, down to the header), then cheapest, deepest, newest.
  const byId = new Map<string, KeyFile>();
  for (const nf of files) if (nf.file.t === 'key' && nf.file.storeId === header.storeId) byId.set(nf.file.keyId, nf.file);
  const depth = (f: KeyFile): number => {
    let d = 1;
    for (let p = f.parent; p !== HEADER_KEY_ID; p = byId.get(p)!.parent, d++) if (!byId.has(p) || d > byId.size) return -1;
    return d;
  };
  const order = [...candidates.values()]
    .map((f) => ({ f, d: depth(f) }))
    .sort((a, b) => Number(b.d > 0) - Number(a.d > 0) || kdfCost(a.f.kdf) - kdfCost(b.f.kdf) || b.d - a.d || (newer(a.f, b.f) ? -1 : 1))
    .slice(0, MAX_KEY_FILES_TRIED)
    .map((x) => x.f);
  // Two at a time (the derivations run on libuv's pool, beside the host's main thread); key files
  // first — the current passphrase is a key file's whenever there is one — the header's last.
  for (let i = 0; i < order.length && found.length === 0; ) {
    // side by side only at the same cost: a cheap real file never waits for a costly planted one
    let n = 1;
    while (n < KDF_PARALLEL && i + n < order.length && kdfCost(order[i + n]!.kdf) === kdfCost(order[i]!.kdf)) n++;
    const batch = order.slice(i, (i += n));
    const keys = await Promise.all(batch.map((f) => unlockKeyFile(f, passphrase)));
    const hit = keys.findIndex((k) => k !== undefined);
    if (hit >= 0) found.push([batch[hit]!.keyId, keys[hit]!]);
  }
  if (found.length === 0) {
    const h = await unwrapStoreKey(header, passphrase);
    if (h) found.push([HEADER_KEY_ID, h]);
  }
  if (found.length === 0) return { kind: 'wrong' };
  const keyring = new Keyring(header.storeId, [...(base ? base.ids.map((id): [string, Buffer] => [id, base.get(id)!]) : []), ...found], header.keyCheck);
  // A device that holds keys stays on its line; a new one starts from what the passphrase opened.
  keyring.anchor = base ? (base.anchor ?? undefined) : found[0]![0];
  const state = resolveKeys(keyring, files, now);
  // A key opened by the passphrase must belong to a believed generation (or be the header's).
  if (!found.some(([id]) => id === HEADER_KEY_ID || state.generations.includes(id))) {
    const f = candidates.get(found[0]![0]);
    const w = f?.wraps.find((x) => x.keyId === HEADER_KEY_ID);
    const wrapped = f && w ? gcmOpen(found[0]![1], wrapAad(header.storeId, f.keyId, HEADER_KEY_ID), w) : undefined;
    return wrapped && !keyring.has(HEADER_KEY_ID) ? { kind: 'wrong', headerMismatch: true } : { kind: 'wrong' };
  }
  if (!state.upToDate) return { kind: 'retired', keyring, ...(state.currentBy ? { by: state.currentBy } : {}) };
  return { kind: 'ok', keyring, state };
}
