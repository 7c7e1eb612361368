// The credential store on the real OS keychain (gnome-keyring), and without one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KeytarCredentialStore } from '../../../src/services/credentials/credential-store';
import { tempDir, walk } from '../../support/temp';

describe('CredentialStore on the real OS keychain (gnome-keyring)', () => {
  test('set, get, list and delete under service cloud-storage', async () => {
    const ks = new KeytarCredentialStore();
    const account = `test:${process.pid}:${Date.now()}`;
    await ks.set(account, 's3cr3t-ä');
    expect(await ks.get(account)).toBe('s3cr3t-ä');
    expect(await ks.accounts()).toContain(account);
    expect(await ks.delete(account)).toBe(true);
    expect(await ks.get(account)).toBeUndefined();
  });
});

describe('no keychain available', () => {
  test('the error says so and what to install; nothing falls back to a file', () => {
    // A process without a D-Bus session has no Secret Service: the real keytar fails there.
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    const env = { ...process.env };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    const home = tempDir('cs-nokeyring-');
    env.HOME = home;
    const script = `const { KeytarCredentialStore } = require(${JSON.stringify(path.join(__dirname, '..', '..', '..', 'dist', 'services', 'credentials', 'credential-store.js'))});
      new KeytarCredentialStore().set('probe', 'geheim').then(() => console.log('stored'), (e) => console.log(JSON.stringify({ name: e.constructor.name, text: e.text })));`;
    const out = execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 20000 });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    expect(r.name).toBe('KeychainUnavailableError');
    expect(r.text.de).toContain('gnome-keyring');
    expect(r.text.en).toContain('never in a file');
    expect(walk(home).join('\n')).not.toMatch(/geheim/);
    for (const f of walk(home)) expect(fs.readFileSync(path.join(home, f), 'utf8')).not.toContain('geheim');
  });
});
