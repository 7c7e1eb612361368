// A CredentialStore in memory, for tests (the real keychain is tested against gnome-keyring).
import type { CredentialStore } from '../../src/services/credentials/credential-store';

export class InMemoryCredentialStore implements CredentialStore {
  readonly items = new Map<string, string>();
  async get(a: string) {
    return this.items.get(a);
  }
  async set(a: string, s: string) {
    this.items.set(a, s);
  }
  async delete(a: string) {
    return this.items.delete(a);
  }
  async accounts() {
    return [...this.items.keys()];
  }
}
