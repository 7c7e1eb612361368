// The upgrade from format 1 to format 2 (#16), on the store the code of an earlier commit wrote
// (test/fixtures/format1/): two PCs updated, one not yet — with changes of its own not sent — work a
// day together. Nothing is packed or removed while the old PC is around, so it is never cut off; once
// it is updated too, every PC packs its own files, what the packs hold leaves the shared folder, the
// old passphrase reads nothing there any more, and all three end with the same data, nothing lost.
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostDialogs } from '../../../src/host-api';
import { Keyring } from '../../../src/services/crypto/keyring';
import { StoreKeys } from '../../../src/services/crypto/store-keys';
import { unwrapStoreKey } from '../../../src/services/crypto/store-crypto';
import { Paths, type StoreHeader } from '../../../src/services/store/format';
import { KeyMissingError, ReplicaFolder } from '../../../src/services/store/replica-folder';
import type { ExchangeOptions } from '../../../src/services/store/shared-folder-exchange';
import { InMemoryCredentialStore } from '../../support/memory-credential-store';
import { FIXTURE_DIR, PCS, copyFixture, readView, replicaRoot, type Pc } from '../../support/format1-fixture';
import { openDevice, syncAll, type Device } from '../../support/store-fixture';
import { tempDir } from '../../support/temp';
import { codeOf, runIn } from '../../support/old-code';

jest.setTimeout(180_000);

const FIRST = 'Teekanne-Nordstrand-2026';
const SECOND = 'Leuchtturm-Kieselbucht-Moewe-4817';
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'expected.json'), 'utf8')) as {
  writtenBy: string;
  storeId: string;
  devices: Record<Pc, { id: string; name: string }>;
  emptyDirs: string[];
  unsentOnC: { changes: string[] };
  views: { converged: { records: Record<string, unknown> } };
};
/** Packs of 3 log files, every round complete, no margin: the weeks of a practice in a few rounds. */
const V2: Partial<ExchangeOptions> = { auditMs: 0, packMinFiles: 3, packMarginMs: 0, repairGraceMs: 0, heartbeatMs: 600_000 };
const V1: Partial<ExchangeOptions> = { ...V2, formats: [1] };

function dialogs(...typed: string[]): HostDialogs {
  return { promptSecret: async () => typed.shift() } as unknown as HostDialogs;
}

const view = async (d: Device) => JSON.stringify(await readView(d.replica, [...new Set([...Object.keys(expected.views.converged.records), 'clients/neu-a', 'clients/neu-b', 'clients/neu-c'])]));

