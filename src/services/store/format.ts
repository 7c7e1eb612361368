// The store format (docs/STORE-FORMAT.md): names, paths and the schema of every file, shared by all replicas.
import * as path from 'node:path';
import { z } from 'zod';
import type { JsonObject, JsonValue } from '../../host-api';

export const DEVICE_ID = /^[0-9a-f]{32}$/;
export const SEQ_DIGITS = 10;
export const HASH_HEX = /^[0-9a-f]{64}$/;
export const SEGMENT_NAME = /^(\d{10})-([0-9a-f]{64})$/;
/** A pack's name: the first and last log file it holds, and the SHA-256 of its bytes (docs/STORE-FORMAT.md "Packs"). */
export const PACK_NAME = /^(\d{10})-(\d{10})-([0-9a-f]{64})$/;
export const OBJECT_DIR = /^[0-9a-f]{2}$/;
export const COLLECTION = /^[a-z][a-z0-9-]{0,63}$/;
export const RECORD_ID = /^[A-Za-z0-9._-]{1,128}$/;
export const VERSION = /^[0-9a-z]{9}\.[0-9a-z]{4}\.[0-9a-f]{32}$/;

export const MAX_BODY_BYTES = 1 << 20;
export const MAX_SEGMENT_BYTES = 64 << 20;
export const MAX_SNAPSHOT_BYTES = 512 << 20;
export const MAX_OBJECT_BYTES = (50 << 20) + 1024;
export const MAX_SMALL_FILE_BYTES = 64 << 10;
export const MAX_CHANGES_PER_SEGMENT = 5000;
/** A pack holds at most this many log files, and unpacks to at most MAX_PACK_PLAIN_BYTES. */
export const MAX_FILES_PER_PACK = 20_000;
export const MAX_PACK_BYTES = 96 << 20;
export const MAX_PACK_PLAIN_BYTES = 256 << 20;
/**
 * What a writer puts into one pack at most, unpacked (the log files' JSON): well below what a reader
 * accepts, so a pack is never refused for its size. A single log file (≤ 64 MiB) always fits alone.
 */
export const PACK_PLAIN_TARGET = 48 << 20;
/**
 * A pack of version 2 is sealed in sections (docs/STORE-FORMAT.md "Packs"), so that one log file is read
 * without unpacking the whole pack: a writer fills a section with log files up to this many bytes
 * unpacked, and puts a larger log file in a section of its own. A reader takes at most MAX_PACK_SECTIONS
 * (a writer makes fewer than 2 × unpacked / target + 1: two neighbours always exceed the target), an
 * index of at most MAX_PACK_INDEX_BYTES (sealed, and unpacked), and a section unpacking to at most
 * MAX_PACK_SECTION_PLAIN_BYTES (one log file at its largest, with the line that names it).
 */
export const PACK_SECTION_TARGET = 256 << 10;
export const MAX_PACK_SECTIONS = 4096;
export const MAX_PACK_INDEX_BYTES = 1 << 20;
export const MAX_PACK_SECTION_PLAIN_BYTES = MAX_SEGMENT_BYTES + (1 << 20);
/**
 * The formats of the shared folder a device reads and follows, announced in its presence (`formats`).
 * 1: log files only, nothing is ever deleted. 2: a device may roll its own log files up into packs
 * and delete what a pack holds once every known device acknowledged it (docs/STORE-FORMAT.md "Packs").
 * A device packs only when every known device announces 2.
 */
export const SHARED_FORMATS = [1, 2] as const;
/**
 * Names another PC reads, in UTF-16 code units (what JavaScript's `length` and zod count). One
 * constant per field, used by the writer (which shortens to it, `storedName`) and every reader
 * (which refuses more). 200 is the bound the format always had, so older readers take what is written.
 * The device name: a change's `by`, a snapshot version's `by`, the device card's and presence's
 * `name`, the header's `createdBy`, a key file's `createdByName`.
 */
export const MAX_DEVICE_NAME = 200;
/** The user name: the device card's and presence's `user`. */
export const MAX_USER_NAME = 200;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export const STORE_FORMAT = 'practice-store';
/**
 * The header's `version`: 2 since format 2 (packs, STORE-FORMAT.md "Packs"). A store of version 1 is
 * raised to 2 in place (its header written again, that field alone changed) by the first PC that starts
 * packing, which it does only once every PC it waits for announces format 2; a PC of version 1 that
 * comes back later reads "newer" and is told to update, its changes kept in its replica.
 */
