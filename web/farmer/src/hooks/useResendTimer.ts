import { useEffect, useState } from "react";
import { resendAtFromDelay, resendAtFromRetryTime, secondsLeft } from "../countdown";

/**
 * The "send code again in N s" countdown of the login and sign-up screens: started from the
 * server's retry time after a code was sent, or from RetryInfo's delay after a refusal.
 */
export function useResendTimer() {
  const [resendAt, setResendAt] = useState(0);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    if (resendAt <= now) {
      return;
    }
    const timer = setTimeout(() => setNow(Date.now()), 1000);
    return () => clearTimeout(timer);
  }, [resendAt, now]);

  return {
    /** Whole seconds until another code may be asked for; 0 when it may. */
    wait: secondsLeft(resendAt, now),
    /** A code was sent; `retryAtMs` is the server's retry time, if it said. */
    sent(retryAtMs: number | undefined) {
      const sentAt = Date.now();
      setResendAt(resendAtFromRetryTime(retryAtMs, sentAt));
      setNow(sentAt);
    },
    /** The server refused for now, with RetryInfo's delay. */
    refused(retryAfterMs: number) {
      const at = Date.now();
      setResendAt(resendAtFromDelay(retryAfterMs, at));
      setNow(at);
    },
  };
}
