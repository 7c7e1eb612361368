// Which log file a replica applied at each position of one device's chain: seq → hash. After years a
// device has hundreds of thousands of positions (issue #16: a decade is ~250,000 per PC), so the hashes
// lie in one array of 32 bytes each, by position, not as a map of strings (a Map entry and a 64-character
// string took ~130 bytes a position). Positions far beyond the others (a planted name with a huge number)
// and a hash that is not 64 hex characters go to a small map beside it, so no input makes the array large.

const HASH_BYTES = 32;
const HEX64 = /^[0-9a-f]{64}$/;
/** The array grows to hold a position at most this far past its end; beyond, the position goes to the map. */
const MAX_JUMP = 1 << 16;

/** The length an array by position grows to so that it holds `seq`: doubling, at most by a million at a time. */
function grownLength(length: number, seq: number): number {
  return Math.max(seq, Math.min(length * 2, length + (1 << 20)), 64);
}

export class DeviceLog implements Iterable<[number, string]> {
  protected hashes = Buffer.alloc(0);
  /** 1 where a position is in the array. */
  protected present = new Uint8Array(0);
  protected readonly sparse = new Map<number, string>();
  protected count = 0;
  protected top = 0;

  get size(): number {
    return this.count;
  }

  /** The highest position held (0 for none). */
  get tip(): number {
    return this.top;
  }

  has(seq: number): boolean {
    return (seq >= 1 && seq <= this.present.length && this.present[seq - 1] === 1) || this.sparse.has(seq);
  }

  get(seq: number): string | undefined {
    if (seq >= 1 && seq <= this.present.length && this.present[seq - 1] === 1) return this.hashes.toString('hex', (seq - 1) * HASH_BYTES, seq * HASH_BYTES);
    return this.sparse.get(seq);
  }

  set(seq: number, hash: string): this {
    if (!this.has(seq)) this.count++;
    if (seq > this.top) this.top = seq;
    if (Number.isSafeInteger(seq) && seq >= 1 && HEX64.test(hash) && seq <= this.present.length + MAX_JUMP) {
      if (seq > this.present.length) this.grow(seq);
      this.sparse.delete(seq);
      this.present[seq - 1] = 1;
      this.hashes.write(hash, (seq - 1) * HASH_BYTES, HASH_BYTES, 'hex');
    } else {
      if (seq >= 1 && seq <= this.present.length) this.present[seq - 1] = 0;
      this.sparse.set(seq, hash);
    }
    return this;
  }

  protected grow(seq: number): void {
    const n = grownLength(this.present.length, seq);
    const hashes = Buffer.alloc(n * HASH_BYTES);
    this.hashes.copy(hashes);
    const present = new Uint8Array(n);
    present.set(this.present);
    this.hashes = hashes;
    this.present = present;
  }

  /** Positions, rising. */
  *keys(): IterableIterator<number> {
    for (const [seq] of this) yield seq;
  }

  /** [position, hash], rising. */
  *[Symbol.iterator](): IterableIterator<[number, string]> {
    const extra = [...this.sparse.keys()].sort((a, b) => a - b);
    let j = 0;
    for (let i = 0; i < this.present.length; i++) {
      if (this.present[i] !== 1) continue;
      while (j < extra.length && extra[j]! < i + 1) yield [extra[j]!, this.sparse.get(extra[j++]!)!];
      yield [i + 1, this.hashes.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES)];
    }
    while (j < extra.length) yield [extra[j]!, this.sparse.get(extra[j++]!)!];
  }
}

/** Where no log file holds a body yet (record-state.ts's JOURNAL). */
const JOURNAL_PLACE = 'journal';

/**
 * How many versions' bodies lie in each place: "<device>:<seq>" (a log file) or "journal". One counter
 * a log file, so after years a million; kept per device in an array by position (4 bytes each) rather
 * than a Map of "<device>:<seq>" strings (~100 bytes each). Positions far beyond the others go to a map.
 */
export class PlaceCounts {
  protected journal = 0;
  protected readonly devices = new Map<string, { counts: Uint32Array; sparse: Map<number, number> }>();

  clear(): void {
    this.journal = 0;
    this.devices.clear();
  }

  get(where: string): number {
    if (where === JOURNAL_PLACE) return this.journal;
    const at = where.lastIndexOf(':');
    return this.getAt(where.slice(0, at), Number(where.slice(at + 1)));
  }

