// Durations as the command grammar and Azure speak them. Minutes are the unit everywhere in the core.

export const MIN_DURATION_MINUTES = 5;
export const MAX_DURATION_MINUTES = 24 * 60;

const SHORT = /^(?:(\d{1,4})h)?(?:(\d{1,5})m)?$/i;
const ISO = /^PT(?:(\d{1,4})H)?(?:(\d{1,5})M)?(?:(\d{1,6})S)?$/i;

/**
 * `30m`, `1h`, `1h30m`, `90m`, `PT1H30M` → minutes; null when the text is not a duration.
 * Seconds in ISO form must make whole minutes (Azure's maxima are whole minutes too).
 */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (t === '') return null;
  let m = SHORT.exec(t);
  if (m && (m[1] !== undefined || m[2] !== undefined)) {
    return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
  }
  m = ISO.exec(t);
  if (m && (m[1] !== undefined || m[2] !== undefined || m[3] !== undefined)) {
    const seconds = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
    if (seconds % 60 !== 0) return null;
    return seconds / 60;
  }
  return null;
}

/** 90 → `1h30m`, 60 → `1h`, 45 → `45m`. */
export function formatDuration(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m}m`;
  return m === 0 ? `${h}h` : `${h}h${m}m`;
}

/** 90 → `PT1H30M` (Azure's form). */
export function toIsoDuration(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `PT${h > 0 ? `${h}H` : ''}${m > 0 || h === 0 ? `${m}M` : ''}`;
}

/** `14:05 UTC`, with the date in front when it is not the same UTC day as `now`. */
export function formatUtc(at: Date, now: Date): string {
  const iso = at.toISOString();
  const time = `${iso.slice(11, 16)} UTC`;
  return now.toISOString().slice(0, 10) === iso.slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}
