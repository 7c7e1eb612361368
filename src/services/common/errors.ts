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
