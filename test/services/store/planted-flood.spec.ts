// A round's work on files that do not check out is bounded (outside finding 6; the rule in
// docs/STORE-FORMAT.md, "A round's work on files that do not check out"): someone with write access to
// the shared folder and no passphrase plants thousands of names that look like log files. Each area (a
// device's log folder; all devices without an authenticated card together) looks at no more than
// UNPROVEN_PER_ROUND files that are not taken per round, rotating; files that are taken cost nothing.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FolderMedium, type Medium } from '../../../src/services/store/medium';
import { RotatingReads, UNPROVEN_PER_ROUND, Budget, descending } from '../../../src/services/store/rotating-reads';
import { newSharedStore, openDevice, syncAll, type Device } from '../../support/store-fixture';

jest.setTimeout(180_000);

/** A folder medium that counts the stats and reads of the paths `watched` says are planted. */
function countingMedium(root: string, watched: (rel: string) => boolean): { medium: Medium; reads: Map<string, number>; stats: { n: number }; roundReads: () => number } {
  const inner = new FolderMedium(root);
  const reads = new Map<string, number>();
  const stats = { n: 0 };
  let sinceLast = 0;
  const medium = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'read')
        return (rel: string, max: number) => {
          if (watched(rel)) {
            reads.set(rel, (reads.get(rel) ?? 0) + 1);
            sinceLast++;
          }
          return target.read(rel, max);
        };
      if (prop === 'stat')
        return (rel: string) => {
          if (watched(rel)) stats.n++;
          return target.stat(rel);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return {
    medium,
    reads,
    stats,
    roundReads: () => {
      const n = sinceLast;
      sinceLast = 0;
      return n;
    },
  };
}

