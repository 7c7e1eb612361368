// Encryption at rest (invariant 6, docs/STORE-FORMAT.md): AES-256-GCM under a random store key, wrapped by scrypt.
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { HEADER_KEY_ID, STORE_FORMAT, STORE_FORMAT_VERSION, type ScryptParams, type StoreHeader } from '../store/format';

const MAGIC = Buffer.from('PSE1', 'ascii'); // sealed with the header's store key
const MAGIC2 = Buffer.from('PSE2', 'ascii'); // followed by the 16-byte id of a later key generation
const KEY_ID_LEN = 16;
const NONCE_LEN = 12;
const TAG_LEN = 16;
export const ENVELOPE_OVERHEAD = MAGIC.length + NONCE_LEN + TAG_LEN;
const CHUNK = 1 << 20;

/** A bare key (the header's) or a keyring: `current` seals, `get(id)` opens. */
export type KeySource = Buffer | { readonly current: { id: string; key: Buffer }; get(id: string): Buffer | undefined };

function sealingKey(k: KeySource): { prefix: Buffer; key: Buffer } {
  if (Buffer.isBuffer(k)) return { prefix: MAGIC, key: k };
  const { id, key } = k.current;
  return id === HEADER_KEY_ID ? { prefix: MAGIC, key } : { prefix: Buffer.concat([MAGIC2, Buffer.from(id, 'hex')]), key };
}

/** The key an envelope names, from its first bytes; the length of its prefix. */
function openingKey(k: KeySource, head: Buffer): { key: Buffer; prefixLen: number } {
  const magic = head.subarray(0, MAGIC.length);
  if (magic.equals(MAGIC)) {
    const key = Buffer.isBuffer(k) ? k : k.get(HEADER_KEY_ID);
    if (!key) throw new EnvelopeError('unknown-key', 'sealed with the first store key, which this device does not hold');
    return { key, prefixLen: MAGIC.length };
  }
  if (magic.equals(MAGIC2) && head.length >= MAGIC2.length + KEY_ID_LEN) {
    const id = head.subarray(MAGIC2.length, MAGIC2.length + KEY_ID_LEN).toString('hex');
    const key = Buffer.isBuffer(k) ? undefined : k.get(id);
    if (!key) throw new EnvelopeError('unknown-key', 'sealed with a key of a newer practice passphrase, which this device does not hold yet');
    return { key, prefixLen: MAGIC2.length + KEY_ID_LEN };
  }
  throw new EnvelopeError('bad-magic', 'not an encrypted store file');
}

/** The id of the key an envelope says it was sealed with ('header' for "PSE1"), or undefined when it is not an envelope. */
export function sealedKeyId(file: Uint8Array): string | undefined {
  const head = Buffer.from(file.buffer, file.byteOffset, Math.min(file.byteLength, MAGIC2.length + KEY_ID_LEN));
  const magic = head.subarray(0, MAGIC.length);
  if (magic.equals(MAGIC)) return HEADER_KEY_ID;
  if (magic.equals(MAGIC2) && head.length === MAGIC2.length + KEY_ID_LEN) return head.subarray(MAGIC2.length).toString('hex');
  return undefined;
}

/**
 * Whether bytes begin as an envelope does ("PSE1" or "PSE2"). A pack of version 1 is one envelope; one of
 * version 2 begins with its index's length, whose first byte is 0 (docs/STORE-FORMAT.md "Packs").
 */
export function beginsAsEnvelope(head: Uint8Array): boolean {
  const magic = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, MAGIC.length));
  return magic.equals(MAGIC) || magic.equals(MAGIC2);
}

/**
 * The cost of every key this version wraps (a new store's header, a new key file): OWASP's scrypt
 * parameters, N = 2^17 (128 MiB), r = 8, p = 1. Never taken from the shared folder: a header or key
 * file only says what its own key was wrapped with. Node runs the derivation on libuv's thread pool,
 * so the main thread goes on meanwhile (docs/PASSPHRASE.md, "Strength and cost").
 */
export const DEFAULT_SCRYPT = { N: 1 << 17, r: 8, p: 1 } as const;

export function newScryptParams(kdf: { N: number; r: number; p: number } = DEFAULT_SCRYPT): ScryptParams {
  return { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: crypto.randomBytes(16).toString('base64') };
}

