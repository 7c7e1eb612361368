// What the folder field may hold: a folder path, a WebDAV address, or an S3 location (docs/SERVERS.md).
//   https://cloud.example.de/remote.php/dav/files/praxis/Praxisdaten/      WebDAV (Nextcloud, NAS …)
//   s3+https://s3.fr-par.scw.cloud/praxis-bucket/praxisdaten?region=fr-par  S3: endpoint host, bucket, prefix
// Plain http:// (and s3+http://) only to this machine (loopback): anything else would send the
// login and the encrypted files unprotected over the network. A login is never part of an address.
import type { LocalizedText } from '../../host-api';
import { keychainName } from '../common/wording';
import type { S3Location } from './s3-medium';

export type Location =
  | { readonly kind: 'folder'; readonly path: string }
  | { readonly kind: 'webdav'; readonly url: string }
  | { readonly kind: 's3'; readonly s3: S3Location }
  | { readonly kind: 'invalid'; readonly text: LocalizedText };

/** Whether the text is meant as a server address (it has a scheme), valid or not. */
export function looksLikeAddress(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text.trim());
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,40}$/;

export function parseLocation(text: string): Location {
  const t = text.trim();
  if (!looksLikeAddress(t)) return { kind: 'folder', path: text };
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return invalid('Die Adresse ist nicht lesbar. Beispiel: https://cloud.example.de/remote.php/dav/files/praxis/Praxisdaten/', 'The address cannot be read. Example: https://cloud.example.de/remote.php/dav/files/praxis/Praxisdaten/');
  }
  if (u.username || u.password) {
    const where = keychainName(process.platform);
    return invalid(
      `Bitte keine Anmeldedaten in die Adresse schreiben: Benutzername und Passwort werden beim Verbinden abgefragt und nur ${process.platform === 'win32' ? 'in der' : 'im'} ${where.de} gespeichert.`,
      `Please do not put a login into the address: user name and password are asked for when connecting and kept only in the ${where.en}.`,
    );
  }
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  const plain = scheme === 'http' || scheme === 's3+http';
  if (plain && !isLoopback(u.hostname))
    return invalid(
      'Unverschlüsselte Verbindungen (http://) sind nur zu diesem PC erlaubt. Bitte die Adresse mit https:// angeben.',
      'Unencrypted connections (http://) are allowed only to this PC. Please give the address with https://.',
    );
  if (scheme === 'https' || scheme === 'http') {
    if (u.search || u.hash) return invalid('Die WebDAV-Adresse darf kein „?“ oder „#“ enthalten.', 'A WebDAV address must not contain "?" or "#".');
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    return { kind: 'webdav', url: u.toString() };
  }
  if (scheme === 's3+https' || scheme === 's3+http') {
    const [bucket, ...rest] = u.pathname.split('/').filter(Boolean).map(safeDecode);
    if (!bucket || !BUCKET.test(bucket))
      return invalid(
        'Nach der Adresse des S3-Dienstes folgt der Name des Buckets (3–63 Kleinbuchstaben, Ziffern, Punkte, Bindestriche), z. B. s3+https://s3.fr-par.scw.cloud/praxis-bucket/praxisdaten?region=fr-par',
        'The S3 service’s address is followed by the bucket’s name (3–63 lower-case letters, digits, dots, hyphens), e.g. s3+https://s3.fr-par.scw.cloud/praxis-bucket/praxisdaten?region=fr-par',
      );
    const region = u.searchParams.get('region') ?? 'us-east-1';
    if (!REGION.test(region)) return invalid('Die Region ist nicht lesbar (z. B. region=fr-par oder region=eu-central-1).', 'The region cannot be read (e.g. region=fr-par or region=eu-central-1).');
    const prefix = rest.join('/');
    if (prefix.length > 512) return invalid('Der Pfad im Bucket ist zu lang (höchstens 512 Zeichen).', 'The path inside the bucket is too long (at most 512 characters).');
    return { kind: 's3', s3: { endpoint: `${plain ? 'http' : 'https'}://${u.host}`, bucket, prefix, region } };
  }
  return invalid(
    `Adressen mit „${scheme}://“ werden nicht unterstützt. Möglich sind ein Ordner, https:// (WebDAV, z. B. Nextcloud oder NAS) und s3+https:// (S3).`,
    `Addresses with "${scheme}://" are not supported. Possible are a folder, https:// (WebDAV, e.g. Nextcloud or a NAS) and s3+https:// (S3).`,
  );
}

function invalid(de: string, en: string): Location {
  return { kind: 'invalid', text: { de, en } };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The folder-kind advice for a server address (the settings page, beside the field). */
export function adviceForServer(l: Extract<Location, { kind: 'webdav' | 's3' }>, platform: NodeJS.Platform = process.platform): { title: LocalizedText; advice: LocalizedText } {
  const keychain = keychainName(platform);
  const kept = { de: `Die Anmeldung wird nur ${platform === 'win32' ? 'in der' : 'im'} ${keychain.de} gespeichert.`, en: `The login is kept only in the ${keychain.en}.` };
  const common = {
    de: 'Kein Sync-Programm nötig: dieser PC spricht direkt mit dem Server, hält eine vollständige verschlüsselte Kopie und arbeitet ohne Verbindung weiter; Änderungen werden übertragen, sobald der Server wieder erreichbar ist.',
    en: 'No sync client needed: this PC talks to the server directly, keeps a full encrypted copy and works on without a connection; changes are sent once the server is reachable again.',
  };
  if (l.kind === 's3')
    return {
      title: { de: 'S3-Speicher (z. B. Scaleway, Exoscale, OVHcloud, IONOS)', en: 'S3 storage (e.g. Scaleway, Exoscale, OVHcloud, IONOS)' },
      advice: { de: `${common.de} Benötigt werden Zugriffsschlüssel und geheimer Schlüssel mit Lese- und Schreibrecht auf den Bucket. ${kept.de}`, en: `${common.en} An access key and secret key with read and write permission on the bucket are needed. ${kept.en}` },
    };
  return {
    title: { de: 'WebDAV-Server (Nextcloud, NAS)', en: 'WebDAV server (Nextcloud, NAS)' },
    advice: { de: `${common.de} Bei Nextcloud ein App-Passwort verwenden (Einstellungen → Sicherheit), nicht das Hauptpasswort. ${kept.de}`, en: `${common.en} With Nextcloud use an app password (Settings → Security), not the main password. ${kept.en}` },
  };
}
