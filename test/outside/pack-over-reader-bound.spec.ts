// Outside test (format 2, packs): a pack is made of 1,000 log files (`packMinFiles`) whatever their
// size, and ten packs into one, but a reader refuses a pack over MAX_PACK_BYTES (64 MiB when this was found, 96 MiB now). Records may
// hold up to 1 MiB each (a note with a scanned signature as text, an import of large records): 100
// log files of ~0.95 MiB of poorly compressible text make a pack over 64 MiB here (packMinFiles 100
// stands in for the default 1,000 of smaller records). What a practice would see: the PC that packed
// reports its own pack as bad on every round, a new PC cannot read it, and once the log files leave
// the shared folder nobody can join with that PC's data. Fixed: a pack is made of `packMinFiles` files
// or fewer that reach PACK_PLAIN_TARGET (48 MiB unpacked), and a merge that would be larger is not made.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_PACK_BYTES, Paths } from '../../src/services/store/format';
import type { ExchangeOptions } from '../../src/services/store/shared-folder-exchange';
import { newSharedStore, openDevice, syncAll, type Device } from '../support/store-fixture';

jest.setTimeout(300_000);

const FAST: Partial<ExchangeOptions> = { auditMs: 0, packMinFiles: 100, packMarginMs: 0, repairGraceMs: 0 };
const count = async (d: Device) => (await d.store.list('notes')).length;

describe('a pack larger than a reader takes', () => {
  let devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices) await d.store.close().catch(() => undefined);
    devices = [];
  });

  test('is never written: every PC, a new one too, keeps reading all of the packing PC’s records', async () => {
    const store = await newSharedStore('Teekanne-Nordstrand-2026');
    const a = await openDevice(store, 'A', { exchange: FAST });
    const b = await openDevice(store, 'B', { exchange: FAST });
    devices = [a, b];
    await syncAll([a, b], 1);
    for (let i = 0; i < 100; i++) {
      await a.store.put('notes', `n-${i}`, { scan: crypto.randomBytes(712_000).toString('base64') });
      await a.replica.sealNow();
    }
    await syncAll([a, b], 3);
    await syncAll([a, b], 2);
    expect(await count(b)).toBe(100);
    // packed all the same, in packs a reader takes: about half of the files reach the size one pack is made for
    const packs = fs.readdirSync(path.join(store.shared, Paths.packsDir(a.id)));
    expect(packs.length).toBeGreaterThanOrEqual(1);
    expect(fs.readdirSync(path.join(store.shared, Paths.logDir(a.id))).length).toBeLessThan(100);
    for (const p of packs) expect(fs.statSync(path.join(store.shared, Paths.packsDir(a.id), p)).size).toBeLessThanOrEqual(MAX_PACK_BYTES);
    const c = await openDevice(store, 'C', { exchange: FAST });
    devices.push(c);
    await syncAll([c], 3);
    expect(await count(c)).toBe(100);
    await a.store.close();
    const again = await openDevice(store, 'A', { id: a.id, localRoot: a.localRoot, exchange: FAST });
    devices[0] = again;
    expect(await count(again)).toBe(100);
    expect([...again.replica.badFiles, ...b.replica.badFiles, ...c.replica.badFiles].map((f) => f.reason)).toEqual([]);
  });
});
