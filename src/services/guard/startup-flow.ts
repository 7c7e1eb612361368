// The startup guard's state machine (HOST-API §4): every dead end offers a way out that loses nothing.
import { inject, injectable } from 'inversify';
import { HostDialogs, type LocalizedText, type StartupVerdict, type Tone } from '../../host-api';
import { CloudStorageService } from '../cloud-storage-service';
import type { CloudConfig } from '../config/cloud-config';
import { ReplicaFolder } from '../store/replica-folder';
import { KeychainUnavailableError } from '../credentials/credential-store';

type Action = { id: string; label: LocalizedText; style: 'primary' | 'secondary' | 'danger' };
const A = {
  retry: { id: 'retry', label: { de: 'Erneut versuchen', en: 'Try again' }, style: 'primary' } as Action,
  offline: { id: 'work-offline', label: { de: 'Ohne Verbindung weiterarbeiten', en: 'Work offline' }, style: 'secondary' } as Action,
  reset: { id: 'reset-configuration', label: { de: 'Cloud-Einrichtung auf diesem PC entfernen', en: 'Remove cloud setup on this PC' }, style: 'danger' } as Action,
  choose: { id: 'choose-folder', label: { de: 'Ordner wählen …', en: 'Choose folder …' }, style: 'secondary' } as Action,
  passphrase: { id: 'enter-passphrase', label: { de: 'Praxis-Passwort eingeben', en: 'Enter practice passphrase' }, style: 'primary' } as Action,
  login: { id: 'log-in', label: { de: 'Anmelden …', en: 'Log in …' }, style: 'primary' } as Action,
};

const NOTHING_LOST = {
  de: 'Es gehen keine Daten verloren: Die Daten im gemeinsamen Ordner bleiben unberührt, Änderungen dieses PCs bleiben gespeichert.',
  en: 'No data are lost: the data in the shared folder stay untouched, and this PC’s changes stay saved.',
};

function blocked(title: LocalizedText, message: LocalizedText, actions: Action[]): StartupVerdict {
  return { kind: 'blocked', title, message: { de: `${message.de}\n\n${NOTHING_LOST.de}`, en: `${message.en}\n\n${NOTHING_LOST.en}` }, actions };
}

@injectable()
export class StartupFlow {
  constructor(
    @inject(CloudStorageService) protected readonly service: CloudStorageService,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
  ) {}

  async check(): Promise<StartupVerdict> {
    try {
      return await this.run();
    } catch (e) {
      if (KeychainUnavailableError.is(e))
        return blocked({ de: 'Schlüsselbund nicht erreichbar', en: 'Keychain not reachable' }, e.text, [A.retry, A.reset]);
      throw e;
    }
  }

  protected async run(): Promise<StartupVerdict> {
    const r = await this.service.readConfig();
    if (r.kind === 'none') return { kind: 'proceed', notices: [] };
    if (r.kind === 'unreadable')
      return blocked(
        { de: 'Cloud-Einrichtung nicht lesbar', en: 'Cloud setup unreadable' },
        {
          de: `Die Einstellungsdatei des Cloudspeichers auf diesem PC ist beschädigt (${r.reason}). Entfernen Sie die Einrichtung und wählen Sie danach den Ordner erneut.`,
          en: `This PC's cloud storage settings file is damaged (${r.reason}). Remove the setup, then choose the folder again.`,
        },
        [A.reset],
      );
    return this.checkConfigured(r.config);
  }

  protected async checkConfigured(config: CloudConfig): Promise<StartupVerdict> {
    this.service.setAccess('checking', config.folder);
    let p = await this.service.probe(config.folder, config.storeId);
    if (p.state === 'auth-required' || (p.state === 'unavailable' && !p.timedOut && this.service.isNetworkShare(config.folder))) {
      // After a Windows restart the share's login is gone: reconnect silently with the stored one.
      if (await this.service.reconnectWithStored(config.folder)) p = await this.service.probe(config.folder, config.storeId);
    }
    this.service.setAccess(p.state, config.folder, p.state === 'available' ? undefined : p.detail);
    const local = await this.service.hasLocalReplica(config.storeId);
    switch (p.state) {
      case 'available':
        return this.unlockAndOpen(config, true);
      case 'auth-required': {
        const c = await this.service.connectInteractively(config.folder);
        if (c.ok) return this.checkConfigured(config);
        return blocked(
          { de: 'Anmeldung an der Freigabe nötig', en: 'Share login needed' },
          c.text ?? { de: 'Für den gemeinsamen Ordner ist eine Anmeldung nötig; sie wurde abgebrochen.', en: 'The shared folder needs a login; it was cancelled.' },
          [A.login, ...(local ? [A.offline] : []), A.reset],
        );
      }
      case 'denied':
        return blocked({ de: 'Kein Zugriff auf den gemeinsamen Ordner', en: 'No access to the shared folder' }, p.detail, [A.retry, ...(local ? [A.offline] : []), A.reset]);
      case 'wrong-folder':
        return blocked(
          { de: 'Im Ordner liegen nicht die Praxisdaten', en: 'The folder does not hold the practice data' },
          { de: `${config.folder}: ${p.detail.de}`, en: `${config.folder}: ${p.detail.en}` },
          [A.retry, A.choose, ...(local ? [A.offline] : []), A.reset],
        );
      default:
        return blocked(
          { de: 'Gemeinsamer Ordner nicht erreichbar', en: 'Shared folder unreachable' },
          {
            de: `${config.folder}: ${p.detail.de}${local ? ' Sie können mit der Kopie auf diesem PC weiterarbeiten; Ihre Änderungen werden übertragen, sobald der Ordner wieder da ist.' : ''}`,
            en: `${config.folder}: ${p.detail.en}${local ? ' You can keep working on this PC’s copy; your changes are sent once the folder is back.' : ''}`,
          },
          [A.retry, ...(local ? [A.offline] : []), A.reset],
        );
    }
  }

