/** A moment as people of the locale write it ("28.11.26, 09:14"), in this PC's time zone; unparseable text stays as it is. */
export function localTime(iso: string, locale: 'de' | 'en'): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(locale === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
}
