// Key generations on their own: envelopes naming their key, what the keychain entry holds, and
// key files nobody should believe (planted without the key they claim to replace).
import * as crypto from 'node:crypto';
import * as fc from 'fast-check';
import { createHeader, decrypt, encrypt, EnvelopeError } from '../../../src/services/crypto/store-crypto';
import { HEADER_KEY_ID, type KeyFile } from '../../../src/services/store/format';
import {
  Keyring,
  createKeyFile,
  createLinkFile,
  keyringFromPassphrase,
  resolveKeys,
  type NamedKeyFile,
} from '../../../src/services/crypto/keyring';
import { TEST_KDF } from '../../support/store-fixture';

const DEV = 'd'.repeat(32);
const named = (file: KeyFile | NamedKeyFile['file']): NamedKeyFile => ({ hash: crypto.createHash('sha256').update(JSON.stringify(file)).digest('hex'), file });
const copy = (k: Keyring) => k.copy();

async function storeWithRotation() {
  const { header, storeKey } = await createHeader('erstes Passwort', TEST_KDF);
  const k0 = Keyring.ofHeaderKey(header.storeId, storeKey);
  const { file, key } = await createKeyFile({ keyring: k0, parent: HEADER_KEY_ID, passphrase: 'zweites Passwort', deviceId: DEV, deviceName: 'PC 1', kdf: TEST_KDF });
  return { header, storeKey, k0, file, key };
}

describe('envelopes name their key', () => {
  test('a file sealed under a later generation opens with it and says "unknown key" without it', async () => {
    const { header, k0, file, key } = await storeWithRotation();
    const k1 = copy(k0);
    k1.add(file.keyId, key);
    k1.use(file.keyId);
    const sealed = encrypt(k1, header.storeId, 'log/x/1', Buffer.from('hallo'));
    expect(sealed.subarray(0, 4).toString()).toBe('PSE2');
    expect(sealed.subarray(4, 20).toString('hex')).toBe(file.keyId);
    expect(decrypt(k1, header.storeId, 'log/x/1', sealed).toString()).toBe('hallo');
    const e = (() => {
      try {
        decrypt(k0, header.storeId, 'log/x/1', sealed);
      } catch (err) {
        return err as EnvelopeError;
      }
    })();
    expect(e).toBeInstanceOf(EnvelopeError);
    expect(e!.reason).toBe('unknown-key');
    // the header's key still seals "PSE1", and an altered key id never opens
    expect(encrypt(k0, header.storeId, 'c', Buffer.from('x')).subarray(0, 4).toString()).toBe('PSE1');
    const altered = Buffer.from(sealed);
    altered[10] ^= 1;
    expect(() => decrypt(k1, header.storeId, 'log/x/1', altered)).toThrow(EnvelopeError);
  });

  test('the keychain entry: every key (format 2), the first format (header key, base64), nothing usable else', async () => {
    const { header, storeKey, k0, file, key } = await storeWithRotation();
    const k1 = copy(k0);
    k1.add(file.keyId, key);
    const back = Keyring.restore(header, k1.serialize())!;
    expect(back.ids).toEqual(k1.ids);
    expect(back.get(file.keyId)!.equals(key)).toBe(true);
    expect(Keyring.restore(header, storeKey.toString('base64'))!.ids).toEqual([HEADER_KEY_ID]);
    expect(Keyring.restore(header, crypto.randomBytes(32).toString('base64'))).toBeUndefined(); // not this store's key
  });

  test.each([
    ['empty', () => ''],
    ['not JSON', () => '{'],
    ['no keys', () => '{"v":2,"keys":{}}'],
    ['an unknown format', () => '{"v":3,"keys":{"header":"AA=="}}'],
    ['a key of the wrong length', () => JSON.stringify({ v: 2, keys: { header: 'AAAA' } })],
    ['a key id that is a path', (storeKey: Buffer) => JSON.stringify({ v: 2, keys: { '../x': storeKey.toString('base64') } })],
  ])('a keychain entry that is not usable (%s) restores nothing', async (_what, entry) => {
    const { header, storeKey } = await storeWithRotation();
    expect(Keyring.restore(header, entry(storeKey))).toBeUndefined();
  });
});

