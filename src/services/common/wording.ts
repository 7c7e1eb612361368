// Numbers, plurals and platform words as people read them: counts through Intl.NumberFormat
// ("5.000" / "5,000"), plural forms through Intl.PluralRules, never "Änderung(en)" or "PC(s)".
import type { LocalizedText } from '../../host-api';

const numbers = { de: new Intl.NumberFormat('de-DE'), en: new Intl.NumberFormat('en') };
const plurals = { de: new Intl.PluralRules('de-DE'), en: new Intl.PluralRules('en') };

/** A count with the locale's thousands separator. */
export function num(n: number, locale: 'de' | 'en'): string {
  return numbers[locale].format(n);
}

/** "1 Änderung" / "3 Änderungen" (and the English), the count formatted for the locale. */
export function count(n: number, de: [one: string, other: string], en: [one: string, other: string]): LocalizedText {
  const pick = (l: 'de' | 'en', forms: [string, string]) => `${num(n, l)} ${plurals[l].select(n) === 'one' ? forms[0] : forms[1]}`;
  return { de: pick('de', de), en: pick('en', en) };
}

/** The one form for n in each language, without the number ("wartet" / "warten"). */
export function form(n: number, de: [string, string], en: [string, string]): LocalizedText {
  return { de: plurals.de.select(n) === 'one' ? de[0] : de[1], en: plurals.en.select(n) === 'one' ? en[0] : en[1] };
}

/** What the OS keychain is called on this platform. */
export function keychainName(platform: NodeJS.Platform): LocalizedText {
  switch (platform) {
    case 'win32':
      return { de: 'Windows-Anmeldeinformationsverwaltung', en: 'Windows Credential Manager' };
    case 'darwin':
      return { de: 'Schlüsselbund', en: 'Keychain' };
    default:
      return { de: 'Schlüsselbund (Secret Service)', en: 'keyring (Secret Service)' };
  }
}
