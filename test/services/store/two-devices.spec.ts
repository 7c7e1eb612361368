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

  test('a put from the host on a record in conflict, made after reading it, replaces all versions: the conflict is resolved on both', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'Praxis-PC 1');
    const b = await openDevice(store, 'Praxis-PC 2');
    await a.replica.put('clients', 'c1', { name: 'Anna', phone: '1' });
    await syncAll([a, b]);
    await a.replica.put('clients', 'c1', { name: 'Anna Beispiel', phone: '1' });
    await b.replica.put('clients', 'c1', { name: 'Anna', phone: '2' });
    await syncAll([a, b]);
    const read = await a.replica.get('clients', 'c1');
    expect(read!.conflict).toBe(true);
    // The person edits the client to hold both changes, as the host shows it (with and without baseVersion).
    await a.replica.put('clients', 'c1', { name: 'Anna Beispiel', phone: '2' }, { baseVersion: read!.version });
    expect((await a.replica.get('clients', 'c1'))!.conflict).toBe(false);
    await syncAll([a, b]);
    for (const d of [a, b]) {
      const r = await d.replica.get('clients', 'c1');
      expect(r).toMatchObject({ conflict: false, data: { name: 'Anna Beispiel', phone: '2' } });
      let open: unknown;
      d.replica.conflicts$.subscribe((c) => (open = c)).unsubscribe();
      expect(open).toEqual([]);
    }
    // without baseVersion, too
    await a.replica.put('clients', 'c2', { n: 0 });
    await syncAll([a, b]);
    await a.replica.put('clients', 'c2', { n: 1 });
    await b.replica.put('clients', 'c2', { n: 2 });
    await syncAll([a, b]);
    expect((await b.replica.get('clients', 'c2'))!.conflict).toBe(true);
    await b.replica.put('clients', 'c2', { n: 3 });
    await syncAll([a, b]);
    expect(await a.replica.get('clients', 'c2')).toMatchObject({ conflict: false, data: { n: 3 } });
    expect((await a.replica.history('clients', 'c2')).map((h) => h.data!.n).sort()).toEqual([0, 1, 2, 3]); // nothing lost
    await a.store.close();
    await b.store.close();
  });
});
