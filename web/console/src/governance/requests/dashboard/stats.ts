import type { MessageInitShape } from "@bufbuild/protobuf";
import type { DateRangeSchema } from "@terrace/api/gen/terrace/common/v1/date_pb";
import type {
  AgeCount,
  DayCount,
  StatusCount,
  VillageSlaCompliance,
} from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { ServiceRequestStatus } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";

/**
 * The dashboard's figures as its charts and tables show them (GetServiceRequestStats): every
 * open status and every age band listed, 0 included, so a chart keeps its shape from one area to
 * the next; compliance as a share that is undefined, never 0 % nor a division by zero, when
 * nothing was due; the range of days as the address bar keeps it. Pure, unit-tested.
 */

/** The statuses the server counts as open, in the workflow's order. */
export const OPEN_STATUSES = [
  ServiceRequestStatus.SUBMITTED,
  ServiceRequestStatus.ACKNOWLEDGED,
  ServiceRequestStatus.IN_PROGRESS,
  ServiceRequestStatus.REOPENED,
] as const;

/** The server's age bands in hours (`[min, max)`, max 0 = no upper bound): a day, 3 days, a week, a month, older. */
export const AGE_BANDS: readonly (readonly [number, number])[] = [
  [0, 24],
  [24, 72],
  [72, 168],
  [168, 720],
  [720, 0],
];

/** The most days the server counts over at once. */
export const MAX_RANGE_DAYS = 92;

export interface StatusBar {
  status: ServiceRequestStatus;
  count: number;
}

/** Every open status with its count (0 when the server listed none), then any other it listed. */
export function byStatus(counts: readonly StatusCount[]): StatusBar[] {
  const counted = new Map<ServiceRequestStatus, number>();
  for (const c of counts) counted.set(c.status, (counted.get(c.status) ?? 0) + c.count);
  const open: StatusBar[] = OPEN_STATUSES.map((status) => ({ status, count: counted.get(status) ?? 0 }));
  const others = [...counted.entries()]
    .filter(([status]) => !(OPEN_STATUSES as readonly ServiceRequestStatus[]).includes(status))
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => ({ status, count }));
  return [...open, ...others];
}

export interface AgeBar {
  minHours: number;
  /** 0: no upper bound. */
  maxHours: number;
  count: number;
}

/** The server's bands, with any of the known ones it left out as 0, youngest first. */
export function byAge(counts: readonly AgeCount[]): AgeBar[] {
  const bands = new Map<string, AgeBar>();
  for (const [minHours, maxHours] of AGE_BANDS) bands.set(`${minHours}-${maxHours}`, { minHours, maxHours, count: 0 });
  for (const c of counts) {
    bands.set(`${c.minAgeHours}-${c.maxAgeHours}`, { minHours: c.minAgeHours, maxHours: c.maxAgeHours, count: c.count });
  }
  return [...bands.values()].sort((a, b) => a.minHours - b.minHours);
}

/**
 * A band as its label says it: in hours when it ends within two days ("under 24 hours"), else in
 * days ("1–3 days", "30 days and more"); `to` absent: no upper bound.
 */
export function ageBandWords(band: Pick<AgeBar, "minHours" | "maxHours">): { unit: "hours" | "days"; from: number; to?: number } {
  if (band.maxHours !== 0 && band.maxHours < 48) return { unit: "hours", from: band.minHours, to: band.maxHours };
  const days = (hours: number) => Math.round((hours / 24) * 10) / 10;
  return band.maxHours === 0 ? { unit: "days", from: days(band.minHours) } : { unit: "days", from: days(band.minHours), to: days(band.maxHours) };
}

/** `met` of `due` as a share between 0 and 1; undefined when nothing was due. */
export function complianceRate(met: number, due: number): number | undefined {
  if (due <= 0) return undefined;
  return Math.min(Math.max(met, 0), due) / due;
}

export interface VillageCompliance {
  village: string;
  due: number;
  met: number;
  rate: number | undefined;
}

