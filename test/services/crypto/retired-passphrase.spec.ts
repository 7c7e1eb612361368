// Issue #14's attacks on the keys, as a former employee would try them: the old passphrase (so the
// header's key), a copy of the shared folder to write into, and the format from docs/STORE-FORMAT.md.
// Each case failed on the code before the anchor rule; the rule is in docs/PASSPHRASE.md.
import * as crypto from 'node:crypto';
import { createHeader, kdfWork } from '../../../src/services/crypto/store-crypto';
import { HEADER_KEY_ID, KeyFileSchema, MAX_KDF_COST, StoreHeaderSchema, type KeyFile } from '../../../src/services/store/format';
import { KEY_FILE_SKEW_MS, Keyring, MAX_KEY_FILES_TRIED, createKeyFile, createLinkFile, keyringFromPassphrase, resolveKeys, type NamedKeyFile } from '../../../src/services/crypto/keyring';
import { TEST_KDF } from '../../support/store-fixture';

const PC = 'a'.repeat(32);
const OLD = 'altes Praxis-Passwort';
const NEW = 'neues Praxis-Passwort';
const THIEFS = 'Passwort des Angreifers';
const named = (file: KeyFile | NamedKeyFile['file']): NamedKeyFile => ({ hash: crypto.createHash('sha256').update(JSON.stringify(file)).digest('hex'), file });

/** A practice that changed its passphrase once; the former employee kept the old (header) key. */
async function practice() {
  const { header, storeKey } = await createHeader(OLD, TEST_KDF);
  const old = Keyring.ofHeaderKey(header.storeId, storeKey, header.keyCheck);
  const thief = old.copy();
  const pc = old.copy();
  const { file: change, key } = await createKeyFile({ keyring: pc, parent: HEADER_KEY_ID, passphrase: NEW, deviceId: PC, deviceName: '', kdf: TEST_KDF });
  pc.add(change.keyId, key);
  const files = [named(change)];
  expect(resolveKeys(pc, files)).toMatchObject({ current: change.keyId, upToDate: true });
  return { header, pc, thief, change, files };
}

/** A generation the thief endorses with the old key, posing as the practice's PC, dated as he likes. */
async function planted(thief: Keyring, passphrase: string, notBefore?: string, kdf: { N: number; r: number; p: number } = TEST_KDF): Promise<{ hash: string; file: KeyFile }> {
  const { file } = await createKeyFile({ keyring: thief, parent: HEADER_KEY_ID, passphrase, deviceId: PC, deviceName: '', kdf, ...(notBefore ? { notBefore } : {}) });
  return { hash: named(file).hash, file };
}

describe('a generation dated in 2099', () => {
  test('is not believed: every PC keeps the real one, a new PC gets in with the real passphrase, the thief’s opens nothing', async () => {
    const { header, pc, thief, change, files } = await practice();
    const y2099 = await planted(thief, THIEFS, '2099-01-01T00:00:00.000Z');
    const all = [...files, y2099];
    const st = resolveKeys(pc.copy(), all);
    expect(st).toMatchObject({ current: change.keyId, upToDate: true, others: [] });
    expect(st.future.map((f) => f.hash)).toEqual([y2099.hash]);
    expect(st.currentBy?.at).toBe(change.createdAt); // not "changed on 01.01.2099"
    expect(await keyringFromPassphrase(header, all, NEW)).toMatchObject({ kind: 'ok', state: { current: change.keyId } });
    expect((await keyringFromPassphrase(header, all, THIEFS)).kind).toBe('wrong');
    // the next real change is dated after the real generation, not after 2099
    const held = pc.copy();
    resolveKeys(held, all);
    const next = await createKeyFile({ keyring: held, parent: change.keyId, passphrase: 'drittes Praxis-Passwort', deviceId: PC, deviceName: '', kdf: TEST_KDF, notBefore: change.createdAt });
    expect(next.file.createdAt < '2098').toBe(true);
  });
});

