import { describe, expect, it } from "vitest";
import {
  DEFAULT_WAIT_MS,
  MAX_WAIT_MS,
  MIN_WAIT_MS,
  resendAtFromDelay,
  resendAtFromRetryTime,
  secondsLeft,
} from "./countdown";

const NOW = 1_800_000_000_000;

describe("resend countdown", () => {
  it("waits until the server's retry time", () => {
    expect(resendAtFromRetryTime(NOW + 60_000, NOW)).toBe(NOW + 60_000);
  });

  it("waits the default when the server gave no time", () => {
    expect(resendAtFromRetryTime(undefined, NOW)).toBe(NOW + DEFAULT_WAIT_MS);
    expect(resendAtFromRetryTime(Number.NaN, NOW)).toBe(NOW + DEFAULT_WAIT_MS);
  });

  it("does not trust a phone clock that is far off", () => {
    // The phone is 10 minutes fast: the retry time is already past by its clock.
    expect(resendAtFromRetryTime(NOW - 540_000, NOW)).toBe(NOW + MIN_WAIT_MS);
    // The phone is an hour slow: the retry time looks an hour away.
    expect(resendAtFromRetryTime(NOW + 3_600_000, NOW)).toBe(NOW + MAX_WAIT_MS);
  });

  it("takes RetryInfo's delay as a relative wait, capped", () => {
    expect(resendAtFromDelay(42_000, NOW)).toBe(NOW + 42_000);
    expect(resendAtFromDelay(-5, NOW)).toBe(NOW);
    expect(resendAtFromDelay(10 * 3_600_000, NOW)).toBe(NOW + MAX_WAIT_MS);
  });

  it("counts whole seconds down to zero", () => {
    const at = NOW + 60_000;
    expect(secondsLeft(at, NOW)).toBe(60);
    expect(secondsLeft(at, NOW + 100)).toBe(60);
    expect(secondsLeft(at, NOW + 59_001)).toBe(1);
    expect(secondsLeft(at, NOW + 60_000)).toBe(0);
    expect(secondsLeft(at, NOW + 61_000)).toBe(0);
  });
});
