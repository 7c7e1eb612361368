// A server as the shared location: its medium with the login from the OS keychain, the bounded check
// ("test connection", the startup guard's probe) that tells apart a wrong address, a wrong login, no
// permission, not a store and reachable — and the login dialog, whose answer is kept only once it works.
import * as crypto from 'node:crypto';
import { inject, injectable } from 'inversify';
import { HostDialogs, type LocalizedText } from '../../host-api';
import { Accounts, CredentialStore } from '../credentials/credential-store';
import { keychainName } from '../common/wording';
import { Paths } from '../store/format';
import { ReplicaFolder } from '../store/replica-folder';
import { LAYOUT_DIRS, ignorable } from '../store/shared-folder-exchange';
import type { Medium } from '../store/medium';
import { contentVerdict, type FolderContent, type ProbeResult } from '../access/shared-folder-probe';
import { parseLocation, type Location } from './location';
import { S3Medium, type S3Login } from './s3-medium';
import { WebDavMedium, type Login } from './webdav-medium';

type ServerLocation = Extract<Location, { kind: 'webdav' | 's3' }>;
type Secret = Login | S3Login;

/** The keychain's entry for a server: its address as typed (it holds no login). */
export function serverAccount(address: string): string {
  return Accounts.server(address.trim());
}

const T = {
  noAnswer: (s: number): LocalizedText => ({
    de: `Der Server hat nicht innerhalb von ${s} Sekunden geantwortet. Ist der PC mit dem Internet verbunden, und ist der Server in Betrieb?`,
    en: `The server did not answer within ${s} seconds. Is this PC connected to the internet, and is the server running?`,
  }),
  unreachable: (code: string): LocalizedText => ({
    de: `Der Server ist nicht erreichbar (${code}). Bitte prüfen Sie die Internetverbindung und die Adresse (Schreibweise des Servernamens).`,
    en: `The server cannot be reached (${code}). Please check the internet connection and the address (the server name's spelling).`,
  }),
  certificate: {
    de: 'Dem Zertifikat des Servers wird nicht vertraut (selbst signiert oder abgelaufen?). Die Verbindung wurde nicht aufgebaut; es wurde nichts übertragen.',
    en: 'The server’s certificate is not trusted (self-signed or expired?). No connection was made; nothing was sent.',
  },
  wrongAddress: {
    de: 'Unter dieser Adresse gibt es auf dem Server keinen Ordner. Bitte prüfen Sie die Adresse (bei Nextcloud: …/remote.php/dav/files/<Benutzer>/<Ordner>/; der Ordner muss angelegt sein; bei S3: Name des Buckets).',
    en: 'There is no folder at this address on the server. Please check the address (Nextcloud: …/remote.php/dav/files/<user>/<folder>/; the folder must exist; S3: the bucket’s name).',
  },
  login: {
    de: 'Der Server verlangt eine Anmeldung, oder die gespeicherte ist nicht (mehr) gültig. Bei Nextcloud: ein App-Passwort (Einstellungen → Sicherheit); bei S3: Zugriffsschlüssel und geheimer Schlüssel.',
    en: 'The server needs a login, or the stored one is not (or no longer) valid. Nextcloud: an app password (Settings → Security); S3: access key and secret key.',
  },
  denied: {
    de: 'Die Anmeldung gilt, aber sie hat keine Berechtigung für diesen Ordner (Lesen oder Schreiben verweigert). Bitte beim Verwalter des Servers die Freigabe prüfen lassen.',
    en: 'The login is valid but has no permission for this folder (reading or writing refused). Please ask the server’s administrator to check the sharing.',
  },
  full: { de: 'Auf dem Server ist kein Platz mehr frei (Kontingent erschöpft).', en: 'The server has no space left (quota used up).' },
  busy: { de: 'Der Server ist gerade überlastet oder in Wartung; bitte später erneut versuchen.', en: 'The server is overloaded or in maintenance right now; please try again later.' },
  broken: (step: string, code: string): LocalizedText => ({ de: `Der Server verhält sich unerwartet (Schritt „${step}“, Fehler ${code}).`, en: `The server behaves unexpectedly (step "${step}", error ${code}).` }),
  ok: { de: 'Der Server ist erreichbar, die Anmeldung gilt, Lesen und Schreiben funktionieren.', en: 'The server is reachable, the login is valid, reading and writing work.' },
  otherStore: { de: 'Unter dieser Adresse liegt ein anderer Praxis-Speicher als der, mit dem dieser PC eingerichtet wurde.', en: 'This address holds another practice store than the one this PC was set up with.' },
  noStore: { de: 'Unter dieser Adresse liegt kein Praxis-Speicher (falscher Ordner auf dem Server, oder er wurde geleert).', en: 'This address holds no practice store (the wrong folder on the server, or it was emptied).' },
  newer: { de: 'Dieser Praxis-Speicher wurde mit einer neueren Programmversion angelegt. Bitte aktualisieren Sie das Programm; es wurde nichts verändert.', en: 'This practice store was made by a newer version of the application. Please update; nothing was changed.' },
  remnants: {
    de: 'Unter dieser Adresse liegen nur Ordner eines Praxis-Speichers ohne seine Kennungsdatei (practice-store.json): ein geleerter Speicher. Hier wird kein neuer Speicher angelegt; ein PC, der diese Praxisdaten kennt, kann sie wiederherstellen oder hierher umziehen.',
    en: 'This address holds only the folders of a practice store without its identification file (practice-store.json): an emptied store. No new store is created here; a PC that knows these practice data can restore them or move them here.',
  },
  foreign: { de: 'Unter dieser Adresse liegen andere Dateien, aber kein Praxis-Speicher. Bitte einen leeren Ordner oder den Ordner mit den Praxisdaten angeben.', en: 'This address holds other files but no practice store. Give an empty folder or the folder with the practice data.' },
} as const;

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EIO']);
const CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/;