export const STORE_FORMAT_VERSION = 2;
export const STORE_ID = /^[0-9a-f]{32}$/;
/** The id of the store key the header wraps (envelopes "PSE1"); later keys have 32-hex ids ("PSE2"). */
export const HEADER_KEY_ID = 'header';
export const KEY_ID_HEX = /^[0-9a-f]{32}$/;
export const MAX_KEY_FILE_BYTES = 64 * 1024;
const MAX_WRAPS = 256;

/** Where every file of a store lies, relative to a replica's root (the shared folder or a local replica). */
export const Paths = {
  header: 'practice-store.json',
  keysDir: 'keys',
  keyFile: (hash: string) => path.join('keys', hash),
  devicesDir: 'devices',
  deviceDir: (dev: string) => path.join('devices', dev),
  deviceFile: (dev: string) => path.join('devices', dev, 'device'),
  presence: (dev: string) => path.join('devices', dev, 'presence'),
  logDir: (dev: string) => path.join('devices', dev, 'log'),
  packsDir: (dev: string) => path.join('devices', dev, 'packs'),
  pack: (dev: string, first: number, last: number, hash: string) => path.join('devices', dev, 'packs', packName(first, last, hash)),
  segment: (dev: string, seq: number, hash: string) => path.join('devices', dev, 'log', segmentName(seq, hash)),
  objectsDir: 'objects',
  object: (hash: string) => path.join('objects', hash.slice(0, 2), hash),
  snapshotsDir: 'snapshots',
  snapshot: (dev: string, seq: number, hash: string) => path.join('snapshots', dev, segmentName(seq, hash)),
  /** The encrypted "moved to" note a store leaves where it was after it moved (MovedNoteSchema); rewritten, never deleted. */
  movedNote: 'moved-to',
} as const;

/** Files only a local replica has (never in the shared folder). */
export const LocalPaths = {
  journalDir: 'journal',
  journal: (ver: string) => path.join('journal', ver),
  outboxDir: 'outbox',
  outbox: (hash: string) => path.join('outbox', hash),
  lock: 'replica.lock',
  reissued: (formerDev: string, seq: number) => path.join('reissued', `${formerDev}-${seq}`),
  /** Devices a person removed from the practice on this PC (format 2): {v:1, removed: {<deviceId>: <heartbeatAt seen then>}}. */
  removedDevices: 'removed-devices.json',
  /** Up to which of its own log files this device last saw the shared location hold (a count shown offline; never a reason not to send). */
  sentMark: 'sent-mark.json',
} as const;

/** Temp files of durable writes (durable-fs): never data, removed when left over by a crash. */
export const INCOMING_TEMP = /^\.incoming-[0-9a-f]+\.tmp$/;

/** Authenticated-data contexts: a file moved to another place fails authentication. */
export const Contexts = {
  segment: (dev: string, seq: number) => `log/${dev}/${seq}`,
  pack: (dev: string, first: number, last: number) => `pack/${dev}/${first}-${last}`,
  /** Section `i` (from 0) of a pack of version 2; its index is sealed under `pack` (docs/STORE-FORMAT.md "Packs"). */
  packSection: (dev: string, first: number, last: number, i: number) => `pack/${dev}/${first}-${last}/s${i}`,
  object: () => 'object',
  snapshot: (dev: string, seq: number) => `snapshot/${dev}/${seq}`,
  /** The data of batch `i` (from 0) of a snapshot of version 4; its head is sealed under `snapshot`. */
  snapshotData: (dev: string, seq: number, i: number) => `snapshot/${dev}/${seq}/d${i}`,
  presence: (dev: string) => `presence/${dev}`,
  device: (dev: string) => `device/${dev}`,
  journal: (dev: string, ver: string) => `journal/${dev}/${ver}`,
  moved: () => 'moved-to',
} as const;

export function segmentName(seq: number, hash: string): string {
  return `${String(seq).padStart(SEQ_DIGITS, '0')}-${hash}`;
}