/** The key-encryption key a passphrase gives under these parameters. */
export function deriveKek(passphrase: string, params: ScryptParams): Promise<Buffer> {
  return scrypt(passphrase, params);
}

/** Derivations run so far in this process and their summed cost (N·r·p): what tests count instead of timing. */
export const kdfWork = { derivations: 0, cost: 0 };

/** Runs on libuv's thread pool (node:crypto's asynchronous scrypt): the host's main thread is never blocked. */
function scrypt(passphrase: string, params: ScryptParams): Promise<Buffer> {
  kdfWork.derivations++;
  kdfWork.cost += params.N * params.r * params.p;
  return new Promise((resolve, reject) =>
    crypto.scrypt(
      passphrase.normalize('NFC'),
      Buffer.from(params.salt, 'base64'),
      32,
      { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + (1 << 20) },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

function wrapAad(storeId: string): Buffer {
  return Buffer.from(`${STORE_FORMAT}/v1/wrapped-key/${storeId}`, 'utf8');
}

export function keyCheckOf(storeKey: Buffer, storeId: string): string {
  return crypto.createHmac('sha256', storeKey).update(`key-check/${storeId}`).digest('base64');
}

/**
 * A new store's header. `createdBy` is written empty: no PC or user name in plaintext in the shared
 * folder (the field stays in the schema for older readers; readers ignore it).
 */
export async function createHeader(passphrase: string, kdf: { N: number; r: number; p: number } = DEFAULT_SCRYPT): Promise<{ header: StoreHeader; storeKey: Buffer }> {
  const storeId = crypto.randomBytes(16).toString('hex');
  const storeKey = crypto.randomBytes(32);
  const params = newScryptParams(kdf);
  const kek = await scrypt(passphrase, params);
  const nonce = crypto.randomBytes(NONCE_LEN);
  const c = crypto.createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(wrapAad(storeId));
  const ct = Buffer.concat([c.update(storeKey), c.final()]);
  const header: StoreHeader = {
    format: STORE_FORMAT,
    version: STORE_FORMAT_VERSION,
    storeId,
    createdAt: new Date().toISOString(),
    createdBy: '',
    kdf: params,
    wrappedKey: { nonce: nonce.toString('base64'), ciphertext: ct.toString('base64'), tag: c.getAuthTag().toString('base64') },
    keyCheck: keyCheckOf(storeKey, storeId),
  };
  return { header, storeKey };
}

/** Returns the store key, or undefined when the passphrase is wrong. */
export async function unwrapStoreKey(header: StoreHeader, passphrase: string): Promise<Buffer | undefined> {
  const kek = await scrypt(passphrase, header.kdf);
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', kek, Buffer.from(header.wrappedKey.nonce, 'base64'));
    d.setAAD(wrapAad(header.storeId));
    d.setAuthTag(Buffer.from(header.wrappedKey.tag, 'base64'));
    const key = Buffer.concat([d.update(Buffer.from(header.wrappedKey.ciphertext, 'base64')), d.final()]);
    return key.length === 32 && checkStoreKey(header, key) ? key : undefined;
  } catch {
    return undefined;
  }
}

export function checkStoreKey(header: Pick<StoreHeader, 'storeId' | 'keyCheck'>, key: Buffer): boolean {
  const a = Buffer.from(keyCheckOf(key, header.storeId), 'base64');
  const b = Buffer.from(header.keyCheck, 'base64');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export class EnvelopeError extends Error {
  constructor(readonly reason: 'too-short' | 'bad-magic' | 'auth-failed' | 'hash-mismatch' | 'unknown-key', message: string) {
    super(message);
  }
}

function aadFor(storeId: string, context: string): Buffer {
  return Buffer.from(`${storeId}\n${context}`, 'utf8');
}

export function sha256Hex(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/**
 * Seals a small payload: "PSE1" | nonce | ciphertext | tag under the header's key, or
 * "PSE2" | key id | nonce | ciphertext | tag under a later generation. The context binds the file to its place.
 */
export function encrypt(keys: KeySource, storeId: string, context: string, plaintext: Uint8Array): Buffer {
  const { prefix, key } = sealingKey(keys);
  const nonce = crypto.randomBytes(NONCE_LEN);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aadFor(storeId, context));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([prefix, nonce, body, c.getAuthTag()]);
}

export function decrypt(keys: KeySource, storeId: string, context: string, file: Uint8Array): Buffer {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < ENVELOPE_OVERHEAD) throw new EnvelopeError('too-short', 'file is shorter than an encrypted envelope');
  const { key, prefixLen } = openingKey(keys, buf.subarray(0, MAGIC2.length + KEY_ID_LEN));
  if (buf.length < prefixLen + NONCE_LEN + TAG_LEN) throw new EnvelopeError('too-short', 'file is shorter than an encrypted envelope');
  const nonce = buf.subarray(prefixLen, prefixLen + NONCE_LEN);
  const tag = buf.subarray(buf.length - TAG_LEN);
  const d = crypto.createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(aadFor(storeId, context));
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(buf.subarray(prefixLen + NONCE_LEN, buf.length - TAG_LEN)), d.final()]);
  } catch {
    throw new EnvelopeError('auth-failed', 'authentication failed (tampered, truncated, other store or wrong key)');
  }
}

