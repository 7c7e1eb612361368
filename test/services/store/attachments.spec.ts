// Attachments: encrypted in the shared folder, byte for byte on another device, bounded in size.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newSharedStore, openDevice, syncAll } from '../../support/store-fixture';
import { walk } from '../../support/temp';

describe('attachments', () => {
  test('a 50 MiB scan travels encrypted to another device and comes back byte for byte', async () => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC1');
    const b = await openDevice(store, 'PC2');
    const scan = crypto.randomBytes(50 * 1024 * 1024);
    const ref = await a.replica.putAttachment(scan, { name: 'Befund.pdf', mediaType: 'application/pdf' });
    expect(ref).toMatchObject({ name: 'Befund.pdf', mediaType: 'application/pdf', size: scan.length });
    await a.replica.put('letters', 'l1', { attachment: ref as never });
    await syncAll([a, b]);
    const rec = await b.replica.get('letters', 'l1');
    const got = await b.replica.getAttachment(rec!.data!.attachment as never);
    expect(Buffer.from(got).equals(scan)).toBe(true);
    // the shared folder holds no plaintext of it
    const obj = walk(store.shared).find((f) => f.startsWith('objects'))!;
    expect(fs.readFileSync(path.join(store.shared, obj)).includes(scan.subarray(1000, 1064))).toBe(false);
    await expect(b.replica.putAttachment(new Uint8Array(50 * 1024 * 1024 + 1), { name: 'x.pdf', mediaType: 'application/pdf' })).rejects.toMatchObject({ code: 'invalid-input' });
    await a.store.close();
    await b.store.close();
  }, 120000);
});
