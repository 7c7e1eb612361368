/** A moment as people of the locale write it ("28.11.26, 09:14"), in this PC's time zone; unparseable text stays as it is. */
export function localTime(iso: string, locale: 'de' | 'en'): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(locale === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
}

/**
 * A moment as a person says it on this PC: „heute, 17:23 Uhr“ / "today, 17:23" on the same day,
 * else „28.11.2026, 17:23 Uhr“ / "28/11/2026, 17:23"; `seconds` adds them (where minutes collide).
 */
export function spokenTime(iso: string, locale: 'de' | 'en', opts: { seconds?: boolean; now?: Date } = {}): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const now = opts.now ?? new Date();
  const tag = locale === 'de' ? 'de-DE' : 'en-GB';
  const time = d.toLocaleTimeString(tag, { hour: '2-digit', minute: '2-digit', ...(opts.seconds ? { second: '2-digit' } : {}) });
  const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  const day = sameDay ? (locale === 'de' ? 'heute' : 'today') : d.toLocaleDateString(tag, { day: '2-digit', month: '2-digit', year: 'numeric' });
  return locale === 'de' ? `${day}, ${time} Uhr` : `${day}, ${time}`;
}
