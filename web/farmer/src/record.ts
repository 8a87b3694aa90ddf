import type { Actor } from "@terrace/api/gen/terrace/common/v1/actor_pb";
import type { Date as CalendarDate } from "@terrace/api/gen/terrace/common/v1/date_pb";

/** A calendar date as ISO 8601 (1985-03-12), the same in both languages; "" when unset. */
export function dateText(date: CalendarDate | undefined): string {
  if (!date || date.year === 0) return "";
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  return `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}

/**
 * Who looked at a villager's record, as the app can say it: themself; someone by the name the
 * server recorded; otherwise the end of their account number (a villager cannot look other
 * people's accounts up, and the log records an official by account).
 */
export type Looker =
  | { kind: "me" }
  | { kind: "named"; name: string }
  | { kind: "account"; tail: string }
  | { kind: "system"; what: string };

export function looker(actor: Actor | undefined, myUserId: string | undefined): Looker {
  if (!actor) return { kind: "system", what: "" };
  if (actor.userId && actor.userId === myUserId) return { kind: "me" };
  if (actor.displayName) return { kind: "named", name: actor.displayName };
  if (actor.userId) return { kind: "account", tail: actor.userId.slice(-8) };
  return { kind: "system", what: actor.systemComponent || actor.agencyClientId };
}

/**
 * The name of the file "download my data" saves: `terrace-my-data-YYYY-MM-DD.json`, the day of
 * the export in China (the server's export time, not the phone's clock, which is often off).
 */
export function myDataFileName(exportTime: Date): string {
  const day = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" }).format(
    exportTime,
  );
  return `terrace-my-data-${day}.json`;
}