@injectable()
export class ServerAccess {
  constructor(
    @inject(CredentialStore) protected readonly credentials: CredentialStore,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
  ) {}

  /** The server a folder field's text names, or undefined for a folder (or an invalid address). */
  static serverOf(folder: string): ServerLocation | undefined {
    const l = parseLocation(folder);
    return l.kind === 'webdav' || l.kind === 's3' ? l : undefined;
  }

  /** The login kept for a server, if any. */
  async storedLogin(address: string): Promise<Secret | undefined> {
    const raw = await this.credentials.get(serverAccount(address)).catch(() => undefined);
    if (!raw) return undefined;
    try {
      const j = JSON.parse(raw) as Record<string, unknown>;
      if (typeof j.user === 'string' && typeof j.password === 'string') return { user: j.user, password: j.password };
      if (typeof j.accessKeyId === 'string' && typeof j.secretAccessKey === 'string') return { accessKeyId: j.accessKeyId, secretAccessKey: j.secretAccessKey };
    } catch {
      // unreadable: as if none was kept (the person is asked again)
    }
    return undefined;
  }

  /** A connection to the server with the stored login (none for a server that needs none). */
  async medium(address: string, opts: { timeoutMs?: number; attempts?: number } = {}): Promise<Medium> {
    return open(ServerAccess.serverOf(address)!, await this.storedLogin(address), opts);
  }

