import { Channel, DeliveryStatus, NotificationCategory } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import type { TFunction } from "i18next";

/** A delivery status in words, and the colour its tag takes. */
export function deliveryStatusLabel(t: TFunction, status: DeliveryStatus): { text: string; color: string } {
  const colors: Partial<Record<DeliveryStatus, string>> = {
    [DeliveryStatus.SENT]: "blue",
    [DeliveryStatus.DELIVERED]: "green",
    [DeliveryStatus.FAILED]: "red",
    [DeliveryStatus.DEFERRED]: "orange",
    [DeliveryStatus.SUPPRESSED]: "default",
  };
  const name = DeliveryStatus[status] ?? "UNSPECIFIED";
  return { text: t(`notify.status.${name}`, { defaultValue: name }), color: colors[status] ?? "processing" };
}

/** A channel in words. */
export function channelLabel(t: TFunction, channel: Channel): string {
  const name = Channel[channel] ?? "UNSPECIFIED";
  return t(`notify.channel.${name}`, { defaultValue: name });
}

/** A category in words. */
export function categoryLabel(t: TFunction, category: NotificationCategory): string {
  const name = NotificationCategory[category] ?? "UNSPECIFIED";
  return t(`notify.category.${name}`, { defaultValue: name });
}

/** The statuses an official filters by, in the order a delivery passes them. */
export const FILTERED_STATUSES = [
  DeliveryStatus.QUEUED,
  DeliveryStatus.DEFERRED,
  DeliveryStatus.SENT,
  DeliveryStatus.DELIVERED,
  DeliveryStatus.FAILED,
  DeliveryStatus.SUPPRESSED,
];