function plant(shared: string, dev: string, n: number, firstSeq: number): string[] {
  const dir = path.join(shared, 'devices', dev, 'log');
  fs.mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${String(firstSeq + i).padStart(10, '0')}-${crypto.randomBytes(32).toString('hex')}`;
    fs.writeFileSync(path.join(dir, name), crypto.randomBytes(40));
    out.push(path.join('devices', dev, 'log', name));
  }
  return out;
}

async function edit(a: Device, id: string): Promise<void> {
  await a.replica.put('clients', id, { n: id });
  await a.replica.sealNow();
  await a.exchange.exchange();
}

describe('a planted flood', () => {
  test('beside a real device (a folder without a card): its changes arrive in every round; each round reads at most the budget of planted files, each once', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC-A');
    const stranger = crypto.randomBytes(16).toString('hex');
    const count = countingMedium(store.shared, (rel) => rel.includes(stranger));
    const b = await openDevice(store, 'PC-B', { medium: count.medium });
    await edit(a, 'k0');
    await syncAll([a, b]);
    const planted = plant(store.shared, stranger, 1000, 1);
    const rounds = Math.ceil(planted.length / (UNPROVEN_PER_ROUND - 1)) + 1; // the folder's card look costs one too
    for (let r = 1; r <= rounds + 2; r++) {
      await edit(a, `k${r}`);
      await b.exchange.exchange();
      expect([r, await b.store.get('clients', `k${r}`)]).toEqual([r, expect.anything()]); // arrived in this very round
      expect(count.roundReads()).toBeLessThanOrEqual(UNPROVEN_PER_ROUND);
    }
    // every planted file was read once within the stated rounds, and not again (the refused memory holds them)
    expect(planted.filter((rel) => count.reads.get(rel) !== 1)).toEqual([]);
    expect(b.replica.badFiles.length).toBeGreaterThanOrEqual(planted.length);
    await a.store.close();
    await b.store.close();
  });

  test('inside a real device’s folder, more than the refused memory holds: a real file behind it arrives within ceil(planted / budget) + 1 rounds, a new one in the next round; no round reads more than the budget', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC-A');
    const watched = new Set<string>();
    const count = countingMedium(store.shared, (rel) => watched.has(rel));
    const b = await openDevice(store, 'PC-B', { medium: count.medium });
    await edit(a, 'k0');
    await syncAll([a, b]);
    // names above every real one: newest first, they come before A's real next file
    const planted = plant(store.shared, a.id, 4200, 9_900_000_000);
    for (const rel of planted) watched.add(rel);
    await edit(a, 'behind');
    const bound = Math.ceil(planted.length / UNPROVEN_PER_ROUND) + 1;
    let r = 0;
    while (!(await b.store.get('clients', 'behind'))) {
      expect(++r).toBeLessThanOrEqual(bound);
      await b.exchange.exchange();
      expect(count.roundReads()).toBeLessThanOrEqual(UNPROVEN_PER_ROUND);
    }
    console.log(`a real log file behind ${planted.length} planted names in its own folder arrived in round ${r} (bound ${bound})`);
    // a new file is new in the listing: looked at first, in the next round
    await edit(a, 'next');
    await b.exchange.exchange();
    expect(await b.store.get('clients', 'next')).toBeDefined();
    expect(count.roundReads()).toBeLessThanOrEqual(UNPROVEN_PER_ROUND);
    // 4,200 planted files, a refused memory of 4,096: the forgotten ones are read again, but never more than the budget a round
    for (let i = 0; i < 20; i++) {
      await b.exchange.exchange();
      expect(count.roundReads()).toBeLessThanOrEqual(UNPROVEN_PER_ROUND);
    }
    await a.store.close();
    await b.store.close();
  });
});

describe('planted device folders with presence files', () => {
  test('cost at most the budget of presence looks a round; the real PCs are seen every round, a new real one within the bound', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC-A');
    const planted = new Set<string>();
    const count = countingMedium(store.shared, (rel) => /presence$/.test(rel) && planted.has(rel.split(/[\\/]/)[1] ?? ''));
    const b = await openDevice(store, 'PC-B', { medium: count.medium, exchange: { auditMs: 3_600_000 } });
    await edit(a, 'k0');
    await syncAll([a, b]);
    for (let i = 0; i < 600; i++) {
      const dev = crypto.randomBytes(16).toString('hex');
      fs.mkdirSync(path.join(store.shared, 'devices', dev), { recursive: true });
      fs.writeFileSync(path.join(store.shared, 'devices', dev, 'presence'), crypto.randomBytes(300));
      planted.add(dev);
    }
    const bound = Math.ceil(planted.size / UNPROVEN_PER_ROUND) + 1;
    let c: Device | undefined;
    let cSeenIn: number | undefined;
    for (let r = 1; r <= bound + 2; r++) {
      const before = count.stats.n;
      count.roundReads();
      await a.exchange.exchange();
      if (c) await c.exchange.exchange();
      await b.exchange.exchange();
      // a stat and at most one read for each presence looked at
      expect([r, count.stats.n - before]).toEqual([r, expect.any(Number)]);
      expect(count.stats.n - before).toBeLessThanOrEqual(UNPROVEN_PER_ROUND);
      expect(count.roundReads()).toBeLessThanOrEqual(UNPROVEN_PER_ROUND);
      const seen = b.exchange.devicesSeen.map((d) => d.name);
      expect([r, seen]).toEqual([r, expect.arrayContaining(['PC-A', 'PC-B'])]);
      expect(seen.length).toBeLessThanOrEqual(3); // no planted folder is shown as a PC
      if (r === 2) {
        c = await openDevice(store, 'PC-C');
        await c.exchange.exchange(); // its card and its presence (the first round writes it)
        expect(fs.existsSync(path.join(store.shared, 'devices', c.id, 'presence'))).toBe(true);
      }
      if (c && cSeenIn === undefined && seen.includes('PC-C')) cSeenIn = r;
    }
    expect(cSeenIn).toBeDefined();
    expect(cSeenIn! - 2).toBeLessThanOrEqual(bound);
    for (const d of [a, b, c!]) await d.store.close();
  });
});

describe('the rotation', () => {
  test('spends the budget only on files not taken, goes on where it stopped, and puts new names first', async () => {
    const reads = new RotatingReads();
    const names = Array.from({ length: 10 }, (_, i) => `n${i}`).sort(descending);
    const seen: string[] = [];
    const look = (taken: Set<string>) => async (n: string) => {
      seen.push(n);
      return taken.has(n);
    };
    await reads.each('a', names, descending, new Budget(3), look(new Set(['n8'])));
    expect(seen).toEqual(['n9', 'n8', 'n7', 'n6']); // n8 taken: free
    seen.length = 0;
    await reads.each('a', ['n99', ...names], descending, new Budget(3), look(new Set()));
    expect(seen).toEqual(['n99', 'n5', 'n4']); // the new name first, then on from n5
    seen.length = 0;
    await reads.each('a', ['n99', ...names], descending, new Budget(100), look(new Set()));
    expect(seen).toEqual(['n3', 'n2', 'n1', 'n0', 'n99', 'n9', 'n8', 'n7', 'n6', 'n5', 'n4']); // wraps around
    expect(reads.rotating).toBe(0); // looked at whole: the next round is as usual
  });
});