/** Seals a large payload chunk by chunk and hashes the ciphertext on the way: never two copies in memory. */
export function encryptChunks(keys: KeySource, storeId: string, context: string, plaintext: Uint8Array): { chunks: Iterable<Uint8Array>; hash: () => string } {
  const { prefix, key } = sealingKey(keys);
  const nonce = crypto.randomBytes(NONCE_LEN);
  const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aadFor(storeId, context));
  const h = crypto.createHash('sha256');
  function* gen(): Generator<Uint8Array> {
    const head = Buffer.concat([prefix, nonce]);
    h.update(head);
    yield head;
    for (let off = 0; off < plaintext.byteLength; off += CHUNK) {
      const part = c.update(plaintext.subarray(off, Math.min(off + CHUNK, plaintext.byteLength)));
      h.update(part);
      yield part;
    }
    const tail = Buffer.concat([c.final(), c.getAuthTag()]);
    h.update(tail);
    yield tail;
  }
  return { chunks: gen(), hash: () => h.digest('hex') };
}

/**
 * Reads a large envelope in chunks: checks its SHA-256 against `expectHash`, authenticates, and
 * decrypts into one preallocated array (or discards the plaintext when `keep` is false).
 */
export async function decryptFileChunked(
  keys: KeySource,
  storeId: string,
  context: string,
  file: string,
  expectHash: string,
  keep: boolean,
): Promise<Uint8Array | undefined> {
  const fh = await fsp.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size < ENVELOPE_OVERHEAD) throw new EnvelopeError('too-short', 'file is shorter than an encrypted envelope');
    const first = Buffer.alloc(Math.min(size, MAGIC2.length + KEY_ID_LEN));
    await fh.read(first, 0, first.length, 0);
    const { key, prefixLen } = openingKey(keys, first);
    if (size < prefixLen + NONCE_LEN + TAG_LEN) throw new EnvelopeError('too-short', 'file is shorter than an encrypted envelope');
    const head = Buffer.alloc(prefixLen + NONCE_LEN);
    await fh.read(head, 0, head.length, 0);
    const tag = Buffer.alloc(TAG_LEN);
    await fh.read(tag, 0, TAG_LEN, size - TAG_LEN);
    const d = crypto.createDecipheriv('aes-256-gcm', key, head.subarray(prefixLen));
    d.setAAD(aadFor(storeId, context));
    d.setAuthTag(tag);
    const h = crypto.createHash('sha256').update(head);
    const out = keep ? new Uint8Array(size - head.length - TAG_LEN) : undefined;
    const buf = Buffer.alloc(Math.min(CHUNK, Math.max(1, size - head.length - TAG_LEN)));
    let pos = head.length;
    let outPos = 0;
    const end = size - TAG_LEN;
    while (pos < end) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
      if (bytesRead === 0) throw new EnvelopeError('too-short', 'file ended early');
      const ct = buf.subarray(0, bytesRead);
      h.update(ct);
      const pt = d.update(ct);
      if (out) out.set(pt, outPos);
      outPos += pt.length;
      pos += bytesRead;
    }
    h.update(tag);
    if (h.digest('hex') !== expectHash) throw new EnvelopeError('hash-mismatch', 'content does not match its name');
    try {
      d.final();
    } catch {
      throw new EnvelopeError('auth-failed', 'authentication failed (tampered, truncated, other store or wrong key)');
    }
    return out;
  } finally {
    await fh.close();
  }
}
