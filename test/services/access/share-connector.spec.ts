// ShareConnector: logging in to a network share with the system's own commands.
import { ShareConnector, interpretNetUse, parseShare, type CommandRunner } from '../../../src/services/access/share-connector';

describe('ShareConnector (Windows and macOS cannot run here: command lines and real outputs)', () => {
  const calls: { cmd: string; args: readonly string[]; stdin?: string }[] = [];
  const runner = (result: { code: number; stdout: string; stderr: string }): CommandRunner => ({
    run: async (cmd, args, opts) => {
      calls.push({ cmd, args, stdin: opts?.stdin });
      return result;
    },
  });
  test('net use: command line and errors 1219 / 1326', async () => {
    const c = new ShareConnector(runner({ code: 2, stdout: '', stderr: 'System error 1219 has occurred.\r\n\r\nMultiple connections to a server or shared resource by the same user, using more than one user name, are not allowed.' }), 'win32');
    const r = await c.connect(parseShare('\\\\nas\\praxis\\daten')!, { username: 'PRAXIS\\anna', password: 'geheim' });
    expect(r).toMatchObject({ ok: false, reason: 'other-credentials-in-use' });
    expect(calls.at(-1)).toEqual({ cmd: 'net', args: ['use', '\\\\nas\\praxis', 'geheim', '/user:PRAXIS\\anna', '/persistent:no'], stdin: undefined });
    expect(interpretNetUse({ code: 2, stdout: '', stderr: 'Systemfehler 1326 aufgetreten.\r\n\r\nUnbekannter Benutzername oder falsches Kennwort.' })).toMatchObject({ reason: 'bad-credentials' });
    expect(interpretNetUse({ code: 0, stdout: 'The command completed successfully.', stderr: '' })).toEqual({ ok: true });
  });
  test('gio mount (Linux) takes the password on stdin, not the command line', async () => {
    const c = new ShareConnector(runner({ code: 2, stdout: '', stderr: 'gio: smb://nas/praxis/: Failed to mount Windows share: Permission denied' }), 'linux');
    expect(await c.connect(parseShare('//nas/praxis')!, { username: 'anna', password: 'geheim' })).toMatchObject({ reason: 'bad-credentials' });
    expect(calls.at(-1)!.args.join(' ')).not.toContain('geheim');
    expect(calls.at(-1)!.stdin).toBe('anna\n\ngeheim\n');
  });
});
