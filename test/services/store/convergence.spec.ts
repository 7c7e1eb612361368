// Convergence whatever the order of work and exchange (invariants 1, 3, 4 in docs/STORE-FORMAT.md), as a property.
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { Paths } from '../../../src/services/store/format';
import { newSharedStore, openDevice, syncAll, type Device } from '../../support/store-fixture';

type Op =
  | { kind: 'put'; dev: number; id: number; value: number }
  | { kind: 'remove'; dev: number; id: number }
  | { kind: 'resolve'; dev: number; id: number; value: number }
  | { kind: 'exchange'; dev: number };

const op = (devices: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), dev: fc.nat(devices - 1), id: fc.nat(3), value: fc.nat(1000) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), dev: fc.nat(devices - 1), id: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('resolve' as const), dev: fc.nat(devices - 1), id: fc.nat(3), value: fc.nat(1000) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('exchange' as const), dev: fc.nat(devices - 1) }) },
  );

async function view(d: Device) {
  const out: unknown[] = [];
  for (const col of ['clients']) {
    for (const r of await d.replica.list(col)) out.push([r, await d.replica.history(col, r.id)]);
  }
  for (let id = 0; id < 4; id++) out.push(await d.replica.history('clients', `c${id}`));
  let conflicts: unknown;
  d.replica.conflicts$.subscribe((c) => (conflicts = c)).unsubscribe();
  return { out, conflicts };
}

describe('convergence (fast-check)', () => {
  test('random work on 2–3 devices with random exchanges: identical end states, no acknowledged version lost, shared paths write-once and disjoint', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }).chain((n) => fc.tuple(fc.constant(n), fc.array(op(n), { minLength: 5, maxLength: 30 }))), async ([n, ops]) => {
        const store = await newSharedStore();
        const devices: Device[] = [];
        for (let i = 0; i < n; i++) devices.push(await openDevice(store, `PC${i + 1}`));
        const acked: string[] = [];
        try {
          for (const o of ops) {
            const d = devices[o.dev]!;
            const id = 'id' in o ? `c${o.id}` : '';
            if (o.kind === 'put') acked.push((await d.replica.put('clients', id, { v: o.value, by: d.name })).version);
            else if (o.kind === 'remove') await d.replica.remove('clients', id);
            else if (o.kind === 'resolve') {
              const rec = await d.replica.history('clients', id);
              if (rec.length > 0) await d.replica.resolveConflict('clients', id, { v: o.value, resolved: true });
            } else {
              await d.replica.sealNow();
              await d.exchange.exchange();
            }
          }
          await syncAll(devices, 2);
          const first = await view(devices[0]!);
          for (const d of devices.slice(1)) expect(isDeepStrictEqual(await view(d), first)).toBe(true);
          for (const d of devices) {
            const versions = new Set<string>();
            for (let id = 0; id < 4; id++) for (const h of await d.replica.history('clients', `c${id}`)) versions.add(h.version);
            for (const v of acked) expect(versions.has(v)).toBe(true);
          }
          // Invariant 1: every device writes only its own area, each path once (presence is the one rewritten file).
          const owner = new Map<string, string>();
          for (const d of devices) {
            const seen = new Set<string>();
            for (const p of d.exchange.writtenPaths) {
              if (p === Paths.presence(d.id)) continue;
              expect(seen.has(p)).toBe(false);
              seen.add(p);
              expect(owner.has(p)).toBe(false);
              owner.set(p, d.id);
              expect(p.startsWith(`devices/${d.id}/`) || p.startsWith(`snapshots/${d.id}/`) || p.startsWith('objects/')).toBe(true);
            }
          }
        } finally {
          for (const d of devices) await d.store.close();
        }
      }),
      { numRuns: 25, endOnFailure: true },
    );
  });

  test('the same delete on two devices, then an edit: no conflict (identical versions are one)', async () => {
    const store = await newSharedStore();
    const [a, b] = [await openDevice(store, 'PC1'), await openDevice(store, 'PC2')];
    await a.replica.put('clients', 'k', { v: 1 });
    await syncAll([a, b]);
    await a.replica.remove('clients', 'k');
    await b.replica.remove('clients', 'k');
    await syncAll([a, b]);
    await a.replica.put('clients', 'k', { v: 2 });
    await syncAll([a, b]);
    for (const d of [a, b]) expect(await d.replica.get('clients', 'k')).toMatchObject({ data: { v: 2 }, conflict: false });
    for (const d of [a, b]) await d.store.close();
  });

  test('three devices: concurrent edits of one record give one conflict with all versions, the same everywhere; resolving converges', async () => {
    const store = await newSharedStore();
    const ds = [await openDevice(store, 'PC1'), await openDevice(store, 'PC2'), await openDevice(store, 'PC3')];
    await ds[0]!.replica.put('clients', 'k', { v: 0 });
    await syncAll(ds);
    for (const [i, d] of ds.entries()) await d.replica.put('clients', 'k', { v: i + 1 });
    await ds[1]!.replica.put('clients', 'other', { v: 'merged silently' });
    await syncAll(ds);
    const lists = await Promise.all(ds.map((d) => d.replica.list('clients')));
    for (const l of lists) expect(l).toEqual(lists[0]);
    let conflicts: { versions: readonly unknown[] }[] = [];
    ds[2]!.replica.conflicts$.subscribe((c) => (conflicts = c as never)).unsubscribe();
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]!.versions).toHaveLength(3);
    expect((await ds[0]!.replica.get('clients', 'other'))!.conflict).toBe(false);
    await ds[2]!.replica.resolveConflict('clients', 'k', { v: 'agreed' });
    await syncAll(ds);
    for (const d of ds) expect(await d.replica.get('clients', 'k')).toMatchObject({ data: { v: 'agreed' }, conflict: false });
    for (const d of ds) await d.store.close();
  });
});
