// Thin adapter: the settings page extension point onto SettingsController.
import { inject, injectable, optional } from 'inversify';
import { HostDialogs, HostLocalData, HostRecordLabels, type SettingsPageContribution, type SettingsPageSession } from '../host-api';
import { SharedFolderProbe } from '../services/access/shared-folder-probe';
import { CloudStorageService, CloudStorageTimings, DEFAULT_TIMINGS } from '../services/cloud-storage-service';
import { SettingsController, probeFolderChecks } from '../services/settings/settings-controller';
import { StoreSetup } from '../services/setup/store-setup';

@injectable()
export class CloudStorageSettingsPage implements SettingsPageContribution {
  readonly id = 'cloud-storage.settings';
  readonly group = 'group-practice';
  readonly title = { de: 'Gruppenpraxis & Cloudspeicher', en: 'Group practice & cloud storage' };
  readonly order = 10;
  protected readonly sessions = new Set<SettingsController>();

  constructor(
    @inject(CloudStorageService) protected readonly service: CloudStorageService,
    @inject(StoreSetup) protected readonly setup: StoreSetup,
    @inject(HostDialogs) protected readonly dialogs: HostDialogs,
    @inject(HostLocalData) @optional() protected readonly localData?: HostLocalData,
    @inject(SharedFolderProbe) protected readonly probe?: SharedFolderProbe,
    @inject(CloudStorageTimings) @optional() protected readonly timings?: CloudStorageTimings,
    // HOST-API 1.1, optional: a 1.0 host binds none, and records are named by collection and a short id.
    @inject(HostRecordLabels) @optional() protected readonly labels?: HostRecordLabels,
  ) {}

  open(): SettingsPageSession {
    // The folder field's disk check: the probe's bounded child process, with the probe's time limit.
    const checks = probeFolderChecks(this.probe ?? new SharedFolderProbe(), (this.timings ?? DEFAULT_TIMINGS).probeTimeoutMs);
    const c = new SettingsController(this.service, this.setup, this.dialogs, this.localData, checks, this.labels);
    this.sessions.add(c);
    return {
      view$: c.view$,
      setValue: (f, v) => c.setValue(f, v),
      invoke: (a) => c.invoke(a),
      dispose: () => {
        this.sessions.delete(c);
        c.dispose();
      },
    };
  }

  dispose(): void {
    for (const c of this.sessions) c.dispose();
    this.sessions.clear();
  }
}
