import { Channel, DeliveryStatus, NotificationCategory } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import type { TFunction } from "i18next";
import { describe, expect, it } from "vitest";
import zhCN from "../locales/zh-CN";
import { categoryLabel, channelLabel, deliveryStatusLabel, FILTERED_STATUSES } from "./labels";

// A t() over the Chinese catalogue, as i18next resolves nested keys.
const t = ((key: string, options?: { defaultValue?: string }) => {
  const value = key.split(".").reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], zhCN);
  return typeof value === "string" ? value : (options?.defaultValue ?? key);
}) as unknown as TFunction;

describe("delivery labels", () => {
  it("names every status, channel and category in Chinese, and colours failures red", () => {
    for (const status of FILTERED_STATUSES) {
      expect(deliveryStatusLabel(t, status).text).not.toMatch(/^[A-Z_]+$/);
    }
    expect(deliveryStatusLabel(t, DeliveryStatus.FAILED)).toEqual({ text: "发送失败", color: "red" });
    expect(channelLabel(t, Channel.SMS)).toBe("短信");
    expect(categoryLabel(t, NotificationCategory.ORDERS)).toBe("订单");
    for (const category of Object.values(NotificationCategory).filter((v): v is number => typeof v === "number" && v > 0)) {
      expect(categoryLabel(t, category)).not.toMatch(/^[A-Z_]+$/);
    }
  });
});