describe('which passphrase opens the store', () => {
  test('after a change the new passphrase opens everything; the old one is retired; a wrong one is wrong', async () => {
    const { header, file } = await storeWithRotation();
    const files = [named(file)];
    const now = await keyringFromPassphrase(header, files, 'zweites Passwort');
    expect(now.kind).toBe('ok');
    if (now.kind === 'ok') {
      expect(now.keyring.ids.sort()).toEqual([file.keyId, HEADER_KEY_ID].sort()); // older keys come wrapped under the new one
      expect(now.state).toMatchObject({ current: file.keyId, upToDate: true, locked: [], forged: [], unlinked: [] });
      expect(now.keyring.current.id).toBe(file.keyId);
    }
    const old = await keyringFromPassphrase(header, files, 'erstes Passwort');
    expect(old).toMatchObject({ kind: 'retired', by: { deviceId: DEV, name: '', at: file.createdAt } }); // no name in a key file: readers take it from the device card
    expect((await keyringFromPassphrase(header, files, 'falsch')).kind).toBe('wrong');
    // without key files (none synced yet) the first passphrase is all there is
    expect((await keyringFromPassphrase(header, [], 'erstes Passwort')).kind).toBe('ok');
  });

  test('a key file planted without the key it claims to replace is never believed, whatever passphrase it has', async () => {
    const { header, k0 } = await storeWithRotation();
    const attacker = Keyring.ofHeaderKey(header.storeId, crypto.randomBytes(32)); // knows the folder, not the key
    const planted = (await createKeyFile({ keyring: attacker, parent: HEADER_KEY_ID, passphrase: 'Angreifer-Passwort', deviceId: DEV, deviceName: 'fremd', kdf: TEST_KDF })).file;
    const orphan = { ...planted, parent: 'a'.repeat(32) }; // names a generation nobody has
    const files = [named(planted), named(orphan)];
    const held = copy(k0);
    const st = resolveKeys(held, files);
    expect(st).toMatchObject({ current: HEADER_KEY_ID, upToDate: true, locked: [] });
    expect(st.forged.map((f) => f.file)).toEqual([planted]);
    expect(held.current.id).toBe(HEADER_KEY_ID);
    expect((await keyringFromPassphrase(header, files, 'Angreifer-Passwort')).kind).toBe('wrong');
    // a generation endorsed correctly but with a changed field breaks its endorsement
    const { file } = await storeWithRotation();
    const tampered = { ...file, storeId: header.storeId, createdByName: 'jemand anderes' };
    expect(resolveKeys(copy(k0), [named(tampered)]).forged).toHaveLength(1);
  });
});

