import { newSharedStore, openDevice, syncAll } from '../../support/store-fixture';

describe('two devices on one shared folder', () => {
  test('different records merge, the same record conflicts identically on both, resolution converges', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'Praxis-PC 1');
    const b = await openDevice(store, 'Praxis-PC 2');
    await a.replica.put('clients', 'c1', { name: 'Anna' });
    await b.replica.put('clients', 'c2', { name: 'Ben' });
    await syncAll([a, b]);
    expect((await a.replica.list('clients')).map((r) => r.id)).toEqual(['c1', 'c2']);
    expect((await b.replica.list('clients')).map((r) => r.id)).toEqual(['c1', 'c2']);

    await a.replica.put('clients', 'c1', { name: 'Anna A' });
    await b.replica.put('clients', 'c1', { name: 'Anna B' });
    await syncAll([a, b]);
    const ra = await a.replica.get('clients', 'c1');
    const rb = await b.replica.get('clients', 'c1');
    expect(ra).toEqual(rb);
    expect(ra!.conflict).toBe(true);
    let conflictsA: unknown;
    a.replica.conflicts$.subscribe((c) => (conflictsA = c)).unsubscribe();
    expect(conflictsA).toHaveLength(1);

    await b.replica.resolveConflict('clients', 'c1', { name: 'Anna AB' });
    await syncAll([a, b]);
    expect((await a.replica.get('clients', 'c1'))!.data).toEqual({ name: 'Anna AB' });
    expect((await a.replica.get('clients', 'c1'))!.conflict).toBe(false);
    const hist = await a.replica.history('clients', 'c1');
    const names = hist.map((h) => h.data!.name);
    expect([names[0], [names[1], names[2]].sort(), names[3]]).toEqual(['Anna', ['Anna A', 'Anna B'], 'Anna AB']);
    expect(await b.replica.history('clients', 'c1')).toEqual(hist);
    await a.store.close();
    await b.store.close();
  });
});
