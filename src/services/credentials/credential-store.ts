// Secrets live only in the OS keychain (Windows Credential Manager, macOS Keychain, libsecret).
import { injectable } from 'inversify';
import type { LocalizedText } from '../../host-api';

import { keychainName } from '../common/wording';
export const KEYCHAIN_SERVICE = 'cloud-storage';

export const CredentialStore = Symbol.for('cloud-storage.CredentialStore');
export interface CredentialStore {
  get(account: string): Promise<string | undefined>;
  set(account: string, secret: string): Promise<void>;
  delete(account: string): Promise<boolean>;
  /** Accounts this plugin stored (to forget a configuration's secrets). */
  accounts(): Promise<string[]>;
}

export const Accounts = {
  storeKey: (storeId: string) => `store-key:${storeId}`,
  share: (folder: string) => `share:${folder}`,
  /** A WebDAV or S3 server's login, by the address as configured (which never holds a login). */
  server: (address: string) => `server:${address}`,
} as const;

export class KeychainUnavailableError extends Error {
  override readonly name = 'KeychainUnavailableError';
  readonly text: LocalizedText;

  /** Also true for the class of another copy of this module (a host may bind its own credential store). */
  static is(e: unknown): e is KeychainUnavailableError {
    return e instanceof Error && e.name === 'KeychainUnavailableError' && typeof (e as KeychainUnavailableError).text?.de === 'string';
  }

  constructor(platform: NodeJS.Platform) {
    const hint =
      platform === 'linux'
        ? {
            de: 'Unter Linux wird ein Secret-Service-Schlüsselbund benötigt (z. B. gnome-keyring oder KeePassXC mit Secret-Service), angemeldet und entsperrt.',
            en: 'On Linux a Secret Service keyring is needed (e.g. gnome-keyring, or KeePassXC with Secret Service), running and unlocked.',
          }
        : { de: 'Bitte prüfen Sie, ob Sie am Betriebssystem angemeldet sind.', en: 'Please check that you are logged in to the operating system.' };
    // Named as the platform names it (issue #17): „Windows-Anmeldeinformationsverwaltung“, „Schlüsselbund“, „Schlüsselbund (Secret Service)“.
    const name = keychainName(platform);
    const text = {
      de: `${platform === 'win32' ? 'Die' : 'Der'} ${name.de} ist nicht erreichbar. Passwörter und Schlüssel werden nur dort gespeichert, nie in einer Datei. ${hint.de}`,
      en: `The ${name.en} is not reachable. Passwords and keys are stored only there, never in a file. ${hint.en}`,
    };
    super(text.en);
    this.text = text;
  }
}

type Keytar = {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
  findCredentials(service: string): Promise<{ account: string; password: string }[]>;
};

/** The CredentialStore on keytar. There is no plaintext fallback: without a keychain it says so. */
@injectable()
export class KeytarCredentialStore implements CredentialStore {
  protected keytar?: Keytar;

  constructor(protected readonly service: string = KEYCHAIN_SERVICE) {}

  protected async kt(): Promise<Keytar> {
    if (!this.keytar) {
      try {
        const mod = require('keytar') as Keytar & { default?: Keytar };
        this.keytar = mod.default ?? mod;
      } catch {
        throw new KeychainUnavailableError(process.platform);
      }
    }
    return this.keytar;
  }

  protected async call<T>(op: (k: Keytar) => Promise<T>): Promise<T> {
    const k = await this.kt();
    try {
      return await op(k);
    } catch {
      // keytar's own messages may quote the D-Bus reply; never pass them on (they could carry context).
      throw new KeychainUnavailableError(process.platform);
    }
  }

  async get(account: string): Promise<string | undefined> {
    return (await this.call((k) => k.getPassword(this.service, account))) ?? undefined;
  }

  async set(account: string, secret: string): Promise<void> {
    await this.call((k) => k.setPassword(this.service, account, secret));
  }

  async delete(account: string): Promise<boolean> {
    return this.call((k) => k.deletePassword(this.service, account));
  }

  async accounts(): Promise<string[]> {
    return (await this.call((k) => k.findCredentials(this.service))).map((c) => c.account);
  }
}
