// The records of a local snapshot, version 2 (a replica's own cache, never shared: docs/ARCHITECTURE.md,
// "What is in memory"). Version 1 listed every version of every record with its metadata, and an open
// built an object per version: memory and open time grew with the history. Version 2 holds what the
// merge needs and no more — each record's heads with their data, the ids of its older versions with
// the position of the log file that holds each (where its metadata and body are read for history()),
// and the parents named but not arrived yet — the same as the in-memory state (record-state.ts).
import * as zlib from 'node:zlib';
import type { JsonObject } from '../../host-api';
import { COLLECTION, MAX_DEVICE_NAME, RECORD_ID, VERSION } from './format';

/**
 * A head: [version, at, by, place, data (null: removed)]; the place is the seq of the log file of the
 * version's own device that holds it (or "<device>:<seq>" for another device's, which no log file holds today).
 */
export type SnapshotHead<D = JsonObject | null> = [string, string, string, number | string, D];
/** A head's data when a snapshot is written: the object, null (removed), or the bytes of its JSON (not read since a version-4 snapshot was loaded). */
export type SnapshotHeadData = JsonObject | null | Buffer;

/**
 * A record: [collection, id, heads, old, orphans?] (a list, not an object: no key names repeated 100,000
 * times). `old` lists the versions that are no heads: "<version> <place>" joined by ",", the place being
 * the seq of the log file of the version's own device that holds it, or "<device>:<seq>" for another
 * device's. `orphans`: parents named by a version here that have not arrived (never heads once they do).
 */
export type SnapshotRecordV2<D = JsonObject | null> = [col: string, id: string, heads: SnapshotHead<D>[], old: string, orphans?: string[]];

/**
 * Version 4: a head's data are not inside the record's JSON: [version, at, by, place, length] with the
 * length in bytes of the data's JSON (null: removed). A batch's records are a gzip member in the snapshot's
 * head; its data — every head's data bytes one after the other in the order the heads come, nothing
 * between and nothing after — are an envelope of their own (replica-folder.ts, writeSnapshotV4). An open
 * unpacks and parses the records only; a batch's data stay sealed until a record of it is read
 * (record-state.ts, BytesHead; a few batches are kept unpacked, DataBlock).
 */
export type SnapshotHeadV4 = [string, string, string, number | string, number | null];
export type SnapshotRecordV4 = [col: string, id: string, heads: SnapshotHeadV4[], old: string, orphans?: string[]];
/** A version-4 batch as read: its records, and its data still packed. */
export interface BytesBatch {
  readonly records: SnapshotRecordV4[];
  readonly data: DataBlock;
}

/**
 * The batches of one snapshot kept unpacked: the last few read (a list() goes through them in order: one
 * would do; a few serve reads here and there). One per snapshot loaded, so replicas in one process do not
 * push each other's out, and nothing of a closed replica stays.
 */
export class UnpackedBlocks {
  readonly blocks = new Set<DataBlock>();
  constructor(readonly limit = 8) {}
}

/** A version-4 batch's data: its envelope (a part of the snapshot's bytes), decrypted and unpacked when a record of it is read. */
export class DataBlock {
  protected unpacked?: Buffer;
  protected bad = false;
  constructor(
    /** The gzip of the data (a snapshot of version 4 checks and decrypts its envelope here); throws when it cannot. */
    protected readonly packed: () => Buffer,
    /** What its records' lengths add up to: it must unpack to exactly this many bytes. */
    readonly size: number,
    protected readonly kept: UnpackedBlocks,
  ) {}

  /** The unpacked bytes; undefined when they do not check out, are no gzip or do not unpack to exactly `size` bytes. */
  bytes(): Buffer | undefined {
    const kept = this.kept.blocks;
    if (this.unpacked) {
      kept.delete(this);
      kept.add(this);
      return this.unpacked;
    }
    if (this.bad) return undefined;
    let out: Buffer;
    try {
      // one chunk for the whole (the default 16 KiB chunks and their concatenation were a third of the cost)
      out = zlib.gunzipSync(this.packed(), { maxOutputLength: Math.max(1, this.size), chunkSize: Math.max(64, Math.min(this.size + 64, 8 << 20)) });
    } catch {
      this.bad = true;
      return undefined;
    }
    if (out.length !== this.size) {
      this.bad = true;
      return undefined;
    }
    this.unpacked = out;
    kept.add(this);
    if (kept.size > this.kept.limit) {
      const oldest = kept.values().next().value!;
      kept.delete(oldest);
      oldest.unpacked = undefined;
    }
    return out;
  }
}

