// The cost of a new key (docs/PASSPHRASE.md, "Strength and cost"): scrypt N = 2^17, r = 8, p = 1 for a
// new store's header and for every new key file, whatever the header in the shared folder says; and
// a derivation at that cost leaves the main thread free (libuv's thread pool does the work).
import { DEFAULT_SCRYPT, createHeader, deriveKek, newScryptParams } from '../../../src/services/crypto/store-crypto';
import { unlockKeyFile } from '../../../src/services/crypto/keyring';
import type { KeyFile, StoreHeader } from '../../../src/services/store/format';
import { newSharedStore, openDevice } from '../../support/store-fixture';

const OWASP = { N: 1 << 17, r: 8, p: 1 };

jest.setTimeout(120_000);

describe('scrypt cost of new keys', () => {
  test('the default is OWASP\'s N = 2^17, r = 8, p = 1, and a new store\'s header uses it', async () => {
    expect({ ...DEFAULT_SCRYPT }).toEqual(OWASP);
    const { header } = await createHeader('Teekanne Nordstrand Abendrot');
    expect(header.kdf).toMatchObject({ name: 'scrypt', ...OWASP });
  });

  /** A header as it may arrive from the shared folder: any cost the format's bounds allow, tampered or old. */
  async function keyFileUnder(kdf: { N: number; r: number; p: number }): Promise<KeyFile> {
    const made = await newSharedStore('Teekanne Nordstrand Abendrot'); // the fixtures' cheap header (N = 2^10)
    const header: StoreHeader = { ...made.header, kdf: { ...made.header.kdf, ...kdf } };
    const d = await openDevice({ ...made, header }, 'Praxis-PC 1');
    try {
      await d.replica.changePassphrase('Zitronenbaum Leuchtturm Gewitter', 'Praxis-PC 1');
      const files = await d.replica.local.readKeyFiles();
      expect(files).toHaveLength(1);
      return files[0]!.file as KeyFile;
    } finally {
      await d.store.close();
    }
  }

  test('a changed passphrase\'s key file costs the default, however cheap the header is (a tampered header lowers nothing)', async () => {
    const f = await keyFileUnder({ N: 1 << 10, r: 1, p: 1 });
    expect(f.kdf).toMatchObject({ name: 'scrypt', ...OWASP });
    expect(await unlockKeyFile(f, 'Zitronenbaum Leuchtturm Gewitter')).toBeDefined();
  });

  test('… and the header does not raise it either: the shared folder sets no cost for a new key', async () => {
    const f = await keyFileUnder({ N: 1 << 18, r: 16, p: 2 });
    expect(f.kdf).toMatchObject({ name: 'scrypt', ...OWASP });
  });

  test('the main thread is not blocked while a key is derived at the real cost: timers fire meanwhile', async () => {
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 5);
    try {
      const t0 = performance.now();
      let done = 0;
      const derived = deriveKek('Teekanne Nordstrand Abendrot', newScryptParams()).then((k) => {
        done = performance.now();
        return k;
      });
      expect((await derived).length).toBe(32);
      const during = ticks.filter((t) => t > t0 && t < done);
      // 128 MiB of memory-hard work takes far more than a few timer periods; blocked, none would fire until it ended
      expect(done - t0).toBeGreaterThan(20);
      expect(during.length).toBeGreaterThanOrEqual(3);
    } finally {
      clearInterval(timer);
    }
  });
});
