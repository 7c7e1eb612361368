// Outside test (format 2), fixed by packs vouched for in their own PC's presence (format.ts Presence.packs): after a passphrase change, a PC's only copy of its early changes
// is a pack sealed under the old key (the PC wrote nothing since, so it never packed them again). A
// former employee with the old passphrase reads that pack, seals another one with the SAME range and
// the same [seq, hash] names but other changes, grinding the nonce until its name sorts first. A new
// PC, vouched for the tip by the owner's presence, takes the planted pack (nothing binds a pack's lines
// to the hashes it names) and then refuses the real one as "differs". What a practice would have seen:
// the new PC shows records the former employee made up, and the real ones are missing there. Now the
// planted pack is held (its PC's presence does not name it) and the real one is taken.
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
const FAST: Partial<ExchangeOptions> = { auditMs: 0, packMinFiles: 3, packMarginMs: 0, repairGraceMs: 0 };
const ids = async (d: Device) => (await d.store.list('clients')).map((r) => `${r.id}=${JSON.stringify(r.data)}`).sort();

test('a planted pack of the same range under the old key does not win on a new PC', async () => {
  const store = await newSharedStore(PASS);
  const oldKeys = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
  const a = await openDevice(store, 'A', { exchange: FAST });
  const devices: Device[] = [a];
  try {
    for (let i = 0; i < 3; i++) {
      await a.store.put('clients', `A-${i}`, { n: i });
      await a.replica.sealNow();
    }
    await syncAll([a], 3);
    await a.replica.changePassphrase(NEW, 'A');
    await syncAll([a], 2);
    const folder = new ReplicaFolder(store.shared, store.header.storeId, oldKeys, true);
    const [real] = await folder.listPacks(a.id);
    const content = folder.decodePack(real!, fs.readFileSync(path.join(store.shared, Paths.pack(a.id, real!.first, real!.last, real!.hash))));
    const forged = content.files.map(({ f, seg }) => ({ f, seg: { ...seg, changes: seg.changes.map((c) => ({ ...c, data: { forged: true } })) } as Segment }));
    for (;;) {
      const p = await folder.writePack(a.id, forged);
      if (p.hash < real!.hash) break;
      fs.rmSync(path.join(store.shared, Paths.pack(a.id, p.first, p.last, p.hash)));
    }
    const typed = await keyringFromPassphrase(store.header, await a.replica.local.readKeyFiles(), NEW);
    if (typed.kind !== 'ok') throw new Error('new passphrase not taken');
    const c = await openDevice({ ...store, key: typed.keyring }, 'C', { exchange: FAST });
    devices.push(c);
    await syncAll([a, c], 3);
    expect(await ids(c)).toEqual(await ids(a));
  } finally {
    for (const d of devices) await d.store.close().catch(() => undefined);
  }
});