/** The smallest data, `{}`, and a bound far above the largest a record may be (1 MiB, record-input.ts). */
const MIN_DATA_BYTES = 2;
const MAX_DATA_BYTES = 64 << 20;

/** Records per gzip member: each batch's text stays small enough for the young generation (a 500-record one did not, and cost ~8 % more CPU at open). */
export const SNAPSHOT_V2_BATCH = 100;

const VER = '[0-9a-z]{9}\\.[0-9a-z]{4}\\.[0-9a-f]{32}';
const PLACE = '(?:[1-9]\\d{0,9}|[0-9a-f]{32}:[1-9]\\d{0,9})';
const PLACE_OF_OTHER = /^[0-9a-f]{32}:[1-9]\d{0,9}$/;
/** The whole `old` field: entries of a fixed shape (no backtracking to speak of). */
export const OLD_LIST = new RegExp(`^(?:${VER} ${PLACE}(?:,${VER} ${PLACE})*)?$`);

/**
 * The first problem of a version-2 snapshot's records, or undefined (checked in place: no copy is made).
 * `lengths`: version 4's records, whose data slot is a length (added up into `lengths.total`).
 */
export function snapshotV2RecordsProblem(v: unknown, lengths?: { total: number }): string | undefined {
  if (!Array.isArray(v)) return 'records is not a list';
  for (let i = 0; i < v.length; i++) {
    const r = v[i] as unknown[];
    if (!Array.isArray(r) || r.length < 4 || r.length > 5) return `records[${i}] is not a record`;
    const [col, id, heads, old, orphans] = r;
    if (typeof col !== 'string' || !COLLECTION.test(col) || typeof id !== 'string' || !RECORD_ID.test(id)) return `records[${i}]: collection or id`;
    if (!Array.isArray(heads) || typeof old !== 'string' || (heads.length === 0 && old === '')) return `records[${i}]: no versions`;
    for (const h of heads) {
      if (!Array.isArray(h) || h.length !== 5) return `records[${i}].heads: not a 5-tuple`;
      const [ver, at, by, seq, data] = h as unknown[];
      if (typeof ver !== 'string' || !VERSION.test(ver)) return `records[${i}].heads: version`;
      if (typeof at !== 'string' || at.length > 40 || typeof by !== 'string' || by.length > MAX_DEVICE_NAME) return `records[${i}].heads: fields`;
      if (typeof seq === 'number' ? !Number.isSafeInteger(seq) || seq < 1 : typeof seq !== 'string' || !PLACE_OF_OTHER.test(seq)) return `records[${i}].heads: place`;
      if (lengths === undefined) {
        if (data !== null && !parsedJsonObjectOk(data, 0)) return `records[${i}].heads: data`;
      } else if (data !== null) {
        if (typeof data !== 'number' || !Number.isSafeInteger(data) || data < MIN_DATA_BYTES || data > MAX_DATA_BYTES) return `records[${i}].heads: length of the data`;
        lengths.total += data;
      }
    }
    if (!OLD_LIST.test(old)) return `records[${i}].old`;
    if (orphans !== undefined && (!Array.isArray(orphans) || !orphans.every((p) => typeof p === 'string' && VERSION.test(p)))) return `records[${i}].orphans`;
  }
  return undefined;
}

/** A record's data as a version-4 snapshot holds them, parsed and checked as a version-2 record's are; undefined when they are not a record's data. */
export function parseSnapshotData(text: string): JsonObject | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  return parsedJsonObjectOk(v, 0) ? (v as JsonObject) : undefined;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * What jsonProblem (format.ts) asks of data, for a value JSON.parse made (so no functions, cycles, NaN or
 * class instances can be in it): a plain object, nested at most 64 deep, no key that touches prototypes.
 * Without jsonProblem's path of every key, which cost a string per key of 100,000 records.
 */
function parsedJsonObjectOk(v: unknown, depth: number): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype && parsedOk(v, depth);
}

function parsedOk(v: unknown, depth: number): boolean {
  if (depth > 64) return false;
  if (typeof v === 'number') return Number.isFinite(v); // 1e999 parses as Infinity
  if (typeof v !== 'object' || v === null) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (!parsedOk(x, depth + 1)) return false;
    return true;
  }
  for (const k in v) if (FORBIDDEN_KEYS.has(k) || !parsedOk((v as Record<string, unknown>)[k], depth + 1)) return false;
  return !Object.prototype.hasOwnProperty.call(v, '__proto__');
}
