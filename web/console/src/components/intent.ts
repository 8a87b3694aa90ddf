import { Code, describeError, newRequestId } from "@terrace/api";
import { useRef } from "react";

/** Failures after which the same request may be sent again unchanged, under the same request id. */
export const TRANSIENT = new Set([Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Canceled]);

/**
 * The request id of one user intent: kept when it is retried after a network failure (so a lost
 * answer cannot do it twice), renewed after any answer from the server.
 */
export function useRequestId() {
  const ref = useRef(newRequestId());
  return {
    get: () => ref.current,
    answered: (err?: unknown) => {
      if (err === undefined || !TRANSIENT.has(describeError(err).code)) {
        ref.current = newRequestId();
      }
    },
  };
}
