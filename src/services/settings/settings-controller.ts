// The page "Gruppenpraxis & Cloudspeicher": a declarative view, and its actions' outcomes in words.
// Setting a store up is StoreSetup's; this page turns its outcomes into texts.
import * as path from 'node:path';
import { BehaviorSubject, combineLatest, distinctUntilChanged } from 'rxjs';
import { DisposableCollection, completing } from '../common/disposable';
import type { ActionOutcome, LocalizedText, SettingsView, ViewItem, HostDialogs, HostLocalData } from '../../host-api';
import { adviceFor } from '../access/folder-classifier';
import { SharedFolderProbe, type PathKind } from '../access/shared-folder-probe';
import type { CloudStorageService } from '../cloud-storage-service';
import { KeychainUnavailableError } from '../credentials/credential-store';
import { StorageError } from '../../host-api/storage';
import { errnoOf } from '../common/errors';
import { localTime } from '../common/local-time';
import { keyringFromPassphrase } from '../crypto/keyring';
import { newPassphraseProblem } from '../crypto/passphrase-strength';
import { replacedBy } from '../crypto/store-keys';
import { MIN_PASSPHRASE, type RestoreOutcome, type SetUpOutcome, type StoreSetup } from '../setup/store-setup';
import { EMPTIED, HEADER_ALTERED } from '../cloud-storage-service';

const TITLE = { de: 'Gruppenpraxis & Cloudspeicher', en: 'Group practice & cloud storage' };

/**
 * Live validation of the folder field, the pure part (no disk, so it may run on every render);
 * undefined when the path is acceptable. Existence is `folderExistenceProblem`'s, asynchronously.
 */
