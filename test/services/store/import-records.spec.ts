// importRecords: the host's existing data brought into the store.
import type { ImportRecord } from '../../../src/host-api';
import { newSharedStore, openDevice } from '../../support/store-fixture';

describe('importRecords', () => {
  test('verified, idempotent, and stops at a bad record keeping what came before', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    const recs = Array.from({ length: 2500 }, (_, i) => ({ collection: 'clients', id: `k${i}`, data: { name: `K ${i}` } }));
    expect(await d.replica.importRecords(recs)).toEqual({ imported: 2500, skipped: 0, verified: true });
    expect(await d.replica.importRecords(recs)).toEqual({ imported: 0, skipped: 2500, verified: true });
    async function* withBad(): AsyncGenerator<ImportRecord> {
      yield { collection: 'clients', id: 'new1', data: { a: 1 } };
      yield { collection: 'clients', id: 'bad id!', data: {} };
    }
    await expect(d.replica.importRecords(withBad())).rejects.toMatchObject({ code: 'invalid-input' });
    expect(await d.replica.get('clients', 'new1')).toBeDefined();
    expect(await d.replica.list('clients')).toHaveLength(2501);
    await d.store.close();
  });
});