/** Villages worst first (those with nothing due last), ties by code. */
export function complianceByVillage(rows: readonly VillageSlaCompliance[]): VillageCompliance[] {
  return rows
    .map((r) => ({ village: r.village?.code ?? "", due: r.due, met: r.met, rate: complianceRate(r.met, r.due) }))
    .sort((a, b) => {
      if (a.rate === undefined || b.rate === undefined) {
        if (a.rate !== b.rate) return a.rate === undefined ? 1 : -1;
      } else if (a.rate !== b.rate) {
        return a.rate - b.rate;
      }
      return a.village.localeCompare(b.village);
    });
}

/** All villages together: what was due, what was met, and the share. */
export function overallCompliance(rows: readonly VillageSlaCompliance[]): { due: number; met: number; rate: number | undefined } {
  const due = rows.reduce((sum, r) => sum + r.due, 0);
  const met = rows.reduce((sum, r) => sum + Math.min(r.met, r.due), 0);
  return { due, met, rate: complianceRate(met, due) };
}

export interface DayBar {
  /** YYYY-MM-DD, China time. */
  day: string;
  count: number;
}

/** New requests per day, oldest first. */
export function byDay(days: readonly DayCount[]): DayBar[] {
  return days
    .filter((d) => d.date)
    .map((d) => ({ day: isoDay(d.date?.year ?? 0, d.date?.month ?? 0, d.date?.day ?? 0), count: d.count }))
    .sort((a, b) => a.day.localeCompare(b.day));
}

export function sum(values: readonly { count: number }[]): number {
  return values.reduce((total, v) => total + v.count, 0);
}

// ----- The range of days -----------------------------------------------------------------------

/** First and last day included, YYYY-MM-DD, China time. */
export interface DayRange {
  from: string;
  to: string;
}

function isoDay(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** YYYY-MM-DD of a real calendar day, as [year, month, day]; undefined otherwise. */
function parseDay(text: string | null): [number, number, number] | undefined {
  const m = text ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(text) : null;
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? [year, month, day] : undefined;
}

/** Today in China (the server counts days in China time, whatever the official's computer says). */
export function chinaToday(now: Date): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(now);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return isoDay(part("year"), part("month"), part("day"));
}

export function addDays(day: string, n: number): string {
  const [year, month, date] = parseDay(day) ?? [1970, 1, 1];
  const moved = new Date(Date.UTC(year, month - 1, date + n));
  return isoDay(moved.getUTCFullYear(), moved.getUTCMonth() + 1, moved.getUTCDate());
}

/** Days from `from` to `to`, both included. */
export function rangeDays(range: DayRange): number {
  const [a, b] = [parseDay(range.from), parseDay(range.to)];
  if (!a || !b) return 0;
  return Math.round((Date.UTC(b[0], b[1] - 1, b[2]) - Date.UTC(a[0], a[1] - 1, a[2])) / 86_400_000) + 1;
}

/** The last 7 days up to today (what the server counts when no range is sent). */
export function defaultRange(now: Date): DayRange {
  const to = chinaToday(now);
  return { from: addDays(to, -6), to };
}

/**
 * The range the address bar asks for (`from`, `to`) when it is one the server accepts (real days,
 * in order, at most 92 of them), else the default.
 */
export function rangeFromParams(from: string | null, to: string | null, now: Date): DayRange {
  if (!parseDay(from) || !parseDay(to)) return defaultRange(now);
  const range = { from: from as string, to: to as string };
  const days = rangeDays(range);
  return days >= 1 && days <= MAX_RANGE_DAYS ? range : defaultRange(now);
}

/** The range as the contract's DateRange. */
export function toDateRange(range: DayRange): MessageInitShape<typeof DateRangeSchema> {
  const date = (day: string) => {
    const [year, month, date] = parseDay(day) ?? [0, 0, 0];
    return { year, month, day: date };
  };
  return { startDate: date(range.from), endDate: date(range.to) };
}
