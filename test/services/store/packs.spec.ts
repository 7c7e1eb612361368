// Format 2 (docs/STORE-FORMAT.md "Packs", invariant 10), on real folders: a PC rolls its own log files
// into packs and removes what a pack holds from the shared folder only after every PC it waits for
// acknowledged it and a margin on the folder's clock passed; a PC of format 1 blocks it, a PC gone for
// long does not; a new PC joins from packs; nothing is lost on the way, and a retired passphrase reads
// nothing of what was packed again.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Keyring, keyringFromPassphrase } from '../../../src/services/crypto/keyring';
import { Paths } from '../../../src/services/store/format';
import { KeyMissingError, ReplicaFolder } from '../../../src/services/store/replica-folder';
import type { ExchangeOptions } from '../../../src/services/store/shared-folder-exchange';
import { newSharedStore, openDevice, syncAll, type Device } from '../../support/store-fixture';

jest.setTimeout(120_000);

const PASS = 'Teekanne-Nordstrand-2026';
/** Every round lists completely (auditMs 0), packs of 5, no margin: what takes weeks in a practice takes rounds here. */
const FAST: Partial<ExchangeOptions> = { auditMs: 0, packMinFiles: 5, packMarginMs: 0, repairGraceMs: 0 };

const logNames = (shared: string, d: Device) => fs.readdirSync(path.join(shared, Paths.logDir(d.id))).filter((n) => !n.startsWith('.'));
const packNames = (shared: string, d: Device) => {
  try {
    return fs.readdirSync(path.join(shared, Paths.packsDir(d.id)));
  } catch {
    return [];
  }
};
const ids = async (d: Device) => (await d.store.list('clients')).map((r) => `${r.id}=${JSON.stringify(r.data)}`).sort();

async function edits(d: Device, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await d.store.put('clients', `${d.name}-${i}`, { n: i, by: d.name });
    await d.replica.sealNow(); // one log file each, as at human pace
  }
}

