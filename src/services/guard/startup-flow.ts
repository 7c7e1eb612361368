// The startup guard's state machine (HOST-API §4): every dead end offers a way out that loses nothing,
// and check()/act() answer with a verdict whatever happens (never a rejected promise).
import { inject, injectable, optional } from 'inversify';
import { HostDialogs, HostLocalData, HostLogger, type LocalizedText, type StartupVerdict, type Tone } from '../../host-api';
import { errnoOf, failureText } from '../common/errors';
import { StoreSetup, type MoveStoreOutcome, type ReopenOutcome } from '../setup/store-setup';
import { CloudStorageService, EMPTIED, HEADER_ALTERED, movedText } from '../cloud-storage-service';
import { NoticeIds } from '../common/notices';
import { count, form } from '../common/wording';

type Action = { id: string; label: LocalizedText; style: 'primary' | 'secondary' | 'danger' };
const A = {
  retry: { id: 'retry', label: { de: 'Erneut versuchen', en: 'Try again' }, style: 'primary' } as Action,
  offline: { id: 'work-offline', label: { de: 'Ohne Verbindung weiterarbeiten', en: 'Work offline' }, style: 'secondary' } as Action,
  reset: { id: 'reset-configuration', label: { de: 'Cloud-Einrichtung dieses PCs entfernen', en: "Remove this PC's cloud setup" }, style: 'danger' } as Action,
  choose: { id: 'choose-folder', label: { de: 'Ordner wählen …', en: 'Choose folder …' }, style: 'secondary' } as Action,
  passphrase: { id: 'enter-passphrase', label: { de: 'Praxis-Passwort eingeben', en: 'Enter practice passphrase' }, style: 'primary' } as Action,
  login: { id: 'log-in', label: { de: 'Anmelden …', en: 'Log in …' }, style: 'primary' } as Action,
  follow: { id: 'follow-move', label: { de: 'Dem Umzug folgen', en: 'Follow the move' }, style: 'primary' } as Action,
  restore: { id: 'restore-shared-folder', label: { de: 'Praxisdaten von diesem PC in den gemeinsamen Ordner zurückschreiben', en: 'Write the practice data back into the shared folder from this PC' }, style: 'primary' } as Action,
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
    @inject(StoreSetup) protected readonly setup: StoreSetup,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
    @inject(HostLogger) protected readonly logger: HostLogger,
    @inject(CloudStorageService) @optional() protected readonly service?: CloudStorageService,
    @inject(HostLocalData) @optional() protected readonly localData?: HostLocalData,
  ) {}

  check(): Promise<StartupVerdict> {
    return this.answering(() => this.reopen(true));
  }

  act(actionId: string): Promise<StartupVerdict> {
    return this.answering(() => this.actOn(actionId));
  }

  /** The last resort: whatever escaped the typed outcomes becomes the "could not be opened" verdict. */
  protected async answering(step: () => Promise<StartupVerdict>): Promise<StartupVerdict> {
    try {
      return await step();
    } catch (e) {
      this.logger.error('cloud-storage: the startup check failed', { code: errnoOf(e), reason: failureText(e).en });
      const localReplica = await this.setup.hasLocalReplica().catch(() => false);
      return this.verdictFor({ kind: 'failed', text: failureText(e), localReplica });
    }
  }

  protected async reopen(online: boolean): Promise<StartupVerdict> {
    return this.verdictFor(await this.setup.reopen(online));
  }

  protected verdictFor(o: ReopenOutcome): StartupVerdict {
    const offline = 'localReplica' in o && o.localReplica ? [A.offline] : [];
    switch (o.kind) {
      case 'not-configured':
        return { kind: 'proceed', notices: [] };
      case 'config-unreadable':
        return blocked(
          { de: 'Cloud-Einrichtung nicht lesbar', en: 'Cloud setup unreadable' },
          {
            de: `Die Einstellungsdatei des Cloudspeichers auf diesem PC ist beschädigt (${o.reason}). Entfernen Sie die Einrichtung und wählen Sie danach den Ordner erneut.`,
            en: `This PC's cloud storage settings file is damaged (${o.reason}). Remove the setup, then choose the folder again.`,
          },
          [A.reset],
        );
      case 'keychain-unavailable':
        return blocked({ de: 'Schlüsselbund nicht erreichbar', en: 'Keychain not reachable' }, o.text, [A.retry, A.reset]);
      case 'login-cancelled':
      case 'auth-required':
        return blocked(
          { de: 'Anmeldung an der Freigabe nötig', en: 'Share login needed' },
          (o.kind === 'login-cancelled' ? o.text : o.detail) ?? { de: 'Für den gemeinsamen Ordner ist eine Anmeldung nötig; sie wurde abgebrochen.', en: 'The shared folder needs a login; it was cancelled.' },
          [A.login, ...offline, A.reset],
        );
      case 'denied':
        return blocked({ de: 'Kein Zugriff auf den gemeinsamen Ordner', en: 'No access to the shared folder' }, o.detail, [A.retry, ...offline, A.reset]);
      case 'wrong-folder':
        return blocked(
          { de: 'Im Ordner liegen nicht die Praxisdaten', en: 'The folder does not hold the practice data' },
          { de: `Eingerichtet ist der Ordner „${o.folder}“. ${o.detail.de}`, en: `The folder set up is "${o.folder}". ${o.detail.en}` },
          [A.retry, A.choose, ...offline, A.reset],
        );
      case 'unreachable':
        return blocked(
          { de: 'Gemeinsamer Ordner nicht erreichbar', en: 'Shared folder unreachable' },
          {
            de: `Eingerichtet ist der Ordner „${o.folder}“. ${o.detail.de}${o.localReplica ? ' Sie können mit der Kopie auf diesem PC weiterarbeiten; Ihre Änderungen werden übertragen, sobald der Ordner wieder da ist.' : ''}`,
            en: `The folder set up is "${o.folder}". ${o.detail.en}${o.localReplica ? ' You can keep working on this PC’s copy; your changes are sent once the folder is back.' : ''}`,
          },
          [A.retry, ...offline, A.reset],
        );
      case 'emptied':
        return blocked(
          { de: 'Praxisdaten aus dem gemeinsamen Ordner verschwunden', en: 'Practice data gone from the shared folder' },
          { de: `${EMPTIED.de}\n\nOrdner: ${o.folder}`, en: `${EMPTIED.en}\n\nFolder: ${o.folder}` },
          [A.restore, A.retry, A.choose, A.offline, A.reset],
        );
      case 'header-unreadable':
        return blocked(
          { de: 'Praxisdaten nicht lesbar', en: 'Practice data unreadable' },
          { de: 'Der Kopf des Praxis-Speichers fehlt oder ist beschädigt.', en: 'The header of the practice store is missing or damaged.' },
          [A.retry, A.reset],
        );
      case 'passphrase-cancelled':
        return blocked(
          { de: 'Praxis-Passwort nötig', en: 'Practice passphrase needed' },
          { de: 'Ohne das Praxis-Passwort können die verschlüsselten Daten auf diesem PC nicht geöffnet werden.', en: 'Without the practice passphrase the encrypted data cannot be opened on this PC.' },
          [A.passphrase, A.reset],
        );
      case 'already-open':
        // Only retry (and the host's Quit): removing the setup here would pull it away from under the
        // window that works with it, and this window would then go on with the host's own old data —
        // two diverging data sets. Working offline would open the very same replica: also no.
        return o.where === 'this-pc'
          ? blocked(
              { de: 'Praxisdaten bereits geöffnet', en: 'Practice data already open' },
              {
                de: 'Die Praxisdaten sind auf diesem PC bereits in einem anderen Programmfenster geöffnet. Bitte arbeiten Sie dort weiter, oder schließen Sie das andere Fenster und wählen Sie dann „Erneut versuchen“.',
                en: 'The practice data are already open in another window of the application on this PC. Keep working there, or close the other window and then choose “Try again”.',
              },
              [A.retry],
            )
          : blocked(
              { de: 'Praxisdaten auf einem anderen PC geöffnet', en: 'Practice data open on another PC' },
              {
                de: `Die Praxisdaten dieses PCs sind gerade auf dem PC „${o.host}“ geöffnet (der Datenordner liegt auf einem Netzlaufwerk). Bitte beenden Sie das Programm dort und wählen Sie dann „Erneut versuchen“.`,
                en: `This PC's practice data are open on the PC "${o.host}" right now (the data folder is on a network drive). Quit the application there, then choose “Try again”.`,
              },
              [A.retry],
            );
      case 'failed':
        return blocked(
          { de: 'Cloudspeicher konnte nicht geöffnet werden', en: 'The cloud storage could not be opened' },
          {
            de: `Der Cloudspeicher konnte nicht geöffnet werden. Ursache: ${o.text.de}`,
            en: `The cloud storage could not be opened. Cause: ${o.text.en}`,
          },
          [A.retry, ...offline, A.reset],
        );
      case 'opened':
        if (o.moved)
          return {
            kind: 'blocked',
            title: { de: 'Die Praxisdaten sind umgezogen', en: 'The practice data have moved' },
            message: { de: `${movedText(o.moved).de}\n\nMit „Ohne Verbindung weiterarbeiten“ öffnen Sie die Daten dieses PCs und folgen später.`, en: `${movedText(o.moved).en}\n\nWith “Work offline” you open this PC’s data and follow later.` },
            actions: [A.follow, A.offline],
          };
        return { kind: 'proceed', notices: this.notices(o) };
    }
  }

  /** `behind`: changes wait for a newer passphrase, not for the cloud client (said by its own notice). */
  protected notices(o: Extract<ReopenOutcome, { kind: 'opened' }>): { tone: Tone; text: LocalizedText }[] {
    const out: { tone: Tone; text: LocalizedText }[] = [];
    if (o.headerAltered) out.push({ tone: 'warning', text: HEADER_ALTERED });
    if (o.behind)
      out.push({
        tone: 'warning',
        text: {
          de: 'Das Praxis-Passwort wurde auf einem anderen PC geändert. Solange es hier nicht eingegeben ist, sind die seitdem gespeicherten Änderungen auf diesem PC nicht lesbar; Ihre eigenen Änderungen werden weiter gespeichert und übertragen.',
          en: 'The practice passphrase was changed on another PC. Until it is entered here, changes saved since are not readable on this PC; your own changes are still saved and sent.',
        },
      });
    if (!o.online) {
      const offline = { de: 'Ohne Verbindung zum gemeinsamen Ordner: Änderungen werden später übertragen.', en: 'Working offline: changes are sent to the shared folder later.' };
      // A 1.1 host can take a notice back: it goes there with an id and is withdrawn once the folder is
      // reachable (CloudStorageService.setAccess). A 1.0 host gets it with the verdict, as before.
      const notices = this.service?.notices;
      if (notices?.canWithdraw) {
        notices.show(NoticeIds.offline, 'warning', offline);
        if (this.service!.accessStatus.state === 'available') notices.withdraw(NoticeIds.offline);
      } else out.push({ tone: 'warning', text: offline });
    }
    for (const d of o.others) {
      const since = new Date(d.since);
      const hhmm = `${String(since.getHours()).padStart(2, '0')}:${String(since.getMinutes()).padStart(2, '0')}`;
      out.push({
        tone: 'info',
        text: {
          de: `${d.name} (${d.user}) arbeitet seit ${hhmm} Uhr ebenfalls in diesen Daten. Gleichzeitiges Arbeiten ist möglich; ändern zwei PCs denselben Eintrag, werden Sie gefragt, welche Fassung gilt.`,
          en: `${d.name} (${d.user}) has also been working in these data since ${hhmm}. Working at the same time is possible; if two PCs change the same entry, you are asked which version stands.`,
        },
      });
    }
    if (o.awaited > 0 && !o.behind)
      out.push({
        tone: 'warning',
        text: {
          de: `${count(o.awaited, ['Änderung', 'Änderungen'], ['change', 'changes']).de} anderer PCs ${form(o.awaited, ['ist', 'sind'], ['is', 'are']).de} angekündigt, aber noch nicht angekommen (das Cloud-Programm synchronisiert noch). ${form(o.awaited, ['Sie erscheint', 'Sie erscheinen'], ['It appears', 'They appear']).de} automatisch.`,
          en: `${count(o.awaited, ['Änderung', 'Änderungen'], ['change', 'changes']).en} from other PCs ${form(o.awaited, ['ist', 'sind'], ['is', 'are']).en} announced but ${form(o.awaited, ['hat', 'haben'], ['has', 'have']).en} not arrived yet (the cloud client is still syncing). ${form(o.awaited, ['Sie erscheint', 'Sie erscheinen'], ['It appears', 'They appear']).en} automatically.`,
        },
      });
    return out;
  }

  protected async actOn(actionId: string): Promise<StartupVerdict> {
    switch (actionId) {
      case 'reset-configuration':
        await this.setup.remove(this.localData);
        return { kind: 'proceed', notices: [{ tone: 'info', text: { de: 'Die Cloud-Einrichtung dieses PCs wurde entfernt. Die Daten im gemeinsamen Ordner sind unverändert.', en: "This PC's cloud setup was removed. The data in the shared folder are unchanged." } }] };
      case 'work-offline':
        return this.reopen(false);
      case 'choose-folder':
        return this.chooseFolder();
      case 'restore-shared-folder':
        return this.restoreShared();
      case 'follow-move':
        return this.followMove();
      default: // retry, enter-passphrase, log-in: the whole check again
        return this.check();
    }
  }

  protected async restoreShared(): Promise<StartupVerdict> {
    const r = await this.setup.restoreShared();
    const v = await this.check();
    if (v.kind === 'proceed' && r.kind === 'restored')
      return { ...v, notices: [{ tone: 'ok', text: { de: `Die Praxisdaten wurden von diesem PC in den gemeinsamen Ordner zurückgeschrieben (${r.files.toLocaleString('de-DE')} Dateien). Die anderen PCs arbeiten damit weiter.`, en: `The practice data were written back into the shared folder from this PC (${r.files.toLocaleString('en')} files). The other PCs carry on with them.` } }, ...v.notices] };
    return v;
  }

  /** Follows the move (a folder's path asked for, the moving PC's offered); on failure the same choice again, with why. */
  protected async followMove(): Promise<StartupVerdict> {
    const moved = this.service?.active?.carrier.movedTo;
    let target = moved?.to;
    if (moved?.kind === 'folder') target = await this.dialogs.pickFolder({ title: { de: 'Neuen Speicherort der Praxisdaten wählen', en: 'Choose the new location of the practice data' }, defaultPath: moved.to });
    if (!target) return this.check();
    const o = await this.setup.followMove(target);
    const v = await this.check();
    if (o.kind === 'followed' && v.kind === 'proceed')
      return { ...v, notices: [{ tone: 'ok', text: { de: `Dieser PC arbeitet jetzt mit den Praxisdaten in „${target}“.`, en: `This PC now works with the practice data in "${target}".` } }, ...v.notices] };
    if (o.kind === 'followed' || v.kind !== 'blocked') return v;
    const why = followFailure(o);
    return { ...v, message: { de: `${why.de}\n\n${v.message.de}`, en: `${why.en}\n\n${v.message.en}` } };
  }

  protected async chooseFolder(): Promise<StartupVerdict> {
    const current = await this.setup.configuredFolder();
    const folder = await this.dialogs.pickFolder({ title: { de: 'Ordner mit den Praxisdaten wählen', en: 'Choose the folder with the practice data' }, defaultPath: current });
    if (!folder) return this.check();
    const moved = await this.setup.moveTo(folder);
    const v = await this.check();
    if (moved.kind !== 'not-this-store' || v.kind !== 'blocked') return v;
    return { ...v, message: { de: `Der Ordner „${folder}“ enthält nicht diese Praxisdaten; die Einrichtung bleibt unverändert.\n\n${v.message.de}`, en: `The folder "${folder}" does not hold these practice data; the setup is unchanged.\n\n${v.message.en}` } };
  }
}

/** Why following the move did not work (the guard's words; the settings page says more). */
function followFailure(o: MoveStoreOutcome): LocalizedText {
  if ('detail' in o) return { de: `Dem Umzug konnte nicht gefolgt werden: ${o.detail.de}`, en: `Could not follow the move: ${o.detail.en}` };
  if ('text' in o && o.text) return { de: `Dem Umzug konnte nicht gefolgt werden: ${o.text.de}`, en: `Could not follow the move: ${o.text.en}` };
  if (o.kind === 'other-store') return { de: 'Am neuen Speicherort liegt ein anderer Praxis-Speicher.', en: 'The new location holds another practice store.' };
  return { de: 'Dem Umzug konnte nicht gefolgt werden; dieser PC arbeitet weiter wie bisher.', en: 'Could not follow the move; this PC carries on as before.' };
}
