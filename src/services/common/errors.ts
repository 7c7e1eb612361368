// Maps what Node's file system throws to errors a person can act on; the host never sees ENOENT/EPERM.
import type { LocalizedText } from '../../host-api';
import { StorageError, type StorageErrorCode } from '../../host-api/storage';

export function errnoOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

export function storageError(code: StorageErrorCode, text: LocalizedText, details?: { currentVersion?: string }): StorageError {
  return new StorageError(code, text, details);
}

export const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);
/** The folder or its medium is away (not inserted, disconnected, not answering). */
export const GONE_CODES = new Set(['ENOENT', 'ENXIO', 'ENODEV', 'EHOSTDOWN', 'EHOSTUNREACH', 'ENOTCONN', 'ETIMEDOUT', 'EIO', 'ESTALE']);
export const DENIED_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/** Turns a local-replica write failure into the error the host shows. */
export function localWriteError(e: unknown): StorageError {
  if (StorageError.is(e)) return e;
  const code = errnoOf(e);
  if (code && DISK_FULL_CODES.has(code))
    return storageError('unavailable', {
      de: 'Die Änderung konnte nicht gespeichert werden: Der Datenträger dieses PCs ist voll. Bitte schaffen Sie Platz und speichern Sie erneut – bisher Gespeichertes bleibt erhalten.',
      en: "The change could not be saved: this PC's disk is full. Free some space and save again — everything saved before is kept.",
    });
  if (code && DENIED_CODES.has(code))
    return storageError('unavailable', {
      de: 'Die Änderung konnte nicht gespeichert werden: kein Schreibrecht im Datenordner dieses PCs. Bitte prüfen Sie die Berechtigungen.',
      en: "The change could not be saved: no permission to write this PC's data folder. Please check its permissions.",
    });
  return storageError('unavailable', {
    de: `Die Änderung konnte nicht gespeichert werden (${code ?? 'unbekannter Fehler'}). Bisher Gespeichertes bleibt erhalten; bitte versuchen Sie es erneut.`,
    en: `The change could not be saved (${code ?? 'unknown error'}). Everything saved before is kept; please try again.`,
  });
}

/**
 * What went wrong, in words a person can act on (for a verdict or a page): a StorageError's own
 * text, else the cause named from the error code, the code itself only in brackets. Never a stack.
 */
export function failureText(e: unknown): LocalizedText {
  if (StorageError.is(e)) return e.text;
  const text = (e as { text?: unknown } | undefined)?.text as LocalizedText | undefined;
  if (text && typeof text.de === 'string' && typeof text.en === 'string') return text;
  const code = errnoOf(e);
  const words = ((): LocalizedText => {
    if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST')
      return {
        de: 'Im Datenordner dieses PCs liegt eine Datei, wo ein Ordner sein müsste (oder umgekehrt). Bitte wenden Sie sich an den Support.',
        en: "In this PC's data folder there is a file where a folder belongs (or the other way round). Please contact support.",
      };
    if (code && DISK_FULL_CODES.has(code)) return { de: 'Der Datenträger dieses PCs ist voll. Bitte schaffen Sie Platz.', en: "This PC's disk is full. Please free some space." };
    if (code && DENIED_CODES.has(code))
      return { de: 'Kein Zugriff auf den Datenordner dieses PCs (fehlende Berechtigung oder schreibgeschützt).', en: "No access to this PC's data folder (missing permission, or read-only)." };
    if (code === 'ENOENT') return { de: 'Eine Datei oder ein Ordner im Datenordner dieses PCs fehlt.', en: "A file or folder in this PC's data folder is missing." };
    if (code === 'EIO') return { de: 'Der Datenträger dieses PCs meldet einen Lesefehler.', en: "This PC's disk reports a read error." };
    if (code === 'EMFILE' || code === 'ENFILE') return { de: 'Zu viele Dateien sind gleichzeitig geöffnet.', en: 'Too many files are open at once.' };
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);
    return { de: `Unerwarteter Fehler: ${first}`, en: `Unexpected error: ${first}` };
  })();
  return code ? { de: `${words.de} (Fehlercode ${code})`, en: `${words.en} (error code ${code})` } : words;
}
