/**
 * When another login code may be asked for, from what the server said.
 *
 * RequestOtp answers `retry_time` (a timestamp by the server's clock); a refusal answers
 * RESOURCE_EXHAUSTED with RetryInfo's delay. Village phones' clocks are often minutes off, so a
 * timestamp is only trusted as far as it is plausible: the wait is kept between `MIN_WAIT_MS`
 * and `MAX_WAIT_MS`, and `DEFAULT_WAIT_MS` when the server did not say.
 */
export const MIN_WAIT_MS = 30_000;
export const MAX_WAIT_MS = 300_000;
export const DEFAULT_WAIT_MS = 60_000;

/** Local time (ms) at which "send code" is offered again after a code was sent. */
export function resendAtFromRetryTime(retryTimeMs: number | undefined, nowMs: number): number {
  if (retryTimeMs === undefined || !Number.isFinite(retryTimeMs)) {
    return nowMs + DEFAULT_WAIT_MS;
  }
  return nowMs + clamp(retryTimeMs - nowMs, MIN_WAIT_MS, MAX_WAIT_MS);
}

/** Local time (ms) after a refusal carrying RetryInfo's delay: a relative wait, trusted as is. */
export function resendAtFromDelay(retryAfterMs: number, nowMs: number): number {
  return nowMs + clamp(retryAfterMs, 0, MAX_WAIT_MS);
}

/** Whole seconds left to wait, rounded up; 0 once the time has come. */
export function secondsLeft(resendAtMs: number, nowMs: number): number {
  return Math.max(0, Math.ceil((resendAtMs - nowMs) / 1000));
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}
