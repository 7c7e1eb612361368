// Live exchange: another device's change arrives by itself, by file-system events or by polling.
import type { RecordChange } from '../../../src/host-api';
import { SharedFolderExchange } from '../../../src/services/store/shared-folder-exchange';
import { newSharedStore, openDevice } from '../../support/store-fixture';
import { waitFor } from '../../support/temp';

describe('live exchange', () => {
  test.each([
    ['file-system events', true],
    ['polling only', false],
  ] as const)("another device's change reaches changes$ by itself (%s)", async (_how, watch) => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC1', { start: true });
    const b = await openDevice(store, 'PC2');
    await b.exchange.stop();
    const ex = new SharedFolderExchange(b.replica, { sharedRoot: store.shared, deviceName: 'PC2', userName: 't', pollMs: watch ? 60000 : 300, heartbeatMs: 500, watch });
    ex.start();
    const seen: RecordChange[] = [];
    b.replica.changes$.subscribe((c) => seen.push(c));
    await a.replica.put('clients', 'live', { n: 1 });
    await waitFor(() => seen.some((c) => c.origin === 'remote' && c.record.id === 'live'), 10000, 'remote change');
    await a.store.close();
    await ex.stop(); // the test's own carrier: its owner ends it
    await b.store.close();
  });
});