describe('packs (format 2)', () => {
  let devices: Device[] = [];
  afterEach(async () => {
    for (const d of devices) await d.store.close().catch(() => undefined);
    devices = [];
  });

  test('log files go into packs and leave the shared folder once acknowledged; a new PC joins from the packs; all converge', async () => {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: FAST });
    const b = await openDevice(store, 'B', { exchange: FAST });
    devices = [a, b];
    await edits(a, 12);
    await a.store.put('clients', 'A-0', { n: 0, by: 'A', edited: true }); // a second version, in log file 13
    await a.replica.sealNow();
    await syncAll([a, b], 4);
    // 13 log files: two packs of 5, three loose; the 10 packed ones gone from the shared folder
    expect(packNames(store.shared, a)).toHaveLength(2);
    expect(logNames(store.shared, a).map((n) => Number(n.slice(0, 10))).sort((x, y) => x - y)).toEqual([11, 12, 13]);
    expect(a.exchange.removedPaths.every((p) => p.startsWith(Paths.deviceDir(a.id)))).toBe(true);
    // B keeps A's packs, not the files they hold; history reads bodies from a pack
    expect(packNames(b.localRoot, a)).toHaveLength(2);
    expect(logNames(b.localRoot, a).length).toBe(3);
    expect((await b.store.history('clients', 'A-0')).map((r) => r.data)).toEqual([{ n: 0, by: 'A' }, { n: 0, by: 'A', edited: true }]);
    // a new PC joins from the packs and the three loose files
    const c = await openDevice(store, 'C', { exchange: FAST });
    devices.push(c);
    await syncAll([c], 2);
    expect(await ids(c)).toEqual(await ids(a));
    expect(await c.store.history('clients', 'A-0')).toHaveLength(2);
    // every PC edits on, and all end with the same data
    await edits(b, 3);
    await edits(c, 2);
    await syncAll([a, b, c], 3);
    expect(await ids(b)).toEqual(await ids(a));
    expect(await ids(c)).toEqual(await ids(a));
    // B opened again from its own replica (packs and snapshot): the same
    const before = await ids(b);
    await b.store.close();
    const b2 = await openDevice(store, 'B', { id: b.id, localRoot: b.localRoot, exchange: FAST });
    devices[1] = b2;
    expect(await ids(b2)).toEqual(before);
    expect(await b2.store.history('clients', 'A-0')).toHaveLength(2);
    // the full integrity check reads packs: no problem in the shared folder or in B's replica, every change counted
    for (const root of [store.shared, b2.localRoot]) {
      const report = await b2.replica.verify(root);
      expect(report.problems).toEqual([]);
      expect(report.changes).toBe(b2.replica.changeCount);
    }
  });

  test('a PC of format 1 is waited for: nothing is packed until it announces format 2', async () => {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: FAST });
    const old = await openDevice(store, 'Alt', { exchange: { ...FAST, formats: [1] } });
    devices = [a, old];
    // a PC is waited for once it has been in the shared folder (before that no PC can know of it; in a
    // practice the 7-day margin stands between a pack and any removal)
    await syncAll([old, a], 1);
    await edits(a, 8);
    await syncAll([a, old], 3);
    expect(packNames(store.shared, a)).toHaveLength(0);
    expect(logNames(store.shared, a)).toHaveLength(8);
    expect(await ids(old)).toEqual(await ids(a));
    // updated: the same PC (its replica) now announces format 2
    await old.store.close();
    const updated = await openDevice(store, 'Alt', { id: old.id, localRoot: old.localRoot, exchange: FAST });
    devices[1] = updated;
    await syncAll([updated, a], 3);
    expect(packNames(store.shared, a)).toHaveLength(1);
    expect(logNames(store.shared, a)).toHaveLength(3);
    expect(await ids(updated)).toEqual(await ids(a));
  });

  test('a PC not seen for longer than the stated time is not waited for; when it comes back it loses nothing', async () => {
    const store = await newSharedStore(PASS);
    const opts = { ...FAST, knownForMs: 1500 };
    const a = await openDevice(store, 'A', { exchange: opts });
    const away = await openDevice(store, 'Weg', { exchange: { ...opts, formats: [1] } });
    devices = [a, away];
    await syncAll([a, away], 2);
    await away.store.close();
    await new Promise((r) => setTimeout(r, 2500)); // its presence grows older than knownForMs on the folder's clock
    await edits(a, 6);
    await syncAll([a], 3);
    expect(packNames(store.shared, a)).toHaveLength(1);
    expect(logNames(store.shared, a)).toHaveLength(1);
    // it comes back (updated), with a change made while away and never sent
    const back = await openDevice(store, 'Weg', { id: away.id, localRoot: away.localRoot, exchange: opts });
    devices[1] = back;
    await back.store.put('clients', 'offline', { made: 'while away' });
    await syncAll([back, a], 3);
    expect(await ids(back)).toEqual(await ids(a));
    expect((await a.store.get('clients', 'offline'))?.data).toEqual({ made: 'while away' });
  });

  test('"remove this PC from the practice": a PC gone is no longer waited for; when it comes back it is told, waited for again, and loses nothing', async () => {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: FAST });
    let gone = await openDevice(store, 'Alt', { exchange: { ...FAST, formats: [1] } });
    devices = [a, gone];
    await syncAll([gone, a], 2);
    await gone.store.put('clients', 'unsent', { made: 'before it went away' });
    await gone.replica.sealNow();
    await gone.exchange.stop(); // it leaves without sending its last change (a PC switched off for good, its disk kept)
    await gone.replica.close();
    await edits(a, 6);
    await syncAll([a], 3);
    expect(packNames(store.shared, a)).toHaveLength(0); // a PC of format 1, seen lately: waited for
    expect(await a.exchange.removeDevice(a.id)).toBe('this-device');
    expect(await a.exchange.removeDevice('0'.repeat(32))).toBe('unknown');
    expect(await a.exchange.removeDevice(gone.id)).toBe('removed');
    // (the removal asks for a round at once; it may run beside the ones asked for here)
    for (let i = 0; i < 8 && logNames(store.shared, a).length > 1; i++) await syncAll([a], 1);
    expect(packNames(store.shared, a)).toHaveLength(1);
    expect(logNames(store.shared, a)).toHaveLength(1);
    expect(a.exchange.removedDevices.has(gone.id)).toBe(true);
    // the removal outlives a restart of A
    await a.store.close();
    const a2 = await openDevice(store, 'A', { id: a.id, localRoot: a.localRoot, exchange: FAST });
    devices[0] = a2;
    await syncAll([a2], 1);
    expect(a2.exchange.removedDevices.has(gone.id)).toBe(true);
    // it comes back, updated: told, taken back, its change arrives, nothing lost
    gone = await openDevice(store, 'Alt', { id: gone.id, localRoot: gone.localRoot, exchange: FAST });
    devices[1] = gone;
    await gone.exchange.exchange();
    expect(gone.exchange.removedBy?.byName).toBe('A');
    await syncAll([gone, a2, gone], 1);
    expect(a2.exchange.removedDevices.has(gone.id)).toBe(false);
    expect((await a2.store.get('clients', 'unsent'))?.data).toEqual({ made: 'before it went away' });
    expect(await ids(gone)).toEqual(await ids(a2));
  });

  test('nothing is removed before the pack has lain in the shared folder for the margin (its clock)', async () => {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: { ...FAST, packMarginMs: 3600_000 } });
    const b = await openDevice(store, 'B', { exchange: { ...FAST, packMarginMs: 3600_000 } });
    devices = [a, b];
    await edits(a, 5);
    await syncAll([a, b], 3);
    const [pack] = packNames(store.shared, a);
    expect(pack).toBeDefined();
    expect(logNames(store.shared, a)).toHaveLength(5); // acknowledged, but only just there
    const old = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(path.join(store.shared, Paths.packsDir(a.id), pack!), old, old);
    await syncAll([b, a], 2);
    expect(logNames(store.shared, a)).toHaveLength(0);
    expect(await ids(b)).toEqual(await ids(a));
  });

  test('a pack the folder lost is written again; a planted pack name covers nothing', async () => {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: FAST });
    const b = await openDevice(store, 'B', { exchange: FAST });
    devices = [a, b];
    await edits(a, 5);
    await edits(b, 1);
    await syncAll([a, b], 4);
    const [pack] = packNames(store.shared, a);
    expect(logNames(store.shared, a)).toHaveLength(0);
    // a folder put back: the pack gone — B's full check writes it again (it holds it), so does A
    fs.rmSync(path.join(store.shared, Paths.packsDir(a.id), pack!));
    await syncAll([b], 2);
    expect(packNames(store.shared, a)).toEqual([pack]);
    // a stranger plants a pack name over B's only log file's range, and that log file vanishes: it is written again
    const bLog = String(logNames(store.shared, b)[0]);
    fs.mkdirSync(path.join(store.shared, Paths.packsDir(b.id)), { recursive: true });
    fs.writeFileSync(path.join(store.shared, Paths.packsDir(b.id), `0000000001-0000000009-${'ab'.repeat(32)}`), 'not a pack');
    fs.rmSync(path.join(store.shared, Paths.logDir(b.id), bLog));
    await syncAll([a, b], 2);
    expect(logNames(store.shared, b)).toEqual([bLog]);
    expect(b.replica.badFiles.some((f) => f.path.includes(`${'ab'.repeat(32)}`))).toBe(true);
    const c = await openDevice(store, 'C', { exchange: FAST });
    devices.push(c);
    await syncAll([c], 2);
    expect(await ids(c)).toEqual(await ids(a));
  });

  test('a pack made before a passphrase change is packed again under the new key with the next log file; the old passphrase then reads nothing', async () => {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: FAST });
    devices = [a];
    await edits(a, 5);
    await syncAll([a], 4);
    expect(packNames(store.shared, a)).toHaveLength(1);
    expect(logNames(store.shared, a)).toHaveLength(0);
    const [before] = packNames(store.shared, a);
    await a.replica.changePassphrase('Leuchtturm-Wattenmeer-2027', 'A');
    await syncAll([a], 3);
    expect(packNames(store.shared, a)).toEqual([before]); // nothing follows it yet: it stays (vouched for in A's presence)
    await edits(a, 1, 5);
    for (let i = 0; i < 6 && packNames(store.shared, a).includes(before!); i++) await syncAll([a], 1);
    expect(packNames(store.shared, a)).toHaveLength(1);
    expect(packNames(store.shared, a)[0]!.startsWith('0000000001-0000000006-')).toBe(true);
    const old = new ReplicaFolder(store.shared, store.header.storeId, Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck), true);
    const [p] = await old.listPacks(a.id);
    expect(() => old.decodePack(p!, fs.readFileSync(path.join(store.shared, Paths.pack(a.id, p!.first, p!.last, p!.hash))))).toThrow(KeyMissingError);
    expect(await a.store.history('clients', 'A-0')).toHaveLength(1);
  });

  test('after a passphrase change, what was sealed under the old key is packed again under the new one and the old passphrase reads nothing there', async () => {
    const store = await newSharedStore(PASS);
    const a = await openDevice(store, 'A', { exchange: FAST });
    devices = [a];
    await edits(a, 3);
    await syncAll([a], 2);
    const oldKeys = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
    await a.replica.changePassphrase('Leuchtturm-Wattenmeer-2027', 'A');
    await edits(a, 1, 3); // a later file under the new key
    await syncAll([a], 3);
    const readable: string[] = [];
    const old = new ReplicaFolder(store.shared, store.header.storeId, oldKeys, true);
    for (const f of await old.listSegments(a.id))
      try {
        old.decodeSegment(f, fs.readFileSync(path.join(store.shared, Paths.segment(a.id, f.seq, f.hash))));
        readable.push(`log ${f.seq}`);
      } catch (e) {
        if (!(e instanceof KeyMissingError)) throw e;
      }
    for (const p of await old.listPacks(a.id))
      try {
        old.decodePack(p, fs.readFileSync(path.join(store.shared, Paths.pack(a.id, p.first, p.last, p.hash))));
        readable.push(`pack ${p.first}-${p.last}`);
      } catch (e) {
        if (!(e instanceof KeyMissingError)) throw e;
      }
    expect(readable).toEqual([]);
    expect(packNames(store.shared, a)).toHaveLength(1);
    // a PC given the new passphrase joins and reads all four
    const typed = await keyringFromPassphrase(store.header, await a.replica.local.readKeyFiles(), 'Leuchtturm-Wattenmeer-2027');
    expect(typed.kind).toBe('ok');
    const c = await openDevice({ ...store, key: typed.kind === 'ok' ? typed.keyring : store.key }, 'C', { exchange: FAST });
    devices.push(c);
    await syncAll([c], 2);
    expect(await ids(c)).toEqual(await ids(a));
    expect(await ids(c)).toHaveLength(4);
  });
});
