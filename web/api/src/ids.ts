import { v7 } from "uuid";

/**
 * A fresh `request_id` for a mutating RPC: a UUIDv7, as proto/README.md asks. Time-ordered, so the
 * server's idempotency table stays append-mostly. Make one per user intent and reuse it when that
 * same intent is retried (a double click, a lost response): that is what makes the retry safe.
 */
export function newRequestId(): string {
  return v7();
}
