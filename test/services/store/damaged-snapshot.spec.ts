// A damaged snapshot: reported and skipped, the state rebuilt from the log files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { newSharedStore, openDevice } from '../../support/store-fixture';
import { walk } from '../../support/temp';

describe('snapshots', () => {
  test('a damaged snapshot is reported and skipped; the state comes from the log files, nothing lost', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.importRecords(Array.from({ length: 1200 }, (_, i) => ({ collection: 'clients', id: `k${i}`, data: { i } })));
    await d.replica.writeSnapshot();
    await d.store.close();
    const snap = walk(d.localRoot).find((f) => f.startsWith('snapshots'))!;
    const bytes = fs.readFileSync(path.join(d.localRoot, snap));
    bytes[bytes.length - 20]! ^= 0x40;
    fs.writeFileSync(path.join(d.localRoot, snap), bytes); // a flipped bit (name no longer matches, tag fails)
    const again = await PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' });
    expect(again.badFiles.map((b) => b.path)).toContain(snap);
    expect(await again.list('clients')).toHaveLength(1200);
    expect((await again.verify()).problems.map((p) => p.path)).toEqual([snap]);
    await again.close();
  });
});
