// Record-level merge (invariant 3, docs/STORE-FORMAT.md): a version DAG per record. The state depends only on
// the set of changes applied, never on their order, so every device converges (invariant 4).
//
// What is kept in memory (docs/ARCHITECTURE.md, "What is in memory"): a version is a head when no version
// known here names it as a parent, and the merge needs no more than the heads, the ids of the other
// versions (to know a change it has seen) and the parents named that have not arrived yet (so a late
// ancestor never becomes a head). The heads keep their data and metadata; an older version is only its
// id and the position of the log file that holds it — its time, author, parents and body are read from
// there for history(). A version's parents matter only the moment it arrives, and are not kept.
import { isDeepStrictEqual } from 'node:util';
import type { JsonObject, StoredRecord } from '../../host-api';
import type { Change } from './format';
import { PlaceCounts } from './device-log';
import { parseSnapshotData, type DataBlock } from './snapshot-format';

/** Where a body lies before sealing. */
export const JOURNAL = 'journal';

/** A current head: its data and metadata. */
export interface Head {
  readonly ver: string;
  readonly at: string;
  readonly by: string;
  /** Where the body is kept: "<deviceId>:<seq>" for a sealed log file, "journal" before sealing. */
  where: string;
  readonly data: JsonObject | null;
}

/** What a head whose bytes turn out bad does: notes it (once), and the error a host's read gets. */
export interface DataDamage {
  note(h: BytesHead): void;
  error(h: BytesHead): Error;
}

/**
 * A head whose data are still the bytes a snapshot of version 4 holds them as (snapshot-format.ts): parsed
 * and checked the first time they are read, then kept as the object (and the bytes let go). A warm open
 * builds no object of a record's data and keeps its batch sealed: most of an open's time and memory were
 * the 100,000 records' data decrypted, unpacked and parsed into objects, most of which nobody reads that
 * day (docs/FORMAT-2.md, "Lean memory"). Bytes that turn out bad are noted; a host's read or write first
 * takes them from the version's log file (`repair`, PracticeReplica.readable), and `data` throws only when
 * that failed too; the store's own paths use `dataOf`, which does not throw.
 */
export class BytesHead implements Head {
  protected parsed?: JsonObject;
  protected failed = false;
  constructor(
    readonly ver: string,
    readonly at: string,
    readonly by: string,
    public where: string,
    /** The batch's data the head's lie in, from `from` to `to`; undefined once parsed. */
    protected src: DataBlock | undefined,
    protected readonly from: number,
    protected readonly to: number,
    protected readonly damage: DataDamage,
  ) {}

  /** The data; undefined when the bytes do not authenticate, unpack or parse into a record's data (noted once). */
  tryData(): JsonObject | undefined {
    if (this.parsed === undefined && !this.failed) {
      const text = this.src!.bytes()?.toString('utf8', this.from, this.to);
      this.parsed = text === undefined ? undefined : parseSnapshotData(text);
      this.src = undefined;
      if (this.parsed === undefined) {
        this.failed = true;
        this.damage.note(this);
      }
    }
    return this.parsed;
  }

  get data(): JsonObject {
    const d = this.tryData();
    if (d === undefined) throw this.damage.error(this);
    return d;
  }

  /** The data as the version's log file holds them, for bytes that turned out bad (what a host reads from then on). */
  repair(data: JsonObject): void {
    this.parsed = data;
    this.src = undefined;
  }

  /** The data's JSON bytes while they were not read (a snapshot is written from them as they are); undefined after, or when they do not unpack. */
  bytes(): Buffer | undefined {
    return this.src?.bytes()?.subarray(this.from, this.to);
  }
}

/** A head's data without throwing: undefined when a snapshot's bytes for them turned out bad. */
export function dataOf(h: Head): JsonObject | null | undefined {
  return h instanceof BytesHead ? h.tryData() : h.data;
}

/** Whether a head holds data (is no removal), without parsing a snapshot's bytes. */
export function hasData(h: Head): boolean {
  return h instanceof BytesHead || h.data !== null;
}

/** The device part of a version id (`<wall>.<count>.<device>`: 9 + 1 + 4 + 1 characters before it). */
function deviceOf(ver: string): string {
  return ver.slice(ver.lastIndexOf('.') + 1);
}

/** How an older version's place is written: the seq alone when the log file is its own device's (always, today). */
function placeOf(ver: string, where: string): string {
  const colon = where.indexOf(':');
  return where.slice(0, colon) === deviceOf(ver) ? where.slice(colon + 1) : where;
}

/** The inverse of placeOf. */
export function whereOfPlace(ver: string, place: string): string {
  return place.includes(':') ? place : `${deviceOf(ver)}:${place}`;
}

/** Up to this many older versions a record keeps them in one string; above, in a Map (no quadratic appends and scans). */
const OLD_IN_TEXT = 64;

