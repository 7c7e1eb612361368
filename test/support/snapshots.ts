// A local snapshot's records as tests take them apart to write a changed one: every head's data as the
// bytes a snapshot of version 4 holds (or the object an earlier version holds), ready for writeSnapshot.
import type { SnapshotRecord } from '../../src/services/store/format';
import type { SegmentFile } from '../../src/services/store/replica-folder';
import { ReplicaFolder } from '../../src/services/store/replica-folder';
import type { SnapshotHeadData, SnapshotRecordV2 } from '../../src/services/store/snapshot-format';

export async function snapshotRecords(folder: ReplicaFolder, f: SegmentFile) {
  const opened = folder.openSnapshot(f, await folder.readSnapshotBytes(f));
  const records: SnapshotRecordV2<SnapshotHeadData>[] = [];
  const v1: SnapshotRecord[] = [];
  for (const batch of opened.batches()) {
    if (Array.isArray(batch)) {
      if (opened.header.v === 1) v1.push(...(batch as SnapshotRecord[]));
      else records.push(...(batch as SnapshotRecordV2[]));
      continue;
    }
    const bytes = batch.data.bytes();
    if (!bytes) throw new Error('the data of a batch do not unpack');
    let at = 0;
    for (const [col, id, heads, ...rest] of batch.records) records.push([col, id, heads.map(([v, t, by, place, len]) => [v, t, by, place, len === null ? null : Buffer.from(bytes.subarray(at, (at += len)))]), ...rest]);
  }
  return { header: opened.header, records, v1 };
}
