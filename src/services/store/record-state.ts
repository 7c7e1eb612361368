// Record-level merge (invariant 3, docs/STORE-FORMAT.md): a version DAG per record. The state depends only on
// the set of changes applied, never on their order, so every device converges (invariant 4).
import { isDeepStrictEqual } from 'node:util';
import type { JsonObject, StoredRecord } from '../../host-api';
import type { Change } from './format';

export interface VersionMeta {
  readonly ver: string;
  readonly parents: string[];
  readonly at: string;
  readonly by: string;
  readonly deleted: boolean;
  /** Some other version names this one as its parent: never a head. */
  superseded: boolean;
  /** Where the body is kept: "<deviceId>:<seq>" for a sealed segment, "journal" before sealing. */
  where: string;
}

export class RecordEntry {
  readonly versions = new Map<string, VersionMeta>();
  /** Parents named by a version here that have not arrived yet: superseded the moment they do. */
  protected orphanParents?: Set<string>;
  /** Data of the current heads only; older bodies stay on disk and are read for history(). */
  readonly heads = new Map<string, JsonObject | null>();

  constructor(
    readonly col: string,
    readonly id: string,
  ) {}

  /** Adds a version and marks what it supersedes; true when it is (still) a head. */
  addVersion(meta: VersionMeta): boolean {
    if (this.orphanParents?.delete(meta.ver)) meta.superseded = true;
    this.versions.set(meta.ver, meta);
    for (let i = 0; i < meta.parents.length; i++) {
      const p = meta.parents[i]!;
      const parent = this.versions.get(p);
      if (parent) {
        parent.superseded = true;
        meta.parents[i] = parent.ver; // one string per version id in memory, not one per mention
      } else (this.orphanParents ??= new Set()).add(p);
      this.heads.delete(p);
    }
    return !meta.superseded;
  }

  /** The version shown on every device: the greatest head by version id (HLC order). */
  shownVersion(): string | undefined {
    let best: string | undefined;
    for (const v of this.heads.keys()) if (best === undefined || v > best) best = v;
    return best;
  }

  /** Concurrent heads with different contents; identical concurrent edits are not a conflict. */
  inConflict(): boolean {
    if (this.heads.size < 2) return false;
    const [first, ...rest] = [...this.heads.values()];
    return rest.some((d) => !isDeepStrictEqual(d, first));
  }

  isLive(): boolean {
    const v = this.shownVersion();
    return v !== undefined && (this.heads.get(v) !== null || this.inConflict());
  }

  toStored(ver = this.shownVersion()): StoredRecord | undefined {
    if (ver === undefined) return undefined;
    const meta = this.versions.get(ver);
    if (!meta || !this.heads.has(ver)) return undefined;
    return {
      collection: this.col,
      id: this.id,
      version: ver,
      data: this.heads.get(ver) ?? null,
      updatedAt: meta.at,
      updatedBy: meta.by,
      conflict: this.inConflict(),
    };
  }
}

export function recordKey(col: string, id: string): string {
  return `${col}\u0000${id}`;
}

export class PracticeState {
  readonly records = new Map<string, RecordEntry>();
  changeCount = 0;
  /** How many versions each device wrote, and how many bodies lie in each place ("<device>:<seq>", "journal"). */
  readonly countByDevice = new Map<string, number>();
  readonly countByWhere = new Map<string, number>();

  /** Back to empty (a snapshot found bad half-way leaves nothing behind). */
  clear(): void {
    this.records.clear();
    this.countByDevice.clear();
    this.countByWhere.clear();
    this.changeCount = 0;
  }

  /** Records one version in the counters (also used when a snapshot is loaded). */
  count(ver: string, where: string): void {
    const dev = ver.slice(ver.lastIndexOf('.') + 1);
    this.countByDevice.set(dev, (this.countByDevice.get(dev) ?? 0) + 1);
    this.countByWhere.set(where, (this.countByWhere.get(where) ?? 0) + 1);
    this.changeCount++;
  }

  /** A journal body was sealed into a segment. */
  move(meta: VersionMeta, where: string): void {
    if (meta.where === where) return;
    this.countByWhere.set(meta.where, (this.countByWhere.get(meta.where) ?? 1) - 1);
    this.countByWhere.set(where, (this.countByWhere.get(where) ?? 0) + 1);
    meta.where = where;
  }

  entry(col: string, id: string): RecordEntry | undefined {
    return this.records.get(recordKey(col, id));
  }

  /** Applies one change; false when it was known already (applying twice changes nothing). */
  apply(change: Change, where: string): boolean {
    const key = recordKey(change.col, change.id);
    let e = this.records.get(key);
    if (!e) {
      e = new RecordEntry(change.col, change.id);
      this.records.set(key, e);
    }
    if (e.versions.has(change.ver)) return false;
    if (e.addVersion({ ver: change.ver, parents: change.parents, at: change.at, by: change.by, deleted: change.data === null, where, superseded: false }))
      e.heads.set(change.ver, change.data);
    this.count(change.ver, where);
    return true;
  }

  conflicts(): RecordEntry[] {
    const out: RecordEntry[] = [];
    for (const e of this.records.values()) if (e.inConflict()) out.push(e);
    out.sort((a, b) => (a.col === b.col ? (a.id < b.id ? -1 : 1) : a.col < b.col ? -1 : 1));
    return out;
  }
}