describe('a generation dated inside the allowed clock skew (the date alone cannot tell it apart)', () => {
  test('is named beside the real one, never current; typing its passphrase links it under the real key, never the reverse', async () => {
    const { header, pc, thief, change, files } = await practice();
    const soon = await planted(thief, THIEFS, new Date(Date.now() + KEY_FILE_SKEW_MS / 2).toISOString());
    const all = [...files, soon];
    const st = resolveKeys(pc, all);
    expect(st).toMatchObject({ current: change.keyId, upToDate: true, live: [change.keyId] });
    expect(st.others.map((f) => f.keyId)).toEqual([soon.file.keyId]);
    expect(pc.current.id).toBe(change.keyId);
    // a new PC typing the real passphrase is let in (before: "replaced on <thief's date>")
    expect(await keyringFromPassphrase(header, all, NEW)).toMatchObject({ kind: 'ok', state: { current: change.keyId } });
    // someone at the PC is talked into typing the thief's passphrase
    const typed = await keyringFromPassphrase(header, all, THIEFS, pc);
    if (typed.kind !== 'ok') throw new Error(typed.kind);
    expect(typed.keyring.current.id).toBe(change.keyId);
    expect(typed.state.unlinked).toEqual([soon.file.keyId]);
    const link = named(createLinkFile(typed.keyring, typed.state.current, typed.state.unlinked, PC));
    expect((link.file as { under: string }).under).toBe(change.keyId);
    // the thief's passphrase, on the thief's own device, with every file the PC wrote: never the new key
    const withLink = [...all, link];
    const thiefs = await keyringFromPassphrase(header, withLink, THIEFS);
    if (thiefs.kind !== 'ok') throw new Error(thiefs.kind);
    expect(thiefs.keyring.has(change.keyId)).toBe(false);
    expect(thiefs.keyring.ids.sort()).toEqual([HEADER_KEY_ID, soon.file.keyId].sort());
    // and the real passphrase still opens everything, the thief's key included, and stays current
    expect(await keyringFromPassphrase(header, withLink, NEW)).toMatchObject({ kind: 'ok', state: { current: change.keyId, others: [] } });
  });

  test('a generation claiming the real one as its parent, endorsed without its key, is forged', async () => {
    const { pc, thief, change, files } = await practice();
    const claim = { ...(await planted(thief, THIEFS)).file, parent: change.keyId } as KeyFile;
    const st = resolveKeys(pc, [...files, named(claim)]);
    expect(st.forged.map((f) => f.file)).toEqual([claim]);
    expect(st).toMatchObject({ current: change.keyId, upToDate: true, others: [] });
  });
});

describe('scrypt parameters read from the shared folder', () => {
  const kdf = (N: number, r: number, p = 1) => ({ name: 'scrypt' as const, N, r, p, salt: 'AAAA' });
  test('a lowered header (N=1024, r=1) and a key file demanding N=2^20, r=32 are refused where they are read', async () => {
    const { header, change } = await practice();
    expect(StoreHeaderSchema.safeParse({ ...header, kdf: kdf(1024, 1) }).success).toBe(false);
    expect(StoreHeaderSchema.safeParse(header).success).toBe(true);
    expect(KeyFileSchema.safeParse({ ...change, kdf: kdf(1 << 20, 32) }).success).toBe(false);
    expect(KeyFileSchema.safeParse({ ...change, kdf: kdf(1 << 18, 8) }).success).toBe(true); // the bound itself
    expect(KeyFileSchema.safeParse({ ...change, kdf: kdf(1 << 18, 16) }).success).toBe(false); // 512 MiB
    expect((1 << 18) * 8).toBe(MAX_KDF_COST);
  });

  test('planted key files at the highest cost are tried after the real one: a join costs one derivation', async () => {
    const { header, thief, files } = await practice();
    const costly = [];
    for (let i = 0; i < 3; i++) costly.push(await planted(thief, `${THIEFS} ${i}`, new Date(Date.now() + 60_000).toISOString(), { N: 1 << 18, r: 8, p: 1 }));
    const before = { ...kdfWork };
    expect((await keyringFromPassphrase(header, [...costly, ...files], NEW)).kind).toBe('ok');
    expect(kdfWork.derivations - before.derivations).toBe(1); // the real key file, before any costly one and the header's
    expect(kdfWork.cost - before.cost).toBe(TEST_KDF.N * TEST_KDF.r);
  });

  test('however many are planted, a passphrase tries at most MAX_KEY_FILES_TRIED key files', async () => {
    const { header, thief, files } = await practice();
    const many = [];
    for (let i = 0; i < MAX_KEY_FILES_TRIED + 4; i++) many.push(await planted(thief, `${THIEFS} ${i}`));
    const before = kdfWork.derivations;
    expect((await keyringFromPassphrase(header, [...files, ...many], 'ein falsches Passwort')).kind).toBe('wrong');
    expect(kdfWork.derivations - before).toBe(MAX_KEY_FILES_TRIED + 1); // and the header's
  });
});
