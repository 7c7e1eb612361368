// The shared folder vanishing between two writes: work goes on locally and is pushed on its return.
import * as fs from 'node:fs';
import { newSharedStore, openDevice } from '../../support/store-fixture';

describe('faults while writing', () => {
  test('the shared folder vanishing between two writes: work goes on, nothing lost, pushed on return', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'k1', { n: 1 });
    expect((await d.store.flush({ timeoutMs: 3000 })).pending).toBe(0);
    fs.renameSync(store.shared, store.shared + '-away');
    await d.replica.put('clients', 'k2', { n: 2 });
    expect((await d.store.flush({ timeoutMs: 500 })).pending).toBe(1);
    expect(d.exchange.syncStatus.state).toBe('offline');
    expect(fs.existsSync(store.shared)).toBe(false); // a write never recreates a vanished shared folder
    fs.renameSync(store.shared + '-away', store.shared);
    expect((await d.store.flush({ timeoutMs: 3000 })).pending).toBe(0);
    const fresh = await openDevice(store, 'PC2');
    await fresh.exchange.exchange();
    expect((await fresh.replica.list('clients')).map((r) => r.data)).toEqual([{ n: 1 }, { n: 2 }]);
    await d.store.close();
    await fresh.store.close();
  });
});
