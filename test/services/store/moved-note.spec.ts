// The "moved to" note (issue #15) as someone who can write to the shared location would try it: a PC
// follows only a note that authenticates under a key it writes with, that names this store and
// another location. Garbage is reported, a note sealed under a replaced key (a former employee's
// old passphrase) or naming the location itself sends nobody anywhere; and a PC told of a move
// sends nothing more to the old location, while its changes wait, counted, not "in sync".
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Keyring } from '../../../src/services/crypto/keyring';
import { Paths, type MovedNote } from '../../../src/services/store/format';
import { ReplicaFolder } from '../../../src/services/store/replica-folder';
import { newSharedStore, openDevice, syncAll } from '../../support/store-fixture';
import { walk } from '../../support/temp';

jest.setTimeout(60_000);

const SERVER = 'https://cloud.example.org/remote.php/dav/files/praxis/Praxisdaten/';

function note(storeId: string, by: string, to: string | null): MovedNote {
  return { t: 'moved', v: 1, storeId, to, kind: 'server', at: new Date().toISOString(), by };
}

describe('a moved-to note in the shared folder', () => {
  test('garbage is reported and followed by nobody; a real note is believed; its PC sends nothing more there and its changes wait', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC1');
    const b = await openDevice(store, 'PC2');
    await a.replica.put('clients', 'k1', { name: 'Anna' });
    await syncAll([a, b]);
    // the note is read on a carrier's first round and every full-check period: here, the next start of the program
    fs.writeFileSync(path.join(store.shared, Paths.movedNote), 'nicht verschlüsselt: https://evil.example/');
    await b.store.close();
    const b1 = await openDevice(store, 'PC2', { localRoot: b.localRoot, id: b.id });
    await b1.exchange.exchange();
    expect(b1.exchange.movedTo).toBeUndefined();
    expect(b1.exchange.health).toBe('ok');
    expect(b1.replica.badFiles.map((f) => f.path)).toContain(Paths.movedNote);

    // A note sealed under the key the practice writes with: believed, named after the PC that wrote it
    await new ReplicaFolder(store.shared, store.header.storeId, a.replica.keyring).writeMovedNote(note(store.header.storeId, a.id, SERVER));
    await b1.store.close();
    const b2 = await openDevice(store, 'PC2', { localRoot: b.localRoot, id: b.id });
    await b2.exchange.exchange();
    expect(b2.exchange.movedTo).toMatchObject({ to: SERVER, byName: 'PC1', kind: 'server' });
    expect(b2.exchange.health).toBe('moved');
    const written = () => walk(store.shared).filter((f) => f.includes(b.id)).sort();
    const before = written();
    await b2.replica.put('clients', 'k2', { name: 'Bruno' });
    await b2.replica.sealNow();
    await b2.exchange.exchange();
    expect(written()).toEqual(before);
    expect(b2.exchange.syncStatus.pendingUploads).toBeGreaterThan(0);
    expect(b2.exchange.syncStatus.state).not.toBe('in-sync');
    // a late PC's change still arrives while moved (received, not sent)
    await a.replica.put('clients', 'k3', { name: 'Clara' });
    await a.replica.sealNow();
    await a.exchange.exchange(); // A's own carrier was started before the note: it writes here until it checks
    await b2.exchange.exchange();
    expect((await b2.replica.get('clients', 'k3'))?.data).toEqual({ name: 'Clara' });
    await b2.store.close();
    await a.store.close();
  });

  test('a note sealed under a replaced key, one naming this very location and one saying "here" send nobody away', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC1');
    await a.exchange.exchange();
    await a.replica.changePassphrase('Neues-Praxis-Passwort-Sonnenblume-2026', 'PC1');
    await a.exchange.exchange();
    expect(a.replica.liveKeys()).not.toContain('header');

    // a former employee with the old passphrase (the header's key) writes a note pointing to a server of theirs
    const old = Keyring.ofHeaderKey(store.header.storeId, store.key, store.header.keyCheck);
    const planted = new ReplicaFolder(store.shared, store.header.storeId, old);
    await planted.writeMovedNote(note(store.header.storeId, a.id, 'https://evil.example/dav/'));
    const reopen = async () => {
      const keyring = a.replica.keyring; // what the keychain keeps: every generation this PC holds
      await a.store.close();
      const again = await openDevice({ ...store, key: keyring }, 'PC1', { localRoot: a.localRoot, id: a.id });
      expect(again.replica.keyState.upToDate).toBe(true);
      await again.exchange.exchange();
      return again;
    };
    let now = await reopen();
    expect(now.exchange.movedTo).toBeUndefined();
    expect(now.exchange.health).toBe('ok');

    // under the live key, but naming the shared folder itself (replayed or written back): "lives here"
    const live = new ReplicaFolder(store.shared, store.header.storeId, now.replica.keyring);
    await live.writeMovedNote({ ...note(store.header.storeId, a.id, `${store.shared}${path.sep}`), kind: 'folder' });
    Object.assign(a, now);
    now = await reopen();
    expect(now.exchange.movedTo).toBeUndefined();
    // "the store lives here (again)"
    await live.writeMovedNote(note(store.header.storeId, a.id, null));
    Object.assign(a, now);
    now = await reopen();
    expect(now.exchange.movedTo).toBeUndefined();
    // and the real thing, for contrast
    await live.writeMovedNote(note(store.header.storeId, a.id, SERVER));
    Object.assign(a, now);
    now = await reopen();
    expect(now.exchange.movedTo?.to).toBe(SERVER);
    await now.store.close();
  });
});
