import { GovernanceService } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { RequestChannel } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { MarketService } from "@terrace/api/gen/terrace/market/v1/market_service_pb";
import type { Sender } from "./outbox";
import { session } from "./session";

/** How each kind of outbox item is sent (loaded with the first round or the first form that sends). */

export const governance = session.client(GovernanceService);
export const market = session.client(MarketService);

/** A service request as the outbox keeps it (kind `request`). */
export interface RequestDraft {
  typeId: string;
  villageCode: string;
  description: string;
  address: string;
  point?: { latitude: number; longitude: number };
  fieldValues: Record<string, string>;
}

/** Produce for sale as the outbox keeps it (kind `listing`): amounts as decimal strings of their integers. */
export interface ListingDraft {
  categoryId: string;
  title: string;
  villageCode: string;
  unit: number;
  stockedMilli: string;
  unitPriceFen: string;
  fulfilmentMethods: number[];
}

export const requestSender: Sender<RequestDraft> = {
  upload: async (requestId, jpeg) => {
    const answer = await governance.uploadPhoto({ requestId, content: jpeg, contentType: "image/jpeg" });
    return answer.photo?.id ?? "";
  },
  create: async (item, photoIds) => {
    const draft = item.payload;
    const answer = await governance.createServiceRequest({
      requestId: item.requestId,
      serviceRequest: {
        typeId: draft.typeId,
        villageCode: draft.villageCode,
        description: draft.description,
        location: draft.address || draft.point ? { address: draft.address, point: draft.point } : undefined,
        photos: photoIds.map((id) => ({ id })),
        fieldValues: draft.fieldValues,
        channel: RequestChannel.APP,
      },
    });
    return { id: answer.serviceRequest?.id ?? "" };
  },
};

/** CreateListing, published at once (`publish: true`), under the request id made when she pressed sell. */
export const listingSender: Sender<ListingDraft> = {
  upload: async (requestId, jpeg) => {
    const answer = await market.uploadPhoto({ requestId, content: jpeg, contentType: "image/jpeg" });
    return answer.photo?.id ?? "";
  },
  create: async (item, photoIds) => {
    const draft = item.payload;
    const answer = await market.createListing({
      requestId: item.requestId,
      publish: true,
      listing: {
        categoryId: draft.categoryId,
        title: { translations: { "zh-CN": draft.title } },
        villageCode: draft.villageCode,
        stocked: { valueMilli: BigInt(draft.stockedMilli), unit: draft.unit },
        unitPrice: { amountMinor: BigInt(draft.unitPriceFen), currencyCode: "CNY" },
        fulfilmentMethods: draft.fulfilmentMethods,
        photos: photoIds.map((id) => ({ id })),
      },
    });
    return { id: answer.listing?.id ?? "" };
  },
};

export const senders = { request: requestSender, listing: listingSender } as Record<string, Sender<never>>;
