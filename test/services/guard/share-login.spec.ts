// The guard's network-share login: asked, retried, kept in the keychain, reconnected silently; or cancelled.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClassifierContext } from '../../../src/services/access/folder-classifier';
import { CommandRunner } from '../../../src/services/access/share-connector';
import { ProbeChildOptions } from '../../../src/services/access/shared-folder-probe';
import { CredentialStore } from '../../../src/services/credentials/credential-store';
import { InMemoryCredentialStore } from '../../support/memory-credential-store';
import { loadCloudPlugin, makeHost, setUpThroughPage, type TestHost } from '../../support/test-host';
import { tempDir, walk } from '../../support/temp';
import { TIMINGS } from '../../support/settings-page';
import { CloudStorageTimings } from '../../../src/services/cloud-storage-service';

const PASS = 'Teekanne-Nordstrand-2026';

async function setUp(h: TestHost, folder: string) {
  const { plugin, out } = await setUpThroughPage(h, folder, PASS);
  expect(out).toMatchObject({ ok: true });
  return plugin;
}

/**
 * A Linux SMB mount whose login is gone (as after a restart): the folder is mounted from //nas/praxis,
 * and until the connector has logged in, every file-system call of the probe fails with EACCES.
 * The SMB server and `gio mount` cannot run here: the runner stands in for gio and records its input.
 */
function shareWithLostLogin() {
  const dir = tempDir('cs-mnt-');
  const marker = path.join(tempDir('cs-login-'), 'logged-in');
  const hook = path.join(tempDir('cs-hook-'), 'eacces.js');
  fs.writeFileSync(
    hook,
    `const fs = require('fs'); const dir = ${JSON.stringify(dir)}; const marker = ${JSON.stringify(marker)};
     for (const k of ['stat', 'readdir', 'readFile', 'writeFile', 'unlink']) { const orig = fs.promises[k];
       fs.promises[k] = (p, ...a) => String(p).startsWith(dir) && !fs.existsSync(marker) ? Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })) : orig(p, ...a); }`,
  );
  const runs: { cmd: string; args: readonly string[]; stdin?: string }[] = [];
  const passwords: string[] = [];
  const runner = {
    run: async (cmd: string, args: readonly string[], opts?: { stdin?: string }) => {
      runs.push({ cmd, args, stdin: opts?.stdin });
      const ok = opts?.stdin?.endsWith(`${passwords[0]}\n`);
      if (ok) fs.writeFileSync(marker, '');
      return ok ? { code: 0, stdout: '', stderr: '' } : { code: 2, stdout: '', stderr: 'gio: smb://nas/praxis/: Failed to mount Windows share: Permission denied' };
    },
  };
  const classifierContext: ClassifierContext = { platform: 'linux', env: {}, home: '/home/x', readFile: () => undefined, mounts: () => `//nas/praxis ${dir} cifs rw 0 0\n` };
  return { dir, marker, hook, runs, passwords, runner, classifierContext };
}

describe('network share login', () => {
  test('auth-required: asks, retries a wrong password, connects, keeps it in the keychain, and reconnects silently next time', async () => {
    const s = shareWithLostLogin();
    s.passwords.push('smb-secret');
    const keychain = new InMemoryCredentialStore();
    const mk = (appDataDir?: string) =>
      makeHost({
        appDataDir,
        bind: (c) => {
          c.bind(CloudStorageTimings).toConstantValue(TIMINGS);
          c.bind(ProbeChildOptions).toConstantValue({ execArgv: ['--require', s.hook] });
          c.bind(CommandRunner).toConstantValue(s.runner);
          c.bind(ClassifierContext).toConstantValue(s.classifierContext);
          c.bind(CredentialStore).toConstantValue(keychain);
        },
      });
    fs.writeFileSync(s.marker, ''); // set up while logged in
    const h = mk();
    await (await setUp(h, s.dir)).unload();
    fs.rmSync(s.marker); // Windows/Linux restart: the login is gone

    const h2 = mk(h.env.appDataDir);
    h2.dialogs.credentials.push({ username: 'PRAXIS\\anna', password: 'falsch' }, { username: 'PRAXIS\\anna', password: 'smb-secret' });
    const p2 = await loadCloudPlugin(h2);
    const v = await p2.startupGuards[0]!.check();
    expect(v.kind).toBe('proceed');
    expect(h2.dialogs.asked.filter((a) => a.kind === 'credentials')).toHaveLength(2);
    expect(h2.dialogs.asked.filter((a) => a.kind === 'credentials')[1]!.message!.de).toContain('falsch');
    expect(s.runs.map((r) => r.args)).toEqual([
      ['mount', 'smb://nas/praxis'],
      ['mount', 'smb://nas/praxis'],
    ]);
    expect(s.runs.every((r) => !r.args.join(' ').includes('smb-secret'))).toBe(true);
    expect(await keychain.get('share:\\\\nas\\praxis')).toBe(JSON.stringify({ username: 'PRAXIS\\anna', password: 'smb-secret' }));
    await p2.unload();

    fs.rmSync(s.marker); // next restart: reconnected with the stored login, nobody asked
    const h3 = mk(h.env.appDataDir);
    const p3 = await loadCloudPlugin(h3);
    expect((await p3.startupGuards[0]!.check()).kind).toBe('proceed');
    expect(h3.dialogs.asked.filter((a) => a.kind === 'credentials')).toHaveLength(0);
    await p3.unload();
    // the share password is nowhere on disk and in no log line
    for (const f of walk(h.env.appDataDir)) expect(fs.readFileSync(path.join(h.env.appDataDir, f)).includes(Buffer.from('smb-secret'))).toBe(false);
    expect([...h.logger.lines, ...h2.logger.lines, ...h3.logger.lines].join('\n')).not.toContain('smb-secret');
  });

  test('login cancelled: blocked with log-in, work-offline and reset', async () => {
    const s = shareWithLostLogin();
    fs.writeFileSync(s.marker, '');
    const bind = (c: import('inversify').Container) => {
      c.bind(CloudStorageTimings).toConstantValue(TIMINGS);
      c.bind(ProbeChildOptions).toConstantValue({ execArgv: ['--require', s.hook] });
      c.bind(CommandRunner).toConstantValue(s.runner);
      c.bind(ClassifierContext).toConstantValue(s.classifierContext);
      c.bind(CredentialStore).toConstantValue(new InMemoryCredentialStore());
    };
    const h = makeHost({ bind });
    await (await setUp(h, s.dir)).unload();
    fs.rmSync(s.marker);
    const h2 = makeHost({ appDataDir: h.env.appDataDir, bind });
    const p2 = await loadCloudPlugin(h2);
    const v = await p2.startupGuards[0]!.check(); // no credentials scripted: the dialog is cancelled
    expect(v.kind === 'blocked' && v.actions.map((a) => a.id)).toEqual(['log-in', 'work-offline', 'reset-configuration']);
    await p2.unload();
  });
});
