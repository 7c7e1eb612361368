// The store header (practice-store.json): written once, and a newer format is refused.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHeader } from '../../../src/services/crypto/store-crypto';
import { ReplicaFolder } from '../../../src/services/store/replica-folder';
import { TEST_KDF } from '../../support/store-fixture';
import { tempDir } from '../../support/temp';

describe('the store header', () => {
  test('a header is written once: never over an existing store, never left half-written', async () => {
    const dir = tempDir();
    const { header } = await createHeader('pw', TEST_KDF);
    await ReplicaFolder.writeHeader(dir, header);
    const { header: other } = await createHeader('pw', TEST_KDF);
    await expect(ReplicaFolder.writeHeader(dir, other)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(fs.readdirSync(dir)).toEqual(['practice-store.json']);
    expect(await ReplicaFolder.readHeader(dir)).toEqual({ kind: 'ok', header, raw: JSON.parse(JSON.stringify(header)) });
  });

  test('a store of a newer format version is refused, and nothing is changed', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'practice-store.json'), JSON.stringify({ format: 'practice-store', version: 3, storeId: 'x' }));
    expect(await ReplicaFolder.readHeader(dir)).toEqual({ kind: 'newer', version: 3 });
    expect(fs.readdirSync(dir)).toEqual(['practice-store.json']);
  });
});