export function folderProblem(value: string, env: { appDataDir: string; platform: NodeJS.Platform }): LocalizedText | undefined {
  const v = value.trim();
  if (v === '') return { de: 'Bitte geben Sie einen Ordner an.', en: 'Please enter a folder.' };
  const win = env.platform === 'win32';
  const isAbs = win ? /^[a-zA-Z]:[\\/]/.test(v) || /^\\\\[^\\]+\\[^\\]+/.test(v) : path.posix.isAbsolute(v);
  if (!isAbs)
    return win
      ? { de: 'Bitte einen vollständigen Pfad angeben, z. B. D:\\Praxisdaten oder \\\\server\\freigabe\\Praxis.', en: 'Please enter a full path, e.g. D:\\PracticeData or \\\\server\\share\\Practice.' }
      : { de: 'Bitte einen vollständigen Pfad angeben (beginnend mit /).', en: 'Please enter a full path (starting with /).' };
  if (win && /^[a-zA-Z]:[\\/]?$/.test(v)) return { de: 'Bitte nicht das ganze Laufwerk, sondern einen Ordner darauf wählen.', en: 'Please choose a folder on the drive, not the whole drive.' };
  if (win && /[<>"|?*]/.test(v.slice(2))) return { de: 'Der Pfad enthält Zeichen, die Windows nicht erlaubt (< > " | ? *).', en: 'The path contains characters Windows does not allow (< > " | ? *).' };
  const p = win ? path.win32 : path.posix;
  const norm = p.resolve(v);
  const app = p.resolve(env.appDataDir);
  const inside = (a: string, b: string) => (win ? a.toLowerCase() === b.toLowerCase() || a.toLowerCase().startsWith(b.toLowerCase() + '\\') : a === b || a.startsWith(b + '/'));
  if (inside(norm, app) || inside(app, norm))
    return { de: 'Dieser Ordner liegt im Programmordner dieses PCs; bitte einen gemeinsamen Ordner wählen.', en: "This folder is in this PC's application data folder; choose a shared folder." };
  const system = win ? [/^[a-z]:\\windows(\\|$)/i, /^[a-z]:\\program files( \(x86\))?(\\|$)/i, /^[a-z]:\\programdata(\\|$)/i] : [/^\/(bin|boot|dev|etc|lib|lib64|proc|run|sbin|sys|usr|var)(\/|$)/, /^\/$/];
  if (system.some((r) => r.test(norm))) return { de: 'Das ist ein Systemordner; bitte einen eigenen Ordner wählen.', en: 'That is a system folder; please choose a folder of your own.' };
  return undefined;
}

/** Asks what is at a path within a time limit; `signal` gives up early (a newer value, the page closed). */
export type PathCheck = (folder: string, signal: AbortSignal) => Promise<PathKind>;

/** The folder field's checks that need the disk: how long they may take, and how. */
export interface FolderChecks {
  readonly pathKind: PathCheck;
  readonly timeoutMs: number;
  /** Quiet time after the last keystroke before the disk is asked. */
  readonly debounceMs: number;
}

/** The default: the probe's child process, killed at the bound (see SharedFolderProbe.pathKind). */
// Not an in-process fs.promises.stat with a timer: a stat hung on a dead share would still hold one of libuv's 4 threads per keystroke; a child is killed at the bound.
export function probeFolderChecks(probe: SharedFolderProbe, timeoutMs: number, debounceMs = 300): FolderChecks {
  return { pathKind: (folder, signal) => probe.pathKind(folder, timeoutMs, signal), timeoutMs, debounceMs };
}

/**
 * The part of the folder's validation that needs the disk: does it exist, is it a folder. Bounded by
 * `checks.timeoutMs` (a hung network drive answers "not reachable right now", it never hangs the page).
 * Run after `folderProblem` found nothing; undefined when the folder is there.
 */
export async function folderExistenceProblem(value: string, env: { platform: NodeJS.Platform }, checks: FolderChecks, signal: AbortSignal): Promise<LocalizedText | undefined> {
  const v = value.trim();
  if (env.platform === 'win32' && /^\\\\/.test(v)) return undefined; // shares are checked by the probe, which can log in first
  switch (await checks.pathKind(v, signal)) {
    case 'directory':
    case 'unknown': // the child could not run: the probe of save / test-connection reports that
      return undefined;
    case 'not-directory':
      return { de: 'Der Pfad ist eine Datei, kein Ordner.', en: 'The path is a file, not a folder.' };
    case 'missing':
      return { de: 'Diesen Ordner gibt es nicht (oder er ist gerade nicht erreichbar).', en: 'This folder does not exist (or cannot be reached right now).' };
    case 'timeout': {
      const s = Math.max(1, Math.round(checks.timeoutMs / 1000));
      return {
        de: `Der Ordner ist gerade nicht erreichbar: keine Antwort innerhalb von ${s} Sekunde(n) (Netzlaufwerk getrennt oder Cloud-Programm hängt?). Bitte später erneut versuchen.`,
        en: `The folder is not reachable right now: no answer within ${s} second(s) (network drive disconnected, or the cloud client stuck?). Please try again later.`,
      };
    }
    case 'aborted':
      return { de: 'Die Prüfung des Ordners wurde abgebrochen.', en: 'The check of the folder was cancelled.' };
  }
}

/** What the page knows about the folder value it checked last (render only reads this). */
type FolderCheckState =
  | { readonly value: string; readonly state: 'checking' }
  | { readonly value: string; readonly state: 'done'; readonly problem?: LocalizedText; readonly kind?: { title: LocalizedText; advice: LocalizedText } };

/** A record's content in one short line: "name: Anna Beispiel · note: …". */
function summary(data: Record<string, unknown>): string {
  const s = Object.entries(data)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
  return s.length > 140 ? `${s.slice(0, 139)}…` : s;
}

/** What the page says after "Praxisdaten … zurückschreiben". */
function restoreText(o: RestoreOutcome): ActionOutcome {
  switch (o.kind) {
    case 'restored':
      return { ok: true, message: { de: `Die Praxisdaten wurden von diesem PC in den gemeinsamen Ordner zurückgeschrieben (${o.files.toLocaleString('de-DE')} Dateien). Die anderen PCs arbeiten damit weiter, neue PCs können beitreten.`, en: `The practice data were written back into the shared folder from this PC (${o.files.toLocaleString('en')} files). The other PCs carry on with them, new PCs can join.` } };
    case 'not-needed':
      return { ok: true, message: { de: 'Die Praxisdaten liegen bereits im gemeinsamen Ordner; es war nichts zurückzuschreiben.', en: 'The practice data are already in the shared folder; there was nothing to write back.' } };
    case 'not-empty':
      return { ok: false, message: { de: `Der Ordner ist nicht leer; um nichts zu überschreiben, wurde nichts geschrieben. ${o.detail.de}`, en: `The folder is not empty; to overwrite nothing, nothing was written. ${o.detail.en}` } };
    case 'no-local-copy':
      return { ok: false, message: { de: 'Auf diesem PC liegt keine Kopie dieser Praxisdaten; bitte an einem PC zurückschreiben, der mit ihnen gearbeitet hat.', en: 'This PC holds no copy of these practice data; please write them back from a PC that worked with them.' } };
    case 'passphrase-cancelled':
      return { ok: false, message: { de: 'Ohne Praxis-Passwort kann nichts zurückgeschrieben werden; es wurde nichts geändert.', en: 'Without the practice passphrase nothing can be written back; nothing was changed.' } };
    case 'header-unreadable':
      return { ok: false, message: { de: 'Die Kennungsdatei der lokalen Kopie ist nicht lesbar; es wurde nichts geschrieben. Bitte wenden Sie sich an den Support.', en: "The local copy's store header is unreadable; nothing was written. Please contact support." } };
    case 'not-configured':
      return { ok: false, message: { de: 'Dieser PC ist nicht eingerichtet.', en: 'This PC is not set up.' } };
  }
}

/** What the page says after "Speichern", for each outcome of the set-up. */
function setUpText(o: SetUpOutcome): ActionOutcome {
  const unchanged = { de: 'Es wurde nichts geändert.', en: 'Nothing was changed.' };
  const field = (text: LocalizedText): ActionOutcome => ({ ok: false, message: text, fieldErrors: { folder: text } });
  switch (o.kind) {
    case 'other-folder-configured':
      return field({
        de: 'Dieser PC ist bereits mit einem anderen Ordner eingerichtet. Entfernen Sie zuerst die Einrichtung; es gehen dabei keine Daten verloren.',
        en: 'This PC is already set up with another folder. Remove the setup first; no data are lost by that.',
      });
    case 'login-cancelled':
      return { ok: false, message: o.text ?? { de: 'Anmeldung abgebrochen; es wurde nichts geändert.', en: 'Login cancelled; nothing was changed.' } };
    case 'unreachable':
    case 'denied':
    case 'auth-required':
    case 'wrong-folder':
      return { ok: false, message: { de: `${o.detail.de} ${unchanged.de}`, en: `${o.detail.en} ${unchanged.en}` } };
    case 'foreign':
      return field({ de: `${o.detail.de} ${unchanged.de}`, en: `${o.detail.en} ${unchanged.en}` });
    case 'configured-store-missing':
      return field({
        de: 'Dieser PC ist für Praxisdaten eingerichtet, die nicht (mehr) in diesem Ordner liegen – ist der USB-Stick eingesteckt, das Laufwerk verbunden, die Synchronisation fertig? Ein neuer Speicher wird hier nur angelegt, wenn Sie zuerst die Einrichtung entfernen.',
        en: 'This PC is set up for practice data that are not (or no longer) in this folder — is the USB drive plugged in, the drive connected, syncing finished? A new store is only created here after you remove the setup first.',
      });
    case 'header-unreadable':
      return { ok: false, message: { de: 'Der Kopf des Praxis-Speichers ist nicht lesbar; es wurde nichts geändert.', en: 'The practice store header is unreadable; nothing was changed.' } };
    case 'other-store':
      return field({ de: 'In diesem Ordner liegt ein anderer Praxis-Speicher. Entfernen Sie zuerst die Einrichtung.', en: 'This folder holds another practice store. Remove the setup first.' });
    case 'passphrase-cancelled':
      return { ok: false, message: { de: 'Ohne Praxis-Passwort kein Beitritt; es wurde nichts geändert.', en: 'No passphrase, no joining; nothing was changed.' } };
    case 'joined':
      return { ok: true, message: { de: 'Dieser PC arbeitet jetzt mit den gemeinsamen Praxisdaten.', en: 'This PC now works with the shared practice data.' } };
    case 'create-cancelled':
      return { ok: false, message: { de: 'Abgebrochen; es wurde nichts geändert.', en: 'Cancelled; nothing was changed.' } };
    case 'passphrase-too-short':
      return { ok: false, message: { de: `Das Praxis-Passwort muss mindestens ${MIN_PASSPHRASE} Zeichen lang sein; es wurde nichts geändert.`, en: `The practice passphrase must be at least ${MIN_PASSPHRASE} characters; nothing was changed.` } };
    case 'passphrase-weak':
      return { ok: false, message: { de: `${o.text.de} Es wurde nichts geändert.`, en: `${o.text.en} Nothing was changed.` } };
    case 'import-not-verified':
      return { ok: false, message: { de: 'Die Übernahme der bisherigen Daten ließ sich nicht bestätigen; es wurde nichts eingerichtet. Ihre bisherigen Daten sind unverändert.', en: 'Moving the existing data could not be verified; nothing was set up. Your existing data are unchanged.' } };
    case 'import-invalid':
      return { ok: false, message: { de: `Die bisherigen Daten enthalten einen ungültigen Datensatz; es wurde nichts eingerichtet, Ihre Daten sind unverändert. Einzelheiten: ${o.text.de}`, en: `The existing data contain an invalid record; nothing was set up, your data are unchanged. Details: ${o.text.en}` } };
    case 'header-not-written':
      return { ok: false, message: { de: 'Der Praxis-Speicher konnte im Ordner nicht angelegt werden (ist dort gerade etwas entstanden, z. B. von einem anderen PC?). Es wurde nichts geändert.', en: 'The practice store could not be created in the folder (did something appear there just now, e.g. from another PC?). Nothing was changed.' } };
    case 'created':
      return {
        ok: true,
        message: {
          de: `Der verschlüsselte Praxis-Speicher wurde angelegt${o.imported === 1 ? ', 1 bisheriger Datensatz wurde übernommen und geprüft' : o.imported ? `, ${o.imported} bisherige Datensätze wurden übernommen und geprüft` : ''}. Die bisherigen Daten bleiben als Sicherung erhalten.`,
          en: `The encrypted practice store was created${o.imported === 1 ? ', 1 existing record was moved in and verified' : o.imported ? `, ${o.imported} existing records were moved in and verified` : ''}. The existing data stay as a backup.`,
        },
      };
  }
}

/** What a person reads when an action fails unexpectedly: our own texts, never a raw error. */
function failureText(e: unknown): LocalizedText {
  if (StorageError.is(e) || KeychainUnavailableError.is(e)) return e.text;
  return {
    de: `Die Aktion ist fehlgeschlagen (${errnoOf(e) ?? 'unerwarteter Fehler'}). Die bisherige Einrichtung und alle Daten sind unverändert.`,
    en: `The action failed (${errnoOf(e) ?? 'unexpected error'}). The previous setup and all data are unchanged.`,
  };
}

export class SettingsController {
  protected readonly folder = new BehaviorSubject<string>('');
  protected readonly busy = new BehaviorSubject<boolean>(false);
  protected readonly view = new BehaviorSubject<SettingsView>({ title: TITLE, busy: false, sections: [] });
  readonly view$ = this.view.asObservable();
  protected readonly toDispose = new DisposableCollection();
  protected configuredFolder?: string;
  /** The folder's disk checks and classification, done when the value changes; render only reads this. */
  protected readonly checked = new BehaviorSubject<FolderCheckState>({ value: '', state: 'done' });
  protected readonly checks: FolderChecks;
  protected checkTimer?: NodeJS.Timeout;
  protected checkAbort?: AbortController;
  protected checkSeq = 0;
  /** Aborted on dispose: ends whatever disk check is still running. */
  protected readonly life = new AbortController();

  constructor(
    protected readonly service: CloudStorageService,
    protected readonly setup: StoreSetup,
    protected readonly dialogs: HostDialogs,
    protected readonly localData: HostLocalData | undefined,
    checks?: FolderChecks,
  ) {
    this.checks = checks ?? probeFolderChecks(new SharedFolderProbe(), 5000);
    void service.configStore.read().then((r) => {
      if (r.kind === 'ok') {
        this.configuredFolder = r.config.folder;
        if (this.folder.value === '') this.folder.next(r.config.folder);
      }
    });
    // Every way the value changes (typing, browse, the configured folder) starts one check.
    this.toDispose.push(
      completing(this.view),
      completing(this.checked),
      completing(this.busy),
      completing(this.folder),
      this.folder.pipe(distinctUntilChanged()).subscribe((v) => this.scheduleCheck(v)),
      combineLatest([this.folder, this.checked, this.busy, service.access$, service.sync$, service.keyState$]).subscribe(() => this.view.next(this.render())),
      () => this.life.abort(), // kills a running disk check's child process
      () => clearTimeout(this.checkTimer),
      () => this.checkAbort?.abort(),
    );
  }

  /**
   * Debounced (the disk is asked once typing pauses), bounded (checks.timeoutMs), and a check whose
   * value is no longer current is aborted and its answer dropped, so an old answer never wins.
   */
  protected scheduleCheck(value: string): void {
    clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
    this.checkAbort?.abort();
    this.checkAbort = undefined;
    const seq = ++this.checkSeq;
    if (this.life.signal.aborted) return;
    if (value === '' || folderProblem(value, this.service.env)) return this.checked.next({ value, state: 'done' }); // render shows the pure problem
    this.checked.next({ value, state: 'checking' });
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      const abort = new AbortController();
      this.checkAbort = abort;
      void this.runCheck(value, seq, abort.signal);
    }, this.checks.debounceMs);
  }

  protected async runCheck(value: string, seq: number, signal: AbortSignal): Promise<void> {
    let next: FolderCheckState;
    try {
      const problem = await folderExistenceProblem(value, this.service.env, this.checks, signal);
      if (seq !== this.checkSeq || signal.aborted) return;
      // The classifier reads the mount table and the cloud clients' settings: once per value, here.
      next = { value, state: 'done', ...(problem ? { problem } : { kind: adviceFor(this.service.classifier.classify(value.trim())) }) };
    } catch {
      next = { value, state: 'done' }; // nothing known; save and test-connection check again
    }
    if (seq !== this.checkSeq || signal.aborted) return;
    this.checkAbort = undefined;
    this.checked.next(next);
  }

  /** The whole validation for save and test-connection, awaited: the pure part, then the disk. */
  protected async folderCheck(folder: string): Promise<LocalizedText | undefined> {
    return folderProblem(folder, this.service.env) ?? (await folderExistenceProblem(folder, this.service.env, this.checks, this.life.signal));
  }

  protected render(): SettingsView {
    const env = this.service.env;
    const folder = this.folder.value;
    const check = this.checked.value;
    const current = check.value === folder ? check : undefined; // an answer for an older value is never shown
    const problem = folder === '' ? undefined : (folderProblem(folder, env) ?? (current?.state === 'done' ? current.problem : undefined));
    const items: ViewItem[] = [
      {
        kind: 'text-field',
        id: 'folder',
        label: { de: 'Gemeinsamer Ordner', en: 'Shared folder' },
        value: folder,
        placeholder: env.platform === 'win32' ? { de: 'z. B. C:\\Users\\Praxis\\Dropbox\\Praxisdaten', en: 'e.g. C:\\Users\\Practice\\Dropbox\\PracticeData' } : { de: 'z. B. /home/praxis/Dropbox/Praxisdaten', en: 'e.g. /home/practice/Dropbox/PracticeData' },
        ...(problem ? { error: problem } : {}),
        browseActionId: 'browse',
      },
    ];
    if (folder && !problem) {
      const adv = current?.state === 'done' ? current.kind : undefined;
      if (adv) items.push({ kind: 'notice', id: 'folder-kind', tone: 'info', text: { de: `${adv.title.de}: ${adv.advice.de}`, en: `${adv.title.en}: ${adv.advice.en}` } });
      else if (current?.state !== 'done') items.push({ kind: 'notice', id: 'folder-checking', tone: 'busy', text: { de: 'Der Ordner wird geprüft …', en: 'Checking the folder …' } });
    }
    const a = this.service.accessStatus;
    const s = this.service.syncStatus;
    const accessText: Record<string, LocalizedText> = {
      'not-configured': { de: 'Nicht eingerichtet – die Daten liegen nur auf diesem PC.', en: 'Not set up — the data are on this PC only.' },
      checking: { de: 'Wird geprüft …', en: 'Checking …' },
      available: { de: 'Verbunden', en: 'Connected' },
      unavailable: { de: 'Nicht erreichbar – Änderungen warten auf diesem PC', en: 'Unreachable — changes wait on this PC' },
      'auth-required': { de: 'Anmeldung nötig', en: 'Login needed' },
      denied: { de: 'Kein Zugriff', en: 'No access' },
      'wrong-folder': { de: 'Im Ordner liegen nicht die Praxisdaten', en: 'The folder does not hold the practice data' },
    };
    const tone = a.state === 'available' ? 'ok' : a.state === 'checking' ? 'busy' : a.state === 'not-configured' ? 'info' : 'error';
    const status: ViewItem[] = [
      { kind: 'status', id: 'access', label: { de: 'Zugriff', en: 'Access' }, tone, text: a.detail ? { de: `${accessText[a.state]!.de}. ${a.detail.de}`, en: `${accessText[a.state]!.en}. ${a.detail.en}` } : accessText[a.state]! },
      {
        kind: 'status',
        id: 'sync',
        label: { de: 'Abgleich', en: 'Sync' },
        tone: s.state === 'in-sync' ? 'ok' : s.state === 'conflicts' ? 'warning' : s.state === 'offline' ? 'error' : 'info',
        text: {
          de: `${s.pendingUploads} Änderung(en) noch nicht übertragen, ${s.awaited} angekündigt und noch nicht angekommen, ${s.conflicts} Konflikt(e)${s.lastExchangeAt ? `, zuletzt abgeglichen ${localTime(s.lastExchangeAt, 'de')}` : ''}.`,
          en: `${s.pendingUploads} change(s) not yet sent, ${s.awaited} announced but not arrived, ${s.conflicts} conflict(s)${s.lastExchangeAt ? `, last exchange ${localTime(s.lastExchangeAt, 'en')}` : ''}.`,
        },
      },
      {
        kind: 'table',
        id: 'devices',
        label: { de: 'PCs, die diese Daten nutzen', en: 'PCs using these data' },
        columns: [{ de: 'Name', en: 'Name' }, { de: 'Benutzer', en: 'User' }, { de: 'Aktiv', en: 'Active' }, { de: 'Zuletzt gesehen', en: 'Last seen' }],
        rows: s.devices.map((d) => ({ id: d.deviceId, cells: [d.thisDevice ? `${d.name} ★` : d.name, d.user, d.active ? '●' : '–', localTime(d.lastSeenAt, env.locale)] })),
      },
      {
        kind: 'table',
        id: 'conflicts',
        label: { de: 'Offene Konflikte – wählen Sie je Datensatz die Fassung, die gelten soll', en: 'Open conflicts — choose for each record the version that shall stand' },
        columns: [{ de: 'Datensatz', en: 'Record' }, { de: 'Fassung von', en: 'Version by' }, { de: 'Geändert', en: 'Changed' }, { de: 'Inhalt', en: 'Content' }],
        // One row per concurrent version; its action keeps that version (the others stay in the history).
        rows: (this.service.active?.replica.conflictList ?? []).flatMap((c) =>
          c.versions.map((v) => ({
            id: `${c.collection}/${c.id}/${v.version}`,
            cells: [`${c.collection}/${c.id}`, v.updatedBy, localTime(v.updatedAt, env.locale), v.data === null ? (env.locale === 'de' ? '(gelöscht)' : '(deleted)') : summary(v.data)],
            actionIds: [`keep:${c.collection}/${c.id}/${v.version}`],
          })),
        ),
      },
    ];
    const store = this.service.active?.replica;
    const keys = store?.keyState;
    if (keys && !keys.upToDate)
      status.push({
        kind: 'notice',
        id: 'passphrase-changed',
        tone: 'warning',
        text: {
          de: `Das Praxis-Passwort wurde auf einem anderen PC geändert${replacedBy(keys.currentBy, 'de')}. Geben Sie das neue Passwort ein („Neues Praxis-Passwort eingeben“), damit dieser PC die seitdem gespeicherten Änderungen lesen kann. Ihre eigenen Änderungen werden weiter gespeichert und übertragen.`,
          en: `The practice passphrase was changed on another PC${replacedBy(keys.currentBy, 'en')}. Enter the new passphrase ("Enter new practice passphrase") so this PC can read the changes saved since. Your own changes are still saved and sent.`,
        },
      });
    // Another line of generations beside this PC's (two changes crossed — or someone holding a replaced
    // key set one): never taken by itself; a person who knows it was the practice enters it here.
    const other = keys?.upToDate ? keys.others[0] : undefined;
    const locked = other ? Math.max(1, this.service.active?.carrier.lockedCount ?? 0) : 0;
    if (other)
      status.push({
        kind: 'notice',
        id: 'locked-files',
        tone: 'warning',
        text: {
          de: `Im gemeinsamen Ordner liegt ein weiteres Praxis-Passwort, gesetzt am ${localTime(other.createdAt, 'de')} auf einem PC, der das hier gültige nicht kannte; ${locked} Datei(en) sind damit verschlüsselt. Haben in Ihrer Praxis zwei PCs gleichzeitig das Passwort geändert, geben Sie das andere hier ein („Neues Praxis-Passwort eingeben“) und dieses dort; danach gilt auf allen PCs eines. Hat in Ihrer Praxis niemand ein anderes gesetzt, geben Sie nichts ein: Dann stammt es von jemandem, der ein früheres Passwort kennt. Dieser PC übernimmt es nie von selbst.`,
          en: `The shared folder holds another practice passphrase, set on ${localTime(other.createdAt, 'en')} on a PC that did not know the one in use here; ${locked} file(s) are encrypted with it. If two PCs of your practice changed the passphrase at the same time, enter the other one here ("Enter new practice passphrase") and this one there; afterwards all PCs use one. If nobody in your practice set another one, enter nothing: it comes from someone who knows an earlier passphrase. This PC never takes it by itself.`,
        },
      });
    const held = this.service.active?.carrier.heldCount ?? 0;
    if (held > 0)
      status.push({
        kind: 'notice',
        id: 'held-files',
        tone: 'warning',
        text: {
          de: `${held} Datei(en) im gemeinsamen Ordner sind mit einem ersetzten Praxis-Passwort verschlüsselt und werden nicht übernommen, bis ein PC mit dem aktuellen Passwort sie bestätigt. Meist sind das Änderungen eines PCs, auf dem das neue Passwort noch nicht eingegeben wurde: Geben Sie es dort ein, dann kommen sie an. Sonst stammen sie von jemandem, der ein früheres Passwort kennt, und bleiben unbeachtet.`,
          en: `${held} file(s) in the shared folder are encrypted with a replaced practice passphrase and are not taken until a PC with the current passphrase confirms them. Mostly these are changes of a PC where the new passphrase has not been entered yet: enter it there and they arrive. Otherwise they come from someone who knows an earlier passphrase and stay ignored.`,
        },
      });
    status.push(...this.deliveryItems());
    const configured = this.configuredFolder !== undefined;
    const actions: ViewItem[] = [
      { kind: 'action', id: 'save', label: { de: 'Speichern', en: 'Save' }, style: 'primary', enabled: !this.busy.value && folder !== '' && !problem },
      { kind: 'action', id: 'test-connection', label: { de: 'Verbindung testen', en: 'Test connection' }, style: 'secondary', enabled: !this.busy.value && folder !== '' && !problem },
      { kind: 'action', id: 'verify', label: { de: 'Daten prüfen', en: 'Verify data' }, style: 'secondary', enabled: !this.busy.value && this.service.isActive },
      ...(this.service.active?.carrier.health === 'emptied'
        ? [{ kind: 'action' as const, id: 'restore-shared-folder', label: { de: 'Praxisdaten von diesem PC in den gemeinsamen Ordner zurückschreiben', en: 'Write the practice data back into the shared folder from this PC' }, style: 'primary' as const, enabled: !this.busy.value }]
        : []),
      ...(keys && (!keys.upToDate || locked > 0)
        ? [{ kind: 'action' as const, id: 'enter-passphrase', label: { de: 'Neues Praxis-Passwort eingeben', en: 'Enter new practice passphrase' }, style: 'primary' as const, enabled: !this.busy.value }]
        : []),
      {
        kind: 'action',
        id: 'change-passphrase',
        label: { de: 'Praxis-Passwort ändern', en: 'Change practice passphrase' },
        style: 'secondary',
        enabled: !this.busy.value && keys?.upToDate === true && !store?.readOnly,
        confirm: {
          de: 'Sie werden nach dem bisherigen und dem neuen Praxis-Passwort gefragt. Alles, was danach gespeichert wird, ist nur mit dem neuen Passwort lesbar, und neue PCs kommen nur mit dem neuen Passwort hinein; jeder andere PC fragt einmal danach. Was bisher im gemeinsamen Ordner liegt, bleibt mit dem alten Passwort lesbar für jeden, der eine Kopie davon hat. Es gehen keine Daten verloren.',
          en: 'You are asked for the current and the new practice passphrase. Everything saved afterwards is readable only with the new passphrase, and new PCs get in only with the new one; every other PC asks for it once. What is in the shared folder so far stays readable with the old passphrase to anyone who has a copy of it. No data are lost.',
        },
      },
      {
        kind: 'action',
        id: 'remove-configuration',
        label: { de: 'Cloud-Einrichtung dieses PCs entfernen', en: "Remove this PC's cloud setup" },
        style: 'danger',
        enabled: !this.busy.value && configured,
        confirm: {
          de: 'Die Cloud-Einrichtung dieses PCs wird entfernt. Die Daten im gemeinsamen Ordner bleiben unverändert, und noch nicht übertragene Änderungen bleiben auf diesem PC gespeichert.',
          en: "This PC's cloud setup is removed. The data in the shared folder stay untouched, and changes not yet sent stay saved on this PC.",
        },
      },
    ];
    return {
      title: TITLE,
      busy: this.busy.value,
      sections: [
        { id: 'folder', title: { de: 'Ordner', en: 'Folder' }, items },
        { id: 'status', title: { de: 'Status', en: 'Status' }, items: status },
        { id: 'actions', title: { de: 'Aktionen', en: 'Actions' }, items: actions },
      ],
    };
  }

  /** What the delivery checks found: the store gone from the folder, its header altered, other PCs' changes missing there. */
  protected deliveryItems(): ViewItem[] {
    const carrier = this.service.active?.carrier;
    if (!carrier) return [];
    const items: ViewItem[] = [];
    if (carrier.health === 'emptied') items.push({ kind: 'notice', id: 'shared-folder-emptied', tone: 'error', text: EMPTIED });
    if (carrier.sharedHeaderAltered) items.push({ kind: 'notice', id: 'shared-header-altered', tone: 'warning', text: HEADER_ALTERED });
    for (const m of carrier.missing)
      items.push({
        kind: 'notice',
        id: `missing-changes:${m.deviceId}`,
        tone: 'warning',
        text: {
          de: `Änderungen von ${m.name} fehlen im gemeinsamen Ordner (seit ${localTime(m.since, 'de')}; ${m.files === 1 ? '1 Datei' : `${m.files.toLocaleString('de-DE')} Dateien`}). Sie kommen an, sobald ${m.name} oder ein anderer PC, der sie noch hat, wieder mit dem Ordner arbeitet. Bis dahin fehlen sie hier; nichts davor oder danach geht verloren.`,
          en: `Changes from ${m.name} are missing from the shared folder (since ${localTime(m.since, 'en')}; ${m.files === 1 ? '1 file' : `${m.files.toLocaleString('en')} files`}). They arrive once ${m.name}, or another PC that still has them, works with the folder again. Until then they are missing here; nothing before or after them is lost.`,
        },
      });
    return items;
  }

  setValue(fieldId: string, value: string): void {
    if (fieldId === 'folder') this.folder.next(String(value));
  }

  async invoke(actionId: string): Promise<ActionOutcome> {
    if (this.busy.value) return { ok: false, message: { de: 'Bitte warten, eine Aktion läuft noch.', en: 'Please wait, an action is still running.' } };
    this.busy.next(true);
    try {
      // The outcome is the host's to show (HOST-API §3); the view shows state, not messages.
      return await this.run(actionId).catch((e: unknown): ActionOutcome => ({ ok: false, message: failureText(e) }));
    } finally {
      this.busy.next(false);
    }
  }

  protected async run(actionId: string): Promise<ActionOutcome> {
    switch (actionId) {
      case 'browse': {
        const picked = await this.dialogs.pickFolder({ title: { de: 'Gemeinsamen Ordner wählen', en: 'Choose the shared folder' }, defaultPath: this.folder.value || undefined });
        if (picked) this.folder.next(picked);
        return { ok: true };
      }
      case 'test-connection':
        return this.testConnection();
      case 'save':
        return this.save();
      case 'restore-shared-folder':
        return restoreText(await this.setup.restoreShared());
      case 'verify':
        return this.verify();
      case 'change-passphrase':
        return this.changePassphrase();
      case 'enter-passphrase':
        return this.enterPassphrase();
      case 'remove-configuration':
        await this.setup.remove();
        this.configuredFolder = undefined;
        return { ok: true, message: { de: 'Die Einrichtung wurde entfernt. Die Daten im gemeinsamen Ordner sind unverändert.', en: 'The setup was removed. The data in the shared folder are unchanged.' } };
      default:
        if (actionId.startsWith('keep:')) return this.keepVersion(actionId.slice(5));
        return { ok: false, message: { de: `Unbekannte Aktion „${actionId}“.`, en: `Unknown action "${actionId}".` } };
    }
  }

  protected fieldError(text: LocalizedText): ActionOutcome {
    return { ok: false, message: text, fieldErrors: { folder: text } };
  }

  protected async testConnection(): Promise<ActionOutcome> {
    const folder = this.folder.value.trim();
    const problem = await this.folderCheck(folder);
    if (problem) return this.fieldError(problem);
    const t = await this.setup.test(folder);
    // A foreign folder's detail already says what is wrong; the other answers add what saving would do.
    if (t.kind !== 'store' && t.kind !== 'empty') return { ok: false, message: t.detail };
    const what =
      t.kind === 'store'
        ? { de: 'Im Ordner liegen Praxisdaten; dieser PC kann ihnen beitreten.', en: 'The folder holds practice data; this PC can join them.' }
        : { de: 'Der Ordner ist leer; beim Speichern wird dort ein neuer, verschlüsselter Praxis-Speicher angelegt.', en: 'The folder is empty; saving creates a new, encrypted practice store there.' };
    return { ok: true, message: { de: `${t.detail.de} ${what.de}`, en: `${t.detail.en} ${what.en}` } };
  }

  protected async save(): Promise<ActionOutcome> {
    const folder = this.folder.value.trim();
    const problem = await this.folderCheck(folder);
    if (problem) return this.fieldError(problem);
    const o = await this.setup.setUp(folder, this.localData);
    if (o.kind === 'joined' || o.kind === 'created') this.configuredFolder = folder;
    return setUpText(o);
  }

  /**
   * A new practice passphrase: asks the current one (someone at an unlocked PC must not change it
   * unnoticed), then the new one; a new key generation is kept in the keychain, then published.
   */
  protected async changePassphrase(): Promise<ActionOutcome> {
    const active = this.service.active;
    const store = active?.replica;
    const nothing = { de: 'Es wurde nichts geändert.', en: 'Nothing was changed.' };
    if (!active || !store || store.isClosed) return { ok: false, message: { de: `Der Cloudspeicher ist nicht geöffnet. ${nothing.de}`, en: `Cloud storage is not open. ${nothing.en}` } };
    if (store.readOnly) return { ok: false, message: { de: `Die Daten sind gerade schreibgeschützt (das Programm ist noch einmal geöffnet?). ${nothing.de}`, en: `The data are read-only right now (is the application open twice?). ${nothing.en}` } };
    if (!store.keyState.upToDate)
      return { ok: false, message: { de: `Das Passwort wurde bereits auf einem anderen PC geändert. Geben Sie zuerst dieses neue Passwort ein („Neues Praxis-Passwort eingeben“). ${nothing.de}`, en: `The passphrase was already changed on another PC. Enter that new passphrase first ("Enter new practice passphrase"). ${nothing.en}` } };
    const old = await this.dialogs.promptSecret({
      title: { de: 'Bisheriges Praxis-Passwort', en: 'Current practice passphrase' },
      message: { de: 'Bitte geben Sie zur Bestätigung das bisherige Praxis-Passwort ein.', en: 'Please enter the current practice passphrase to confirm.' },
      confirm: false,
    });
    if (old === undefined) return { ok: false, message: { de: `Abgebrochen. ${nothing.de}`, en: `Cancelled. ${nothing.en}` } };
    const check = await keyringFromPassphrase(store.header, await store.local.readKeyFiles(), old);
    if (check.kind !== 'ok' || !check.keyring.has(store.keyState.current) || check.keyring.current.id !== store.keyState.current)
      return {
        ok: false,
        message:
          check.kind === 'retired'
            ? { de: `Das ist ein früheres, bereits ersetztes Praxis-Passwort. ${nothing.de}`, en: `That is an earlier passphrase that was already replaced. ${nothing.en}` }
            : { de: `Das bisherige Praxis-Passwort stimmt nicht. ${nothing.de}`, en: `The current practice passphrase is wrong. ${nothing.en}` },
      };
    const pass = await this.dialogs.promptSecret({
      title: { de: 'Neues Praxis-Passwort', en: 'New practice passphrase' },
      message: {
        de: `Das neue Praxis-Passwort braucht jeder PC der Praxis einmal. Bitte notieren Sie es an einem sicheren Ort: Ohne das Passwort kann niemand – auch der Support nicht – die danach gespeicherten Daten öffnen. Mindestens ${MIN_PASSPHRASE} Zeichen und schwer zu erraten: am besten mehrere Wörter, die nichts miteinander und nichts mit der Praxis zu tun haben.`,
        en: `Every PC of the practice needs the new passphrase once. Write it down somewhere safe: without it nobody — not even support — can open the data saved afterwards. At least ${MIN_PASSPHRASE} characters and hard to guess: best several words that have nothing to do with each other or with the practice.`,
      },
      confirm: true,
    });
    if (pass === undefined) return { ok: false, message: { de: `Abgebrochen. ${nothing.de}`, en: `Cancelled. ${nothing.en}` } };
    const problem = newPassphraseProblem(pass, this.service.env);
    if (problem?.kind === 'too-short') return { ok: false, message: { de: `Das Praxis-Passwort muss mindestens ${MIN_PASSPHRASE} Zeichen lang sein. ${nothing.de}`, en: `The practice passphrase must be at least ${MIN_PASSPHRASE} characters. ${nothing.en}` } };
    if (pass.normalize('NFC') === old.normalize('NFC')) return { ok: false, message: { de: `Das neue Passwort ist das bisherige. ${nothing.de}`, en: `The new passphrase is the current one. ${nothing.en}` } };
    if (problem) return { ok: false, message: { de: `${problem.text.de} ${nothing.de}`, en: `${problem.text.en} ${nothing.en}` } };
    if (!store.keyState.upToDate || store.isClosed) return { ok: false, message: { de: `Während der Eingabe hat sich der Stand geändert; bitte erneut versuchen. ${nothing.de}`, en: `Things changed while you were typing; please try again. ${nothing.en}` } };
    try {
      await store.changePassphrase(pass, this.service.env.deviceName);
    } catch (e) {
      const why = failureText(e);
      return { ok: false, message: { de: `Das Praxis-Passwort wurde nicht geändert; das bisherige gilt weiter. ${why.de}`, en: `The practice passphrase was not changed; the current one still applies. ${why.en}` } };
    }
    const others = this.service.syncStatus.devices.filter((d) => !d.thisDevice).length;
    const left = (await active.store.flush({ timeoutMs: 10000 })).pending > 0 || active.carrier.health !== 'ok';
    return {
      ok: true,
      message: {
        de: `Das Praxis-Passwort wurde geändert. Was ab jetzt gespeichert wird, ist nur mit dem neuen Passwort lesbar.${others ? ` Die anderen ${others} PC(s) fragen einmal nach dem neuen Passwort.` : ''}${left ? ' Die Änderung wird übertragen, sobald der gemeinsame Ordner erreichbar ist.' : ''}`,
        en: `The practice passphrase was changed. What is saved from now on is readable only with the new passphrase.${others ? ` The other ${others} PC(s) ask for the new passphrase once.` : ''}${left ? ' The change is sent once the shared folder is reachable.' : ''}`,
      },
    };
  }

  /** The passphrase set on another PC, typed here once. */
  protected async enterPassphrase(): Promise<ActionOutcome> {
    const store = this.service.active?.replica;
    if (!store) return { ok: false, message: { de: 'Der Cloudspeicher ist nicht geöffnet.', en: 'Cloud storage is not open.' } };
    if (store.keyState.upToDate && store.keyState.locked.length === 0 && store.keyState.others.length === 0) return { ok: true, message: { de: 'Dieser PC kennt das aktuelle Praxis-Passwort bereits.', en: 'This PC already knows the current practice passphrase.' } };
    if (!(await this.service.catchUp())) return { ok: false, message: { de: 'Abgebrochen; es wurde nichts geändert.', en: 'Cancelled; nothing was changed.' } };
    return { ok: true, message: { de: 'Das Praxis-Passwort ist auf diesem PC hinterlegt; die neuen Änderungen werden jetzt gelesen.', en: 'The practice passphrase is kept on this PC; the new changes are being read now.' } };
  }

  /** Resolves a conflict with the chosen version's content; nothing is lost, every version stays in the history. */
  protected async keepVersion(ref: string): Promise<ActionOutcome> {
    const [collection, id, version] = ref.split('/');
    const store = this.service.active?.replica;
    const conflict = store?.conflictList.find((c) => c.collection === collection && c.id === id);
    const chosen = conflict?.versions.find((v) => v.version === version);
    if (!store || !chosen)
      return { ok: false, message: { de: 'Dieser Konflikt ist bereits gelöst (vielleicht an einem anderen PC).', en: 'This conflict is already resolved (perhaps on another PC).' } };
    await store.resolveConflict(collection!, id!, chosen.data);
    return {
      ok: true,
      message: {
        de: `Für ${collection}/${id} gilt jetzt die Fassung von ${chosen.updatedBy}. Die anderen Fassungen bleiben im Verlauf erhalten.`,
        en: `${collection}/${id} now holds the version by ${chosen.updatedBy}. The other versions stay in the history.`,
      },
    };
  }

  protected async verify(): Promise<ActionOutcome> {
    const store = this.service.active?.replica;
    if (!store) return { ok: false, message: { de: 'Der Cloudspeicher ist nicht geöffnet.', en: 'Cloud storage is not open.' } };
    const report = await store.verify();
    return report.problems.length === 0
      ? { ok: true, message: { de: `Alles in Ordnung: ${report.segments} Protokolldateien, ${report.changes} Änderungen, ${report.objects} Anhänge geprüft.`, en: `All good: ${report.segments} log files, ${report.changes} changes, ${report.objects} attachments checked.` } }
      : { ok: false, message: { de: `${report.problems.length} Auffälligkeit(en): ${report.problems.slice(0, 5).map((p) => `${p.path}: ${p.reason}`).join('; ')}`, en: `${report.problems.length} finding(s): ${report.problems.slice(0, 5).map((p) => `${p.path}: ${p.reason}`).join('; ')}` } };
  }

  dispose(): void {
    this.checkSeq++; // an answer still on its way is dropped
    this.toDispose.dispose();
  }
}
