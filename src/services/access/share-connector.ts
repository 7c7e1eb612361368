// Connects a network share with the credentials from the keychain, so the seed's dead end
// ("after a Windows restart the app only says 'no access'") reconnects by itself.
import { execFile } from 'node:child_process';
import { inject, injectable, optional } from 'inversify';
import type { LocalizedText } from '../../host-api';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a platform tool; faked in tests for platforms that cannot run here (Windows, macOS). */
export const CommandRunner = Symbol.for('cloud-storage.CommandRunner');
export interface CommandRunner {
  run(cmd: string, args: readonly string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CommandResult>;
}

@injectable()
export class ProcessCommandRunner implements CommandRunner {
  run(cmd: string, args: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    return new Promise((resolve) => {
      const child = execFile(cmd, [...args], { timeout: opts.timeoutMs ?? 20000, windowsHide: true, encoding: 'utf8' }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
      if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
    });
  }
}

export interface ShareAddress {
  readonly server: string;
  readonly share: string;
  /** Windows: the UNC root `\\server\share`; elsewhere `smb://server/share`. */
  readonly uncRoot: string;
}

/** `\\server\share\sub`, `//server/share/sub` or `smb://server/share/sub` → its share. */
export function parseShare(folder: string): ShareAddress | undefined {
  const m = /^(?:\\\\|\/\/|smb:\/\/)([^\\/]+)[\\/]([^\\/]+)/i.exec(folder);
  if (!m) return undefined;
  return { server: m[1]!, share: m[2]!, uncRoot: `\\\\${m[1]}\\${m[2]}` };
}

export type ConnectOutcome = { ok: true } | { ok: false; reason: 'bad-credentials' | 'other-credentials-in-use' | 'not-found' | 'locked' | 'failed'; text: LocalizedText };

const R = {
  bad: { de: 'Benutzername oder Passwort ist falsch.', en: 'The user name or password is wrong.' },
  otherInUse: {
    de: 'Windows ist mit diesem Server bereits unter einem anderen Benutzernamen verbunden (Fehler 1219). Trennen Sie die andere Verbindung im Explorer („Netzlaufwerk trennen“) oder melden Sie sich mit demselben Benutzer an.',
    en: 'Windows is already connected to this server with another user name (error 1219). Disconnect the other connection in Explorer ("Disconnect network drive") or log in with the same user.',
  },
  notFound: { de: 'Der Server oder die Freigabe wurde nicht gefunden. Ist der PC im Praxisnetz?', en: 'The server or share was not found. Is this PC on the practice network?' },
  locked: { de: 'Das Benutzerkonto ist gesperrt oder abgelaufen. Bitte wenden Sie sich an Ihre IT.', en: 'The user account is locked or expired. Please contact your IT.' },
  failed: (detail: string): LocalizedText => ({ de: `Die Verbindung zur Freigabe ist fehlgeschlagen (${detail}).`, en: `Connecting to the share failed (${detail}).` }),
};

/** Windows `net use` output (English and German) → outcome. Error numbers are the stable part. */
export function interpretNetUse(r: CommandResult): ConnectOutcome {
  if (r.code === 0) return { ok: true };
  const text = `${r.stdout}\n${r.stderr}`;
  const m = /(?:System error|Systemfehler)\s+(\d+)/i.exec(text);
  const n = m ? Number(m[1]) : undefined;
  if (n === 1326 || n === 86) return { ok: false, reason: 'bad-credentials', text: R.bad };
  if (n === 1219) return { ok: false, reason: 'other-credentials-in-use', text: R.otherInUse };
  if (n === 53 || n === 67 || n === 64) return { ok: false, reason: 'not-found', text: R.notFound };
  if (n === 1909 || n === 1793 || n === 1331) return { ok: false, reason: 'locked', text: R.locked };
  return { ok: false, reason: 'failed', text: R.failed(n ? `Windows-Fehler ${n}` : `exit ${r.code}`) };
}

/** `gio mount` output → outcome. */
export function interpretGio(r: CommandResult): ConnectOutcome {
  const text = `${r.stdout}\n${r.stderr}`;
  if (r.code === 0 || /already mounted/i.test(text)) return { ok: true };
  if (/Permission denied|Zugriff verweigert|Anmeldung fehlgeschlagen|Logon failure/i.test(text)) return { ok: false, reason: 'bad-credentials', text: R.bad };
  if (/not found|No such|Host is down|nicht gefunden/i.test(text)) return { ok: false, reason: 'not-found', text: R.notFound };
  return { ok: false, reason: 'failed', text: R.failed(`gio ${r.code}`) };
}

/** `mount_smbfs` output → outcome. */
export function interpretMountSmbfs(r: CommandResult): ConnectOutcome {
  const text = `${r.stdout}\n${r.stderr}`;
  if (r.code === 0 || /File exists/i.test(text)) return { ok: true };
  if (/Authentication error|Permission denied/i.test(text)) return { ok: false, reason: 'bad-credentials', text: R.bad };
  if (/not be found|No route to host|Operation timed out|Broken pipe/i.test(text)) return { ok: false, reason: 'not-found', text: R.notFound };
  return { ok: false, reason: 'failed', text: R.failed(`mount_smbfs ${r.code}`) };
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

@injectable()
export class ShareConnector {
  constructor(
    @inject(CommandRunner) protected readonly runner: CommandRunner,
    @inject(Symbol.for('cloud-storage.Platform')) @optional() protected readonly platform: NodeJS.Platform = process.platform,
  ) {}

  /** The command line for a platform; the password travels on stdin where the tool reads it. */
  command(share: ShareAddress, cred: Credentials): { cmd: string; args: string[]; stdin?: string } {
    if (this.platform === 'win32') {
      // WNetAddConnection2 semantics through net use; not persistent: we reconnect at every start ourselves.
      return { cmd: 'net', args: ['use', share.uncRoot, cred.password, `/user:${cred.username}`, '/persistent:no'] };
    }
    if (this.platform === 'darwin') {
      const mountPoint = `/Volumes/${share.share}`;
      const url = `//${encodeURIComponent(cred.username)}:${encodeURIComponent(cred.password)}@${share.server}/${encodeURIComponent(share.share)}`;
      return { cmd: 'mount_smbfs', args: ['-N', url, mountPoint] };
    }
    const [domain, user] = cred.username.includes('\\') ? cred.username.split('\\', 2) : ['', cred.username];
    return { cmd: 'gio', args: ['mount', `smb://${share.server}/${share.share}`], stdin: `${user}\n${domain}\n${cred.password}\n` };
  }

  async connect(share: ShareAddress, cred: Credentials): Promise<ConnectOutcome> {
    const { cmd, args, stdin } = this.command(share, cred);
    let r: CommandResult;
    try {
      r = await this.runner.run(cmd, args, { stdin });
    } catch {
      return { ok: false, reason: 'failed', text: R.failed(cmd) };
    }
    return this.platform === 'win32' ? interpretNetUse(r) : this.platform === 'darwin' ? interpretMountSmbfs(r) : interpretGio(r);
  }
}
