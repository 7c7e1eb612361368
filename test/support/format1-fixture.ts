// The format-1 fixture (test/fixtures/format1/, issue #16): where it lies, how a copy of it is made,
// and what a replica "holds" as the public API reads it. Used by the script that writes the fixture
// (scripts/make-format1-fixture.ts) and by its spec; no jest globals here (the script imports it).
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JsonObject } from '../../src/host-api';
import type { PracticeReplica } from '../../src/services/store/practice-replica';
import { walk } from './files';

export const FIXTURE_DIR = path.resolve(__dirname, '..', 'fixtures', 'format1');
export const PCS = ['pc-a', 'pc-b', 'pc-c'] as const;
export type Pc = (typeof PCS)[number];
/** The collections the fixture's records are in. */
export const COLLECTIONS = ['appointments', 'clients', 'notes'] as const;

/** A PC's app-data folder holds its local replica where the plugin keeps it (CloudStorageService.localReplicaRoot). */
export function replicaRoot(appData: string, storeId: string): string {
  return path.join(appData, 'cloud-storage', 'replicas', storeId);
}

export interface VersionView {
  version: string;
  data: JsonObject | null;
  updatedAt: string;
  updatedBy: string;
  conflict: boolean;
}
export interface RecordView {
  /** The version `get` shows; null when the record is removed (its shown head is a delete). */
  shown: VersionView | null;
  /** The conflict flag of the record (more than one head, with different data). */
  conflict: boolean;
  /** `history`: every version this replica holds, oldest first. */
  history: VersionView[];
}
export interface ReplicaView {
  /** `list` of each collection: the ids shown (removed records are not). */
  live: Record<string, string[]>;
  /** `conflicts$`' last list: "collection/id" and the competing versions. */
  conflicts: { record: string; versions: string[] }[];
  /** Per "collection/id" this replica knows (of `keys`, plus every live one). */
  records: Record<string, RecordView>;
}

const versionView = (r: { version: string; data: JsonObject | null; updatedAt: string; updatedBy: string; conflict: boolean }): VersionView => ({
  version: r.version,
  data: r.data,
  updatedAt: r.updatedAt,
  updatedBy: r.updatedBy,
  conflict: r.conflict,
});

/**
 * What a replica holds, read through its public reading API only (list, get, history, conflicts$).
 * `keys` ("collection/id"): records to look up besides the live ones (removed records are in no list).
 */
export async function readView(replica: PracticeReplica, keys: readonly string[]): Promise<ReplicaView> {
  const live: Record<string, string[]> = {};
  const all = new Set(keys);
  for (const col of COLLECTIONS) {
    live[col] = (await replica.list(col)).map((r) => r.id);
    for (const id of live[col]!) all.add(`${col}/${id}`);
  }
  const records: Record<string, RecordView> = {};
  for (const key of [...all].sort()) {
    const [col, id] = key.split('/') as [string, string];
    const history = await replica.history(col, id);
    if (history.length === 0) continue; // this replica has never heard of it
    const shown = await replica.get(col, id);
    const conflict = shown?.conflict ?? history.some((h) => h.conflict);
    records[key] = { shown: shown ? versionView(shown) : null, conflict, history: history.map(versionView) };
  }
  const conflicts = replica.conflictList.map((c) => ({ record: `${c.collection}/${c.id}`, versions: c.versions.map((v) => v.version) })).sort((a, b) => (a.record < b.record ? -1 : 1));
  return { live, conflicts, records };
}

/**
 * Every file of the fixture's store parts (shared/, pc-*) with its SHA-256, as `sha256sum` writes it
 * (two spaces, paths relative to `root` with "/", sorted): `sha256sum -c MANIFEST.sha256` in the folder checks it.
 */
export function manifestOf(root: string): string {
  return ['shared', ...PCS]
    .flatMap((part) => walk(path.join(root, part)).map((f) => path.join(part, f)))
    .map((f) => `${crypto.createHash('sha256').update(fs.readFileSync(path.join(root, f))).digest('hex')}  ${f.split(path.sep).join('/')}`)
    .join('\n')
    .concat('\n');
}

/** Every folder below `root` that holds nothing (git keeps none: the copy makes them again). */
export function emptyDirs(root: string, rel = ''): string[] {
  const names = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  if (names.length === 0 && rel) return [rel.split(path.sep).join('/')];
  return names.filter((n) => n.isDirectory()).flatMap((n) => emptyDirs(root, path.join(rel, n.name)));
}

/** The fixture's store files (shared/, pc-*) copied into `to`, with the empty folders git does not keep. */
export function copyFixture(to: string, from = FIXTURE_DIR, empty: readonly string[] = []): void {
  for (const part of ['shared', ...PCS]) fs.cpSync(path.join(from, part), path.join(to, part), { recursive: true });
  for (const d of empty) fs.mkdirSync(path.join(to, d), { recursive: true });
}