export class RecordEntry {
  /**
   * The current heads, with their data; the versions they replaced are on disk (read for history()). A
   * record has one head but while versions compete: that one is a field, any further ones in a Map.
   */
  protected first?: Head;
  protected more?: Map<string, Head>;
  /**
   * The older sealed versions: "<ver> <place>" joined by "," (the snapshot's `old`, loaded as it is), or a
   * Map ver → place once there are more than OLD_IN_TEXT. A version id is 47 characters of [0-9a-z.] and a
   * place has no ".", so `indexOf("<ver> ")` finds a version exactly.
   */
  protected old: string | Map<string, string> = '';
  protected oldCount = 0;
  /** Older versions whose body is still in the journal (the last moments' edits, until sealed): kept whole. */
  protected unsealed?: Map<string, Head>;
  /** Parents named by a version here that have not arrived yet: superseded the moment they do. */
  protected orphanParents?: Set<string>;

  constructor(
    readonly col: string,
    readonly id: string,
  ) {}

  get headCount(): number {
    return this.first ? 1 + (this.more?.size ?? 0) : 0;
  }

  /** The head of this version; undefined when it is none. */
  head(ver: string): Head | undefined {
    return this.first?.ver === ver ? this.first : this.more?.get(ver);
  }

  /** The current heads (in no particular order). */
  heads(): Head[] {
    if (!this.first) return [];
    return this.more ? [this.first, ...this.more.values()] : [this.first];
  }

  /** The current heads' versions, sorted. */
  headVersions(): string[] {
    return this.heads()
      .map((h) => h.ver)
      .sort();
  }

  protected setHead(h: Head): void {
    if (!this.first) this.first = h;
    else (this.more ??= new Map()).set(h.ver, h);
  }

  protected dropHead(ver: string): Head | undefined {
    let h: Head | undefined;
    if (this.first?.ver === ver) {
      h = this.first;
      this.first = undefined;
      if (this.more) {
        this.first = this.more.values().next().value!;
        this.more.delete(this.first.ver);
      }
    } else {
      h = this.more?.get(ver);
      if (h) this.more!.delete(ver);
    }
    if (this.more?.size === 0) this.more = undefined;
    return h;
  }

  /** Whether this version is known here (a head or an older one). */
  has(ver: string): boolean {
    if (this.head(ver) || this.unsealed?.has(ver)) return true;
    return typeof this.old === 'string' ? this.old.indexOf(`${ver} `) >= 0 : this.old.has(ver);
  }

  /** Adds a version not known yet and marks what it supersedes; true when it is a head. */
  add(head: Head, parents: readonly string[]): boolean {
    const ver = head.ver;
    let superseded = false;
    if (this.orphanParents?.delete(ver)) {
      superseded = true;
      if (this.orphanParents.size === 0) this.orphanParents = undefined;
    }
    for (const p of parents) {
      if (p === ver) {
        superseded = true; // names itself: never a head (as the full DAG had it)
        continue;
      }
      const h = this.dropHead(p);
      if (h) this.retire(h);
      else if (!this.has(p)) (this.orphanParents ??= new Set()).add(p);
    }
    if (superseded) this.retire(head);
    else this.setHead(head);
    return !superseded;
  }

  /** A version that is no head (any more): its id and place stay, its data and metadata go (they are on disk). */
  protected retire(h: Head): void {
    if (h.where === JOURNAL) (this.unsealed ??= new Map()).set(h.ver, h);
    else this.pushOld(h.ver, placeOf(h.ver, h.where));
  }

  protected pushOld(ver: string, place: string): void {
    if (typeof this.old === 'string') {
      if (this.oldCount < OLD_IN_TEXT) {
        this.old = this.old === '' ? `${ver} ${place}` : `${this.old},${ver} ${place}`;
        this.oldCount++;
        return;
      }
      this.old = new Map(parseOld(this.old));
    }
    this.old.set(ver, place);
    this.oldCount++;
  }

  /** Where a version's body lies, for a head or a version still in the journal; undefined for an older sealed one. */
  bodyWhere(ver: string): string | undefined {
    return (this.head(ver) ?? this.unsealed?.get(ver))?.where;
  }

  /** A version's body was sealed from the journal into a log file. */
  sealed(ver: string, where: string): void {
    const h = this.head(ver);
    if (h) {
      h.where = where;
      return;
    }
    const u = this.unsealed?.get(ver);
    if (!u) return;
    this.unsealed!.delete(ver);
    if (this.unsealed!.size === 0) this.unsealed = undefined;
    this.pushOld(ver, placeOf(ver, where));
  }

