// The format-1 fixture (test/fixtures/format1/, README.md there): a store as the code of one commit
// wrote it, kept for the upgrade to format 2 (#16). Opened on a copy (never in place) with keys from
// the passphrase, as a PC with a new keychain entry does; what each PC holds must be exactly what
// expected.json says, and one exchange must bring PC C's unsent changes to A and B and make all three
// the same. Any change to a fixture file (or to expected.json) fails here.
import 'reflect-metadata';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostDialogs, JsonObject } from '../../../src/host-api';
import { StoreKeys } from '../../../src/services/crypto/store-keys';
import { sealedKeyId } from '../../../src/services/crypto/store-crypto';
import type { StoreHeader } from '../../../src/services/store/format';
import { ReplicaFolder } from '../../../src/services/store/replica-folder';
import { InMemoryCredentialStore } from '../../support/memory-credential-store';
import { FIXTURE_DIR, PCS, copyFixture, manifestOf, readView, replicaRoot, type Pc, type ReplicaView } from '../../support/format1-fixture';
import { openDevice, syncAll, type Device } from '../../support/store-fixture';
import { tempDir, walk } from '../../support/temp';

// The fictional store's test passphrases (scripts/make-format1-fixture.ts): the first was replaced by the second.
const FIRST = 'Teekanne-Nordstrand-2026';
const SECOND = 'Leuchtturm-Kieselbucht-Moewe-4817';

interface Expected {
  writtenBy: string;
  storeId: string;
  devices: Record<Pc, { id: string; name: string; user: string }>;
  keys: { first: string; current: string };
  attachment: { record: string; ref: JsonObject; sha256: string };
  unsentOnC: { logFiles: string[]; changes: string[]; pendingUploads: number };
  logFiles: { path: string; device: Pc; key: string; changes: number; in: string[] }[];
  emptyDirs: string[];
  views: Record<Pc | 'converged', ReplicaView>;
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'expected.json'), 'utf8')) as Expected;
const keys = Object.keys(expected.views.converged.records);

/** Asks for the passphrases given, in turn (the host's dialog); remembers what it was told. */
function dialogs(...typed: string[]): HostDialogs & { messages: string[] } {
  const messages: string[] = [];
  return {
    messages,
    promptSecret: async (req: { message: { de: string } }) => {
      messages.push(req.message.de);
      return typed.shift();
    },
  } as unknown as HostDialogs & { messages: string[] };
}

