// The store key wrapped under the practice passphrase.
import { createHeader, unwrapStoreKey } from '../../../src/services/crypto/store-crypto';
import { TEST_KDF } from '../../support/store-fixture';

describe('the store key', () => {
  test('a wrong passphrase unwraps nothing; the right one does', async () => {
    const { header, storeKey } = await createHeader('richtiges Passwort', TEST_KDF);
    expect(await unwrapStoreKey(header, 'falsches Passwort')).toBeUndefined();
    expect((await unwrapStoreKey(header, 'richtiges Passwort'))!.equals(storeKey)).toBe(true);
  });
});
