// Host API 1.0, §4: the startup-guard extension point.
import type { LocalizedText, Tone } from './services';

export const StartupGuardContribution = Symbol.for('host.StartupGuardContribution');
export interface StartupGuardContribution {
  readonly id: string;
  readonly order: number;
  /** Must settle within 10 s, whatever the disk does. */
  check(): Promise<StartupVerdict>;
  act(actionId: string): Promise<StartupVerdict>;
}
export type StartupVerdict =
  | { kind: 'proceed'; notices: readonly { tone: Tone; text: LocalizedText }[] }
  | {
      kind: 'blocked';
      title: LocalizedText;
      message: LocalizedText;
      actions: readonly { id: string; label: LocalizedText; style: 'primary' | 'secondary' | 'danger' }[];
    };
