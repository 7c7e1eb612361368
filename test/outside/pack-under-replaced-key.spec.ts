// Outside test (format 2, packs): someone with a REPLACED passphrase (a former employee) plants a pack
// in another PC's packs/ folder, sealed under the old key, that claims to hold that PC's real log
// files (names are visible in the shared folder: seq and hash) but carries other changes.
//
// A pack holds the log files' plaintexts, not their envelopes, so nothing binds a line to the hash
// its header names. Before the fix, a PC that already held those log files took such a pack without
// looking at the lines ("held here" counted as vouched for), removed its own copies of the real log
// files (settlePacks), and from then on read those changes from the planted pack: history() showed the
// planted bodies, and after the next open the planted changes were the data. On the owning PC it was
// worse: the planted pack is "its own pack under a retired key", so it was packed again under the
// CURRENT key and the real log files were removed from the shared folder — the practice would see
// records of that PC replaced by whatever the former employee wrote, on every PC, for good.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Keyring, keyringFromPassphrase } from '../../src/services/crypto/keyring';
import { Paths, type Segment } from '../../src/services/store/format';
import { ReplicaFolder } from '../../src/services/store/replica-folder';
import type { ExchangeOptions } from '../../src/services/store/shared-folder-exchange';
import { newSharedStore, openDevice, syncAll, type Device } from '../support/store-fixture';

jest.setTimeout(120_000);

const PASS = 'Teekanne-Nordstrand-2026';
const NEW = 'Leuchtturm-Wattenmeer-2027';
const FAST: Partial<ExchangeOptions> = { auditMs: 0, packMinFiles: 1000, packMarginMs: 0, repairGraceMs: 0 };

const ids = async (d: Device) => (await d.store.list('clients')).map((r) => `${r.id}=${JSON.stringify(r.data)}`).sort();

async function edits(d: Device, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await d.store.put('clients', `${d.name}-${i}`, { n: i, by: d.name });
    await d.replica.sealNow();
  }
}

/** The attacker: the old key and the folder's listing; writes a pack under the old key over the named log files of `dev`. */
async function plantPack(shared: string, storeId: string, oldKeys: Keyring, dev: string, seqs: number[]): Promise<void> {
  const folder = new ReplicaFolder(shared, storeId, oldKeys, true);
  const listed = (await folder.listSegments(dev)).filter((f) => seqs.includes(f.seq));
  expect(listed.map((f) => f.seq)).toEqual(seqs);
  const wall = (Date.now() + 3600_000).toString(36).padStart(9, '0');
  let prev: string | null = null;
  const files = listed.map((f, i) => {
    const seg: Segment = {
      t: 'log',
      v: 1,
      device: dev,
      seq: f.seq,
      prev,
      createdAt: new Date().toISOString(),
      changes: [{ ver: `${wall}.${String(i).padStart(4, '0')}.${dev}`, col: 'clients', id: `forged-${f.seq}`, parents: [], at: new Date().toISOString(), by: 'A', op: 'put', data: { forged: true } }],
    } as Segment;
    prev = f.hash;
    return { f, seg };
  });
  await folder.writePack(dev, files);
}

describe('a pack sealed under a replaced passphrase', () => {
  let devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices) await d.store.close().catch(() => undefined);
    devices = [];
  });

  test('cannot stand in for log files a PC already holds (owner and other PCs keep the real changes)', async () => {
    const store = await newSharedStore(PASS);
    const oldKeys = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
    const a = await openDevice(store, 'A', { exchange: FAST });
    devices = [a];
    await edits(a, 2);
    await syncAll([a], 2);
    await a.replica.changePassphrase(NEW, 'A');
    const typed = await keyringFromPassphrase(store.header, await a.replica.local.readKeyFiles(), NEW);
    if (typed.kind !== 'ok') throw new Error('new passphrase not taken');
    const b = await openDevice({ ...store, key: typed.keyring }, 'B', { exchange: FAST });
    devices.push(b);
    await edits(a, 4, 2); // log files 3…6, under the new key
    await syncAll([a, b], 3); // A packs 1…6 again under the new key (the old passphrase reads nothing)
    await edits(a, 2, 6); // log files 7 and 8, loose
    await syncAll([a, b], 2);
    const real = await ids(a);
    expect(await ids(b)).toEqual(real);
    // the former employee plants a pack over A's loose log files 7 and 8
    const loose = (await new ReplicaFolder(store.shared, store.header.storeId, oldKeys, true).listSegments(a.id)).map((f) => f.seq);
    const target = loose.slice(-2);
    expect(target.length).toBe(2);
    await plantPack(store.shared, store.header.storeId, oldKeys, a.id, target);
    // a new PC joins before A has been back: it lacks the files the planted pack names, and they lie there as files
    const early = await openDevice({ ...store, key: typed.keyring }, 'Neu', { exchange: FAST });
    devices.push(early);
    await syncAll([early], 3);
    expect(await ids(early)).toEqual(real);
    await edits(a, 1, 8); // A works on: one later file
    await syncAll([a, b], 4);
    await syncAll([a, b], 2);
    // every PC: the real records, no forged one; history reads real bodies
    const realNow = [...real, `A-8=${JSON.stringify({ n: 8, by: 'A' })}`].sort();
    expect(await ids(a)).toEqual(realNow);
    expect(await ids(b)).toEqual(realNow);
    for (const d of [a, b]) for (const i of [6, 7]) expect((await d.store.history('clients', `A-${i}`)).map((r) => r.data)).toEqual([{ n: i, by: 'A' }]);
    // opened again from their replicas: still the real data
    for (const [i, d] of [a, b].entries()) {
      await d.store.close();
      const again = await openDevice({ ...store, key: typed.keyring }, d.name, { id: d.id, localRoot: d.localRoot, exchange: FAST });
      devices[i] = again;
      expect(await ids(again)).toEqual(realNow);
    }
    // a new PC joining now reads the real changes too
    const c = await openDevice({ ...store, key: typed.keyring }, 'C', { exchange: FAST });
    devices.push(c);
    await syncAll([c], 3);
    expect(await ids(c)).toEqual(realNow);
    // the planted pack was reported, never taken
    expect(b.replica.badFiles.concat(a.replica.badFiles).some((f) => f.path.includes(Paths.packsDir(a.id)))).toBe(true);
    expect(fs.readdirSync(path.join(c.localRoot, Paths.packsDir(a.id))).some((n) => n.startsWith(`${String(target[0]).padStart(10, '0')}-${String(target[1]).padStart(10, '0')}-`))).toBe(false);
  });

  test('made by its own PC before the passphrase change, it is still taken by a new PC once vouched for', async () => {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: { ...FAST, packMinFiles: 3 } });
    devices = [a];
    await edits(a, 3);
    await syncAll([a], 3); // pack 1-3 under the first key; the log files leave the shared folder
    expect(fs.readdirSync(path.join(store.shared, Paths.logDir(a.id))).filter((n) => !n.startsWith('.'))).toEqual([]);
    await a.replica.changePassphrase(NEW, 'A'); // no later file: nothing is packed again
    await syncAll([a], 2);
    const typed = await keyringFromPassphrase(store.header, await a.replica.local.readKeyFiles(), NEW);
    if (typed.kind !== 'ok') throw new Error('new passphrase not taken');
    const c = await openDevice({ ...store, key: typed.keyring }, 'C', { exchange: FAST });
    devices.push(c);
    await syncAll([c, a], 3);
    expect(await ids(c)).toEqual(await ids(a));
    expect(await ids(c)).toHaveLength(3);
  });
});
