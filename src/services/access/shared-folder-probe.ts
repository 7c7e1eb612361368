// Is the shared folder there, readable, writable, and our store? Run in a child process that is
// killed on timeout: an unreachable SMB share can block a file-system call for 60 s and hold one
// of libuv's four threads, which would stall the host if we asked in-process.
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { inject, injectable, optional } from 'inversify';
import type { AccessStatus, LocalizedText } from '../../host-api';
import { DISK_FULL_CODES, GONE_CODES } from '../common/errors';
import { Paths, STORE_FORMAT_VERSION } from '../store/format';

export type ProbeState = Exclude<AccessStatus['state'], 'not-configured' | 'checking'>;
/** `remnants`: no header, only the store's own folders left (a store deleted or not yet fully synced). */
export type FolderContent = 'store' | 'empty' | 'remnants' | 'foreign' | 'newer-store' | 'unknown';

export interface ProbeResult {
  readonly state: ProbeState;
  readonly content: FolderContent;
  readonly storeId?: string;
  readonly detail: LocalizedText;
  /** The failing step and errno, for support (never a secret). */
  readonly code?: string;
  readonly timedOut?: boolean;
}

export interface ProbeOptions {
  /** The store this device is configured for; a folder without it is `wrong-folder`. */
  readonly expectStoreId?: string;
  readonly timeoutMs?: number;
  /** Whether the folder is a network share (EACCES there means "log in", elsewhere "no permission"). */
  readonly networkShare?: boolean;
  /**
   * This device's local replica of the expected store: a folder without a header whose only files are
   * under `devices/` and held by the replica at the same path (names are content hashes) holds remnants
   * of that store (an emptied folder a PC wrote into while it was being emptied), not another store's.
   */
  readonly replicaRoot?: string;
}

/** Options of the child process; tests inject a module that makes every fs call hang. */
export const ProbeChildOptions = Symbol.for('cloud-storage.ProbeChildOptions');
export interface ProbeChildOptions {
  readonly execArgv?: readonly string[];
}

// The child: plain Node, no imports of ours, so it runs from any build layout.
const CHILD = String.raw`
const fs = require('fs'); const path = require('path'); const crypto = require('crypto');
const dir = process.argv[1];
const HEADER = ${JSON.stringify(Paths.header)};
const out = (o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); };
const fail = (step, e) => out({ ok: false, step, code: (e && e.code) || 'UNKNOWN' });
(async () => {
  let st;
  try { st = await fs.promises.stat(dir); } catch (e) { return fail('stat', e); }
  if (!st.isDirectory()) return out({ ok: false, step: 'stat', code: 'ENOTDIR' });
  let names;
  try { names = await fs.promises.readdir(dir); } catch (e) { return fail('list', e); }
  let header = null;
  if (names.includes(HEADER)) {
    try {
      const raw = await fs.promises.readFile(path.join(dir, HEADER), 'utf8');
      const h = JSON.parse(raw);
      header = { format: String(h.format), version: Number(h.version), storeId: String(h.storeId) };
    } catch (e) { header = { broken: true }; }
  }
  // The carrier's rule (shared-folder-exchange.ts ignorable): system files, temp files, dot-names.
  const ign = (n) => n.startsWith('.') || ['desktop.ini', 'thumbs.db', 'icon\r'].includes(n.toLowerCase()) || n.startsWith('~$') || /\.(tmp|temp|partial)$/i.test(n);
  const others = names.filter((n) => !ign(n));
  // A test file left by a check that was killed at its bound (a PC's own is removed right after; this
  // catches one whose remover died too): only the check's own name pattern, and only when an hour old.
  for (const n of names) {
    if (!/^\.probe-[0-9a-f]{12}\.tmp$/.test(n)) continue;
    try { const s = await fs.promises.stat(path.join(dir, n)); if (Date.now() - s.mtimeMs > 3600000) await fs.promises.unlink(path.join(dir, n)); } catch {}
  }
  const probe = path.join(dir, process.argv[2]);
  const token = crypto.randomBytes(16).toString('hex');
  try { await fs.promises.writeFile(probe, token, { flag: 'wx' }); } catch (e) { return out({ ok: false, step: 'write', code: (e && e.code) || 'UNKNOWN', header, count: others.length }); }
  try {
    const back = await fs.promises.readFile(probe, 'utf8');
    if (back !== token) return out({ ok: false, step: 'readback', code: 'EMISMATCH', header, count: others.length });
  } catch (e) { return fail('readback', e); }
  finally { try { await fs.promises.unlink(probe); } catch {} }
  const layout = new Set(['devices', 'keys', 'objects', 'snapshots']);
  // A file under devices/ that this device's local replica holds at the same path, of the same size, is
  // this store's own (names are content hashes): a PC writing while the folder was emptied makes its
  // folder again with that file. Anything else still counts.
  const replica = process.argv[3] || '';
  const ours = async (f) => {
    const rel = path.relative(dir, f);
    if (!replica || !rel.startsWith('devices' + path.sep)) return false;
    try { const [a, b] = await Promise.all([fs.promises.stat(f), fs.promises.stat(path.join(replica, rel))]); return a.isFile() && b.isFile() && a.size === b.size; } catch { return false; }
  };
  const noFile = async (d, depth) => {
    for (const e of await fs.promises.readdir(d, { withFileTypes: true })) {
      if (ign(e.name)) continue;
      if (!e.isDirectory() && (await ours(path.join(d, e.name)))) continue;
      if (!e.isDirectory() || depth === 0 || !(await noFile(path.join(d, e.name), depth - 1))) return false;
    }
    return true;
  };
  let remnants = !header && others.length > 0 && others.every((n) => layout.has(n));
  try { for (const n of others) if (remnants && !(await noFile(path.join(dir, n), 3))) remnants = false; } catch { remnants = false; }
  out({ ok: true, header, count: others.length, remnants });
})().catch((e) => fail('unexpected', e));
`;

