// The plugin's notices to the host (HOST-API §2 notify, §6 ids and withdraw). A 1.1 host that offers
// `withdraw` gets stable ids: a notice is replaced under its id and withdrawn once it is no longer true.
// A 1.0 host gets what it always got: `notify({ tone, text })`, once, and nothing to withdraw.
import { inject, injectable } from 'inversify';
import { HostDialogs, type LocalizedText, type Tone } from '../../host-api';

/** The ids of the plugin's notices (stable: a host may keep them across restarts of the page). */
export const NoticeIds = {
  passphraseChanged: 'cloud-storage.passphrase-changed',
  offline: 'cloud-storage.offline',
  moved: 'cloud-storage.moved',
} as const;

@injectable()
export class Notices {
  protected readonly shown = new Set<string>();
  constructor(@inject(HostDialogs) protected readonly dialogs: HostDialogs) {}

  /** True when the host can take a notice back (HOST-API 1.1). */
  get canWithdraw(): boolean {
    return typeof this.dialogs.withdraw === 'function';
  }

  /** Shows (or, under the same id, replaces) a notice. */
  show(id: string, tone: Tone, text: LocalizedText): void {
    this.shown.add(id);
    this.dialogs.notify(this.canWithdraw ? { id, tone, text } : { tone, text });
  }

  /** The notice is no longer true: a 1.1 host removes it; with a 1.0 host nothing happens. */
  withdraw(id: string): void {
    if (!this.shown.delete(id) || !this.canWithdraw) return;
    this.dialogs.withdraw!(id);
  }
}
