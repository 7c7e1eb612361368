// Which log file a replica applied at each position of one device's chain: seq → hash. After years a
// device has hundreds of thousands of positions (issue #16: a decade is ~250,000 per PC), so the hashes
// lie in one array of 32 bytes each, by position, not as a map of strings (a Map entry and a 64-character
// string took ~130 bytes a position). Positions far beyond the others (a planted name with a huge number)
// and a hash that is not 64 hex characters go to a small map beside it, so no input makes the array large.

const HASH_BYTES = 32;
const HEX64 = /^[0-9a-f]{64}$/;
/** The array grows to hold a position at most this far past its end; beyond, the position goes to the map. */
const MAX_JUMP = 1 << 16;

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
    const n = Math.max(seq, Math.min(this.present.length * 2, this.present.length + (1 << 20)), 64);
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