// Removes the test file of a check killed at its bound; gives up after 60 s.
const REMOVE_CHILD = String.raw`
setTimeout(() => process.exit(0), 60000);
require('fs').unlink(process.argv[1], () => process.exit(0));
`;

// The folder field's check: only what is at the path (no listing, no test file), same child and bound.
const STAT_CHILD = String.raw`
const fs = require('fs');
fs.promises.stat(process.argv[1]).then(
  (st) => process.stdout.write(JSON.stringify({ ok: true, kind: st.isDirectory() ? 'directory' : 'not-directory' })),
  (e) => process.stdout.write(JSON.stringify({ ok: false, step: 'stat', code: (e && e.code) || 'UNKNOWN' })),
).then(() => process.exit(0));
`;

/** What is at a path, as the folder field needs it; `timeout` when the bound passed, `aborted` when the caller gave up. */
export type PathKind = 'directory' | 'not-directory' | 'missing' | 'unknown' | 'timeout' | 'aborted';

interface ChildAnswer {
  ok: boolean;
  kind?: 'directory' | 'not-directory';
  step?: string;
  code?: string;
  header?: { format?: string; version?: number; storeId?: string; broken?: boolean } | null;
  count?: number;
  /** Nothing but store folders (devices, keys, objects, snapshots) and no header: a store was taken out. */
  remnants?: boolean;
}

