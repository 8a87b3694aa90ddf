/** A time of day as preferences hold it (minutes after midnight) and as people type it. */

/** "22:00" for 1320. */
export function timeOfMinutes(minutes: number): string {
  const m = Math.max(0, Math.min(1439, Math.trunc(minutes)));
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

/** 1320 for "22:00"; undefined for anything else than a time of day. */
export function minutesOfTime(time: string): number | undefined {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(time);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}
