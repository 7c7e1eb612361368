// The page "Gruppenpraxis & Cloudspeicher": a declarative view, and its actions' outcomes in words.
// Setting a store up is StoreSetup's; this page turns its outcomes into texts.
import * as path from 'node:path';
import { BehaviorSubject, combineLatest, distinctUntilChanged } from 'rxjs';
import { DisposableCollection, completing } from '../common/disposable';
import type { AccessStatus, ActionOutcome, HostDialogs, HostLocalData, HostRecordLabels, JsonObject, LocalizedText, SettingsView, SyncStatus, ViewItem, ViewSection } from '../../host-api';
import { adviceFor } from '../access/folder-classifier';
import { adviceForServer, looksLikeAddress, parseLocation } from '../remote/location';
import { SharedFolderProbe, type PathKind } from '../access/shared-folder-probe';
import type { CloudStorageService } from '../cloud-storage-service';
import { KeychainUnavailableError } from '../credentials/credential-store';
import { StorageError } from '../../host-api/storage';
import { errnoOf } from '../common/errors';
import { localTime, spokenTime } from '../common/local-time';
import { count, form, num } from '../common/wording';
import { keyringFromPassphrase } from '../crypto/keyring';
import { newPassphraseProblem } from '../crypto/passphrase-strength';
import { replacedBy } from '../crypto/store-keys';
import { MIN_PASSPHRASE, sameLocation, type MoveStoreOutcome, type RestoreOutcome, type SetUpOutcome, type StoreSetup } from '../setup/store-setup';
import type { CopyProgress } from '../store/store-copy';
import { EMPTIED, HEADER_ALTERED, SHARED_FULL, movedText, tooLargeText } from '../cloud-storage-service';

const TITLE = { de: 'Gruppenpraxis & Cloudspeicher', en: 'Group practice & cloud storage' };

/**
 * Live validation of the folder field, the pure part (no disk, so it may run on every render);
 * undefined when the path is acceptable. Existence is `folderExistenceProblem`'s, asynchronously.
 */