export function packName(first: number, last: number, hash: string): string {
  return `${String(first).padStart(SEQ_DIGITS, '0')}-${String(last).padStart(SEQ_DIGITS, '0')}-${hash}`;
}

export function parsePackName(name: string): { first: number; last: number; hash: string } | undefined {
  const m = PACK_NAME.exec(name);
  if (!m) return undefined;
  const first = Number(m[1]);
  const last = Number(m[2]);
  return first >= 1 && last >= first && last - first < MAX_FILES_PER_PACK ? { first, last, hash: m[3]! } : undefined;
}

export function parseSegmentName(name: string): { seq: number; hash: string } | undefined {
  const m = SEGMENT_NAME.exec(name);
  if (!m) return undefined;
  const seq = Number(m[1]);
  return seq >= 1 ? { seq, hash: m[2] } : undefined;
}

/** What a name in the shared folder that is not ours is: sync-client debris is never data. */
export type ForeignNameKind = 'conflict-copy' | 'system-file' | 'temp-file' | 'unknown';
export function classifyForeignName(name: string): ForeignNameKind {
  const lower = name.toLowerCase();
  if (['desktop.ini', '.ds_store', 'thumbs.db', 'icon\r', '.dropbox', '.dropbox.attr', '.owncloudsync.log'].includes(lower) || lower.startsWith('._') || lower.startsWith('.~lock'))
    return 'system-file';
  if (
    /\(.*conflicted copy.*\)/i.test(name) ||
    /\.sync-conflict-\d{8}-\d{6}/i.test(name) ||
    /_conflict-\d{8}-\d{6}/i.test(name) ||
    / \(\d+\)(\.[^.]*)?$/.test(name) ||
    / \d+(\.[^.]*)?$/.test(name) ||
    /^[^.]+-[A-Za-z0-9][A-Za-z0-9-]*$/.test(name) && !SEGMENT_NAME.test(name) && !HASH_HEX.test(name)
  )
    return 'conflict-copy';
  if (lower.startsWith('~$') || lower.endsWith('.tmp') || lower.endsWith('.temp') || lower.endsWith('.partial') || lower.endsWith('.crdownload') || lower.startsWith('.~') || lower.startsWith('.') )
    return 'temp-file';
  return 'unknown';
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const GRAPHEMES = new Intl.Segmenter('en', { granularity: 'grapheme' });
export const SHORTENED_MARK = '…';

/**
 * A name as the store keeps it (HOST-API §6: any length, any script): unchanged when it fits in
 * `max` UTF-16 code units, else cut after the last whole grapheme (a letter with its marks, an emoji
 * sequence) that leaves room for "…", and "…" appended — a surrogate pair is never split. A lone
 * surrogate (not text) becomes U+FFFD first. Deterministic: the same name gives the same result.
 */
export function storedName(name: string, max: number): string {
  const s = name.replace(LONE_SURROGATE, '\uFFFD');
  if (s.length <= max) return s;
  const room = max - SHORTENED_MARK.length;
  let end = 0;
  // A boundary depends only on what precedes it and the next character: segmenting a prefix is exact up to `max`.
  for (const { index, segment } of GRAPHEMES.segment(s.slice(0, max + 1))) {
    if (index + segment.length > room) break;
    end = index + segment.length;
  }
  // One grapheme longer than the bound (a letter under hundreds of marks): whole code points then.
  if (end === 0)
    for (const cp of s) {
      if (end + cp.length > room) break;
      end += cp.length;
    }
  return s.slice(0, end) + SHORTENED_MARK;
}

export const storedDeviceName = (name: string): string => storedName(name, MAX_DEVICE_NAME);
export const storedUserName = (name: string): string => storedName(name, MAX_USER_NAME);

export function isPlainJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** Checks that a value is plain JSON (no functions, NaN, cycles, prototype tricks); returns the first problem. */
export function jsonProblem(v: unknown, where = 'data', depth = 0, seen = new Set<object>()): string | undefined {
  if (depth > 64) return `${where}: nested too deeply`;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${where}: ${v} is not a JSON number`;
  if (typeof v !== 'object') return `${where}: a ${typeof v} is not JSON`;
  if (seen.has(v)) return `${where}: refers to itself`;
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const p = jsonProblem(v[i], `${where}[${i}]`, depth + 1, seen);
        if (p) return p;
      }
      return undefined;
    }
    if (!isPlainJsonObject(v)) return `${where}: only plain objects are JSON`;
    for (const k of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(k)) return `${where}: the key "${k}" is not allowed`;
      const p = jsonProblem((v as Record<string, unknown>)[k], `${where}.${k}`, depth + 1, seen);
      if (p) return p;
    }
    if (Object.prototype.hasOwnProperty.call(v, '__proto__')) return `${where}: the key "__proto__" is not allowed`;
    return undefined;
  } finally {
    seen.delete(v);
  }
}

export const BASE64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/).max(4096);
const b64 = BASE64;

/**
 * The cost of one scrypt derivation, N·r·p, as the format allows it wherever it is read (header, key
 * files): a file can neither make a guess cheap (a lowered header) nor make each attempt take
 * seconds and gigabytes (a planted key file). New keys use N=2^17, r=8, p=1 (2^20: OWASP's
 * recommendation); headers of older stores 2^15·8. Memory per derivation is 128·N·r bytes.
 */
export const MIN_KDF_COST = (1 << 14) * 8;
export const MAX_KDF_COST = (1 << 18) * 8;

export const ScryptParamsSchema = z
  .object({
    name: z.literal('scrypt'),
    N: z.number().int().min(1 << 10).max(1 << 18).refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(4),
    salt: b64,
  })
  .refine((k) => k.N * k.r * k.p >= MIN_KDF_COST && k.N * k.r * k.p <= MAX_KDF_COST && 128 * k.N * k.r <= 256 << 20, 'scrypt cost outside the bounds of the format');
export type ScryptParams = z.infer<typeof ScryptParamsSchema>;

/** The plaintext header `practice-store.json`: written once, never changed. */
export const StoreHeaderSchema = z.object({
  format: z.literal(STORE_FORMAT),
  version: z.number().int().min(1),
  storeId: z.string().regex(STORE_ID),
  createdAt: z.string().max(40),
  createdBy: z.string().max(MAX_DEVICE_NAME),
  kdf: ScryptParamsSchema,
  wrappedKey: z.object({ nonce: b64, ciphertext: b64, tag: b64 }),
  keyCheck: b64,
});
export type StoreHeader = z.infer<typeof StoreHeaderSchema>;

/** JSON with every object's keys sorted, at every depth: the same text for the same parsed value. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/**
 * Whether two headers as read (JSON.parse of the file, before the schema) say the same, field for
 * field — fields this version does not know included — but for `version` 1 against 2 (the upgrade to
 * format 2 raises it in place). Whitespace and the order of fields do not count.
 */
export function sameHeader(a: unknown, b: unknown): boolean {
  return canonicalJson(withoutVersion(a)) === canonicalJson(withoutVersion(b));
}

/** A header's JSON without its `version` when that is one this version reads (1 or 2): the upgrade to 2 changes nothing else. */
function withoutVersion(h: unknown): unknown {
  if (!isPlainJsonObject(h) || typeof h.version !== 'number' || h.version < 1 || h.version > STORE_FORMAT_VERSION) return h;
  const { version: _v, ...rest } = h;
  return rest;
}

export const KeyIdRef = z.union([z.literal(HEADER_KEY_ID), z.string().regex(KEY_ID_HEX)]);
const Wrapped = z.object({ nonce: b64, ciphertext: b64, tag: b64 }).strict();
const WrapSchema = z.object({ keyId: KeyIdRef, nonce: b64, ciphertext: b64, tag: b64 }).strict();
export type Wrap = z.infer<typeof WrapSchema>;
/** What every key and link file says about where and when it was written, and by which device. */
const written = {
  v: z.literal(1),
  storeId: z.string().regex(STORE_ID),
  createdAt: z.string().datetime(),
  createdBy: z.string().regex(DEVICE_ID),
};

/** A key file `keys/<sha256>` (plaintext; the keys inside are wrapped): one passphrase change. */
export const KeyFileSchema = z
  .object({
    t: z.literal('key'),
    ...written,
    keyId: z.string().regex(KEY_ID_HEX),
    parent: KeyIdRef,
    createdByName: z.string().max(MAX_DEVICE_NAME),
    kdf: ScryptParamsSchema,
    wrappedKey: Wrapped,
    keyCheck: b64,
    wraps: z.array(WrapSchema).max(MAX_WRAPS),
    endorsement: b64,
  })
  .strict();
export type KeyFile = z.infer<typeof KeyFileSchema>;

/** A link file: keys some device knows but the current key cannot reach, wrapped under the current key. */
export const LinkFileSchema = z
  .object({
    t: z.literal('link'),
    ...written,
    under: KeyIdRef,
    wraps: z.array(WrapSchema).min(1).max(MAX_WRAPS),
  })
  .strict();
export type LinkFile = z.infer<typeof LinkFileSchema>;

export const KeyFileEntrySchema = z.discriminatedUnion('t', [KeyFileSchema, LinkFileSchema]);
export type KeyFileEntry = z.infer<typeof KeyFileEntrySchema>;

const JsonObjectSchema = z.custom<JsonObject>((v) => isPlainJsonObject(v) && jsonProblem(v) === undefined, 'not a plain JSON object');
const Iso = z.string().max(40);

export const ChangeSchema = z.object({
  ver: z.string().regex(VERSION),
  col: z.string().regex(COLLECTION),
  id: z.string().regex(RECORD_ID),
  parents: z.array(z.string().regex(VERSION)).max(256),
  at: Iso,
  by: z.string().max(MAX_DEVICE_NAME),
  op: z.enum(['put', 'remove', 'resolve', 'import']),
  data: JsonObjectSchema.nullable(),
});
export type Change = z.infer<typeof ChangeSchema>;

export const SegmentSchema = z.object({
  t: z.literal('log'),
  v: z.literal(1),
  device: z.string().regex(DEVICE_ID),
  seq: z.number().int().min(1),
  prev: z.string().regex(HASH_HEX).nullable(),
  createdAt: Iso,
  changes: z.array(ChangeSchema).min(1).max(MAX_CHANGES_PER_SEGMENT),
});
export type Segment = z.infer<typeof SegmentSchema>;

const OPS: ReadonlySet<unknown> = new Set(['put', 'remove', 'resolve', 'import']);
const isIso = (v: unknown) => typeof v === 'string' && v.length <= 40;
const isVersion = (v: unknown) => typeof v === 'string' && VERSION.test(v);

/**
 * SegmentSchema, checked in place: what it says of `v` (undefined when `v` is a Segment), without the
 * copy zod makes of what it parses. A new PC checks every log file of the store, and after years that
 * is a million of them (issue #16); zod's copy was a third of the time. Keys SegmentSchema does not
 * know are left in place where zod drops them. test/services/store/segment-check.spec.ts holds the two
 * to the same answers.
 */
export function segmentProblem(v: unknown): string | undefined {
  if (!isPlainJsonObject(v)) return 'not an object';
  const o = v as Record<string, unknown>;
  if (o.t !== 'log' || o.v !== 1) return 't/v: not a log file of version 1';
  if (typeof o.device !== 'string' || !DEVICE_ID.test(o.device)) return 'device: not a device id';
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 1) return 'seq: not a position';
  if (o.prev !== null && (typeof o.prev !== 'string' || !HASH_HEX.test(o.prev))) return 'prev: not a hash';
  if (!isIso(o.createdAt)) return 'createdAt: not a time';
  const changes = o.changes;
  if (!Array.isArray(changes) || changes.length < 1 || changes.length > MAX_CHANGES_PER_SEGMENT) return 'changes: not a list of 1 to 5000';
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i] as Record<string, unknown>;
    if (!isPlainJsonObject(c)) return `changes.${i}: not an object`;
    if (!isVersion(c.ver)) return `changes.${i}.ver: not a version`;
    if (typeof c.col !== 'string' || !COLLECTION.test(c.col)) return `changes.${i}.col: not a collection`;
    if (typeof c.id !== 'string' || !RECORD_ID.test(c.id)) return `changes.${i}.id: not a record id`;
    const parents = c.parents;
    if (!Array.isArray(parents) || parents.length > 256 || !parents.every(isVersion)) return `changes.${i}.parents: not a list of versions`;
    if (!isIso(c.at)) return `changes.${i}.at: not a time`;
    if (typeof c.by !== 'string' || c.by.length > MAX_DEVICE_NAME) return `changes.${i}.by: not a name`;
    if (!OPS.has(c.op)) return `changes.${i}.op: not an operation`;
    if (c.data === undefined) return `changes.${i}.data: missing`;
    if (c.data !== null && (!isPlainJsonObject(c.data) || jsonProblem(c.data) !== undefined)) return `changes.${i}.data: not a plain JSON object`;
  }
  return undefined;
}

/**
 * The first line of a pack of version 1 (gzip of NDJSON, encrypted like a log file under the key of its day): the log
 * files it holds, in order, each by its number and the hash it had as a file; one line per log file
 * follows, the log file's content (SegmentSchema). A pack is written once; a later pack may hold what
 * earlier packs held (a pack of packs).
 */
export const PackHeaderSchema = z.object({
  t: z.literal('pack'),
  v: z.literal(1),
  device: z.string().regex(DEVICE_ID),
  first: z.number().int().min(1),
  last: z.number().int().min(1),
  createdAt: Iso,
  files: z.array(z.tuple([z.number().int().min(1), z.string().regex(HASH_HEX)])).min(1).max(MAX_FILES_PER_PACK),
});
export type PackHeader = z.infer<typeof PackHeaderSchema>;

const PackSeq = z.number().int().min(1);
/**
 * The index of a pack of version 2 (gzip of this JSON, sealed under the pack's context): its sections in
 * order, each `[first seq, last seq, number of log files, bytes, sha256 of its bytes]`. A section (sealed
 * under `Contexts.packSection`) unpacks to NDJSON: the `[seq, hash]` of its log files on line 1, then one
 * line per log file as in version 1. The log files' names are in the sections, not in the index: an
 * index stays small (~100 bytes a section) and is read with the one section a reader needs.
 */
export const PackIndexSchema = z
  .object({
    t: z.literal('pack'),
    v: z.literal(2),
    device: z.string().regex(DEVICE_ID),
    first: PackSeq,
    last: PackSeq,
    createdAt: Iso,
    sections: z
      .array(z.tuple([PackSeq, PackSeq, z.number().int().min(1).max(MAX_FILES_PER_PACK), z.number().int().min(1).max(MAX_PACK_BYTES), z.string().regex(HASH_HEX)]))
      .min(1)
      .max(MAX_PACK_SECTIONS),
  })
  .refine((x) => x.sections.reduce((n, s) => n + s[2], 0) <= MAX_FILES_PER_PACK, { message: `more than ${MAX_FILES_PER_PACK} log files`, path: ['sections'] });
export type PackIndex = z.infer<typeof PackIndexSchema>;
/** Line 1 of a section of a pack of version 2: its log files, `[seq, hash]`, in order. */
export const PackSectionNamesSchema = z.array(z.tuple([PackSeq, z.string().regex(HASH_HEX)])).min(1).max(MAX_FILES_PER_PACK);

export const JournalEntrySchema = z.object({ t: z.literal('journal'), v: z.literal(1), change: ChangeSchema });

export const DeviceInfoSchema = z.object({
  t: z.literal('device'),
  v: z.literal(1),
  deviceId: z.string().regex(DEVICE_ID),
  name: z.string().max(MAX_DEVICE_NAME),
  user: z.string().max(MAX_USER_NAME),
  createdAt: Iso,
  replaces: z.string().regex(DEVICE_ID).optional(),
});
export type DeviceInfo = z.infer<typeof DeviceInfoSchema>;

export const PresenceSchema = z.object({
  t: z.literal('presence'),
  v: z.literal(1),
  deviceId: z.string().regex(DEVICE_ID),
  name: z.string().max(MAX_DEVICE_NAME),
  user: z.string().max(MAX_USER_NAME),
  since: Iso,
  heartbeatAt: Iso,
  active: z.boolean(),
  lastSeq: z.number().int().min(0).max(9_999_999_999),
  changeCount: z.number().int().min(0),
  /**
   * The newest log file this device has applied of every device ([seq, hash]): a device holding the
   * current key vouches for them, and for their predecessors down the `prev` chain (files sealed
   * under a replaced key are taken only so, docs/PASSPHRASE.md). Absent in files of older versions.
   */
  tips: z.record(z.string().regex(DEVICE_ID), z.tuple([z.number().int().min(1).max(9_999_999_999), z.string().regex(HASH_HEX)])).optional(),
  /** The shared formats this device reads and follows (SHARED_FORMATS); absent: 1 only (a device of an older version). */
  formats: z.array(z.number().int().min(1).max(1000)).max(16).optional(),
  /**
   * Acknowledgements (format 2): per device, the highest n such that this device holds every log file
   * 1…n of that device's chain in its replica. A device deletes a file a pack of it holds only once every
   * known device acknowledges the pack's last file this way (docs/STORE-FORMAT.md "Packs").
   */
  holds: z.record(z.string().regex(DEVICE_ID), z.number().int().min(0).max(9_999_999_999)).optional(),
  /**
   * Format 2: the hashes of this device's own packs it holds (at most 400, the newest). A pack sealed
   * under a key that is not live any more is taken only when its own device's presence, taken under a
   * live key, names it here: a pack's lines are plaintexts, so nothing else ties them to the log files
   * it names (someone with a replaced passphrase could seal one over other changes).
   */
  packs: z.array(z.string().regex(HASH_HEX)).max(400).optional(),
  /**
   * Format 2, "remove this PC from the practice": devices a person removed on this PC, each with the
   * `heartbeatAt` of its presence as seen then ('' when none was taken). Such a device is not waited for
   * before packed files are removed — until it writes a presence again (another `heartbeatAt`: it is back).
   */
  removed: z.record(z.string().regex(DEVICE_ID), z.string().max(40)).optional(),
});
export type Presence = z.infer<typeof PresenceSchema>;

/** The local file of devices removed from the practice on this PC (LocalPaths.removedDevices). */
export const RemovedDevicesSchema = z.object({ v: z.literal(1), removed: z.record(z.string().regex(DEVICE_ID), z.string().max(40)) });

/** The longest location a "moved to" note names (a path or a server address; addresses are bounded shorter by location.ts). */
export const MAX_LOCATION_CHARS = 2048;

/**
 * Left in a shared location by the PC that moved the store away from it (STORE-FORMAT.md "Moving"):
 * `to` is where the store lives now (a server address, or a folder path as the moving PC saw it);
 * null says the store lives here (again): a location the store moved back to. Only a note sealed
 * under a live key is believed; following it is a person's choice, never automatic.
 */
export const MovedNoteSchema = z.object({
  t: z.literal('moved'),
  v: z.literal(1),
  storeId: z.string().regex(STORE_ID),
  to: z.string().min(1).max(MAX_LOCATION_CHARS).nullable(),
  /** Whether `to` is a server address (the same for every PC) or a folder (each PC may see it under another path). */
  kind: z.enum(['server', 'folder']).optional(),
  at: Iso,
  by: z.string().regex(DEVICE_ID),
});
export type MovedNote = z.infer<typeof MovedNoteSchema>;

/** A snapshot's packed cover of one device: 3,000,000 positions (a device's log files over decades). */
const MAX_PACKED_COVER_CHARS = Math.ceil((3_000_000 * 32) / 3) * 4;
const SeqRanges = z.array(z.tuple([z.number().int().min(1), z.number().int().min(1)])).max(1_000_000);
/** The first line of a snapshot; the records follow, a batch of them per line. */
export const SnapshotHeaderSchema = z.object({
  t: z.literal('snapshot'),
  /**
   * 1: records as SnapshotRecord (earlier releases); 2: as SnapshotRecordV2 (snapshot-format.ts); 3: as
   * version 2, with the log files it covers and their counters packed (`packed`, `byPosition`); 4: as
   * version 3, with the heads' data as bytes after each batch's records (SnapshotRecordV4).
   */
  v: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
  device: z.string().regex(DEVICE_ID),
  seq: z.number().int().min(1),
  createdAt: Iso,
  /**
   * Per device, the positions it covers (`ranges`) and the hash of each log file: versions 1 and 2 as
   * `hashes` (position → hash), version 3 as `packed`, base64 of the 32-byte hashes one after the other
   * in the order the ranges name the positions (after years a device has ~250,000: 18 MB of JSON
   * keys as `hashes`, 11 MB as `packed`, read without building an object of them).
   */
  covers: z.record(
    z.string().regex(DEVICE_ID),
    z.union([z.object({ ranges: SeqRanges, hashes: z.record(z.string(), z.string().regex(HASH_HEX)) }), z.object({ ranges: SeqRanges, packed: z.string().max(MAX_PACKED_COVER_CHARS) })]),
  ),
  /**
   * Versions 2 and 3: the state's counters as they were (versions per device and per log file, the
   * greatest version), so an open need not go through every older version to count it
   * (snapshot-state.ts). Per log file: version 2 as `byWhere` ("<device>:<seq>" → count), version 3 as
   * `byPosition`, per device base64 of one 32-bit little-endian count per position its cover names.
   */
  counts: z
    .object({
      byDevice: z.record(z.string().regex(DEVICE_ID), z.number().int().min(0)),
      byWhere: z.record(z.string().regex(/^[0-9a-f]{32}:\d{1,10}$/), z.number().int().min(0)).optional(),
      byPosition: z.record(z.string().regex(DEVICE_ID), z.string().max(MAX_PACKED_COVER_CHARS)).optional(),
      newest: z.union([z.string().regex(VERSION), z.literal('')]),
    })
    .optional(),
});
export type SnapshotHeader = z.infer<typeof SnapshotHeaderSchema>;
// Records are checked in place by snapshotRecordsProblem, not by zod: zod copies what it parses, and
// a snapshot of 100,000 versions copied once more doubled the open's memory (docs/PERFORMANCE.md).
export type Snapshot = SnapshotHeader & { records: SnapshotRecord[] };
export const SNAPSHOT_BATCH = 500;

/** One record in a snapshot: every version's [ver, parents, at, by, deleted, where] and the heads' data. */
export interface SnapshotRecord {
  col: string;
  id: string;
  versions: [string, string[], string, string, boolean, string][];
  heads: Record<string, JsonObject | null>;
}

const WHERE = /^(journal|[0-9a-f]{32}:\d{1,10})$/;

/** The first problem of a snapshot's records, or undefined; the same rules as the change schema. */
export function snapshotRecordsProblem(v: unknown): string | undefined {
  if (!Array.isArray(v)) return 'records is not a list';
  const str = (x: unknown, max: number) => typeof x === 'string' && x.length <= max;
  for (let i = 0; i < v.length; i++) {
    const r = v[i] as Partial<SnapshotRecord> | null;
    if (!r || typeof r !== 'object') return `records[${i}] is not an object`;
    if (typeof r.col !== 'string' || !COLLECTION.test(r.col) || typeof r.id !== 'string' || !RECORD_ID.test(r.id)) return `records[${i}]: collection or id`;
    if (!Array.isArray(r.versions) || r.versions.length === 0) return `records[${i}].versions`;
    for (const t of r.versions) {
      if (!Array.isArray(t) || t.length !== 6) return `records[${i}].versions: not a 6-tuple`;
      const [ver, parents, at, by, deleted, where] = t as unknown[];
      if (typeof ver !== 'string' || !VERSION.test(ver)) return `records[${i}].versions: version`;
      if (!Array.isArray(parents) || parents.length > 256 || !parents.every((p) => typeof p === 'string' && VERSION.test(p))) return `records[${i}].versions: parents`;
      if (!str(at, 40) || !str(by, MAX_DEVICE_NAME) || typeof deleted !== 'boolean' || typeof where !== 'string' || !WHERE.test(where)) return `records[${i}].versions: fields`;
    }
    if (!isPlainJsonObject(r.heads)) return `records[${i}].heads`;
    for (const [ver, data] of Object.entries(r.heads)) {
      if (!VERSION.test(ver)) return `records[${i}].heads: version`;
      if (data !== null && (!isPlainJsonObject(data) || jsonProblem(data) !== undefined)) return `records[${i}].heads: data`;
    }
  }
  return undefined;
}

export function jsonBytes(v: JsonValue | object): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8');
}
