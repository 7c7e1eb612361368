// A damaged snapshot: reported, its records read from the log files (at open, or for a batch of version
// 4's data when it is read), the snapshot removed; nothing lost.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { newSharedStore, openDevice } from '../../support/store-fixture';
import { walk } from '../../support/temp';

describe('snapshots', () => {
  test('a damaged snapshot is reported; the records come from the log files; nothing lost', async () => {
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
    // a full check reads the whole file: it names it
    expect((await again.verify()).problems.map((p) => p.path)).toEqual([snap]);
    // (the bit lies in the last batch's data, which an open of version 4 does not read: found when read,
    // those records read from their log files instead)
    const clients = await again.list('clients');
    expect(clients.map((c) => c.data)).toEqual(Array.from({ length: 1200 }, (_, i) => ({ i })).sort((x, y) => (`k${x.i}` < `k${y.i}` ? -1 : 1)));
    expect(again.badFiles.map((b) => b.path)).toContain(snap);
    await again.close();
    expect(fs.existsSync(path.join(d.localRoot, snap))).toBe(false);
    const third = await PracticeReplica.open({ localRoot: d.localRoot, header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' });
    expect(third.badFiles).toEqual([]);
    expect(await third.list('clients')).toEqual(clients);
    await third.close();
  });
});