describe('a crossing loser is retired even where the winner lies beyond a key it does not hold', () => {
  test('A: header → a1 → a2 → a3; B crossed with b1 (after a1, before a2); a3 carries b1 by a link', async () => {
    // the shape the reliability campaign found: with b1's passphrase alone, a1's descendants cannot be
    // checked (b1 does not hold a1), so b1 looked like the newest generation and its passphrase "current"
    const { header, storeKey } = await createHeader('p0', TEST_KDF);
    const a = Keyring.ofHeaderKey(header.storeId, storeKey, header.keyCheck);
    const b = a.copy();
    const files: NamedKeyFile[] = [];
    const step = async (holder: Keyring, parent: string, pass: string) => {
      const { file, key } = await createKeyFile({ keyring: holder, parent, passphrase: pass, deviceId: DEV, deviceName: 'PC', kdf: TEST_KDF });
      holder.add(file.keyId, key);
      files.push(named(file));
      await new Promise((r) => setTimeout(r, 5)); // deliberate: the clock must advance, so each key file gets a distinct creation time
      return file.keyId;
    };
    const a1 = await step(a, HEADER_KEY_ID, 'pa1');
    const b1 = await step(b, HEADER_KEY_ID, 'pb1');
    const a2 = await step(a, a1, 'pa2');
    const a3 = await step(a, a2, 'pa3');
    a.add(b1, b.get(b1)!);
    files.push(named(createLinkFile(a, a3, [b1], DEV)));
    expect(resolveKeys(a.copy(), files)).toMatchObject({ current: a3, upToDate: true, unlinked: [] });
    expect(await keyringFromPassphrase(header, files, 'pa3')).toMatchObject({ kind: 'ok', state: { current: a3 } });
    for (const old of ['pa1', 'pa2', 'p0']) expect([old, (await keyringFromPassphrase(header, files, old)).kind]).toEqual([old, 'retired']);
    // The crossing loser's passphrase: nothing it can check says b1 was replaced (a3's link lies under a
    // key it lacks, and a claim it cannot check is never believed — else anyone could "replace" the real
    // current one). It opens what it opened before the crossing and nothing after: a1 is another line.
    const loser = await keyringFromPassphrase(header, files, 'pb1');
    expect(loser.kind).toBe('ok');
    if (loser.kind === 'ok') {
      expect(loser.keyring.ids.sort()).toEqual([b1, HEADER_KEY_ID].sort());
      expect(loser.state.others.map((f) => f.keyId)).toEqual([a1]);
    }
    // a device holding b1 only sees a1's line beside its own and is never moved onto it by itself
    const bOnly = b.copy();
    expect(resolveKeys(bOnly, files)).toMatchObject({ current: b1, upToDate: true });
    expect(bOnly.current.id).toBe(b1);
    // typing a3's passphrase there: a3 holds b1 (the link), so it is verifiably after b1 — b moves on
    const typed = await keyringFromPassphrase(header, files, 'pa3', b.copy());
    expect(typed).toMatchObject({ kind: 'ok', state: { current: a3, others: [] } });
  });
});

describe('links', () => {
  test('a key held before its file arrived is never wrapped under an older key', async () => {
    const { k0, file, key } = await storeWithRotation();
    const joined = k0.copy();
    joined.add(file.keyId, key); // joined with the new passphrase; the key file is not here yet
    expect(resolveKeys(joined, []).unlinked).toEqual([]);
    expect(resolveKeys(joined, [named(file)])).toMatchObject({ current: file.keyId, unlinked: [] });
  });
});

describe('two changes at the same time', () => {
  test('a device holding every key names the current generation; one lacking any says so, and the current passphrase brings it there', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(3), { minLength: 1, maxLength: 4 }), async (parents) => {
        const { header, storeKey } = await createHeader('p0', TEST_KDF);
        const all = Keyring.ofHeaderKey(header.storeId, storeKey);
        const files: NamedKeyFile[] = [];
        const ids = [HEADER_KEY_ID];
        const passOf = new Map([[HEADER_KEY_ID, 'p0']]);
        for (const p of parents) {
          // a change made from any earlier generation: branches are changes that crossed
          const parent = ids[Math.min(p, ids.length - 1)]!;
          const { file, key } = await createKeyFile({ keyring: copy(all), parent, passphrase: `p${ids.length}`, deviceId: DEV, deviceName: 'PC', kdf: TEST_KDF });
          files.push(named(file));
          all.add(file.keyId, key);
          passOf.set(file.keyId, `p${ids.length}`);
          ids.push(file.keyId);
        }
        const everything = copy(all);
        const a = resolveKeys(everything, files);
        expect(resolveKeys(copy(all), [...files].reverse()).current).toBe(a.current); // order does not matter
        expect(a.upToDate).toBe(true);
        expect(a.locked).toEqual([]);
        // a device with the first key only is told it needs a passphrase (behind, or files it cannot open)
        const b = resolveKeys(Keyring.ofHeaderKey(header.storeId, storeKey), files);
        expect(!b.upToDate || b.locked.length > 0).toBe(true);
        const typed = await keyringFromPassphrase(header, files, passOf.get(a.current)!, Keyring.ofHeaderKey(header.storeId, storeKey));
        expect(typed.kind === 'ok' && typed.state.current).toBe(a.current);
        expect(everything.current.id).toBe(a.current);
        // the device that holds every key links the unreachable ones; then the current passphrase alone opens all
        const link = a.unlinked.length ? [named(createLinkFile(everything, a.current, a.unlinked, DEV))] : [];
        const fresh = new Keyring(header.storeId, [[a.current, all.get(a.current)!]], header.keyCheck);
        const c = resolveKeys(fresh, [...files, ...link]);
        expect(c.unlinked).toEqual([]);
        expect(fresh.ids.sort()).toEqual(all.ids.sort());
      }),
      { numRuns: 15 },
    );
  });
});

