// Thin adapter: the startup guard extension point onto StartupFlow (whose checks of the folder are
// bounded by the probe's 5 s; prompts wait for the person).
import { inject, injectable } from 'inversify';
import type { StartupGuardContribution, StartupVerdict } from '../host-api';
import { StartupFlow } from '../services/guard/startup-flow';

@injectable()
export class CloudStorageStartupGuard implements StartupGuardContribution {
  readonly id = 'cloud-storage.guard';
  readonly order = 100;

  constructor(@inject(StartupFlow) protected readonly flow: StartupFlow) {}

  check(): Promise<StartupVerdict> {
    return this.flow.check();
  }

  act(actionId: string): Promise<StartupVerdict> {
    return this.flow.act(actionId);
  }
}
