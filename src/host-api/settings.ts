// Host API 1.0, §3: the settings-page extension point and its declarative view.
import type { Observable } from 'rxjs';
import type { LocalizedText, Tone } from './services';

export const SettingsPageContribution = Symbol.for('host.SettingsPageContribution');
export interface SettingsPageContribution {
  readonly id: string;
  readonly group: string;
  readonly title: LocalizedText;
  readonly order: number;
  open(): SettingsPageSession;
}
export interface SettingsPageSession {
  readonly view$: Observable<SettingsView>;
  setValue(fieldId: string, value: string): void;
  invoke(actionId: string): Promise<ActionOutcome>;
  dispose(): void;
}

export interface SettingsView {
  readonly title: LocalizedText;
  readonly busy: boolean;
  readonly sections: readonly ViewSection[];
}
export interface ViewSection {
  readonly id: string;
  readonly title: LocalizedText;
  readonly items: readonly ViewItem[];
}
export type ViewItem =
  | { kind: 'text-field'; id: string; label: LocalizedText; value: string; placeholder?: LocalizedText; error?: LocalizedText; browseActionId?: string }
  | { kind: 'status'; id: string; label: LocalizedText; tone: Tone; text: LocalizedText }
  | { kind: 'notice'; id: string; tone: Tone; text: LocalizedText }
  | { kind: 'table'; id: string; label: LocalizedText; columns: readonly LocalizedText[]; rows: readonly { id: string; cells: readonly string[]; actionIds?: readonly string[] }[] }
  | { kind: 'action'; id: string; label: LocalizedText; style: 'primary' | 'secondary' | 'danger'; enabled: boolean; confirm?: LocalizedText };
export type ActionOutcome =
  | { ok: true; message?: LocalizedText }
  | { ok: false; message: LocalizedText; fieldErrors?: Readonly<Record<string, LocalizedText>> };
