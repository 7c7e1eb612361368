// The login to a network share: reconnected silently with the stored login after a restart, asked
// for with the host's dialog otherwise, and kept in the OS keychain only once it works.
import { inject, injectable } from 'inversify';
import { HostDialogs, type LocalizedText } from '../../host-api';
import { Accounts, CredentialStore } from '../credentials/credential-store';
import { FolderClassifier } from './folder-classifier';
import { ShareConnector } from './share-connector';
import { ServerAccess } from '../remote/server-access';

import { keychainName } from '../common/wording';
export type LoginOutcome = { ok: true } | { ok: false; text?: LocalizedText };

@injectable()
export class ShareLogin {
  constructor(
    @inject(FolderClassifier) protected readonly classifier: FolderClassifier,
    @inject(CredentialStore) protected readonly credentials: CredentialStore,
    @inject(ShareConnector) protected readonly connector: ShareConnector,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
    @inject(ServerAccess) protected readonly servers: ServerAccess,
  ) {}

  /** Reconnects a share with stored credentials, silently. True when it connected. */
  async reconnect(folder: string): Promise<boolean> {
    if (ServerAccess.serverOf(folder)) return false; // a server's stored login is used by every request already
    const share = this.classifier.shareOf(folder);
    if (!share) return false;
    const raw = await this.credentials.get(Accounts.share(share.uncRoot)).catch(() => undefined);
    if (!raw) return false;
    try {
      const cred = JSON.parse(raw) as { username: string; password: string };
      return (await this.connector.connect(share, cred)).ok;
    } catch {
      return false;
    }
  }

  /** Asks for credentials until the share connects or the user cancels; stores them once they work. */
  async logIn(folder: string): Promise<LoginOutcome> {
    if (ServerAccess.serverOf(folder)) return this.servers.logIn(folder);
    const share = this.classifier.shareOf(folder);
    if (!share) return { ok: false };
    let message: LocalizedText = {
      // A UNC share: Windows, whose keychain is the Credential Manager.
      de: `Für ${share.uncRoot} ist eine Anmeldung nötig. Die Angaben werden in der ${keychainName('win32').de} gespeichert.`,
      en: `${share.uncRoot} needs a login. It is kept in the ${keychainName('win32').en}.`,
    };
    let username: string | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cred = await this.dialogs.promptCredentials({ title: { de: 'Anmeldung an der Netzwerkfreigabe', en: 'Log in to the network share' }, message, username });
      if (!cred) return { ok: false };
      username = cred.username;
      const r = await this.connector.connect(share, cred);
      if (r.ok) {
        await this.credentials.set(Accounts.share(share.uncRoot), JSON.stringify(cred));
        return { ok: true };
      }
      if (r.reason !== 'bad-credentials') return { ok: false, text: r.text };
      message = { de: `${r.text.de} Bitte erneut eingeben.`, en: `${r.text.en} Please enter them again.` };
    }
    return { ok: false };
  }

  /** Forgets the stored login of the share behind a folder (if it is one). */
  async forget(folder: string): Promise<void> {
    if (ServerAccess.serverOf(folder)) return this.servers.forget(folder);
    const share = this.classifier.shareOf(folder);
    if (share) await this.credentials.delete(Accounts.share(share.uncRoot)).catch(() => false);
  }
}
