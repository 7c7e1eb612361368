// The command line (src/cli.ts): npx cloud-storage verify.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newSharedStore, openDevice } from './support/store-fixture';
import { tempDir, walk } from './support/temp';

const ROOT = path.resolve(__dirname, '..');

describe('npx cloud-storage verify', () => {
  test('reads the passphrase from stdin, reports OK, names a damaged file, refuses a wrong passphrase', async () => {
    const store = await newSharedStore('Support-Passwort-1');
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'k', { a: 1 });
    await d.store.flush({ timeoutMs: 3000 });
    await d.store.close();
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

describe('npx cloud-storage verify, on a folder with unreadable entries', () => {
  test('link loops and a file where a folder is expected are reported in words; the check finishes without a stack trace', async () => {
    const store = await newSharedStore('Support-Passwort-2');
    const d = await openDevice(store, 'PC1');
    await d.replica.put('clients', 'k', { a: 1 });
    await d.store.flush({ timeoutMs: 3000 });
    await d.store.close();
    const loop = (rel: string) => {
      fs.mkdirSync(path.dirname(path.join(store.shared, rel)), { recursive: true });
      fs.symlinkSync(path.basename(rel), path.join(store.shared, rel));
    };
    loop(path.join('devices', 'a'.repeat(32)));
    fs.mkdirSync(path.join(store.shared, 'devices', 'b'.repeat(32)));
    loop(path.join('devices', 'b'.repeat(32), 'log'));
    fs.writeFileSync(path.join(store.shared, 'devices', 'c'.repeat(32)), 'x');
    loop(path.join('objects', 'ab'));
    loop(path.join('snapshots', 'd'.repeat(32)));
    const bin = path.join(ROOT, 'bin', 'cloud-storage.js');
    const r = spawnSync(process.execPath, [bin, 'verify', store.shared], { input: 'Support-Passwort-2\n', encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/\n\s+at |Error:|ELOOP/); // no stack trace, no raw error code
    expect(r.stdout).toContain('Protokolldateien / log segments: 1,'); // the good device was still checked
    for (const rel of [path.join('devices', 'a'.repeat(32)), path.join('devices', 'b'.repeat(32), 'log'), path.join('devices', 'c'.repeat(32)), path.join('objects', 'ab'), path.join('snapshots', 'd'.repeat(32))])
      expect(r.stdout).toMatch(new RegExp(`✗ ${rel}: .*(symbolic link|a file where a folder is expected)`));
    expect(r.status).toBe(1); // problems found, and said so
  });
});