describe('upgrade of a format-1 store to format 2 (fixture written by an earlier commit)', () => {
  let root: string;
  const pcs: Partial<Record<Pc, Device>> = {};
  const stores: Partial<Record<Pc, { shared: string; header: StoreHeader; key: Keyring }>> = {};

  async function open(pc: Pc, exchange: Partial<ExchangeOptions>): Promise<Device> {
    const local = replicaRoot(path.join(root, pc), expected.storeId);
    if (!stores[pc]) {
      const hdr = await ReplicaFolder.readHeader(local);
      if (hdr.kind !== 'ok') throw new Error(`${pc}: its header is ${hdr.kind}`);
      const unlocked = await new StoreKeys(new InMemoryCredentialStore(), dialogs(SECOND)).unlock(hdr.header, [path.join(root, 'shared'), local]);
      if (unlocked.kind !== 'ok') throw new Error(`${pc}: the passphrase was not taken`);
      stores[pc] = { shared: path.join(root, 'shared'), header: hdr.header, key: unlocked.keyring };
    }
    return (pcs[pc] = await openDevice(stores[pc]!, expected.devices[pc].name, { id: expected.devices[pc].id, localRoot: local, exchange }));
  }

  const packs = (pc: Pc) => {
    try {
      return fs.readdirSync(path.join(root, 'shared', Paths.packsDir(expected.devices[pc].id)));
    } catch {
      return [];
    }
  };
  const logs = (pc: Pc) => fs.readdirSync(path.join(root, 'shared', Paths.logDir(expected.devices[pc].id)));

  beforeAll(() => {
    root = tempDir('cs-upgrade-');
    copyFixture(root, FIXTURE_DIR, expected.emptyDirs);
  });
  afterAll(async () => {
    for (const d of Object.values(pcs)) await d?.store.close().catch(() => undefined);
  });

  test('a day of a mixed fleet: the PC not updated is waited for and gets everything; its unsent changes arrive', async () => {
    const a = await open('pc-a', V2);
    const b = await open('pc-b', V2);
    const c = await open('pc-c', V1);
    const logsBefore = { a: logs('pc-a').length, b: logs('pc-b').length };
    await syncAll([c, a, b], 2);
    for (let hour = 0; hour < 4; hour++) {
      await a.store.put('clients', 'neu-a', { stunde: hour });
      await a.replica.sealNow();
      await b.store.put('clients', 'neu-b', { stunde: hour });
      await b.replica.sealNow();
      await c.store.put('clients', 'neu-c', { stunde: hour });
      await c.replica.sealNow();
      await syncAll([a, b, c], 1);
    }
    await syncAll([a, b, c], 2);
    // nothing packed, nothing removed while a PC of format 1 is around
    expect(packs('pc-a')).toEqual([]);
    expect(packs('pc-b')).toEqual([]);
    expect(logs('pc-a').length).toBe(logsBefore.a + 4);
    expect(logs('pc-b').length).toBe(logsBefore.b + 4);
    for (const change of expected.unsentOnC.changes) {
      const [key, ver] = change.split(' ') as [string, string];
      const [col, id] = key.split('/') as [string, string];
      expect((await a.store.history(col, id)).map((r) => r.version)).toContain(ver);
      expect((await b.store.history(col, id)).map((r) => r.version)).toContain(ver);
    }
    expect(await view(a)).toBe(await view(c));
    expect(await view(b)).toBe(await view(c));
  });

  test('once the last PC is updated, every PC packs its own files, what the packs hold leaves the shared folder, and nothing is lost', async () => {
    const before = await view(pcs['pc-a']!);
    await pcs['pc-c']!.store.close();
    const c = await open('pc-c', V2);
    const [a, b] = [pcs['pc-a']!, pcs['pc-b']!];
    const headerBefore = JSON.parse(fs.readFileSync(path.join(root, 'shared', 'practice-store.json'), 'utf8')) as Record<string, unknown>;
    expect(headerBefore.version).toBe(1);
    await syncAll([c, a, b], 4);
    // the header says version 2 now, and nothing else changed in it
    expect(JSON.parse(fs.readFileSync(path.join(root, 'shared', 'practice-store.json'), 'utf8'))).toEqual({ ...headerBefore, version: 2 });
    for (const pc of PCS) expect(packs(pc).length).toBeGreaterThan(0);
    // what stays as log files: fewer than one pack's worth per PC
    for (const pc of PCS) expect(logs(pc).length).toBeLessThan(3);
    expect(await view(a)).toBe(before);
    expect(await view(b)).toBe(before);
    expect(await view(c)).toBe(before);
    // the replaced passphrase's key reads nothing of any PC's area any more
    const header = stores['pc-a']!.header;
    const firstKey = await unwrapStoreKey(header, FIRST); // the header wraps the first key under the first passphrase
    expect(firstKey).toBeDefined();
    const old = new ReplicaFolder(path.join(root, 'shared'), expected.storeId, Keyring.ofHeaderKey(header.storeId, firstKey!, header.keyCheck), true);
    const readable: string[] = [];
    for (const pc of PCS) {
      const dev = expected.devices[pc].id;
      for (const f of await old.listSegments(dev))
        try {
          old.decodeSegment(f, fs.readFileSync(path.join(root, 'shared', Paths.segment(dev, f.seq, f.hash))));
          readable.push(`${pc} log ${f.seq}`);
        } catch (e) {
          if (!(e instanceof KeyMissingError)) throw e;
        }
      for (const p of await old.listPacks(dev))
        try {
          old.decodePack(p, fs.readFileSync(path.join(root, 'shared', Paths.pack(dev, p.first, p.last, p.hash))));
          readable.push(`${pc} pack ${p.first}-${p.last}`);
        } catch (e) {
          if (!(e instanceof KeyMissingError)) throw e;
        }
    }
    expect(readable).toEqual([]);
    // and a PC opened again from its replica after all this: the same
    await b.store.close();
    const b2 = await open('pc-b', V2);
    expect(await view(b2)).toBe(before);
  });
});