export function folderProblem(value: string, env: { appDataDir: string; platform: NodeJS.Platform }): LocalizedText | undefined {
  const v = value.trim();
  if (v === '') return { de: 'Bitte geben Sie einen Ordner an.', en: 'Please enter a folder.' };
  if (looksLikeAddress(v)) {
    const l = parseLocation(v);
    return l.kind === 'invalid' ? l.text : undefined; // a server: the connection check says the rest
  }
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

/** The advice beside the field: by the kind of folder, or the kind of server an address names. */
function adviceForValue(v: string, service: { classifier: { classify(f: string): Parameters<typeof adviceFor>[0] }; env: { platform: NodeJS.Platform } }): ReturnType<typeof adviceFor> {
  const l = parseLocation(v);
  return l.kind === 'webdav' || l.kind === 's3' ? adviceForServer(l, service.env.platform) : adviceFor(service.classifier.classify(v), service.env.platform);
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
  if (looksLikeAddress(v)) return undefined; // a server: checked by the connection test (it may need a login first)
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
        de: `Der Ordner ist gerade nicht erreichbar: keine Antwort innerhalb von ${s === 1 ? '1 Sekunde' : `${s} Sekunden`} (Netzlaufwerk getrennt oder Cloud-Programm hängt?). Bitte später erneut versuchen.`,
        en: `The folder is not reachable right now: no answer within ${s === 1 ? '1 second' : `${s} seconds`} (network drive disconnected, or the cloud client stuck?). Please try again later.`,
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

const THIS_PC = { de: '(dieser PC)', en: '(this PC)' } as const;
/** The one name of removing the setup, everywhere (page, guard, messages). */
const REMOVE: LocalizedText = { de: 'Cloud-Einrichtung dieses PCs entfernen', en: "Remove this PC's cloud setup" };

/** What the page says before set-up: the guide's warnings, and what the plugin does about each. */
const INTRO: LocalizedText = {
  de: 'Mit dem Cloudspeicher arbeiten mehrere PCs der Praxis mit denselben Daten. Sie liegen verschlüsselt in einem gemeinsamen Ordner – einem Cloud-Ordner (z. B. Dropbox, OneDrive), einem Netzlaufwerk oder auf einem USB-Stick –, und jeder PC behält eine eigene vollständige Kopie. Gleichzeitiges Arbeiten ist möglich; ändern zwei PCs denselben Eintrag, werden Sie gefragt, welche Fassung gilt, und keine Fassung geht verloren. Hat das Cloud-Programm noch nicht alles abgeglichen, zeigt dieser PC an, dass angekündigte Änderungen noch fehlen. Fehlt der USB-Stick oder die Verbindung, warten Änderungen auf diesem PC, bis der Ordner wieder da ist. Die Daten im gemeinsamen Ordner werden nie gelöscht, auch nicht beim Entfernen der Einrichtung.',
  en: 'With cloud storage, several PCs of the practice work with the same data. They are kept encrypted in a shared folder — a cloud folder (e.g. Dropbox, OneDrive), a network drive or a USB drive — and every PC keeps a full copy of its own. Working at the same time is possible; if two PCs change the same entry, you are asked which version stands, and no version is lost. If the cloud client has not synced everything yet, this PC shows that announced changes are still missing. Without the USB drive or the connection, changes wait on this PC until the folder is back. The data in the shared folder are never deleted, not even when the setup is removed.',
};

const ACCESS: Record<AccessStatus['state'], LocalizedText> = {
  'not-configured': { de: 'Nicht eingerichtet – die Daten liegen nur auf diesem PC.', en: 'Not set up — the data are on this PC only.' },
  checking: { de: 'Der gemeinsame Ordner wird geprüft …', en: 'Checking the shared folder …' },
  available: { de: 'Verbunden mit dem gemeinsamen Ordner.', en: 'Connected to the shared folder.' },
  unavailable: { de: 'Der gemeinsame Ordner ist nicht erreichbar; Änderungen warten auf diesem PC.', en: 'The shared folder is unreachable; changes wait on this PC.' },
  'auth-required': { de: 'Für den gemeinsamen Ordner ist eine Anmeldung nötig.', en: 'The shared folder needs a login.' },
  denied: { de: 'Kein Zugriff auf den gemeinsamen Ordner.', en: 'No access to the shared folder.' },
  'wrong-folder': { de: 'Im Ordner liegen nicht die Praxisdaten dieses PCs.', en: "The folder does not hold this PC's practice data." },
};

/** The one line on reachability: the state in words; a detail replaces it where it says more (never both). */
function accessText(a: AccessStatus): LocalizedText {
  return a.detail ?? ACCESS[a.state];
}

/** „Alles übertragen · zuletzt abgeglichen heute, 17:23 Uhr“, or only the parts that are not zero. */
function syncText(s: SyncStatus, locale: 'de' | 'en'): LocalizedText {
  const parts: LocalizedText[] = [];
  if (s.pendingUploads > 0) {
    const n = count(s.pendingUploads, ['Änderung', 'Änderungen'], ['change', 'changes']);
    const w = form(s.pendingUploads, ['wartet', 'warten'], ['waits', 'wait']);
    parts.push({ de: `${n.de} ${w.de} auf Übertragung`, en: `${n.en} ${w.en} to be sent` });
  }
  if (s.awaited > 0) {
    const n = count(s.awaited, ['angekündigte Änderung', 'angekündigte Änderungen'], ['announced change', 'announced changes']);
    const w = form(s.awaited, ['ist', 'sind'], ['has', 'have']);
    parts.push({ de: `${n.de} anderer PCs ${w.de} noch nicht angekommen`, en: `${n.en} from other PCs ${w.en} not arrived yet` });
  }
  if (s.conflicts > 0) {
    const n = count(s.conflicts, ['Eintrag', 'Einträge'], ['entry', 'entries']);
    parts.push({ de: `${n.de} mit widersprüchlichen Änderungen`, en: `${n.en} with conflicting changes` });
  }
  if (parts.length === 0) parts.push(s.state === 'offline' ? { de: 'Keine Änderungen warten', en: 'No changes waiting' } : { de: 'Alles übertragen', en: 'All sent' });
  if (s.lastExchangeAt) parts.push({ de: `zuletzt abgeglichen ${spokenTime(s.lastExchangeAt, 'de')}`, en: `last exchange ${spokenTime(s.lastExchangeAt, 'en')}` });
  void locale;
  return { de: parts.map((p) => p.de).join(' · '), en: parts.map((p) => p.en).join(' · ') };
}

/** A record as the practice knows it ("Anna Beispiel"); without HostRecordLabels (a 1.0 host): collection and a short id. */
function recordName(labels: HostRecordLabels | undefined, collection: string, id: string, versions: readonly { data: JsonObject | null }[], locale: 'de' | 'en'): string {
  for (const v of [...versions].reverse()) {
    if (!v.data) continue;
    const t = safe(() => labels?.title(collection, v.data!));
    if (t && t.trim()) return t.trim();
  }
  const coll = safe(() => labels?.collectionLabel(collection))?.[locale] ?? collection;
  return `${coll} ${id.length > 8 ? `…${id.slice(-6)}` : id}`;
}

/** A host's labels are its code: a throwing one must not break the page. */
function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** The fields whose values are not the same in all versions (removed versions aside). */
function differingFields(versions: readonly (JsonObject | null)[]): string[] {
  const present = versions.filter((v): v is JsonObject => v !== null);
  const keys = [...new Set(present.flatMap((v) => Object.keys(v)))];
  return keys.filter((k) => new Set(present.map((v) => JSON.stringify(v[k] ?? null))).size > 1);
}

/** One version's differing fields, labelled the host's way: "Telefon: 0151 …". */
function differenceText(labels: HostRecordLabels | undefined, collection: string, data: JsonObject, fields: readonly string[], locale: 'de' | 'en'): string {
  if (fields.length === 0) return locale === 'de' ? '(gleicher Inhalt)' : '(same content)';
  const s = fields
    .map((k) => {
      const v = data[k];
      const label = safe(() => labels?.fieldLabel(collection, k))?.[locale] ?? k;
      return `${label}: ${v === undefined || v === null ? '–' : typeof v === 'string' ? v : JSON.stringify(v)}`;
    })
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

/** What the page says after moving the store, or following a move. */
function moveText(o: MoveStoreOutcome, target: string): ActionOutcome {
  const unchanged = { de: 'Dieser PC arbeitet weiter wie bisher; es wurde nichts umgestellt.', en: 'This PC carries on as before; nothing was switched.' };
  const fail = (de: string, en: string): ActionOutcome => ({ ok: false, message: { de: `${de} ${unchanged.de}`, en: `${en} ${unchanged.en}` } });
  switch (o.kind) {
    case 'moved':
      return {
        ok: true,
        message: {
          de: `Die Praxisdaten liegen jetzt in „${target}“ (${num(o.files, 'de')} Dateien kopiert und geprüft). Dieser PC arbeitet dort; die anderen PCs zeigen einen Hinweis und folgen mit „Dem Umzug folgen“. Im bisherigen Speicherort wurde nichts gelöscht.${o.refused ? ` ${num(o.refused, 'de')} beschädigte oder fremde Dateien wurden nicht mitgenommen (siehe „Daten prüfen“).` : ''}`,
          en: `The practice data are now in "${target}" (${num(o.files, 'en')} files copied and checked). This PC works there; the other PCs show a notice and follow with "Follow the move". Nothing was deleted in the previous location.${o.refused ? ` ${num(o.refused, 'en')} damaged or foreign files were not taken along (see "Verify data").` : ''}`,
        },
      };
    case 'followed':
      return { ok: true, message: { de: `Dieser PC arbeitet jetzt mit den Praxisdaten in „${target}“; seine Änderungen der Zwischenzeit werden dorthin übertragen.`, en: `This PC now works with the practice data in "${target}"; its changes made meanwhile are sent there.` } };
    case 'not-configured':
      return fail('Dieser PC ist nicht eingerichtet.', 'This PC is not set up.');
    case 'not-open':
      return fail('Die Praxisdaten sind auf diesem PC gerade nicht geöffnet; bitte zuerst verbinden.', 'The practice data are not open on this PC right now; please connect first.');
    case 'same-location':
      return fail('Die Praxisdaten liegen bereits dort.', 'The practice data are already there.');
    case 'read-only':
      return fail('Die Daten sind gerade schreibgeschützt (das Programm ist noch einmal geöffnet?).', 'The data are read-only right now (is the application open twice?).');
    case 'behind':
      return fail('Das Praxis-Passwort wurde auf einem anderen PC geändert; geben Sie es zuerst hier ein („Neues Praxis-Passwort eingeben“).', 'The practice passphrase was changed on another PC; enter it here first ("Enter new practice passphrase").');
    case 'not-moved':
      return fail('Die Praxisdaten sind nicht umgezogen.', 'The practice data have not moved.');
    case 'other-store':
      return { ok: false, message: { de: `Am neuen Speicherort liegt ein anderer Praxis-Speicher; dorthin wird nichts kopiert. ${unchanged.de}`, en: `The new location holds another practice store; nothing is copied there. ${unchanged.en}` }, fieldErrors: { folder: { de: 'Hier liegt ein anderer Praxis-Speicher.', en: 'This location holds another practice store.' } } };
    case 'login-cancelled':
      return { ok: false, message: o.text ? { de: `${o.text.de} ${unchanged.de}`, en: `${o.text.en} ${unchanged.en}` } : { de: `Anmeldung abgebrochen. ${unchanged.de}`, en: `Login cancelled. ${unchanged.en}` } };
    case 'unreachable':
    case 'denied':
    case 'auth-required':
    case 'wrong-folder':
    case 'foreign':
      return { ok: false, message: { de: `Neuer Speicherort: ${o.detail.de} ${unchanged.de}`, en: `New location: ${o.detail.en} ${unchanged.en}` }, fieldErrors: { folder: o.detail } };
    case 'old-unreachable':
      return fail(`Der bisherige Speicherort ist gerade nicht erreichbar (${o.detail.de}), also könnten die anderen PCs vom Umzug nichts erfahren. Bitte verbinden Sie ihn und versuchen Sie es erneut.`, `The current location is not reachable right now (${o.detail.en}), so the other PCs could not learn of the move. Please connect it and try again.`);
    case 'not-there':
      return fail(`Am neuen Speicherort liegen diese Praxisdaten (noch) nicht: ${o.detail.de} Ist es der richtige Ordner, ist die Synchronisation fertig?`, `The new location does not hold these practice data (yet): ${o.detail.en} Is it the right folder, has syncing finished?`);
    case 'copy-failed':
      return fail(
        `Nicht alle Dateien ließen sich an den neuen Speicherort kopieren und dort prüfen${o.missing ? ` (${num(o.missing, 'de')} fehlen)` : ''}: ${o.text.de} Ein erneuter Versuch setzt dort fort, wo dieser aufgehört hat.`,
        `Not every file could be copied to the new location and checked there${o.missing ? ` (${num(o.missing, 'en')} missing)` : ''}: ${o.text.en} Trying again carries on where this attempt stopped.`,
      );
  }
}

/** What the page says after "Speichern", for each outcome of the set-up. */
function setUpText(o: SetUpOutcome): ActionOutcome {
  const unchanged = { de: 'Es wurde nichts geändert.', en: 'Nothing was changed.' };
  const field = (text: LocalizedText): ActionOutcome => ({ ok: false, message: text, fieldErrors: { folder: text } });
  switch (o.kind) {
    case 'other-folder-configured':
      return field({
        de: `Dieser PC ist bereits mit einem anderen Ordner eingerichtet. Um die Praxisdaten hierher zu bringen, wählen Sie „Praxisdaten an diesen Speicherort umziehen“; für andere Praxisdaten zuerst „${REMOVE.de}“. Es gehen dabei keine Daten verloren.`,
        en: `This PC is already set up with another folder. To bring the practice data here, choose "Move the practice data to this location"; for other practice data, "${REMOVE.en}" first. No data are lost by that.`,
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
        de: `Dieser PC ist für Praxisdaten eingerichtet, die nicht (mehr) in diesem Ordner liegen – ist der USB-Stick eingesteckt, das Laufwerk verbunden, die Synchronisation fertig? Ein neuer Speicher wird hier nur angelegt, wenn Sie zuerst „${REMOVE.de}“ wählen.`,
        en: `This PC is set up for practice data that are not (or no longer) in this folder — is the USB drive plugged in, the drive connected, syncing finished? A new store is only created here after you choose "${REMOVE.en}" first.`,
      });
    case 'header-unreadable':
      return { ok: false, message: { de: 'Die Kennungsdatei des Praxis-Speichers ist nicht lesbar; es wurde nichts geändert.', en: "The practice store's identification file is unreadable; nothing was changed." } };
    case 'other-store':
      return field({ de: `In diesem Ordner liegt ein anderer Praxis-Speicher. Wählen Sie zuerst „${REMOVE.de}“.`, en: `This folder holds another practice store. Choose "${REMOVE.en}" first.` });
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
          de: `Der verschlüsselte Praxis-Speicher wurde angelegt${o.imported === 1 ? ', 1 bisheriger Datensatz wurde übernommen und geprüft' : o.imported ? `, ${num(o.imported, 'de')} bisherige Datensätze wurden übernommen und geprüft` : ''}. Die bisherigen Daten bleiben als Sicherung erhalten.`,
          en: `The encrypted practice store was created${o.imported === 1 ? ', 1 existing record was moved in and verified' : o.imported ? `, ${num(o.imported, 'en')} existing records were moved in and verified` : ''}. The existing data stay as a backup.`,
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
  /** Renders again when state the other subjects do not carry changed (a test's answer, progress, removal). */
  protected readonly changed = new BehaviorSubject<number>(0);
  protected readonly view = new BehaviorSubject<SettingsView>({ title: TITLE, busy: false, sections: [] });
  readonly view$ = this.view.asObservable();
  protected readonly toDispose = new DisposableCollection();
  protected configuredFolder?: string;
  /** What "Verbindung testen" found last, for which value: the main action reads „Verbinden“ where a store is. */
  protected lastTest?: { folder: string; kind: string };
  /** A long action's progress in words („1.234 von 5.000 Einträgen übernommen“), shown while it runs. */
  protected progress?: LocalizedText;
  /** Entries of the host's own data the joined store lacks or holds otherwise (offered for taking over). */
  protected localPending = 0;
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
    /** HOST-API 1.1, optional: how the practice names its records; a 1.0 host has none. */
    protected readonly labels?: HostRecordLabels,
  ) {
    this.checks = checks ?? probeFolderChecks(new SharedFolderProbe(), 5000);
    void service.configStore.read().then((r) => {
      if (r.kind === 'ok') {
        this.configuredFolder = r.config.folder;
        if (this.folder.value === '') this.folder.next(r.config.folder);
        this.refresh();
      }
    });
    // Every way the value changes (typing, browse, the configured folder) starts one check.
    this.toDispose.push(
      completing(this.view),
      completing(this.checked),
      completing(this.busy),
      completing(this.changed),
      completing(this.folder),
      this.folder.pipe(distinctUntilChanged()).subscribe((v) => this.scheduleCheck(v)),
      combineLatest([this.folder, this.checked, this.busy, this.changed, service.access$, service.sync$, service.keyState$]).subscribe(() => this.view.next(this.render())),
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
      next = { value, state: 'done', ...(problem ? { problem } : { kind: adviceForValue(value.trim(), this.service) }) };
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
    const configured = this.configuredFolder !== undefined;
    const active = this.service.active;
    // The configured folder's reachability is said once, by the access line; the field does not repeat it.
    const reachabilityShownAbove = configured && folder.trim() === this.configuredFolder && this.service.accessStatus.state !== 'not-configured';
    const diskProblem = current?.state === 'done' && !reachabilityShownAbove ? current.problem : undefined;
    const problem = folder === '' ? undefined : (folderProblem(folder, env) ?? diskProblem);
    const items: ViewItem[] = [
      {
        kind: 'text-field',
        id: 'folder',
        label: { de: 'Gemeinsamer Ordner', en: 'Shared folder' },
        value: folder, // always the latest setValue: never an older value from a check that started earlier
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
    const tone = a.state === 'available' ? 'ok' : a.state === 'checking' ? 'busy' : a.state === 'not-configured' ? 'info' : 'error';
    const status: ViewItem[] = [{ kind: 'status', id: 'access', label: { de: 'Verbindung', en: 'Connection' }, tone, text: accessText(a) }];
    if (configured || active) {
      status.push({
        kind: 'status',
        id: 'sync',
        label: { de: 'Abgleich', en: 'Exchange' },
        tone: s.conflicts > 0 ? 'warning' : s.pendingUploads > 0 || s.awaited > 0 ? (s.state === 'offline' ? 'warning' : 'busy') : s.state === 'in-sync' ? 'ok' : 'info',
        text: syncText(s, env.locale),
      });
    }
    const removed = active?.carrier.removedDevices ?? new Set<string>();
    const removedBy = active?.carrier.removedBy;
    if (removedBy)
      status.push({
        kind: 'notice',
        id: 'this-pc-was-removed',
        tone: 'info',
        text: {
          de: `Dieser PC war auf „${removedBy.byName}“ aus der Praxis entfernt worden, weil er lange nicht da war. Er gehört wieder dazu: Er hat alles aus dem gemeinsamen Ordner übernommen, seine eigenen Änderungen werden übertragen, und die anderen PCs warten wieder auf ihn. Es ging nichts verloren.`,
          en: `This PC had been removed from the practice on "${removedBy.byName}" because it was away for long. It belongs to the practice again: it took in everything from the shared folder, its own changes are sent, and the other PCs wait for it again. Nothing was lost.`,
        },
      });
    if (s.devices.length > 0) {
      const de = env.locale === 'de';
      status.push({
        kind: 'table',
        id: 'devices',
        label: { de: 'PCs, die diese Daten nutzen', en: 'PCs using these data' },
        columns: [{ de: 'Name', en: 'Name' }, { de: 'Benutzer', en: 'User' }, { de: 'Arbeitet gerade', en: 'Working now' }, { de: 'Zuletzt gesehen', en: 'Last seen' }],
        rows: s.devices.map((d) => ({
          id: d.deviceId,
          cells: [
            d.thisDevice ? `${d.name} ${THIS_PC[env.locale]}` : d.name,
            d.user,
            d.active ? (de ? 'ja' : 'yes') : removed.has(d.deviceId) ? (de ? 'nein (aus der Praxis entfernt)' : 'no (removed from the practice)') : de ? 'nein' : 'no',
            spokenTime(d.lastSeenAt, env.locale),
          ],
        })),
      });
    }
    const conflictRows = this.conflictRows();
    if (conflictRows.length > 0)
      status.push({
        kind: 'table',
        id: 'conflicts',
        label: { de: 'Widersprüchliche Änderungen – bitte je Eintrag die gültige Fassung wählen', en: 'Conflicting changes — please choose the version that stands for each entry' },
        columns: [{ de: 'Eintrag', en: 'Entry' }, { de: 'Fassung von', en: 'Version by' }, { de: 'Geändert', en: 'Changed' }, { de: 'Was sich unterscheidet', en: 'What differs' }],
        rows: conflictRows,
      });
    const store = active?.replica;
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
    // A change made on this PC whose key file is neither here nor in the shared folder (the app data put
    // back from a backup taken before it): the earlier passphrase still holds — say so, a practice that
    // changed it because someone left must change it again (docs/PASSPHRASE.md, "Retired keys").
    // (Entering a passphrase set on another PC ends it: StoreKeys.catchUp.)
    if (keys?.awaitedAnchor !== undefined && keys.upToDate && active?.carrier.health === 'ok')
      status.push({
        kind: 'notice',
        id: 'passphrase-change-lost',
        tone: 'warning',
        text: {
          de: 'Eine Änderung des Praxis-Passworts, die auf diesem PC gemacht wurde, ist weder im gemeinsamen Ordner noch auf diesem PC zu finden (seine Daten wurden aus einer Sicherung zurückgeholt). Es gilt weiter das vorherige Praxis-Passwort; keine Daten gehen verloren. Wurde es geändert, weil jemand keinen Zugang mehr haben darf, ändern Sie es bitte erneut („Praxis-Passwort ändern“).',
          en: 'A change of the practice passphrase made on this PC is neither in the shared folder nor on this PC (its data were put back from a backup). The previous practice passphrase still holds; no data are lost. If it was changed because someone must no longer have access, please change it again ("Change practice passphrase").',
        },
      });
    // Another line of generations beside this PC's (two changes crossed — or someone holding a replaced
    // key set one): never taken by itself; a person who knows it was the practice enters it here.
    const other = keys?.upToDate ? keys.others[0] : undefined;
    const locked = other ? Math.max(1, active?.carrier.lockedCount ?? 0) : 0;
    if (other) {
      const files = count(locked, ['Datei ist', 'Dateien sind'], ['file is', 'files are']);
      status.push({
        kind: 'notice',
        id: 'locked-files',
        tone: 'warning',
        text: {
          de: `Im gemeinsamen Ordner liegt ein weiteres Praxis-Passwort, gesetzt ${spokenTime(other.createdAt, 'de')} auf einem PC, der das hier gültige nicht kannte; ${files.de} damit verschlüsselt. Haben in Ihrer Praxis zwei PCs gleichzeitig das Passwort geändert, geben Sie das andere hier ein („Neues Praxis-Passwort eingeben“) und dieses dort; danach gilt auf allen PCs eines. Hat in Ihrer Praxis niemand ein anderes gesetzt, geben Sie nichts ein: Dann stammt es von jemandem, der ein früheres Passwort kennt. Dieser PC übernimmt es nie von selbst.`,
          en: `The shared folder holds another practice passphrase, set ${spokenTime(other.createdAt, 'en')} on a PC that did not know the one in use here; ${files.en} encrypted with it. If two PCs of your practice changed the passphrase at the same time, enter the other one here ("Enter new practice passphrase") and this one there; afterwards all PCs use one. If nobody in your practice set another one, enter nothing: it comes from someone who knows an earlier passphrase. This PC never takes it by itself.`,
        },
      });
    }
    const held = active?.carrier.heldCount ?? 0;
    if (held > 0) {
      const files = count(held, ['Datei', 'Dateien'], ['file', 'files']);
      const are = form(held, ['ist', 'sind'], ['is', 'are']);
      status.push({
        kind: 'notice',
        id: 'held-files',
        tone: 'warning',
        text: {
          de: `${files.de} im gemeinsamen Ordner ${are.de} mit einem ersetzten Praxis-Passwort verschlüsselt und ${held === 1 ? 'wird' : 'werden'} nicht übernommen, bis ein PC mit dem aktuellen Passwort sie bestätigt. Meist sind das Änderungen eines PCs, auf dem das neue Passwort noch nicht eingegeben wurde: Geben Sie es dort ein, dann kommen sie an. Sonst stammen sie von jemandem, der ein früheres Passwort kennt, und bleiben unbeachtet.`,
          en: `${files.en} in the shared folder ${are.en} encrypted with a replaced practice passphrase and ${are.en} not taken until a PC with the current passphrase confirms them. Mostly these are changes of a PC where the new passphrase has not been entered yet: enter it there and they arrive. Otherwise they come from someone who knows an earlier passphrase and stay ignored.`,
        },
      });
    }
    status.push(...this.deliveryItems());
    if (this.progress) status.push({ kind: 'status', id: 'progress', label: { de: 'Fortschritt', en: 'Progress' }, tone: 'busy', text: this.progress });
    const idle = !this.busy.value;
    const emptied = active?.carrier.health === 'emptied';
    const needsPassphrase = !!keys && (!keys.upToDate || locked > 0);
    // One primary action per state: what this PC needs next.
    const pending = this.localPending > 0 && !!active;
    const moved = active?.carrier.health === 'moved' ? active.carrier.movedTo : undefined;
    // Another location typed while this PC works with the store: it can move the store there.
    const movable = !!active && configured && !moved && folder.trim() !== '' && !sameLocation(folder, this.configuredFolder!);
    // A server refused the running PC's login: asked again from here (the next start's guard would ask too).
    const loginNeeded = !!active && configured && this.service.accessStatus.state === 'auth-required' && looksLikeAddress(this.configuredFolder!);
    const primary = loginNeeded ? 'log-in' : emptied ? 'restore-shared-folder' : moved ? 'follow-move' : needsPassphrase ? 'enter-passphrase' : !configured ? 'save' : pending ? 'take-over-local' : movable ? 'move-store' : undefined;
    const style = (id: string) => (id === primary ? ('primary' as const) : ('secondary' as const));
    const tested = this.lastTest?.folder === folder.trim() ? this.lastTest.kind : undefined;
    const saveLabel: LocalizedText = configured ? { de: 'Erneut verbinden', en: 'Connect again' } : tested === 'store' ? { de: 'Verbinden', en: 'Connect' } : { de: 'Einrichten', en: 'Set up' };
    const actions: ViewItem[] = [
      ...(emptied ? [{ kind: 'action' as const, id: 'restore-shared-folder', label: { de: 'Praxisdaten von diesem PC in den gemeinsamen Ordner zurückschreiben', en: 'Write the practice data back into the shared folder from this PC' }, style: style('restore-shared-folder'), enabled: idle }] : []),
      ...(loginNeeded ? [{ kind: 'action' as const, id: 'log-in', label: { de: 'Am Server anmelden …', en: 'Log in to the server …' }, style: style('log-in'), enabled: idle }] : []),
      ...(moved ? [{ kind: 'action' as const, id: 'follow-move', label: { de: 'Dem Umzug folgen', en: 'Follow the move' }, style: style('follow-move'), enabled: idle }] : []),
      ...(movable
        ? [
            {
              kind: 'action' as const,
              id: 'move-store',
              label: { de: 'Praxisdaten an diesen Speicherort umziehen', en: 'Move the practice data to this location' },
              style: style('move-store'),
              enabled: idle,
              confirm: {
                de: `Alle Praxisdaten werden nach „${folder.trim()}“ kopiert und dort geprüft. Erst danach arbeitet dieser PC dort, und im bisherigen Speicherort bleibt ein verschlüsselter Hinweis, damit die anderen PCs folgen können (sie fragen dabei nach der Anmeldung). Im bisherigen Speicherort wird nichts gelöscht; es geht nichts verloren, auch wenn ein PC erst später folgt.`,
                en: `All practice data are copied to "${folder.trim()}" and checked there. Only then does this PC work there, and an encrypted note stays in the current location so the other PCs can follow (they ask for the login). Nothing is deleted in the current location; nothing is lost, even if a PC follows later.`,
              },
            },
          ]
        : []),
      ...(needsPassphrase ? [{ kind: 'action' as const, id: 'enter-passphrase', label: { de: 'Neues Praxis-Passwort eingeben', en: 'Enter new practice passphrase' }, style: style('enter-passphrase'), enabled: idle }] : []),
      ...(pending
        ? [
            {
              kind: 'action' as const,
              id: 'take-over-local',
              label: { de: 'Einträge dieses PCs übernehmen', en: "Take over this PC's entries" },
              style: style('take-over-local'),
              enabled: idle,
              confirm: {
                de: `${count(this.localPending, ['Eintrag', 'Einträge'], ['entry', 'entries']).de} aus den eigenen Daten dieses PCs werden in die gemeinsamen Daten übernommen. Wo ein Eintrag dort anders ist, bleiben beide Fassungen stehen, und Sie wählen, welche gilt. Es geht nichts verloren.`,
                en: `${count(this.localPending, ['Eintrag', 'Einträge'], ['entry', 'entries']).en} from this PC's own data are taken over into the shared data. Where an entry differs there, both versions stand and you choose which one applies. Nothing is lost.`,
              },
            },
          ]
        : []),
      // Enabled whenever there is something to try: pressing says what is wrong (a disabled button says nothing).
      { kind: 'action', id: 'save', label: saveLabel, style: style('save'), enabled: idle && folder.trim() !== '' },
      { kind: 'action', id: 'test-connection', label: { de: 'Verbindung testen', en: 'Test connection' }, style: 'secondary', enabled: idle && folder.trim() !== '' },
      ...(active
        ? [
            { kind: 'action' as const, id: 'verify', label: { de: 'Daten prüfen', en: 'Verify data' }, style: 'secondary' as const, enabled: idle },
            {
              kind: 'action' as const,
              id: 'change-passphrase',
              label: { de: 'Praxis-Passwort ändern', en: 'Change practice passphrase' },
              style: 'secondary' as const,
              enabled: idle && keys?.upToDate === true && !store?.readOnly,
              confirm: {
                de: 'Sie werden nach dem bisherigen und dem neuen Praxis-Passwort gefragt. Alles, was danach gespeichert wird, ist nur mit dem neuen Passwort lesbar, und neue PCs kommen nur mit dem neuen Passwort hinein; die anderen PCs zeigen einen Hinweis und fragen einmal danach, sobald dort jemand „Neues Praxis-Passwort eingeben“ wählt. Was bisher im gemeinsamen Ordner liegt, bleibt mit dem alten Passwort lesbar für jeden, der eine Kopie davon hat. Es gehen keine Daten verloren.',
                en: 'You are asked for the current and the new practice passphrase. Everything saved afterwards is readable only with the new passphrase, and new PCs get in only with the new one; the other PCs show a notice and ask for it once someone there chooses "Enter new practice passphrase". What is in the shared folder so far stays readable with the old passphrase to anyone who has a copy of it. No data are lost.',
              },
            },
          ]
        : []),
      // "remove this PC from the practice" (format 2): for a PC that is gone (replaced, sold, broken) and not working now
      ...(active
        ? s.devices
            .filter((d) => !d.thisDevice && !d.active && !removed.has(d.deviceId))
            .map((d) => ({
              kind: 'action' as const,
              id: `remove-pc:${d.deviceId}`,
              label: { de: `„${d.name}“ aus der Praxis entfernen …`, en: `Remove "${d.name}" from the practice …` },
              style: 'danger' as const,
              enabled: idle,
              confirm: {
                de: `„${d.name}“ (${d.user}, zuletzt gesehen ${spokenTime(d.lastSeenAt, 'de')}) aus der Praxis entfernen? Für einen PC, der ersetzt, verkauft oder defekt ist: Die anderen PCs warten dann nicht mehr auf ihn, bevor sie alte, schon zusammengefasste Dateien im gemeinsamen Ordner aufräumen (sonst warten sie bis zu 60 Tage). Seine Änderungen, die schon im gemeinsamen Ordner sind, bleiben erhalten. Kommt er doch wieder, übernimmt er alles aus dem gemeinsamen Ordner, überträgt seine noch nicht übertragenen Änderungen und gehört von selbst wieder dazu – es geht nichts verloren.`,
                en: `Remove "${d.name}" (${d.user}, last seen ${spokenTime(d.lastSeenAt, 'en')}) from the practice? For a PC that was replaced, sold or broke: the other PCs then no longer wait for it before tidying up old, already combined files in the shared folder (otherwise they wait up to 60 days). Its changes that are in the shared folder stay. Should it come back after all, it takes in everything from the shared folder, sends its changes not yet sent and belongs to the practice again by itself — nothing is lost.`,
              },
            }))
        : []),
      {
        kind: 'action',
        id: 'remove-configuration',
        label: REMOVE,
        style: 'danger',
        enabled: idle && configured,
        confirm: {
          de: 'Die Cloud-Einrichtung dieses PCs wird entfernt. Danach arbeitet dieser PC wieder mit seinen eigenen Daten von vor der Einrichtung – was seitdem in der Praxis dazukam, sehen Sie hier erst wieder nach erneutem Verbinden. Die Daten im gemeinsamen Ordner bleiben unverändert, noch nicht übertragene Änderungen bleiben auf diesem PC gespeichert. Was Sie in der Zwischenzeit auf diesem PC eingeben, bietet das erneute Verbinden zur Übernahme an; wo es mit den gemeinsamen Daten kollidiert, werden Sie gefragt, welche Fassung gilt.',
          en: "This PC's cloud setup is removed. Afterwards this PC works with its own data from before the setup again — what the practice added since shows here only after connecting again. The data in the shared folder stay untouched, and changes not yet sent stay saved on this PC. What you enter on this PC in the meantime is offered for taking over when you connect again; where it clashes with the shared data you are asked which version stands.",
        },
      },
    ];
    const sections: ViewSection[] = [];
    if (!configured && !active) sections.push({ id: 'intro', title: { de: 'Worum es geht', en: 'What this is' }, items: [{ kind: 'notice', id: 'intro', tone: 'info', text: INTRO }] });
    sections.push({ id: 'folder', title: { de: 'Speicherort', en: 'Storage location' }, items }, { id: 'status', title: { de: 'Stand', en: 'Status' }, items: status }, { id: 'actions', title: { de: 'Aktionen', en: 'Actions' }, items: actions });
    return { title: TITLE, busy: this.busy.value, sections };
  }

  /** "Remove this PC from the practice" (format 2): the other PCs no longer wait for it; see the action's confirmation. */
  protected async removePc(deviceId: string): Promise<ActionOutcome> {
    const active = this.service.active;
    const name = this.service.syncStatus.devices.find((d) => d.deviceId === deviceId)?.name ?? deviceId.slice(0, 8);
    if (!active) return { ok: false, message: { de: 'Die Praxisdaten sind auf diesem PC gerade nicht geöffnet.', en: 'The practice data are not open on this PC right now.' } };
    switch (await active.carrier.removeDevice(deviceId)) {
      case 'removed':
        this.refresh();
        return { ok: true, message: { de: `„${name}“ wurde aus der Praxis entfernt. Die anderen PCs warten nicht mehr auf ihn; kommt er wieder, gehört er von selbst wieder dazu.`, en: `"${name}" was removed from the practice. The other PCs no longer wait for it; should it come back, it belongs to the practice again by itself.` } };
      case 'active':
        return { ok: false, message: { de: `„${name}“ arbeitet gerade mit diesen Daten und wird nicht entfernt.`, en: `"${name}" is working with these data right now and is not removed.` } };
      case 'this-device':
        return { ok: false, message: { de: 'Dieser PC kann sich nicht selbst aus der Praxis entfernen; dafür gibt es „Cloud-Einrichtung dieses PCs entfernen“.', en: 'This PC cannot remove itself from the practice; use "Remove this PC\'s cloud setup" for that.' } };
      default:
        return { ok: false, message: { de: 'Diesen PC kennt dieser PC nicht (mehr); es wurde nichts verändert.', en: 'This PC does not know that PC (any more); nothing was changed.' } };
    }
  }

  /** One row per concurrent version, named the way the practice knows the record (HostRecordLabels, 1.1), showing what differs. */
  protected conflictRows(): { id: string; cells: string[]; actionIds: string[] }[] {
    const locale = this.service.env.locale;
    return (this.service.active?.replica.conflictList ?? []).flatMap((c) => {
      const name = recordName(this.labels, c.collection, c.id, c.versions, locale);
      // Where two versions show the same minute, the times carry seconds.
      const minutes = c.versions.map((v) => spokenTime(v.updatedAt, locale));
      const seconds = new Set(minutes).size < minutes.length;
      const differs = differingFields(c.versions.map((v) => v.data));
      return c.versions.map((v) => ({
        id: `${c.collection}/${c.id}/${v.version}`,
        cells: [name, v.updatedBy, spokenTime(v.updatedAt, locale, { seconds }), v.data === null ? (locale === 'de' ? '(gelöscht)' : '(deleted)') : differenceText(this.labels, c.collection, v.data, differs, locale)],
        actionIds: [`keep:${c.collection}/${c.id}/${v.version}`],
      }));
    });
  }

  /** What the delivery checks found: the store gone from the folder, its header altered, other PCs' changes missing there. */
  protected deliveryItems(): ViewItem[] {
    const carrier = this.service.active?.carrier;
    if (!carrier) return [];
    const items: ViewItem[] = [];
    if (carrier.health === 'emptied') items.push({ kind: 'notice', id: 'shared-folder-emptied', tone: 'error', text: EMPTIED });
    if (carrier.health === 'moved' && carrier.movedTo) items.push({ kind: 'notice', id: 'store-moved', tone: 'warning', text: movedText(carrier.movedTo) });
    if (carrier.health === 'full') items.push({ kind: 'notice', id: 'shared-full', tone: 'error', text: SHARED_FULL });
    if (carrier.health === 'too-large') items.push({ kind: 'notice', id: 'shared-too-large', tone: 'error', text: tooLargeText(carrier.tooLarge) });
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

  protected refresh(): void {
    if (!this.changed.closed) this.changed.next(this.changed.value + 1);
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
      case 'move-store':
        return this.moveStore();
      case 'follow-move':
        return this.followMove();
      case 'log-in': {
        const o = await this.setup.logInAgain();
        if (o.kind === 'logged-in') return { ok: true, message: { de: 'Angemeldet; dieser PC arbeitet wieder mit dem Server, wartende Änderungen werden übertragen.', en: 'Logged in; this PC works with the server again, waiting changes are sent.' } };
        if (o.kind === 'not-open') return { ok: false, message: { de: 'Die Praxisdaten sind auf diesem PC gerade nicht geöffnet.', en: 'The practice data are not open on this PC right now.' } };
        return { ok: false, message: o.text ?? { de: 'Anmeldung abgebrochen; Änderungen warten weiter auf diesem PC.', en: 'Login cancelled; changes keep waiting on this PC.' } };
      }
      case 'verify':
        return this.verify();
      case 'take-over-local':
        return this.takeOverLocal();
      case 'change-passphrase':
        return this.changePassphrase();
      case 'enter-passphrase':
        return this.enterPassphrase();
      case 'remove-configuration':
        await this.setup.remove(this.localData);
        this.configuredFolder = undefined;
        this.localPending = 0;
        this.refresh();
        return { ok: true, message: { de: 'Die Cloud-Einrichtung dieses PCs wurde entfernt. Die Daten im gemeinsamen Ordner sind unverändert; dieser PC arbeitet wieder mit seinen eigenen Daten von vor der Einrichtung.', en: "This PC's cloud setup was removed. The data in the shared folder are unchanged; this PC works with its own data from before the setup again." } };
      default:
        if (actionId.startsWith('keep:')) return this.keepVersion(actionId.slice(5));
        if (actionId.startsWith('remove-pc:')) return this.removePc(actionId.slice(10));
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
    this.lastTest = { folder, kind: t.kind };
    this.refresh();
    // A foreign folder's detail already says what is wrong; the other answers add what saving would do.
    if (t.kind !== 'store' && t.kind !== 'empty') return { ok: false, message: t.detail };
    const connected = t.kind === 'store' && this.configuredFolder === folder && this.service.isActive;
    const what = connected
      ? { de: 'Dieser PC ist mit diesen Praxisdaten verbunden.', en: 'This PC is connected to these practice data.' }
      : t.kind === 'store'
        ? { de: 'Im Ordner liegen Praxisdaten; mit „Verbinden“ arbeitet dieser PC mit ihnen.', en: 'The folder holds practice data; "Connect" makes this PC work with them.' }
        : { de: 'Der Ordner ist leer; „Einrichten“ legt dort einen neuen, verschlüsselten Praxis-Speicher an.', en: 'The folder is empty; "Set up" creates a new, encrypted practice store there.' };
    return { ok: true, message: { de: `${t.detail.de} ${what.de}`, en: `${t.detail.en} ${what.en}` } };
  }

  protected async save(): Promise<ActionOutcome> {
    const folder = this.folder.value.trim();
    const problem = await this.folderCheck(folder);
    if (problem) return this.fieldError(problem);
    let told = 0;
    const o = await this.setup
      .setUp(folder, this.localData, (done, total) => {
        const now = Date.now();
        if (done !== 0 && done !== total && now - told < 200) return; // a few times a second is enough to read
        told = now;
        this.progress = {
          de: `${num(done, 'de')} von ${count(total, ['Eintrag', 'Einträgen'], ['entry', 'entries']).de} übernommen …`,
          en: `${num(done, 'en')} of ${count(total, ['Eintrag', 'Einträgen'], ['entry', 'entries']).en} taken over …`,
        };
        this.refresh();
      })
      .finally(() => {
        this.progress = undefined;
      });
    if (o.kind === 'joined' || o.kind === 'created') this.configuredFolder = folder;
    const out = setUpText(o);
    if (o.kind === 'joined') {
      // The host's own data may hold entries made while this PC was not set up: counted, kept, offered.
      this.localPending = (await this.setup.localPending(this.localData).catch(() => [])).length;
      if (this.localPending > 0 && out.ok) {
        const n = count(this.localPending, ['Eintrag', 'Einträge'], ['entry', 'entries']);
        const w = form(this.localPending, ['fehlt', 'fehlen'], ['is', 'are']);
        out.message = {
          de: `${out.message!.de} ${n.de} in den eigenen Daten dieses PCs ${w.de} in den gemeinsamen Daten oder ${this.localPending === 1 ? 'weicht' : 'weichen'} ab (etwa in der Zeit ohne Cloud-Einrichtung eingegeben); sie bleiben unverändert erhalten. „Einträge dieses PCs übernehmen“ übernimmt sie; wo ein Eintrag in den gemeinsamen Daten anders ist, werden Sie gefragt, welche Fassung gilt.`,
          en: `${out.message!.en} ${n.en} in this PC's own data ${w.en} missing from the shared data or differ (entered while this PC was not set up, perhaps); they stay as they are. "Take over this PC's entries" takes them over; where an entry differs in the shared data you are asked which version stands.`,
        };
      }
    }
    this.refresh();
    return out;
  }

  protected copyProgress(): (p: CopyProgress) => void {
    let told = 0;
    return ({ done, total }) => {
      const now = Date.now();
      if (done !== 0 && done !== total && now - told < 200) return;
      told = now;
      this.progress = { de: `${num(done, 'de')} von ${count(total, ['Datei', 'Dateien'], ['file', 'files']).de} kopiert und geprüft …`, en: `${num(done, 'en')} of ${count(total, ['Datei', 'Dateien'], ['file', 'files']).en} copied and checked …` };
      this.refresh();
    };
  }

  protected async moveStore(): Promise<ActionOutcome> {
    const target = this.folder.value.trim();
    const problem = await this.folderCheck(target);
    if (problem) return this.fieldError(problem);
    const o = await this.setup.moveStore(target, this.copyProgress()).finally(() => (this.progress = undefined));
    if (o.kind === 'moved') this.configuredFolder = target;
    this.refresh();
    return moveText(o, target);
  }

  /** A folder the store moved to may lie elsewhere on this PC: it is asked for, the moving PC's path offered. */
  protected async followMove(): Promise<ActionOutcome> {
    const moved = this.service.active?.carrier.movedTo;
    if (!moved) return moveText({ kind: 'not-moved' }, '');
    let target = moved.to;
    if (moved.kind === 'folder') {
      const picked = await this.dialogs.pickFolder({ title: { de: 'Neuen Speicherort der Praxisdaten wählen', en: 'Choose the new location of the practice data' }, defaultPath: moved.to });
      if (!picked) return { ok: false, message: { de: 'Abgebrochen; dieser PC arbeitet weiter wie bisher.', en: 'Cancelled; this PC carries on as before.' } };
      target = picked;
    }
    const o = await this.setup.followMove(target, this.copyProgress()).finally(() => (this.progress = undefined));
    if (o.kind === 'followed') {
      this.configuredFolder = target;
      this.folder.next(target);
    }
    this.refresh();
    return moveText(o, target);
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
        de: `Das Praxis-Passwort wurde geändert. Was ab jetzt gespeichert wird, ist nur mit dem neuen Passwort lesbar.${others ? ` ${others === 1 ? 'Der andere PC zeigt' : `Die anderen ${num(others, 'de')} PCs zeigen`} einen Hinweis; dort muss das neue Passwort einmal unter „Neues Praxis-Passwort eingeben“ eingegeben werden.` : ''}${left ? ' Die Änderung wird übertragen, sobald der gemeinsame Ordner erreichbar ist.' : ''}`,
        en: `The practice passphrase was changed. What is saved from now on is readable only with the new passphrase.${others ? ` ${others === 1 ? 'The other PC shows' : `The other ${num(others, 'en')} PCs show`} a notice; the new passphrase must be entered there once under "Enter new practice passphrase".` : ''}${left ? ' The change is sent once the shared folder is reachable.' : ''}`,
      },
    };
  }

  /** The host's own entries made while this PC was not set up, taken over; clashes become conflicts to decide. */
  protected async takeOverLocal(): Promise<ActionOutcome> {
    const r = await this.setup.takeOverLocal(this.localData);
    if (!r) return { ok: false, message: { de: 'Der Cloudspeicher ist nicht geöffnet.', en: 'Cloud storage is not open.' } };
    this.localPending = 0;
    this.refresh();
    const added = count(r.added, ['Eintrag', 'Einträge'], ['entry', 'entries']);
    const clash = count(r.conflicting, ['Eintrag', 'Einträge'], ['entry', 'entries']);
    return {
      ok: true,
      message: {
        de: `${added.de} übernommen.${r.conflicting ? ` Bei ${clash.de} stehen nun zwei Fassungen; bitte unter „Widersprüchliche Änderungen“ wählen, welche gilt.` : ''}`,
        en: `${added.en} taken over.${r.conflicting ? ` ${clash.en} now ${r.conflicting === 1 ? 'has' : 'have'} two versions; please choose under "Conflicting changes" which one stands.` : ''}`,
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
    const name = (l: 'de' | 'en') => recordName(this.labels, collection!, id!, conflict!.versions, l);
    await store.resolveConflict(collection!, id!, chosen.data);
    return {
      ok: true,
      message: {
        de: `Für „${name('de')}“ gilt jetzt die Fassung von ${chosen.updatedBy}. Die anderen Fassungen bleiben im Verlauf erhalten.`,
        en: `"${name('en')}" now holds the version by ${chosen.updatedBy}. The other versions stay in the history.`,
      },
    };
  }

  protected async verify(): Promise<ActionOutcome> {
    const store = this.service.active?.replica;
    if (!store) return { ok: false, message: { de: 'Der Cloudspeicher ist nicht geöffnet.', en: 'Cloud storage is not open.' } };
    const report = await store.verify();
    return report.problems.length === 0
      ? (() => {
          const seg = count(report.segments, ['Protokolldatei', 'Protokolldateien'], ['log file', 'log files']);
          const ch = count(report.changes, ['Änderung', 'Änderungen'], ['change', 'changes']);
          const ob = count(report.objects, ['Anhang', 'Anhänge'], ['attachment', 'attachments']);
          return { ok: true as const, message: { de: `Alles in Ordnung: ${seg.de}, ${ch.de}, ${ob.de} geprüft.`, en: `All good: ${seg.en}, ${ch.en}, ${ob.en} checked.` } };
        })()
      : (() => {
          const n = count(report.problems.length, ['Auffälligkeit', 'Auffälligkeiten'], ['finding', 'findings']);
          const list = report.problems.slice(0, 5).map((p) => `${p.path}: ${p.reason}`).join('; ');
          return { ok: false as const, message: { de: `${n.de}: ${list}`, en: `${n.en}: ${list}` } };
        })();
  }

  dispose(): void {
    this.checkSeq++; // an answer still on its way is dropped
    this.toDispose.dispose();
  }
}