const T = {
  timedOut: (s: number): LocalizedText => ({
    de: `Der Ordner hat nicht innerhalb von ${s} Sekunden geantwortet (Netzlaufwerk getrennt oder Cloud-Programm hängt?).`,
    en: `The folder did not answer within ${s} seconds (network drive disconnected, or the cloud client stuck?).`,
  }),
  missing: {
    de: 'Der Ordner ist nicht erreichbar: USB-Stick nicht eingesteckt, Netzlaufwerk nicht verbunden oder Ordner umbenannt?',
    en: 'The folder cannot be reached: USB drive not plugged in, network drive not connected, or folder renamed?',
  },
  notDir: { de: 'Der angegebene Pfad ist eine Datei, kein Ordner.', en: 'The path is a file, not a folder.' },
  login: { de: 'Für diese Netzwerkfreigabe ist eine Anmeldung nötig.', en: 'This network share needs a login.' },
  denied: { de: 'Keine Berechtigung für diesen Ordner (Lesen oder Schreiben verweigert).', en: 'No permission for this folder (reading or writing refused).' },
  readOnly: { de: 'Der Ordner ist schreibgeschützt (z. B. ein gesperrter USB-Stick).', en: 'The folder is read-only (e.g. a write-protected USB drive).' },
  full: { de: 'Auf dem Datenträger des Ordners ist kein Platz mehr frei.', en: 'The drive of this folder is full.' },
  broken: (step: string, code: string): LocalizedText => ({
    de: `Der Ordner verhält sich unerwartet (Schritt „${step}“, Fehler ${code}).`,
    en: `The folder behaves unexpectedly (step "${step}", error ${code}).`,
  }),
  ok: { de: 'Der Ordner ist erreichbar und beschreibbar.', en: 'The folder is reachable and writable.' },
  otherStore: {
    de: 'In diesem Ordner liegt ein anderer Praxis-Speicher als der, mit dem dieser PC eingerichtet wurde.',
    en: 'This folder holds another practice store than the one this PC was set up with.',
  },
  noStore: {
    de: 'In diesem Ordner liegt kein Praxis-Speicher. Wahrscheinlich ist der USB-Stick nicht eingesteckt, der Laufwerksbuchstabe hat sich geändert oder das Cloud-Programm hat noch nicht fertig synchronisiert.',
    en: 'This folder holds no practice store. Most likely the USB drive is not plugged in, its drive letter changed, or the cloud client has not finished syncing.',
  },
  newer: {
    de: 'Dieser Praxis-Speicher wurde mit einer neueren Programmversion angelegt. Bitte aktualisieren Sie das Programm; es wurde nichts verändert.',
    en: 'This practice store was made by a newer version of the application. Please update; nothing was changed.',
  },
  remnants: {
    de: 'Im Ordner liegen nur noch leere Ordner eines Praxis-Speichers, aber keine Praxisdaten mehr. Hier wird kein neuer Speicher angelegt; ein PC, der diese Praxisdaten kennt, kann sie wiederherstellen.',
    en: 'The folder holds only the empty folders of a practice store, no practice data any more. No new store is created here; a PC that knows these practice data can restore them.',
  },
  foreign: {
    de: 'Der Ordner enthält andere Dateien, aber keinen Praxis-Speicher. Bitte wählen Sie einen leeren Ordner oder den Ordner mit den Praxisdaten.',
    en: 'The folder holds other files but no practice store. Choose an empty folder or the folder with the practice data.',
  },
} as const;

/** What a content verdict says, worded for a folder or for a server. */
export interface ContentTexts {
  readonly ok: LocalizedText;
  readonly otherStore: LocalizedText;
  readonly noStore: LocalizedText;
  readonly newer: LocalizedText;
  readonly foreign: LocalizedText;
  readonly remnants: LocalizedText;
}

/**
 * What a reachable location's content means, given the store expected there (none: a folder being
 * chosen): one rule for folders (SharedFolderProbe) and servers (ServerAccess), each with its words.
 */
export function contentVerdict(content: FolderContent, storeId: string | undefined, expectStoreId: string | undefined, T: ContentTexts): ProbeResult {
  if (content === 'newer-store') return { state: 'wrong-folder', content, detail: T.newer };
  if (expectStoreId !== undefined) {
    if (content !== 'store') return { state: 'wrong-folder', content, detail: T.noStore };
    if (storeId !== expectStoreId) return { state: 'wrong-folder', content, storeId, detail: T.otherStore };
  }
  if (content === 'foreign') return { state: 'available', content, detail: T.foreign };
  if (content === 'remnants') return { state: 'available', content, detail: T.remnants };
  return { state: 'available', content, storeId, detail: T.ok };
}

@injectable()
export class SharedFolderProbe {
  constructor(@inject(ProbeChildOptions) @optional() protected readonly child: ProbeChildOptions = {}) {}

  async probe(folder: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const testFile = '.probe-' + crypto.randomBytes(6).toString('hex') + '.tmp';
    const answer = await this.runChild(CHILD, folder, timeoutMs, undefined, [testFile, opts.replicaRoot ?? '']);
    // killed at the bound, the child may have written its test file and not removed it: a throwaway
    // child removes it (never this process: a hung drive would hold one of the host's threads)
    if (answer === 'timeout' || answer === 'aborted') this.removeLater(path.join(folder, testFile));
    if (answer === 'aborted') return { state: 'unavailable', content: 'unknown', detail: T.broken('child', 'ABORTED'), code: 'child:ABORTED' };
    if (answer === 'timeout')
      return { state: 'unavailable', content: 'unknown', detail: T.timedOut(Math.round(timeoutMs / 1000)), code: 'TIMEOUT', timedOut: true };
    return SharedFolderProbe.interpret(answer, opts);
  }