describe('a PC of format 1 that was away while the others upgraded (the code of the fixture\'s commit)', () => {
  test('the old code is told to update in plain words; once updated, its unsent changes arrive and nothing is lost', async () => {
    const root = tempDir('cs-upgrade-away-');
    copyFixture(root, FIXTURE_DIR, expected.emptyDirs);
    const shared = path.join(root, 'shared');
    const pcs: Device[] = [];
    const open = async (pc: Pc, exchange: Partial<ExchangeOptions>) => {
      const local = replicaRoot(path.join(root, pc), expected.storeId);
      const hdr = await ReplicaFolder.readHeader(local);
      if (hdr.kind !== 'ok') throw new Error(`${pc}: its header is ${hdr.kind}`);
      const unlocked = await new StoreKeys(new InMemoryCredentialStore(), dialogs(SECOND)).unlock(hdr.header, [shared, local]);
      if (unlocked.kind !== 'ok') throw new Error(`${pc}: the passphrase was not taken`);
      const d = await openDevice({ shared, header: hdr.header, key: unlocked.keyring }, expected.devices[pc].name, { id: expected.devices[pc].id, localRoot: local, exchange });
      pcs.push(d);
      return d;
    };
    try {
      // C is not seen for longer than the stated time (1 s here, 60 days in a practice): A and B, updated, do not wait for it
      await new Promise((r) => setTimeout(r, 1500));
      const away = { ...V2, knownForMs: 1000 };
      const a = await open('pc-a', away);
      const b = await open('pc-b', away);
      await syncAll([a, b], 4);
      expect(JSON.parse(fs.readFileSync(path.join(shared, 'practice-store.json'), 'utf8')).version).toBe(2);
      expect(packs(shared, 'pc-a').length).toBeGreaterThan(0);
      // C still runs the old version: the code of the commit that wrote the fixture, run for real
      const old = codeOf(expected.writtenBy);
      const said = JSON.parse(
        runIn(
          old,
          `import 'reflect-metadata';
import { SharedFolderProbe } from './src/services/access/shared-folder-probe';
import { ReplicaFolder } from './src/services/store/replica-folder';
(async () => {
  const header = await ReplicaFolder.readHeader(${JSON.stringify(shared)});
  const probe = await new SharedFolderProbe().probe(${JSON.stringify(shared)}, { expectStoreId: ${JSON.stringify(expected.storeId)} });
  console.log(JSON.stringify({ header: header.kind, probe }));
})();`,
        )
          .trim()
          .split('\n')
          .pop()!,
      ) as { header: string; probe: { state: string; content: string; detail: { de: string; en: string } } };
      expect(said.header).toBe('newer');
      expect(said.probe).toMatchObject({ state: 'wrong-folder', content: 'newer-store' });
      expect(said.probe.detail.de).toContain('Bitte aktualisieren Sie das Programm; es wurde nichts verändert.');
      expect(said.probe.detail.en).toContain('Please update; nothing was changed.');
      // C updated: its changes never sent arrive, and all three end the same
      const c = await open('pc-c', away);
      await syncAll([c, a, b], 3);
      for (const change of expected.unsentOnC.changes) {
        const [key, ver] = change.split(' ') as [string, string];
        const [col, id] = key.split('/') as [string, string];
        expect((await a.store.history(col, id)).map((r) => r.version)).toContain(ver);
      }
      expect(await view(c)).toBe(await view(a));
      expect(await view(b)).toBe(await view(a));
    } finally {
      for (const d of pcs) await d.store.close().catch(() => undefined);
    }
  });
});

function packs(shared: string, pc: Pc): string[] {
  try {
    return fs.readdirSync(path.join(shared, Paths.packsDir(expected.devices[pc].id)));
  } catch {
    return [];
  }
}