  /** Adds `delta` (may be negative; a counter never goes below 0) to a place's counter. */
  add(where: string, delta: number): void {
    if (where === JOURNAL_PLACE) {
      this.journal = Math.max(0, this.journal + delta);
      return;
    }
    const at = where.lastIndexOf(':');
    const dev = where.slice(0, at);
    const seq = Number(where.slice(at + 1));
    this.setAt(dev, seq, Math.max(0, this.getAt(dev, seq) + delta));
  }

  /** Every place with a count above 0: [where, count] (the journal as "journal"). */
  *[Symbol.iterator](): IterableIterator<[string, number]> {
    if (this.journal > 0) yield [JOURNAL_PLACE, this.journal];
    for (const [dev, d] of this.devices) {
      for (let i = 0; i < d.counts.length; i++) if (d.counts[i]! > 0) yield [`${dev}:${i + 1}`, d.counts[i]!];
      for (const [seq, n] of d.sparse) if (n > 0) yield [`${dev}:${seq}`, n];
    }
  }

  packed(): PackedCounts {
    const out: PackedCounts = { byPosition: {}, byWhere: {} };
    for (const [dev, d] of this.devices) {
      let end = d.counts.length;
      while (end > 0 && d.counts[end - 1] === 0) end--;
      if (end > 0) {
        const buf = Buffer.alloc(end * 4);
        for (let i = 0; i < end; i++) buf.writeUInt32LE(d.counts[i]!, i * 4);
        out.byPosition[dev] = buf.toString('base64');
      }
      for (const [seq, n] of d.sparse) if (n > 0) out.byWhere[`${dev}:${seq}`] = n;
    }
    return out;
  }

  getAt(device: string, seq: number): number {
    const d = this.devices.get(device);
    if (!d) return 0;
    return seq >= 1 && seq <= d.counts.length ? d.counts[seq - 1]! + (d.sparse.get(seq) ?? 0) : (d.sparse.get(seq) ?? 0);
  }

  setAt(device: string, seq: number, n: number): void {
    let d = this.devices.get(device);
    if (!d) this.devices.set(device, (d = { counts: new Uint32Array(0), sparse: new Map() }));
    if (Number.isSafeInteger(seq) && seq >= 1 && seq <= d.counts.length + MAX_JUMP && n <= 0xffffffff) {
      if (seq > d.counts.length) {
        const grown = new Uint32Array(grownLength(d.counts.length, seq));
        grown.set(d.counts);
        d.counts = grown;
      }
      d.sparse.delete(seq);
      d.counts[seq - 1] = n;
    } else {
      if (seq >= 1 && seq <= d.counts.length) d.counts[seq - 1] = 0;
      if (n === 0) d.sparse.delete(seq);
      else d.sparse.set(seq, n);
    }
  }
}

export interface PackedCounts {
  /** Per device: base64 of one 32-bit little-endian count per position from 1 on (up to its last counted one). */
  byPosition: Record<string, string>;
  /** What lies beyond those (a planted position far past the others): "<device>:<seq>" → count. */
  byWhere: Record<string, number>;
}

/**
 * [device, seq, count] of every log file in a snapshot's counters (version 3); undefined when they are not
 * well formed, or add up to more than `versions` (the versions of the snapshot's records, which they must
 * add up to): so counters that lie never grow a list longer than the records (a header of hundreds of MB
 * of counts of 1 would otherwise be a list of tens of millions before the sum was checked).
 */
export function unpackCounts(p: { byPosition?: Record<string, string>; byWhere?: Record<string, number> }, versions = Number.MAX_SAFE_INTEGER): [string, number, number][] | undefined {
  const out: [string, number, number][] = [];
  let sum = 0;
  for (const [dev, b64] of Object.entries(p.byPosition ?? {})) {
    const buf = Buffer.from(b64, 'base64');
    if (buf.length % 4 !== 0 || buf.toString('base64') !== b64) return undefined;
    for (let i = 0; i < buf.length / 4; i++) {
      const n = buf.readUInt32LE(i * 4);
      if (n === 0) continue;
      if ((sum += n) > versions) return undefined;
      out.push([dev, i + 1, n]);
    }
  }
  for (const [where, n] of Object.entries(p.byWhere ?? {})) {
    if ((sum += n) > versions) return undefined;
    const at = where.lastIndexOf(':');
    out.push([where.slice(0, at), Number(where.slice(at + 1)), n]);
  }
  return out;
}