  protected async unlockAndOpen(config: CloudConfig, fromShared: boolean): Promise<StartupVerdict> {
    const header = await this.service.headerFor(config, fromShared);
    if (!header)
      return blocked(
        { de: 'Praxisdaten nicht lesbar', en: 'Practice data unreadable' },
        { de: 'Der Kopf des Praxis-Speichers fehlt oder ist beschädigt.', en: 'The header of the practice store is missing or damaged.' },
        [A.retry, A.reset],
      );
    const local = this.service.localReplicaRoot(config.storeId);
    const k = await this.service.storeKey(header, true, fromShared ? [config.folder, local] : [local]);
    if (k.kind === 'cancelled')
      return blocked(
        { de: 'Praxis-Passwort nötig', en: 'Practice passphrase needed' },
        { de: 'Ohne das Praxis-Passwort können die verschlüsselten Daten auf diesem PC nicht geöffnet werden.', en: 'Without the practice passphrase the encrypted data cannot be opened on this PC.' },
        [A.passphrase, A.reset],
      );
    const store = await this.service.activate(config, header, k.keyring);
    // The passphrase was changed on another PC: ask once now; cancelling still opens the data.
    const behind = !store.keyState.upToDate && !(await this.service.enterPassphrase());
    const notices = this.notices(fromShared, behind);
    if (behind)
      notices.unshift({
        tone: 'warning',
        text: {
          de: 'Das Praxis-Passwort wurde auf einem anderen PC geändert. Solange es hier nicht eingegeben ist, sind die seitdem gespeicherten Änderungen auf diesem PC nicht lesbar; Ihre eigenen Änderungen werden weiter gespeichert und übertragen.',
          en: 'The practice passphrase was changed on another PC. Until it is entered here, changes saved since are not readable on this PC; your own changes are still saved and sent.',
        },
      });
    return { kind: 'proceed', notices };
  }

  /** `behind`: changes wait for a newer passphrase, not for the cloud client (said by its own notice). */
  protected notices(online: boolean, behind = false): { tone: Tone; text: LocalizedText }[] {
    const out: { tone: Tone; text: LocalizedText }[] = [];
    if (!online)
      out.push({ tone: 'warning', text: { de: 'Ohne Verbindung zum gemeinsamen Ordner: Änderungen werden später übertragen.', en: 'Working offline: changes are sent to the shared folder later.' } });
    const ex = this.service.openExchange;
    if (!ex) return out;
    for (const d of ex.devicesSeen) {
      if (d.thisDevice || !d.active) continue;
      const since = new Date(d.since);
      const hhmm = `${String(since.getHours()).padStart(2, '0')}:${String(since.getMinutes()).padStart(2, '0')}`;
      out.push({
        tone: 'info',
        text: {
          de: `${d.name} (${d.user}) arbeitet seit ${hhmm} Uhr ebenfalls in diesen Daten. Gleichzeitiges Arbeiten ist sicher: Änderungen werden zusammengeführt.`,
          en: `${d.name} (${d.user}) has also been working in these data since ${hhmm}. Working at the same time is safe: changes are merged.`,
        },
      });
    }
    const awaited = ex.syncStatus.awaited;
    if (awaited > 0 && !behind)
      out.push({
        tone: 'warning',
        text: {
          de: `${awaited} Änderung(en) anderer PCs sind angekündigt, aber noch nicht angekommen (das Cloud-Programm synchronisiert noch). Sie erscheinen automatisch.`,
          en: `${awaited} change(s) from other PCs are announced but have not arrived yet (the cloud client is still syncing). They appear automatically.`,
        },
      });
    return out;
  }

  async act(actionId: string): Promise<StartupVerdict> {
    switch (actionId) {
      case 'retry':
      case 'enter-passphrase':
      case 'log-in':
        return this.check();
      case 'reset-configuration':
        await this.service.forget();
        return { kind: 'proceed', notices: [{ tone: 'info', text: { de: 'Die Cloud-Einrichtung dieses PCs wurde entfernt. Die Daten im gemeinsamen Ordner sind unverändert.', en: "This PC's cloud setup was removed. The data in the shared folder are unchanged." } }] };
      case 'work-offline': {
        const r = await this.service.readConfig();
        if (r.kind !== 'ok' || !(await this.service.hasLocalReplica(r.config.storeId))) return this.check();
        return this.unlockAndOpen(r.config, false);
      }
      case 'choose-folder': {
        const r = await this.service.readConfig();
        if (r.kind !== 'ok') return this.check();
        const folder = await this.dialogs.pickFolder({ title: { de: 'Ordner mit den Praxisdaten wählen', en: 'Choose the folder with the practice data' }, defaultPath: r.config.folder });
        if (!folder) return this.check();
        const hdr = await ReplicaFolder.readHeader(folder).catch(() => undefined);
        if (hdr?.kind === 'ok' && hdr.header.storeId === r.config.storeId) {
          await this.service.configStore.write({ ...r.config, folder });
          return this.check();
        }
        const v = await this.check();
        if (v.kind === 'blocked')
          return { ...v, message: { de: `${folder} enthält nicht diese Praxisdaten; die Einrichtung bleibt unverändert.\n\n${v.message.de}`, en: `${folder} does not hold these practice data; the setup is unchanged.\n\n${v.message.en}` } };
        return v;
      }
      default:
        return this.check();
    }
  }
}
