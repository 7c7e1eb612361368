// A copied app-data folder started on a second machine, and a clock jumping by hours on one device.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { CredentialStore } from '../../src/services/credentials/credential-store';
import { InMemoryCredentialStore } from '../support/memory-credential-store';
import { PracticeReplica } from '../../src/services/store/practice-replica';
import { SharedFolderExchange } from '../../src/services/store/shared-folder-exchange';
import { loadCloudPlugin, makeHost, setUpThroughPage } from '../support/test-host';
import { newSharedStore, openDevice, syncAll } from '../support/store-fixture';
import { tempDir, waitFor, walk } from '../support/temp';
import { CloudStorageTimings } from '../../src/services/cloud-storage-service';

const TIMINGS: CloudStorageTimings = { probeTimeoutMs: 5000, monitorMs: 60000, pollMs: 100, heartbeatMs: 400 };

describe('a copied app-data folder', () => {
  test('the copy gets a fresh identity, brings the changes the shared folder never got, and never writes the original’s area', async () => {
    const root = tempDir('cs-copy-');
    const shared = path.join(root, 'shared');
    fs.mkdirSync(shared);
    const keychain = new InMemoryCredentialStore(); // the same practice passphrase typed on both machines
    const host = (appDataDir: string, name: string) =>
      makeHost({ appDataDir, deviceName: name, bind: (c) => (c.bind(CloudStorageTimings).toConstantValue(TIMINGS), c.bind(CredentialStore).toConstantValue(keychain)) });
    const a = host(path.join(root, 'pc-a'), 'Praxis-PC alt');
    const { plugin: pa, out } = await setUpThroughPage(a, shared, 'Teekanne-Nordstrand-2026');
    expect(out).toMatchObject({ ok: true });
    const sa = await pa.storageProviders[0]!.open();
    await sa.put('clients', 'k1', { name: 'vor dem Umzug' });
    expect((await sa.flush({ timeoutMs: 5000 })).pending).toBe(0);
    fs.renameSync(shared, shared + '-away');
    await sa.put('clients', 'k2', { name: 'nie hochgeladen' }); // sealed locally, not pushed
    await sa.flush({ timeoutMs: 300 });
    await pa.unload();
    fs.cpSync(path.join(root, 'pc-a'), path.join(root, 'pc-b'), { recursive: true }); // the app-data folder copied to a new PC
    fs.renameSync(shared + '-away', shared);

    const b = host(path.join(root, 'pc-b'), 'Praxis-PC neu');
    const pb = await loadCloudPlugin(b);
    expect((await pb.startupGuards[0]!.check()).kind).toBe('proceed');
    const sb = await pb.storageProviders[0]!.open();
    expect((await sb.get('clients', 'k2'))!.data).toEqual({ name: 'nie hochgeladen' });
    expect((await sb.flush({ timeoutMs: 5000 })).pending).toBe(0);
    const ids = fs.readdirSync(path.join(shared, 'devices'));
    expect(ids).toHaveLength(2); // the original's area and the copy's own
    const idA = JSON.parse(fs.readFileSync(path.join(root, 'pc-a', 'cloud-storage', 'identity.json'), 'utf8')).deviceId;
    const idB = JSON.parse(fs.readFileSync(path.join(root, 'pc-b', 'cloud-storage', 'identity.json'), 'utf8')).deviceId;
    expect(idB).not.toBe(idA);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'pc-b', 'cloud-storage', 'identity.json'), 'utf8')).replaces).toEqual([idA]);
    // the copy wrote nothing in the original's area: only the one segment pushed before the move is there
    expect(walk(path.join(shared, 'devices', idA)).filter((f) => f.startsWith('log'))).toHaveLength(1);

    // the original PC comes back too: it pushes its own copy of k2; nothing conflicts, both agree
    const a2 = host(path.join(root, 'pc-a'), 'Praxis-PC alt');
    const pa2 = await loadCloudPlugin(a2);
    expect((await pa2.startupGuards[0]!.check()).kind).toBe('proceed');
    const sa2 = await pa2.storageProviders[0]!.open();
    await sa2.flush({ timeoutMs: 5000 });
    await sb.flush({ timeoutMs: 5000 });
    const both = [
      ['k1', { name: 'vor dem Umzug' }, false],
      ['k2', { name: 'nie hochgeladen' }, false],
    ];
    const listed = async (s: typeof sb) => (await s.list('clients')).map((r) => [r.id, r.data, r.conflict]);
    await waitFor(async () => isDeepStrictEqual(await listed(sa2), both) && isDeepStrictEqual(await listed(sb), both), 10000, 'both PCs pulled each other’s changes');
    for (const s of [sa2, sb]) {
      expect(await listed(s)).toEqual(both);
    }
    await pb.unload();
    await pa2.unload();
  }, 60000);

  test('an acknowledged change still in the journal of the former id is written again, not lost', async () => {
    const store = await newSharedStore();
    const root = tempDir('cs-journal-');
    const oldId = crypto.randomBytes(16).toString('hex');
    const r = await PracticeReplica.open({ localRoot: path.join(root, 'a'), header: store.header, key: store.key, deviceId: oldId, deviceName: 'alt', userName: 'x', sealDelayMs: 1e9 });
    await r.put('clients', 'j', { name: 'nur im Journal' });
    await (r as unknown as { lock: { dispose(): Promise<void> } }).lock.dispose(); // the app died here: never sealed
    fs.cpSync(path.join(root, 'a'), path.join(root, 'b'), { recursive: true });
    const newId = crypto.randomBytes(16).toString('hex');
    const c = await PracticeReplica.open({ localRoot: path.join(root, 'b'), header: store.header, key: store.key, deviceId: newId, deviceName: 'neu', userName: 'x', formerDeviceIds: [oldId] });
    const rec = await c.get('clients', 'j');
    expect(rec).toMatchObject({ data: { name: 'nur im Journal' }, conflict: false });
    expect(rec!.version.endsWith(newId)).toBe(true);
    expect(c.badFiles).toEqual([]);
    await c.close();
    expect(fs.readdirSync(path.join(root, 'b', 'journal')).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});

describe('a clock jumping by hours on one device', () => {
  test('backwards and forwards: versions stay ordered, nothing is lost, every device agrees', async () => {
    const store = await newSharedStore();
    let offset = 0;
    const jumpy = await openDevice(store, 'PC-Uhr');
    await jumpy.replica.close();
    const a = await PracticeReplica.open({ localRoot: jumpy.localRoot, header: store.header, key: store.key, deviceId: jumpy.id, deviceName: 'PC-Uhr', userName: 'x', now: () => Date.now() + offset });
    const ax = new SharedFolderExchange(a, { sharedRoot: store.shared, deviceName: 'PC-Uhr', userName: 'x', watch: false, pollMs: 100 });
    const b = await openDevice(store, 'PC-normal');
    const dev = { name: 'PC-Uhr', id: jumpy.id, localRoot: jumpy.localRoot, replica: a, exchange: ax };
    const versions: string[] = [];
    versions.push((await a.put('clients', 'k', { n: 1 })).version);
    offset = -3 * 3600_000; // the clock jumps back three hours
    versions.push((await a.put('clients', 'k', { n: 2 })).version);
    await syncAll([dev, b]);
    versions.push((await b.replica.put('clients', 'k', { n: 3 })).version);
    await syncAll([dev, b]);
    offset = 5 * 3600_000; // and five hours ahead
    versions.push((await a.put('clients', 'k', { n: 4 })).version);
    await syncAll([dev, b]);
    expect([...versions].sort()).toEqual(versions); // each later write sorts later, whatever the wall clock said
    for (const d of [a, b.replica]) {
      expect(await d.get('clients', 'k')).toMatchObject({ data: { n: 4 }, conflict: false });
      expect((await d.history('clients', 'k')).map((h) => h.version)).toEqual(versions);
    }
    await a.close();
    await b.replica.close();
  });
});
