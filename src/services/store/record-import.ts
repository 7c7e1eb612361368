// Importing the host's existing data (HOST-API §5 importRecords): idempotent, stopped with a clear
// error at the first invalid record, and "verified" only when every written change was read back
// from disk, authenticated, and found equal to what was asked.
import * as crypto from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ImportRecord, ImportReport, JsonObject, StoredRecord } from '../../host-api';
import type { Change, Segment } from './format';
import { importProblem, invalid } from './record-input';
import type { SegmentFile } from './replica-folder';

/** What an import needs of the replica it writes into. */
export interface ImportTarget {
  /** The version shown now, if the record exists. */
  shown(collection: string, id: string): StoredRecord | undefined | Promise<StoredRecord | undefined>;
  /** A new change by this device (version, time, device name filled in). */
  change(c: Omit<Change, 'ver' | 'at' | 'by'>): Change;
  /** Writes the changes as this device's next log file and applies it. */
  writeLogFile(changes: Change[]): Promise<SegmentFile>;
  /** Reads a written log file back from disk. */
  readBack(f: SegmentFile): Promise<Segment>;
}

const BATCH = 1000;

export function recordDigest(col: string, id: string, data: JsonObject | null): string {
  return crypto.createHash('sha256').update(JSON.stringify([col, id, canonical(data)])).digest('hex');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

export async function importInto(target: ImportTarget, records: Iterable<ImportRecord> | AsyncIterable<ImportRecord>): Promise<ImportReport> {
  let imported = 0;
  let skipped = 0;
  let index = 0;
  const expected = new Map<string, string>(); // written version → digest of what was asked
  const written: SegmentFile[] = [];
  let batch: Change[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    written.push(await target.writeLogFile(batch));
    batch = [];
  };
  const seen = new Set<string>();
  for await (const r of records as AsyncIterable<ImportRecord>) {
    index++;
    const problem = importProblem(r);
    if (problem) {
      await flush();
      throw invalid(
        `Import angehalten bei Datensatz Nr. ${index}: ${problem.de}. Die ${imported} Datensätze davor sind gespeichert; ein erneuter Import überspringt sie.`,
        `Import stopped at record no. ${index}: ${problem.en}. The ${imported} records before it are saved; importing again skips them.`,
      );
    }
    const key = `${r.collection}\u0000${r.id}`;
    const shown = await target.shown(r.collection, r.id);
    if (seen.has(key) || (shown && isDeepStrictEqual(shown.data, r.data))) {
      skipped++;
      continue;
    }
    seen.add(key);
    const data = JSON.parse(JSON.stringify(r.data)) as JsonObject;
    const change = target.change({ col: r.collection, id: r.id, parents: shown ? [shown.version] : [], op: 'import', data });
    expected.set(change.ver, recordDigest(r.collection, r.id, data));
    batch.push(change);
    imported++;
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  let readBack = 0;
  for (const f of written) for (const c of (await target.readBack(f)).changes) if (expected.get(c.ver) === recordDigest(c.col, c.id, c.data)) readBack++;
  return { imported, skipped, verified: readBack === imported && expected.size === imported };
}
