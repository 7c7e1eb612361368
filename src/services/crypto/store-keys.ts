// The store's keys on this device: kept in the OS keychain only, or asked for as the practice
// passphrase (again after a wrong one, or one that was replaced). Nothing here writes a file.
import { inject, injectable } from 'inversify';
import { HostDialogs, type LocalizedText } from '../../host-api';
import { localTime } from '../common/local-time';
import { Accounts, CredentialStore } from '../credentials/credential-store';
import type { StoreHeader } from '../store/format';
import type { Medium } from '../store/medium';
import { ReplicaFolder } from '../store/replica-folder';
import { Keyring, keyringFromPassphrase, type NamedKeyFile } from './keyring';

export type UnlockOutcome = { kind: 'ok'; keyring: Keyring } | { kind: 'cancelled' };

/**
 * "on Praxis-PC 2 on 28.11.26, 09:14" — who replaced the passphrase, for the prompts. The name comes
 * from that PC's device card (key files carry none in plaintext); where it is not known here, only
 * the time (the sentences around it say "on another PC").
 */
export function replacedBy(by: { name: string; at: string } | undefined, locale: 'de' | 'en'): string {
  if (!by) return '';
  const at = localTime(by.at, locale);
  if (!by.name) return locale === 'de' ? ` (am ${at})` : ` (${at})`;
  return locale === 'de' ? ` (auf ${by.name} am ${at})` : ` (on ${by.name}, ${at})`;
}

@injectable()
export class StoreKeys {
  constructor(
    @inject(CredentialStore) protected readonly credentials: CredentialStore,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
  ) {}

  /**
   * Throws KeychainUnavailableError when the OS keychain cannot be used: asked BEFORE a passphrase is
   * prompted (issue #17), so nobody types a passphrase twice only to hear the keychain is missing.
   */
  async ensureKeychain(): Promise<void> {
    await this.credentials.get('keychain-check'); // an account never written: only whether the keychain answers
  }

  /** Keeps every key of the store in the OS keychain (and nowhere else). */
  async keep(keyring: Keyring): Promise<void> {
    await this.credentials.set(Accounts.storeKey(keyring.storeId), keyring.serialize());
  }

  async forget(storeId: string): Promise<void> {
    await this.credentials.delete(Accounts.storeKey(storeId)).catch(() => false);
  }

  /** The key files of a store in these folders (the shared folder, the local replica), unreadable ones left out. */
  async keyFilesIn(storeId: string, roots: readonly (string | Medium)[]): Promise<NamedKeyFile[]> {
    const byHash = new Map<string, NamedKeyFile>();
    for (const root of roots) {
      const files = await ReplicaFolder.keyFilesAt(root, storeId).catch(() => []);
      for (const f of files) byHash.set(f.hash, f);
    }
    return [...byHash.values()];
  }

  /**
   * The store's keys: from the keychain, or by asking for the passphrase (again after a wrong one,
   * or one that was replaced). `roots` are the folders whose key files a typed passphrase may open.
   */
  async unlock(header: StoreHeader, roots: readonly (string | Medium)[]): Promise<UnlockOutcome> {
    const stored = await this.credentials.get(Accounts.storeKey(header.storeId));
    if (stored) {
      const keyring = Keyring.restore(header, stored);
      if (keyring) return { kind: 'ok', keyring };
    }
    let message: LocalizedText = {
      de: 'Bitte geben Sie das Praxis-Passwort für die gemeinsamen Daten ein. Es wird nur einmal pro PC gebraucht.',
      en: 'Please enter the practice passphrase of the shared data. Each PC needs it only once.',
    };
    for (;;) {
      const pass = await this.dialogs.promptSecret({ title: { de: 'Praxis-Passwort', en: 'Practice passphrase' }, message, confirm: false });
      if (pass === undefined) return { kind: 'cancelled' };
      const files = await this.keyFilesIn(header.storeId, roots);
      const r = await keyringFromPassphrase(header, files, pass);
      if (r.kind === 'ok') {
        await this.keep(r.keyring);
        return { kind: 'ok', keyring: r.keyring };
      }
      message = r.kind === 'retired' ? retiredText(r.by) : r.headerMismatch ? mismatchText() : wrongText();
    }
  }

