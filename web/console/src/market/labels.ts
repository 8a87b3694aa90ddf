import { Unit, type Quantity } from "@terrace/api/gen/terrace/common/v1/quantity_pb";
import { ListingStatus } from "@terrace/api/gen/terrace/market/v1/listings_pb";
import { OrderStatus } from "@terrace/api/gen/terrace/market/v1/orders_pb";
import { formatMilli } from "@terrace/api/quantity";
import type { TFunction } from "i18next";

/** Words for the market's enums and quantities ("12.5 斤"), exact (no floats). */
export const unitLabel = (t: TFunction, unit: Unit) => t(`market.units.${Unit[unit] ?? "UNSPECIFIED"}` as "market.units.JIN");
export const listingStatusLabel = (t: TFunction, s: ListingStatus) => t(`market.listingStatus.${ListingStatus[s] ?? "UNSPECIFIED"}` as "market.listingStatus.ACTIVE");
export const orderStatusLabel = (t: TFunction, s: OrderStatus) => t(`market.orderStatus.${OrderStatus[s] ?? "UNSPECIFIED"}` as "market.orderStatus.PENDING");
export const quantityLabel = (t: TFunction, q: Quantity | undefined) => (q ? `${formatMilli(q.valueMilli)} ${unitLabel(t, q.unit)}` : "");

export function localized(value: { translations: Record<string, string> } | undefined, language: string): string {
  const tr = value?.translations ?? {};
  return tr[language] || tr["zh-CN"] || Object.values(tr)[0] || "";
}
