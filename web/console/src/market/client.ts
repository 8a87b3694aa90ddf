import { MarketService } from "@terrace/api/gen/terrace/market/v1/market_service_pb";
import { session } from "../session";

/** The market's screens talk to the market service only. */
export const market = session.client(MarketService);
