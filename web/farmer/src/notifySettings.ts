import type { Preferences } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { Channel, NotificationCategory } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { minutesOfTime, timeOfMinutes } from "@terrace/api/preferences";

export { minutesOfTime, timeOfMinutes };

/** What the phone's 提醒设置 screen changes: texts about orders and requests, and quiet nights. */
export interface SettingsDraft {
  ordersBySms: boolean;
  requestsBySms: boolean;
  quiet: boolean;
  /** "HH:MM", local to the person's time zone. */
  quietStart: string;
  quietEnd: string;
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