  /**
   * A passphrase set on another PC, typed here: asked until it opens a key this keyring lacks, or the
   * person cancels. Needed when this device holds an older generation only (it is behind), or when two
   * PCs changed the passphrase at the same time. The keys learned are added to `keyring` and kept.
   */
  async catchUp(header: StoreHeader, keyring: Keyring, behind: { by?: { name: string; at: string } } | undefined, roots: readonly (string | Medium)[]): Promise<boolean> {
    let message: LocalizedText = behind
      ? {
          de: `Das Praxis-Passwort wurde auf einem anderen PC geändert${replacedBy(behind.by, 'de')}. Bitte geben Sie das neue Passwort einmal ein; bis dahin sind Änderungen, die danach gespeichert wurden, hier nicht lesbar. Ihre eigenen Änderungen gehen nicht verloren.`,
          en: `The practice passphrase was changed on another PC${replacedBy(behind.by, 'en')}. Please enter the new passphrase once; until then, changes saved since are not readable here. Your own changes are not lost.`,
        }
      : {
          de: 'Im gemeinsamen Ordner liegt ein weiteres Praxis-Passwort. Geben Sie es nur ein, wenn in Ihrer Praxis zwei PCs gleichzeitig das Passwort geändert haben: dann das Passwort, das auf dem anderen PC gesetzt wurde. Danach gilt auf allen PCs eines.',
          en: 'The shared folder holds another practice passphrase. Enter it only if two PCs of your practice changed the passphrase at the same time: then the passphrase set on the other PC. Afterwards all PCs use one.',
        };
    for (;;) {
      const pass = await this.dialogs.promptSecret({ title: { de: 'Neues Praxis-Passwort', en: 'New practice passphrase' }, message, confirm: false });
      if (pass === undefined) return false;
      const files = await this.keyFilesIn(header.storeId, roots);
      const r = await keyringFromPassphrase(header, files, pass, keyring);
      if (r.kind === 'ok' && r.keyring.size > keyring.size) {
        for (const id of r.keyring.ids) keyring.add(id, r.keyring.get(id)!);
        // the generation this PC had adopted, its key file nowhere (KeyState.awaitedAnchor: lost with a
        // restored disk), gives way to the one typed here: never written with again should it turn up
        if (keyring.anchor !== undefined && !files.some((f) => f.file.t === 'key' && f.file.keyId === keyring.anchor)) keyring.anchor = undefined;
        await this.keep(keyring);
        return true;
      }
      message =
        r.kind === 'retired'
          ? retiredText(r.by && !r.by.name && r.by.at === behind?.by?.at ? behind.by : r.by) // the name this replica found on the card
          : r.kind === 'ok'
            ? { de: 'Dieses Passwort kennt dieser PC bereits. Bitte geben Sie das auf dem anderen PC gesetzte Passwort ein.', en: 'This PC already knows that passphrase. Please enter the passphrase set on the other PC.' }
            : wrongText();
    }
  }
}

/**
 * Whether the passphrase opens a key file that carries a header key (`wraps`) which does not match
 * this header's keyCheck: then the header is not the one the key files were made for (swapped or
 * edited), and the passphrase is not wrong. A PC without a local replica has only the shared header
 * to go by; this is how it tells the two apart. (The wrap's AES-256-GCM and AAD: docs/STORE-FORMAT.md, "Key files".)
 */
function mismatchText(): LocalizedText {
  return {
    de: 'Dieses Praxis-Passwort öffnet die Schlüsseldateien im gemeinsamen Ordner, aber die Datei practice-store.json dort passt nicht zu ihnen – sie wurde vermutlich verändert. Bitte treten Sie diesem Ordner so nicht bei und wenden Sie sich an den Support; jeder PC, der schon mit diesen Daten arbeitet, hat eine geprüfte Kopie.',
    en: 'This practice passphrase opens the key files in the shared folder, but the file practice-store.json there does not match them — it was probably changed (altered?). Please do not join this folder like this; contact support. Every PC that already works with these data has a checked copy.',
  };
}

function wrongText(): LocalizedText {
  return {
    de: 'Das Praxis-Passwort stimmt nicht. Bitte erneut eingeben (Groß-/Kleinschreibung beachten).',
    en: 'The practice passphrase is wrong. Please enter it again (it is case-sensitive).',
  };
}

function retiredText(by: { name: string; at: string } | undefined): LocalizedText {
  return {
    de: `Dieses Praxis-Passwort wurde durch ein neues ersetzt${replacedBy(by, 'de')} und öffnet die Daten nicht mehr. Bitte geben Sie das aktuelle Passwort ein.`,
    en: `This practice passphrase was replaced by a new one${replacedBy(by, 'en')} and no longer opens the data. Please enter the current passphrase.`,
  };
}
