import { create } from "@bufbuild/protobuf";
import { Channel, NotificationCategory, PreferencesSchema } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { describe, expect, it } from "vitest";
import { changesOf, draftOf, minutesOfTime, timeOfMinutes } from "./notifySettings";

const server = create(PreferencesSchema, {
  channelSettings: [
    { category: NotificationCategory.ORDERS, channel: Channel.SMS, enabled: true },
    { category: NotificationCategory.ORDERS, channel: Channel.IN_APP, enabled: true },
    { category: NotificationCategory.SERVICE_REQUESTS, channel: Channel.SMS, enabled: false },
    { category: NotificationCategory.SECURITY, channel: Channel.SMS, enabled: true },
  ],
  quietHours: { enabled: false, startMinute: 1320, endMinute: 420 },
});

describe("notification settings", () => {
  it("reads times of day both ways and refuses what is not one", () => {
    expect(timeOfMinutes(1320)).toBe("22:00");
    expect(timeOfMinutes(425)).toBe("07:05");
    expect(minutesOfTime("07:05")).toBe(425);
    expect(minutesOfTime("24:00")).toBeUndefined();
    expect(minutesOfTime("7:5")).toBeUndefined();
  });

  it("shows the server's values and sends back every pair with the two it changes", () => {
    const draft = draftOf(server);
    expect(draft).toEqual({ ordersBySms: true, requestsBySms: false, quiet: false, quietStart: "22:00", quietEnd: "07:00" });
    const changes = changesOf(server, { ...draft, ordersBySms: false, quiet: true, quietEnd: "06:30" });
    expect(changes?.paths).toEqual(["channel_settings", "quiet_hours"]);
    expect(changes?.quietHours).toEqual({ enabled: true, startMinute: 1320, endMinute: 390 });
    const sms = (category: NotificationCategory) =>
      changes?.channelSettings.find((s) => s.category === category && s.channel === Channel.SMS)?.enabled;
    expect(sms(NotificationCategory.ORDERS)).toBe(false);
    expect(sms(NotificationCategory.SECURITY)).toBe(true);
    expect(changes?.channelSettings).toHaveLength(4);
    expect(changesOf(server, { ...draft, quietStart: "late" })).toBeUndefined();
  });
});