describe('an anchor whose key file is nowhere', () => {
  test('a replica put back from a backup taken before this PC changed the passphrase (the key file never sent): not written with, the newest generation held is; written with again once its key file is back', async () => {
    const { k0, file, key } = await storeWithRotation();
    const kc = copy(k0);
    kc.add(file.keyId, key);
    // the keychain: the new generation is the anchor (this PC changed the passphrase)
    expect(resolveKeys(kc, [named(file)]).current).toBe(file.keyId);
    expect(kc.anchor).toBe(file.keyId);
    // the replica put back: its key file is gone; a key no other PC can ever get is not sealed with
    const st = resolveKeys(kc, []);
    expect(st.current).toBe(HEADER_KEY_ID);
    expect(kc.current.id).toBe(HEADER_KEY_ID);
    expect(kc.has(file.keyId)).toBe(true); // still held: what was sealed under it stays readable here
    expect(st.live).toEqual([HEADER_KEY_ID]);
    expect(st.awaitedAnchor).toBe(file.keyId); // and still adopted: this PC's own presence under it is its word
    expect(kc.anchor).toBe(file.keyId); // the keychain keeps it
    // the key file back (it had reached the shared folder after all): written with again
    const back = resolveKeys(kc, [named(file)]);
    expect(back.current).toBe(file.keyId);
    expect(back.awaitedAnchor).toBeUndefined();
    expect(kc.current.id).toBe(file.keyId);
  });

  test('the awaited anchor gives way to a new change made here (its key file wraps the awaited key), not to a generation set elsewhere', async () => {
    const { k0, file, key } = await storeWithRotation();
    const kc = copy(k0);
    kc.add(file.keyId, key);
    resolveKeys(kc, [named(file)]); // adopted
    expect(resolveKeys(kc, []).awaitedAnchor).toBe(file.keyId); // its key file gone with the disk
    // another PC's generation after the header's key, entered here: it does not hold the awaited key
    const elsewhere = await createKeyFile({ keyring: k0, parent: HEADER_KEY_ID, passphrase: 'anderes Passwort', deviceId: 'b'.repeat(32), deviceName: '', kdf: TEST_KDF });
    const withOther = copy(kc);
    withOther.add(elsewhere.file.keyId, elsewhere.key);
    const st = resolveKeys(withOther, [named(elsewhere.file)]);
    expect(st.current).toBe(elsewhere.file.keyId); // written with (the newest generation held)
    expect(st.awaitedAnchor).toBe(file.keyId); // yet the anchor stays: StoreKeys.catchUp lets it go when a person types that passphrase
    // a change made here, from the key it writes with: its file wraps every key held, the awaited one too
    const again = await createKeyFile({ keyring: kc, parent: HEADER_KEY_ID, passphrase: 'drittes Passwort', deviceId: DEV, deviceName: '', kdf: TEST_KDF });
    kc.add(again.file.keyId, again.key);
    const after = resolveKeys(kc, [named(again.file)]);
    expect(after.current).toBe(again.file.keyId);
    expect(after.awaitedAnchor).toBeUndefined();
    expect(kc.anchor).toBe(again.file.keyId);
  });
});
