/** Durations as Azure ML's REST API takes them (ISO 8601), written the way the Python CLI writes them. */

/** ISO 8601 duration as Python's isodate.duration_isoformat(timedelta(seconds=n)). */
export function isoDuration(seconds: number): string {
  let s = seconds;
  const days = Math.floor(s / 86400);
  s -= days * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  let out = 'P';
  if (days) out += `${days}D`;
  if (h || m || s) {
    out += 'T';
    if (h) out += `${h}H`;
    if (m) out += `${m}M`;
    if (s) out += `${Number.isInteger(s) ? s : Number(s.toFixed(6))}S`;
  }
  return out === 'P' ? 'P0D' : out;
}