  /** Every version that is no head: sealed ones with the place of their log file, the journal's whole. */
  *older(): Generator<{ ver: string; where: string; kept?: Head }> {
    for (const [ver, place] of typeof this.old === 'string' ? parseOld(this.old) : this.old) yield { ver, where: whereOfPlace(ver, place) };
    for (const [ver, h] of this.unsealed ?? []) yield { ver, where: h.where, kept: h };
  }

  /** The older sealed versions as the snapshot keeps them, and the parents not arrived yet. */
  forSnapshot(): { old: string; orphans?: string[] } {
    const old = typeof this.old === 'string' ? this.old : [...this.old].map(([v, p]) => `${v} ${p}`).join(',');
    return this.orphanParents ? { old, orphans: [...this.orphanParents] } : { old };
  }

  /** How many older versions (sealed or not) this record has. */
  get olderCount(): number {
    return this.oldCount + (this.unsealed?.size ?? 0);
  }

  /** Whether versions lie in the journal that are no heads (a snapshot is taken without any). */
  get hasUnsealed(): boolean {
    return this.unsealed !== undefined;
  }

  /** A record as a snapshot of version 2 holds it (its `old` checked by the snapshot's reader). */
  static restore(col: string, id: string, heads: readonly Head[], old: string, orphans: readonly string[] | undefined): RecordEntry {
    const e = new RecordEntry(col, id);
    for (const h of heads) e.setHead(h);
    if (old !== '') {
      let n = 1;
      for (let i = old.indexOf(','); i >= 0; i = old.indexOf(',', i + 1)) n++;
      if (n <= OLD_IN_TEXT) e.old = old;
      else e.old = new Map(parseOld(old));
      e.oldCount = n;
    }
    if (orphans?.length) e.orphanParents = new Set(orphans);
    return e;
  }

  /** The version shown on every device: the greatest head by version id (HLC order). */
  shownVersion(): string | undefined {
    if (!this.more) return this.first?.ver;
    let best = this.first!.ver;
    for (const v of this.more.keys()) if (v > best) best = v;
    return best;
  }

  /** The data of the current heads (undefined: a snapshot's bytes for them turned out bad). */
  headData(): (JsonObject | null | undefined)[] {
    return this.heads().map(dataOf);
  }

  /**
   * Concurrent heads with different contents; identical concurrent edits are not a conflict. Heads whose
   * data cannot be read (a damaged snapshot's, not yet taken from their log file) are not told apart: no
   * conflict is shown that cannot be shown; a host's read of the record makes them readable first.
   */
  inConflict(): boolean {
    if (!this.more) return false;
    const first = dataOf(this.first!);
    if (first === undefined) return false;
    for (const h of this.more.values()) {
      const d = dataOf(h);
      if (d !== undefined && !isDeepStrictEqual(d, first)) return true;
    }
    return false;
  }

  isLive(): boolean {
    const v = this.shownVersion();
    return v !== undefined && (hasData(this.head(v)!) || this.inConflict());
  }

  /**
   * Reads every head's data as a host's read or write of the record needs them: throws 'corrupt' when a
   * snapshot's bytes for one turned out bad and its log file could not stand in (PracticeReplica.readable).
   * The lenient paths (inConflict, toStoredIfReadable) cannot tell such a head from the others: a host is
   * never shown the record, nor writes over it, without this.
   */
  assertReadable(): void {
    for (const h of this.heads()) if (h instanceof BytesHead) void h.data;
  }

  /** The heads whose data a snapshot's bytes could not give (each head's bytes are parsed here on the way). */
  unreadableHeads(): BytesHead[] {
    const out: BytesHead[] = [];
    for (const h of this.heads()) if (h instanceof BytesHead && h.tryData() === undefined) out.push(h);
    return out;
  }

  /** A version as a host reads it (after assertReadable); throws 'corrupt' when a snapshot's bytes for its data turned out bad. */
  toStored(ver = this.shownVersion()): StoredRecord | undefined {
    const h = ver === undefined ? undefined : this.head(ver);
    if (!h) return undefined;
    return { collection: this.col, id: this.id, version: ver!, data: h.data, updatedAt: h.at, updatedBy: h.by, conflict: this.inConflict() };
  }

  /** As toStored, for the store's own paths (changes$, conflicts$): undefined instead of throwing. */
  toStoredIfReadable(ver = this.shownVersion()): StoredRecord | undefined {
    const h = ver === undefined ? undefined : this.head(ver);
    const data = h && dataOf(h);
    if (!h || data === undefined) return undefined;
    return { collection: this.col, id: this.id, version: ver!, data, updatedAt: h.at, updatedBy: h.by, conflict: this.inConflict() };
  }
}

/** The entries of an `old` string: [ver, place]. */
function* parseOld(old: string): Generator<[string, string]> {
  if (old === '') return;
  for (let start = 0; start < old.length; ) {
    let end = old.indexOf(',', start);
    if (end < 0) end = old.length;
    const sp = old.indexOf(' ', start);
    yield [old.slice(start, sp), old.slice(sp + 1, end)];
    start = end + 1;
  }
}