describe('the format-1 fixture (written by the code of one commit, kept for the upgrade to format 2)', () => {
  let root: string;
  let devices: Record<Pc, Device>;
  const credentials: Record<string, InMemoryCredentialStore> = {};

  beforeAll(async () => {
    root = tempDir('cs-format1-');
    copyFixture(root, FIXTURE_DIR, expected.emptyDirs);
    const opened: Partial<Record<Pc, Device>> = {};
    for (const pc of PCS) {
      const local = replicaRoot(path.join(root, pc), expected.storeId);
      const hdr = await ReplicaFolder.readHeader(local); // a PC believes its own copy of the header
      if (hdr.kind !== 'ok') throw new Error(`${pc}: its header is ${hdr.kind}`);
      // A new keychain: the passphrase is asked for (A is first given the replaced one) and the keys kept.
      const creds = (credentials[pc] = new InMemoryCredentialStore());
      const asked = dialogs(...(pc === 'pc-a' ? [FIRST, SECOND] : [SECOND]));
      const unlocked = await new StoreKeys(creds, asked).unlock(hdr.header, [path.join(root, 'shared'), local]);
      if (unlocked.kind !== 'ok') throw new Error(`${pc}: the passphrase was not taken`);
      if (pc === 'pc-a') expect(asked.messages[1]).toContain('wurde durch ein neues ersetzt'); // the first one is retired
      const store = { shared: path.join(root, 'shared'), header: hdr.header as StoreHeader, key: unlocked.keyring };
      opened[pc] = await openDevice(store, expected.devices[pc].name, { id: expected.devices[pc].id, localRoot: local, exchange: { heartbeatMs: 600_000 } });
    }
    devices = opened as Record<Pc, Device>;
  });
  afterAll(async () => {
    for (const d of Object.values(devices ?? {})) await d.store.close();
  });

  test('its files are exactly those it was written with (MANIFEST.sha256)', () => {
    expect(manifestOf(FIXTURE_DIR)).toBe(fs.readFileSync(path.join(FIXTURE_DIR, 'MANIFEST.sha256'), 'utf8'));
  });

  test('every PC opens it with the current passphrase, on the current key, and refuses nothing', async () => {
    for (const pc of PCS) {
      const d = devices[pc];
      expect(d.replica.keyState).toMatchObject({ upToDate: true, current: expected.keys.current });
      expect(await credentials[pc]!.accounts()).toEqual([`store-key:${expected.storeId}`]);
      expect(d.replica.badFiles).toEqual([]);
      const report = await d.replica.verify();
      expect({ problems: report.problems, locked: report.locked }).toEqual({ problems: [], locked: [] });
    }
    // and the shared folder, whose files a round does not read again when the replica holds them by name
    const shared = await devices['pc-a'].replica.verify(path.join(root, 'shared'));
    expect({ problems: shared.problems, locked: shared.locked, ignored: shared.ignored }).toEqual({ problems: [], locked: [], ignored: [] });
    expect(shared.segments).toBe(expected.logFiles.filter((l) => l.in.includes('shared')).length);
  });

  test('each PC holds what expected.json says: records, conflicts, histories', async () => {
    for (const pc of PCS) expect({ pc, view: await readView(devices[pc].replica, keys) }).toEqual({ pc, view: expected.views[pc] });
  });

  test('what the story put in it is there (independently of expected.json)', async () => {
    const a = devices['pc-a'].replica;
    const k03 = await a.history('clients', 'k-03');
    expect(k03.map((v) => v.updatedBy)).toEqual(['Praxis-PC A', 'Praxis-PC A', 'Praxis-PC A', 'Praxis-PC C']);
    expect((await a.get('clients', 'k-03'))!.data).toMatchObject({ ort: 'Kiel-Gaarden', kasse: 'Barmer' });
    expect(await a.get('appointments', 't-05')).toBeUndefined(); // removed ...
    expect((await a.history('appointments', 't-05')).map((v) => v.data === null)).toEqual([false, false, true]); // ... after two versions
    expect((await a.history('appointments', 't-02')).length).toBe(3); // edited before and after the passphrase change
    expect(a.conflictList.map((c) => [c.collection, c.id, c.versions.length])).toEqual([['clients', 'k-07', 2]]);
    expect((await a.get('clients', 'k-07'))!.conflict).toBe(true);
    expect((await a.list('clients')).length + (await a.list('appointments')).length + (await a.list('notes')).length).toBe(39);
    // the attachment, byte for byte, on every PC
    const ref = (await a.get('notes', 'n-06'))!.data!.anhang as never;
    expect(ref).toEqual(expected.attachment.ref);
    for (const pc of PCS) {
      const bytes = await devices[pc].replica.getAttachment(ref);
      expect(crypto.createHash('sha256').update(bytes).digest('hex')).toBe(expected.attachment.sha256);
      expect(Buffer.from(bytes).toString('latin1')).toMatch(/^%PDF-1\.4/);
    }
  });

  test('older log files are sealed under the replaced key, newer ones under the current key; each lies where expected.json says', () => {
    const where = (part: string) => (part === 'shared' ? path.join(root, 'shared') : replicaRoot(path.join(root, part), expected.storeId));
    const found = new Map<string, { key: string; in: string[] }>();
    for (const part of ['shared', ...PCS])
      for (const rel of walk(where(part)).filter((f) => /^devices\/[0-9a-f]{32}\/log\//.test(f))) {
        const e = found.get(rel) ?? { key: sealedKeyId(fs.readFileSync(path.join(where(part), rel)))!, in: [] };
        e.in.push(part);
        found.set(rel, e);
      }
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(expected.logFiles.map((l) => [l.path, { key: l.key, in: l.in }])));
    const keysUsed = new Set(expected.logFiles.map((l) => l.key));
    expect([...keysUsed].sort()).toEqual([expected.keys.current, 'header'].sort());
    expect(expected.keys.current).not.toBe('header');
  });

  test("PC C's unsent changes are in its replica only, and counted as waiting", async () => {
    const c = devices['pc-c'];
    for (const f of expected.unsentOnC.logFiles) {
      expect(fs.existsSync(path.join(c.localRoot, f))).toBe(true);
      expect(fs.existsSync(path.join(root, 'shared', f))).toBe(false);
    }
    expect(c.exchange.pendingUploads()).toBe(expected.unsentOnC.pendingUploads); // from its sent mark, before any round
    expect(expected.unsentOnC.changes.length).toBe(expected.unsentOnC.pendingUploads);
    for (const ch of expected.unsentOnC.changes) {
      const [key, ver] = ch.split(' ') as [string, string];
      const [col, id] = key.split('/') as [string, string];
      expect((await c.replica.history(col, id)).map((v) => v.version)).toContain(ver);
      for (const pc of ['pc-a', 'pc-b'] as const) expect((await devices[pc].replica.history(col, id)).map((v) => v.version)).not.toContain(ver);
    }
  });

  test("after an exchange C's changes are at A and B, and all three hold the same records, conflicts and histories", async () => {
    const all = PCS.map((pc) => devices[pc]);
    await syncAll([devices['pc-c'], devices['pc-a'], devices['pc-b']], 2);
    for (const ch of expected.unsentOnC.changes) {
      const [key, ver] = ch.split(' ') as [string, string];
      const [col, id] = key.split('/') as [string, string];
      for (const d of all) expect((await d.replica.history(col, id)).map((v) => v.version)).toContain(ver);
    }
    for (const f of expected.unsentOnC.logFiles) expect(fs.existsSync(path.join(root, 'shared', f))).toBe(true);
    expect(devices['pc-c'].exchange.pendingUploads()).toBe(0);
    for (const d of all) {
      expect({ pc: d.name, view: await readView(d.replica, keys) }).toEqual({ pc: d.name, view: expected.views.converged });
      expect(d.replica.badFiles).toEqual([]);
    }
    // C received B's edit made while it was away
    expect((await devices['pc-c'].replica.get('appointments', 't-12'))!.data).toMatchObject({ beginn: '2026-03-20T16:00' });
    // the copy was opened and exchanged with, never the fixture itself
    expect(manifestOf(FIXTURE_DIR)).toBe(fs.readFileSync(path.join(FIXTURE_DIR, 'MANIFEST.sha256'), 'utf8'));
  });
});
