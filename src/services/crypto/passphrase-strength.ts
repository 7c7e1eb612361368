// Is a NEW practice passphrase good enough (creating a store, changing the passphrase)? A passphrase
// typed to open an existing store is never judged here: it is what it is. docs/PASSPHRASE.md,
// "Strength and cost".
import type * as ZxcvbnCore from '@zxcvbn-ts/core';
import type { LocalizedText } from '../../host-api';

/** The shortest practice passphrase accepted, when a store is created and when it is changed. */
export const MIN_PASSPHRASE = 10;
/** zxcvbn's score (0…4) a new passphrase needs: 3 = "safely unguessable" (≥ 10^8 guesses) against a slow hash. */
export const MIN_SCORE = 3;
/** Words anyone connects with a practice: worth nothing to a passphrase (plus this PC's and user's names). */
export const PRACTICE_WORDS: readonly string[] = ['praxis', 'gruppenpraxis', 'psychotherapie', 'therapie', 'passwort', 'kennwort', 'password', 'practice', 'therapy', 'cloudspeicher'];

export type NewPassphraseProblem = { kind: 'too-short' } | { kind: 'weak'; text: LocalizedText };

/** Who sets the passphrase: their PC's and user name are practice words too. */
export interface PassphraseContext {
  readonly deviceName: string;
  readonly userName: string;
}

type Translations = ZxcvbnCore.TranslationKeys;
interface Estimator {
  readonly factory: ZxcvbnCore.ZxcvbnFactory;
  readonly de: Translations;
  readonly en: Translations;
}
let estimator: Estimator | undefined;

/**
 * zxcvbn with the common, German and English dictionaries, built on first use: ranking the
 * dictionaries takes most of a second, which a host must not pay at start-up for a rare action.
 * Feedback comes back as keys and is translated into both languages here.
 */
function zxcvbn(): Estimator {
  if (estimator) return estimator;
  const core = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const de = require('@zxcvbn-ts/language-de') as typeof import('@zxcvbn-ts/language-de');
  const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  const factory = new core.ZxcvbnFactory({
    graphs: common.adjacencyGraphs, // qwertz among them
    dictionary: { ...common.dictionary, ...de.dictionary, ...en.dictionary },
    // The default (100) costs up to half a second of the main thread on a long passphrase with
    // digits; 20 judges the same (tested) in a tenth of that.
    l33tMaxSubstitutions: 20,
  });
  return (estimator = { factory, de: de.translations, en: en.translations });
}

/** The practice words for this PC and user: the fixed list, the names, and the names' words. */
export function practiceWords(who: PassphraseContext): string[] {
  const names = [who.deviceName, who.userName].map((n) => n.normalize('NFC').trim().toLowerCase()).filter((n) => n.length > 0);
  const parts = names.flatMap((n) => n.split(/[^\p{L}\p{N}]+/u)).filter((p) => p.length >= 3);
  return [...new Set([...names, ...parts, ...PRACTICE_WORDS])];
}

/** The passphrase with every practice word taken out (case-insensitive, the longest first). */
function withoutPracticeWords(pass: string, words: readonly string[]): string {
  let rest = pass;
  for (const w of [...words].sort((a, b) => b.length - a.length)) rest = rest.replace(new RegExp(w.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'), 'giu'), '');
  return rest;
}

/**
 * Why a new practice passphrase is refused, or undefined when it is good enough: at least
 * MIN_PASSPHRASE characters, a zxcvbn score of at least MIN_SCORE as typed, and the same for what
 * is left once the practice words are taken out ("praxis2026praxis" is three guessable pieces,
 * which zxcvbn alone scores as if nobody knew they were guessable).
 */
export function newPassphraseProblem(passphrase: string, who: PassphraseContext): NewPassphraseProblem | undefined {
  if (passphrase.length < MIN_PASSPHRASE) return { kind: 'too-short' };
  const pass = passphrase.normalize('NFC'); // as the key is derived from it
  const words = practiceWords(who);
  const z = zxcvbn();
  const whole = z.factory.check(pass, words);
  if (whole.score < MIN_SCORE) return { kind: 'weak', text: weakText(z, whole.feedback, false) };
  const rest = withoutPracticeWords(pass, words);
  if (rest === pass) return undefined;
  const left = rest.trim() === '' ? undefined : z.factory.check(rest, words);
  if (left && left.score >= MIN_SCORE) return undefined;
  return { kind: 'weak', text: weakText(z, left?.feedback ?? { warning: null, suggestions: [] }, true) };
}

function weakText(z: Estimator, feedback: ZxcvbnCore.FeedbackType, rest: boolean): LocalizedText {
  // zxcvbn's own words for "personal data" say less than ours: practice words are the problem then.
  const practice = rest || feedback.warning === 'userInputs';
  const say = (t: Translations, lang: 'de' | 'en'): string => {
    const parts = [lang === 'de' ? 'Dieses Praxis-Passwort ist zu leicht zu erraten.' : 'This practice passphrase is too easy to guess.'];
    const warning = feedback.warning && feedback.warning !== 'userInputs' ? t.warnings[feedback.warning as keyof Translations['warnings']] : undefined;
    if (warning) parts.push(warning);
    if (practice)
      parts.push(
        lang === 'de'
          ? 'Wörter, die jeder mit der Praxis verbindet (der Name dieses PCs, Ihr Benutzername, „Praxis“, „Passwort“, „Therapie“), zählen dabei nicht mit.'
          : 'Words anyone connects with the practice (this PC\'s name, your user name, "Praxis", "Passwort", "Therapie") do not count.',
      );
    const hints = feedback.suggestions.map((s) => t.suggestions[s as keyof Translations['suggestions']]).filter((s): s is string => typeof s === 'string' && s.length > 0);
    const fallback =
      lang === 'de'
        ? 'Mehrere Wörter, die nichts miteinander und nichts mit der Praxis zu tun haben, ergeben ein starkes Passwort, das man sich merken kann.'
        : 'Several words that have nothing to do with each other or with the practice make a strong passphrase that is easy to remember.';
    parts.push(`${lang === 'de' ? 'Tipp' : 'Hint'}: ${(hints.length ? hints : [fallback]).join(' ')}`);
    return parts.join(' ');
  };
  return { de: say(z.de, 'de'), en: say(z.en, 'en') };
}
