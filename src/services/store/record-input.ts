// What the host hands the store is checked before anything is written (HOST-API §5), and the
// errors it gets back say what to do, in German and English.
import type { AttachmentRef, ImportRecord } from '../../host-api';
import { StorageError } from '../../host-api/storage';
import { storageError } from '../common/errors';
import { COLLECTION, HASH_HEX, MAX_BODY_BYTES, RECORD_ID, VERSION, isPlainJsonObject, jsonProblem } from './format';

export const MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024;

export function invalid(de: string, en: string): StorageError {
  return storageError('invalid-input', { de, en });
}

export function checkCollection(collection: string): void {
  if (typeof collection !== 'string' || !COLLECTION.test(collection))
    throw invalid(
      `„${String(collection).slice(0, 70)}“ ist kein gültiger Sammlungsname (Kleinbuchstaben, Ziffern und „-“, mit einem Buchstaben beginnend, höchstens 64 Zeichen).`,
      `"${String(collection).slice(0, 70)}" is not a valid collection name (lowercase letters, digits and "-", starting with a letter, at most 64 characters).`,
    );
}

export function checkKey(collection: string, id: string): void {
  checkCollection(collection);
  if (typeof id !== 'string' || !RECORD_ID.test(id))
    throw invalid(
      `„${String(id).slice(0, 130)}“ ist keine gültige Kennung (1–128 Zeichen aus A–Z, a–z, 0–9, „.“, „_“, „-“).`,
      `"${String(id).slice(0, 130)}" is not a valid id (1–128 characters of A–Z, a–z, 0–9, ".", "_", "-").`,
    );
}

export function checkBase(base: unknown): void {
  if (base !== undefined && (typeof base !== 'string' || !VERSION.test(base)))
    throw invalid(`„${String(base).slice(0, 80)}“ ist keine Versionskennung dieses Speichers.`, `"${String(base).slice(0, 80)}" is not a version id of this store.`);
}

export function checkData(data: unknown): void {
  if (!isPlainJsonObject(data)) throw invalid('Die Daten eines Datensatzes müssen ein JSON-Objekt sein.', "A record's data must be a JSON object.");
  const problem = jsonProblem(data);
  if (problem) throw invalid(`Die Daten sind kein gültiges JSON (${problem}).`, `The data are not valid JSON (${problem}).`);
  const size = Buffer.byteLength(JSON.stringify(data), 'utf8');
  if (size > MAX_BODY_BYTES)
    throw invalid(
      `Der Datensatz ist zu groß (${(size / 1048576).toFixed(2)} MiB, höchstens 1 MiB). Große Inhalte bitte als Anhang speichern.`,
      `The record is too large (${(size / 1048576).toFixed(2)} MiB, at most 1 MiB). Store large content as an attachment.`,
    );
}

/** Why an import record cannot be taken, for "Import stopped at record no. N: …"; undefined when it can. */
export function importProblem(r: ImportRecord): { de: string; en: string } | undefined {
  if (!r || typeof r !== 'object') return { de: 'kein Datensatz', en: 'not a record' };
  if (typeof r.collection !== 'string' || !COLLECTION.test(r.collection)) return { de: `ungültige Sammlung „${String(r.collection).slice(0, 70)}“`, en: `invalid collection "${String(r.collection).slice(0, 70)}"` };
  if (typeof r.id !== 'string' || !RECORD_ID.test(r.id)) return { de: `ungültige Kennung „${String(r.id).slice(0, 130)}“`, en: `invalid id "${String(r.id).slice(0, 130)}"` };
  try {
    checkData(r.data);
  } catch (e) {
    if (StorageError.is(e)) return { de: e.text.de.replace(/\.$/, ''), en: e.text.en.replace(/\.$/, '') };
    throw e;
  }
  return undefined;
}

export function checkAttachment(bytes: Uint8Array, meta: { name: string; mediaType: string }): void {
  if (!(bytes instanceof Uint8Array)) throw invalid('Der Anhang muss aus Bytes bestehen (Uint8Array).', 'An attachment must be bytes (a Uint8Array).');
  if (bytes.byteLength > MAX_ATTACHMENT_BYTES)
    throw invalid(`Der Anhang ist zu groß (${(bytes.byteLength / 1048576).toFixed(1)} MiB, höchstens 50 MiB).`, `The attachment is too large (${(bytes.byteLength / 1048576).toFixed(1)} MiB, at most 50 MiB).`);
  if (typeof meta?.name !== 'string' || meta.name.length === 0 || meta.name.length > 255)
    throw invalid('Der Anhang braucht einen Dateinamen (1–255 Zeichen).', 'An attachment needs a file name (1–255 characters).');
  if (typeof meta.mediaType !== 'string' || !/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(meta.mediaType))
    throw invalid(`„${String(meta.mediaType).slice(0, 60)}“ ist kein Medientyp wie application/pdf.`, `"${String(meta.mediaType).slice(0, 60)}" is not a media type like application/pdf.`);
}

export function checkAttachmentRef(ref: AttachmentRef): void {
  if (!ref || typeof ref.id !== 'string' || !HASH_HEX.test(ref.id)) throw invalid('Das ist kein gültiger Verweis auf einen Anhang.', 'That is not a valid attachment reference.');
}

export function closedError(): StorageError {
  return storageError('closed', { de: 'Der Praxis-Speicher ist bereits geschlossen. Bitte öffnen Sie ihn erneut.', en: 'The practice store is closed. Open it again.' });
}

export function readOnlyError(): StorageError {
  return storageError('read-only', {
    de: 'Die Sperre auf den lokalen Daten ging verloren (z. B. weil ein zweites Programmfenster sie übernommen hat). Um nichts zu überschreiben, wird nicht mehr gespeichert. Bitte starten Sie das Programm neu.',
    en: 'The lock on the local data was lost (for example because a second window took it over). To overwrite nothing, saving has stopped. Please restart the application.',
  });
}

export function corruptReplica(what: string): StorageError {
  return storageError('corrupt', {
    de: `Ein Teil des lokalen Datenbestands ist beschädigt (${what}). Bitte führen Sie „Daten prüfen“ aus; die Daten im gemeinsamen Ordner sind davon nicht betroffen.`,
    en: `Part of the local replica is damaged (${what}). Please run "Verify data"; the data in the shared folder are not affected.`,
  });
}

/** A record's data in the local snapshot turned out bad when read: the snapshot is discarded, a restart rebuilds from the log files. */
export function damagedSnapshot(ver: string): StorageError {
  return storageError('corrupt', {
    de: `Ein gespeicherter Zwischenstand des lokalen Datenbestands ist beschädigt (die Daten der Version ${ver}). Er wurde verworfen. Bitte starten Sie die Anwendung neu: Der lokale Datenbestand wird dann aus den Änderungsdateien wiederhergestellt; es geht nichts verloren, und die Daten im gemeinsamen Ordner sind nicht betroffen.`,
    en: `A saved state of the local replica is damaged (the data of version ${ver}). It was discarded. Please restart the application: the local replica is then rebuilt from its change files; nothing is lost, and the data in the shared folder are not affected.`,
  });
}

export function attachmentNotArrived(): StorageError {
  return storageError('unavailable', {
    de: 'Dieser Anhang ist auf diesem PC noch nicht angekommen. Sobald der gemeinsame Ordner erreichbar ist, wird er geholt.',
    en: 'This attachment has not arrived on this PC yet. It is fetched as soon as the shared folder is reachable.',
  });
}