  /**
   * Only a stat of the path, in the same kind of child process, killed at the bound or when `signal`
   * aborts: a hung network drive costs a process that dies, never a thread of the host.
   */
  async pathKind(folder: string, timeoutMs: number, signal?: AbortSignal): Promise<PathKind> {
    const a = await this.runChild(STAT_CHILD, folder, timeoutMs, signal);
    if (a === 'timeout' || a === 'aborted') return a;
    if (a.ok) return a.kind ?? 'unknown';
    return a.step === 'stat' ? 'missing' : 'unknown'; // any stat error reads as "not there (or not reachable)"; spawn failures are the probe's to report
  }

  /** Maps the child's answer to an access state; exported for tests of every branch. */
  static interpret(a: ChildAnswer, opts: ProbeOptions = {}): ProbeResult {
    const content: FolderContent = !a.header
      ? a.count === 0
        ? 'empty'
        : a.remnants
          ? 'remnants'
          : 'foreign'
      : a.header.broken || a.header.format !== 'practice-store'
        ? 'foreign'
        : (a.header.version ?? 0) > STORE_FORMAT_VERSION
          ? 'newer-store'
          : 'store';
    const storeId = content === 'store' ? a.header?.storeId : undefined;
    if (!a.ok) {
      const code = a.code ?? 'UNKNOWN';
      const step = a.step ?? 'unexpected';
      const base = { content, storeId, code: `${step}:${code}` };
      if (GONE_CODES.has(code)) return { state: 'unavailable', ...base, detail: T.missing };
      if (code === 'ENOTDIR') return { state: 'denied', ...base, detail: T.notDir };
      if (code === 'EACCES' || code === 'EPERM') return opts.networkShare ? { state: 'auth-required', ...base, detail: T.login } : { state: 'denied', ...base, detail: T.denied };
      if (code === 'EROFS') return { state: 'denied', ...base, detail: T.readOnly };
      if (DISK_FULL_CODES.has(code)) return { state: 'denied', ...base, detail: T.full };
      return { state: 'unavailable', ...base, detail: T.broken(step, code) };
    }
    return contentVerdict(content, storeId, opts.expectStoreId, T);
  }

  /** Removes a file in a detached child that ends itself after 60 s whether or not the drive answered. */
  protected removeLater(file: string): void {
    try {
      const proc = spawn(process.execPath, [...(this.child.execArgv ?? []), '-e', REMOVE_CHILD, file], { stdio: 'ignore', windowsHide: true, detached: true });
      proc.on('error', () => undefined);
      proc.unref();
    } catch {
      /* nothing more to do: the next check removes it once it is an hour old */
    }
  }

  protected runChild(script: string, folder: string, timeoutMs: number, signal?: AbortSignal, args: string[] = []): Promise<ChildAnswer | 'timeout' | 'aborted'> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve('aborted');
      const proc = spawn(process.execPath, [...(this.child.execArgv ?? []), '-e', script, folder, ...args], {
        stdio: ['ignore', 'pipe', 'ignore'],
        windowsHide: true,
      });
      let out = '';
      let done = false;
      const finish = (v: ChildAnswer | 'timeout' | 'aborted') => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const timer = setTimeout(() => {
        proc.kill('SIGKILL'); // abandoned: a hung call dies with its process, not in our thread pool
        finish('timeout');
      }, timeoutMs);
      const onAbort = () => {
        proc.kill('SIGKILL');
        finish('aborted');
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      proc.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
      proc.on('error', () => finish({ ok: false, step: 'spawn', code: 'ESPAWN' }));
      proc.on('close', () => {
        try {
          finish(JSON.parse(out) as ChildAnswer);
        } catch {
          finish({ ok: false, step: 'child', code: 'ECHILD' });
        }
      });
    });
  }
}