export class PracticeState {
  /** Per collection, per id (no key string per record). */
  protected readonly byCollection = new Map<string, Map<string, RecordEntry>>();
  /** Records with more than one head: the only ones that can be in conflict (conflicts() looks at these alone). */
  readonly multiHead = new Set<RecordEntry>();
  changeCount = 0;
  /** The greatest version counted (versions sort by their clock). */
  newest = '';
  /** How many versions each device wrote, and how many bodies lie in each place ("<device>:<seq>", "journal"). */
  readonly countByDevice = new Map<string, number>();
  readonly countByWhere = new PlaceCounts();
  /** One string per device name and place, however many versions name it. */
  protected readonly shared = new Map<string, string>();

  /** Back to empty (a snapshot found bad half-way leaves nothing behind). */
  clear(): void {
    this.byCollection.clear();
    this.multiHead.clear();
    this.countByDevice.clear();
    this.countByWhere.clear();
    this.changeCount = 0;
    this.newest = '';
  }

  intern(s: string): string {
    const known = this.shared.get(s);
    if (known !== undefined) return known;
    this.shared.set(s, s);
    return s;
  }

  /** Records one version in the counters (also used when a snapshot is loaded). */
  count(ver: string, where: string): void {
    const dev = deviceOf(ver);
    this.countByDevice.set(dev, (this.countByDevice.get(dev) ?? 0) + 1);
    this.countByWhere.add(where, 1);
    this.changeCount++;
    if (ver > this.newest) this.newest = ver;
  }

  /**
   * The counters as a snapshot kept them (per log file: [device, seq, count]); false (nothing set) when
   * they do not add up to the versions it holds.
   */
  restoreCounts(byDevice: Record<string, number>, byPlace: Iterable<[string, number, number]>, versions: number): boolean {
    let perDevice = 0;
    let perPlace = 0;
    for (const n of Object.values(byDevice)) perDevice += n;
    const places: [string, number, number][] = [];
    for (const p of byPlace) {
      perPlace += p[2];
      if (p[2] > 0) places.push(p);
    }
    if (perDevice !== versions || perPlace !== versions) return false;
    for (const [dev, n] of Object.entries(byDevice)) this.countByDevice.set(dev, n);
    for (const [dev, seq, n] of places) this.countByWhere.setAt(dev, seq, n);
    this.changeCount = versions;
    return true;
  }

  /** Adds a record (from a snapshot; its versions are counted by the caller); false when one of that key was there. */
  put(e: RecordEntry): boolean {
    let m = this.byCollection.get(e.col);
    if (!m) this.byCollection.set(e.col, (m = new Map()));
    const size = m.size;
    m.set(e.id, e);
    if (e.headCount > 1) this.multiHead.add(e); // (a Set lookup of every other record would give each an identity hash)
    return m.size > size;
  }

  /** Every record. */
  *records(): Generator<RecordEntry> {
    for (const m of this.byCollection.values()) yield* m.values();
  }

  /** The records of one collection. */
  collection(col: string): Iterable<RecordEntry> {
    return this.byCollection.get(col)?.values() ?? [];
  }

  /** Keeps `multiHead` up to date after a record's heads changed. */
  track(e: RecordEntry): void {
    if (e.headCount > 1) this.multiHead.add(e);
    else this.multiHead.delete(e);
  }

  /** A journal body was sealed into a log file. */
  move(e: RecordEntry, ver: string, where: string): void {
    const from = e.bodyWhere(ver);
    if (from !== JOURNAL) return;
    this.countByWhere.add(from, -1);
    this.countByWhere.add(where, 1);
    e.sealed(ver, where);
  }

  entry(col: string, id: string): RecordEntry | undefined {
    return this.byCollection.get(col)?.get(id);
  }

  /** Applies one change; false when it was known already (applying twice changes nothing). */
  apply(change: Change, where: string): boolean {
    let e = this.entry(change.col, change.id);
    if (!e) {
      e = new RecordEntry(change.col, change.id);
      this.put(e);
    }
    if (e.has(change.ver)) return false;
    const before = e.headCount;
    // `where` is not interned: one string a log file, after years a million kept in the table for good
    e.add({ ver: change.ver, at: change.at, by: this.intern(change.by), where, data: change.data }, change.parents);
    if (before > 1 || e.headCount > 1) this.track(e);
    this.count(change.ver, where);
    return true;
  }

  conflicts(): RecordEntry[] {
    const out: RecordEntry[] = [];
    for (const e of this.multiHead) if (e.inConflict()) out.push(e);
    out.sort((a, b) => (a.col === b.col ? (a.id < b.id ? -1 : 1) : a.col < b.col ? -1 : 1));
    return out;
  }
}