  /**
   * The bounded check: list the address, read the store's header, write and read back a test file (and
   * remove it; not with `writeTest: false`, the running PC's access monitor, which asks every few
   * seconds and must not cost three writes each time). `timeoutMs` bounds the whole check.
   *
   * The access monitor gives the open store's own connection (`medium`: no new connection, on https no
   * new TLS handshake; it is left open) and `readHeader: false`: the carrier's round reads and checks
   * the header every 2 s (another store's header there turns the carrier, and with it the access state,
   * to `wrong-folder`), so the monitor only lists the address — reachable, login valid, a header there.
   */
  async probe(address: string, opts: { expectStoreId?: string; timeoutMs?: number; login?: Secret; writeTest?: boolean; medium?: Medium; readHeader?: boolean } = {}): Promise<ProbeResult> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const at = ServerAccess.serverOf(address)!;
    const medium = opts.medium ?? open(at, opts.login ?? (await this.storedLogin(address)), { timeoutMs, attempts: 1 });
    let timer: NodeJS.Timeout | undefined;
    try {
      const bounded = new Promise<ProbeResult>((resolve) => {
        timer = setTimeout(() => resolve({ state: 'unavailable', content: 'unknown', detail: T.noAnswer(Math.round(timeoutMs / 1000)), code: 'TIMEOUT', timedOut: true }), timeoutMs);
      });
      return await Promise.race([this.check(medium, opts.expectStoreId, timeoutMs, opts.writeTest ?? true, opts.readHeader ?? true), bounded]);
    } finally {
      if (timer) clearTimeout(timer);
      if (!opts.medium) medium.close?.();
    }
  }

  protected async check(m: Medium, expectStoreId: string | undefined, timeoutMs: number, writeTest: boolean, readHeader = true): Promise<ProbeResult> {
    let step = 'list';
    try {
      const names = (await m.list('')).map((e) => e.name).filter((n) => !ignorable(n));
      step = 'header';
      const listed = names.includes(Paths.header);
      // not read (the monitor): the round reads it; listed, it is taken as this store's here
      if (listed && !readHeader) return { state: 'available', content: 'store', ...(expectStoreId !== undefined ? { storeId: expectStoreId } : {}), detail: T.ok };
      const hdr = listed ? await ReplicaFolder.readHeader(m) : undefined;
      if (writeTest) {
        step = 'write';
        const probe = `.probe-${crypto.randomBytes(6).toString('hex')}.tmp`;
        const token = crypto.randomBytes(16);
        let back: Buffer;
        try {
          await m.write(probe, token, 'replace');
          step = 'readback';
          back = await m.read(probe, 1024);
        } finally {
          // also when the read-back failed or timed out (a write that failed may still have landed)
          await m.removeProbe?.(probe).catch(() => undefined);
        }
        if (!back.equals(token)) return { state: 'unavailable', content: 'unknown', detail: T.broken('readback', 'EMISMATCH'), code: 'readback:EMISMATCH' };
      }
      const content: FolderContent =
        hdr === undefined
          ? names.length === 0
            ? 'empty'
            : names.every((n) => LAYOUT_DIRS.has(n))
              ? 'remnants'
              : 'foreign'
          : hdr.kind === 'newer'
            ? 'newer-store'
            : hdr.kind === 'ok'
              ? 'store'
              : 'foreign';
      return contentVerdict(content, hdr?.kind === 'ok' ? hdr.header.storeId : undefined, expectStoreId, T);
    } catch (e) {
      return failure(step, e, timeoutMs);
    }
  }

  /**
   * Asks for the login until the server accepts it or the person cancels (five tries); keeps it in the
   * keychain only once it works. The test is the same bounded check as "test connection".
   */
  async logIn(address: string, opts: { timeoutMs?: number } = {}): Promise<{ ok: true } | { ok: false; text?: LocalizedText }> {
    const at = ServerAccess.serverOf(address);
    if (!at) return { ok: false };
    const s3 = at.kind === 's3';
    const where = keychainName(process.platform);
    let message: LocalizedText = s3
      ? { de: `Zugriffsschlüssel (als Benutzername) und geheimen Schlüssel (als Passwort) für ${displayAddress(address)} eingeben. Sie werden nur ${process.platform === 'win32' ? 'in der' : 'im'} ${where.de} gespeichert.`, en: `Enter the access key (as user name) and the secret key (as password) for ${displayAddress(address)}. They are kept only in the ${where.en}.` }
      : { de: `Benutzername und Passwort für ${displayAddress(address)} eingeben (bei Nextcloud ein App-Passwort). Sie werden nur ${process.platform === 'win32' ? 'in der' : 'im'} ${where.de} gespeichert.`, en: `Enter user name and password for ${displayAddress(address)} (Nextcloud: an app password). They are kept only in the ${where.en}.` };
    let username: string | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cred = await this.dialogs.promptCredentials({ title: { de: 'Anmeldung am Server', en: 'Log in to the server' }, message, username });
      if (!cred) return { ok: false };
      username = cred.username;
      const login: Secret = s3 ? { accessKeyId: cred.username, secretAccessKey: cred.password } : { user: cred.username, password: cred.password };
      const r = await this.probe(address, { login, timeoutMs: opts.timeoutMs });
      if (r.state !== 'auth-required') {
        if (r.state === 'unavailable' || r.state === 'denied') return { ok: false, text: r.detail };
        await this.credentials.set(serverAccount(address), JSON.stringify(login));
        return { ok: true };
      }
      message = { de: `Die Anmeldung wurde abgelehnt. ${r.detail.de} Bitte erneut eingeben.`, en: `The login was refused. ${r.detail.en} Please enter it again.` };
    }
    return { ok: false };
  }

  async forget(address: string): Promise<void> {
    await this.credentials.delete(serverAccount(address)).catch(() => false);
  }
}

function open(at: ServerLocation, login: Secret | undefined, opts: { timeoutMs?: number; attempts?: number }): Medium {
  if (at.kind === 'webdav') return new WebDavMedium(at.url, login && 'user' in login ? login : undefined, opts);
  const s3 = login && 'accessKeyId' in login ? login : { accessKeyId: '', secretAccessKey: '' };
  return new S3Medium(at.s3, s3, opts);
}

/** The probe's answer for an error at a step: coded, in words, never with a login or an address. */
function failure(step: string, e: unknown, timeoutMs: number): ProbeResult {
  const code = (e as { code?: string }).code ?? 'UNKNOWN';
  const base = { content: 'unknown' as const, code: `${step}:${code}` };
  if (code === 'ETIMEDOUT') return { state: 'unavailable', ...base, detail: T.noAnswer(Math.round(timeoutMs / 1000)), timedOut: true };
  if (CERTIFICATE.test(code)) return { state: 'unavailable', ...base, detail: T.certificate };
  if (code === 'EAUTH') return { state: 'auth-required', ...base, detail: T.login };
  if (code === 'EACCES' || code === 'EPERM') return { state: 'denied', ...base, detail: T.denied };
  if (code === 'ENOSPC') return { state: 'denied', ...base, detail: T.full };
  if (code === 'ENOENT' || code === 'ENOTDIR') return step === 'list' ? { state: 'unavailable', ...base, detail: T.wrongAddress } : { state: 'unavailable', ...base, detail: T.broken(step, code) };
  if (code === 'EAGAIN') return { state: 'unavailable', ...base, detail: T.busy };
  if (NETWORK.has(code)) return { state: 'unavailable', ...base, detail: T.unreachable(code) };
  return { state: 'unavailable', ...base, detail: T.broken(step, code) };
}

/** An address as shown to a person: scheme, host and path only (a login in it is never shown). */
export function displayAddress(address: string): string {
  try {
    const u = new URL(address.trim());
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(…)';
  }
}
