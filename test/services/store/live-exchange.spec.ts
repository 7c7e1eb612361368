// Attachments, import, live exchange, the lost-lock path and the verify command line.
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImportRecord, RecordChange } from '../../../src/host-api';
import { SharedFolderExchange } from '../../../src/services/store/shared-folder-exchange';
import { newSharedStore, openDevice, syncAll } from '../../support/store-fixture';
import { tempDir, waitFor, walk } from '../../support/temp';

const ROOT = path.resolve(__dirname, '..', '..', '..');

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
    await a.replica.close();
    await b.replica.close();
  }, 120000);
});

describe('importRecords', () => {
  test('verified, idempotent, and stops at a bad record keeping what came before', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    const recs = Array.from({ length: 2500 }, (_, i) => ({ collection: 'clients', id: `k${i}`, data: { name: `K ${i}` } }));
    expect(await d.replica.importRecords(recs)).toEqual({ imported: 2500, skipped: 0, verified: true });
    expect(await d.replica.importRecords(recs)).toEqual({ imported: 0, skipped: 2500, verified: true });
    async function* withBad(): AsyncGenerator<ImportRecord> {
      yield { collection: 'clients', id: 'new1', data: { a: 1 } };
      yield { collection: 'clients', id: 'bad id!', data: {} };
    }
    await expect(d.replica.importRecords(withBad())).rejects.toMatchObject({ code: 'invalid-input' });
    expect(await d.replica.get('clients', 'new1')).toBeDefined();
    expect(await d.replica.list('clients')).toHaveLength(2501);
    await d.replica.close();
  });
});

describe('live exchange', () => {
  test.each([
    ['file-system events', true],
    ['polling only', false],
  ] as const)("another device's change reaches changes$ by itself (%s)", async (_how, watch) => {
    const store = await newSharedStore();
    const a = await openDevice(store, 'PC1', { start: true });
    const b = await openDevice(store, 'PC2');
    await b.exchange.stop();
    const ex = new SharedFolderExchange(b.replica, { sharedRoot: store.shared, deviceName: 'PC2', userName: 't', pollMs: watch ? 60000 : 300, heartbeatMs: 500, watch });
    ex.start();
    const seen: RecordChange[] = [];
    b.replica.changes$.subscribe((c) => seen.push(c));
    await a.replica.put('clients', 'live', { n: 1 });
    await waitFor(() => seen.some((c) => c.origin === 'remote' && c.record.id === 'live'), 10000, 'remote change');
    await a.replica.close();
    await b.replica.close();
  });
});

describe('single writer', () => {
  test('a lost lock stops writing, says so, and never crashes the host', async () => {
    const store = await newSharedStore();
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'before', { ok: true });
    fs.rmSync(path.join(d.localRoot, 'replica.lock'), { recursive: true, force: true }); // another process broke it
    await waitFor(() => d.replica.readOnly, 15000, 'lock loss noticed');
    await expect(d.replica.put('clients', 'after', {})).rejects.toMatchObject({ code: 'read-only' });
    expect((await d.replica.get('clients', 'before'))!.data).toEqual({ ok: true });
    await d.replica.close();
  }, 30000);
});

describe('npx cloud-storage verify', () => {
  test('reads the passphrase from stdin, reports OK, names a damaged file, refuses a wrong passphrase', async () => {
    const store = await newSharedStore('Support-Passwort-1');
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'k', { a: 1 });
    await d.replica.flush({ timeoutMs: 3000 });
    await d.replica.close();
    const bin = path.join(ROOT, 'bin', 'cloud-storage.js');
    const ok = spawnSync(process.execPath, [bin, 'verify', store.shared], { input: 'Support-Passwort-1\n', encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('Result: OK');
    expect(ok.stdout + ok.stderr).not.toContain('Support-Passwort-1');
    const wrong = spawnSync(process.execPath, [bin, 'verify', store.shared], { input: 'falsch\n', encoding: 'utf8' });
    expect(wrong.status).toBe(3);
    expect(wrong.stderr).toContain('passphrase is wrong');
    const seg = walk(store.shared).find((f) => f.includes('/log/'))!;
    fs.appendFileSync(path.join(store.shared, seg), 'x');
    const bad = spawnSync(process.execPath, [bin, 'verify', store.shared], { input: 'Support-Passwort-1\n', encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(seg);
    const usage = spawnSync(process.execPath, [bin], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    const none = spawnSync(process.execPath, [bin, 'verify', tempDir()], { encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('holds no readable practice store');
  });
});
