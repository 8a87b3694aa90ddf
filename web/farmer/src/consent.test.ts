import { timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { endOf, grantConsentRequest, normalizeUserId, validateConsent, type ConsentForm } from "./consent";

const HELPER = "0190c2d4-1234-7abc-8def-0123456789ab";
const ME = "0190c2d4-0000-7abc-8def-0123456789ab";
const valid: ConsentForm = { helperId: HELPER, scopes: ["market.listings:write"], duration: "month", note: "" };

describe("consent form", () => {
  it("accepts a complete form", () => {
    expect(validateConsent(valid, ME)).toEqual({});
  });

  it("reports every problem at once", () => {
    expect(validateConsent({ helperId: "", scopes: [], duration: undefined, note: "x".repeat(501) }, ME)).toEqual({
      helperId: "helperRequired",
      scopes: "scopesRequired",
      duration: "durationRequired",
      note: "noteTooLong",
    });
  });

  it("takes a helper id as pasted or read out, but not a malformed one or my own", () => {
    expect(validateConsent({ ...valid, helperId: ` ${HELPER.toUpperCase().replace("-7ABC", "-7ABC\n")} ` }, ME)).toEqual({});
    expect(validateConsent({ ...valid, helperId: "13800000002" }, ME).helperId).toBe("helperFormat");
    expect(validateConsent({ ...valid, helperId: ME.toUpperCase() }, ME).helperId).toBe("helperSelf");
  });

  it("counts the note in characters, not UTF-16 units", () => {
    expect(validateConsent({ ...valid, note: "🍎".repeat(500) }, ME)).toEqual({});
  });

  it("normalises user ids", () => {
    expect(normalizeUserId(" 0190C2D4-1234 -7abc-8def-0123456789AB\n")).toBe(HELPER);
  });

  it("ends a consent at most a year after it starts", () => {
    const start = Date.UTC(2028, 1, 29, 12); // a leap day
    for (const duration of ["week", "month", "quarter", "year"] as const) {
      const end = endOf(duration, start);
      expect(end).toBeGreaterThan(start);
      expect(end - start).toBeLessThanOrEqual(365 * 24 * 3_600_000);
    }
    expect(endOf("week", start) - start).toBe(7 * 24 * 3_600_000);
  });

  it("builds the request the contract asks for", () => {
    const now = Date.UTC(2026, 11, 3, 8);
    const request = grantConsentRequest(
      { helperId: HELPER.toUpperCase(), scopes: ["market.listings:write", "market.listings:write"], duration: "week", note: " apples " },
      "req-1",
      now,
    );
    expect(request.requestId).toBe("req-1");
    expect(request.consent?.helperUserId).toBe(HELPER);
    expect(request.consent?.grantorUserId).toBeUndefined(); // the caller is the villager
    expect(request.consent?.startTime).toBeUndefined(); // from now
    expect(request.consent?.scopes).toEqual(["market.listings:write"]);
    expect(request.consent?.note).toBe("apples");
    const endTime = request.consent?.endTime;
    expect(endTime && timestampMs(endTime as Parameters<typeof timestampMs>[0])).toBe(now + 7 * 24 * 3_600_000);
  });
});
