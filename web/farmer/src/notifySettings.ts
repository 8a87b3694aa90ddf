import type { Preferences } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { Channel, NotificationCategory } from "@terrace/api/gen/terrace/notify/v1/notify_pb";

/** What the phone's 提醒设置 screen changes: texts about orders and requests, and quiet nights. */
export interface SettingsDraft {
  ordersBySms: boolean;
  requestsBySms: boolean;
  quiet: boolean;
  /** "HH:MM", local to the person's time zone. */
  quietStart: string;
  quietEnd: string;
}

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

function enabled(p: Preferences, category: NotificationCategory, channel: Channel): boolean {
  return p.channelSettings.some((s) => s.category === category && s.channel === channel && s.enabled);
}

/** The screen's values from the server's preferences (every pair filled in). */
export function draftOf(p: Preferences): SettingsDraft {
  return {
    ordersBySms: enabled(p, NotificationCategory.ORDERS, Channel.SMS),
    requestsBySms: enabled(p, NotificationCategory.SERVICE_REQUESTS, Channel.SMS),
    quiet: p.quietHours?.enabled ?? false,
    quietStart: timeOfMinutes(p.quietHours?.startMinute ?? 22 * 60),
    quietEnd: timeOfMinutes(p.quietHours?.endMinute ?? 7 * 60),
  };
}

/**
 * The update the draft makes of `p`: the channel settings replaced whole (the server's, with the
 * two the screen shows changed) and the quiet hours; undefined when a time is not a time.
 */
export function changesOf(p: Preferences, draft: SettingsDraft) {
  const start = minutesOfTime(draft.quietStart);
  const end = minutesOfTime(draft.quietEnd);
  if (start === undefined || end === undefined) return undefined;
  const wanted = (category: NotificationCategory, channel: Channel, on: boolean) =>
    channel === Channel.SMS && category === NotificationCategory.ORDERS
      ? draft.ordersBySms
      : channel === Channel.SMS && category === NotificationCategory.SERVICE_REQUESTS
        ? draft.requestsBySms
        : on;
  return {
    channelSettings: p.channelSettings.map((s) => ({
      category: s.category,
      channel: s.channel,
      enabled: wanted(s.category, s.channel, s.enabled),
    })),
    quietHours: { enabled: draft.quiet, startMinute: start, endMinute: end },
    paths: ["channel_settings", "quiet_hours"],
  };
}
