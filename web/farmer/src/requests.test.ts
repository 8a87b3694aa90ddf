import { ServiceRequestStatus as S } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { describe, expect, it } from "vitest";
import { canRate, canReopen, fitWithin, myVillage } from "./requests";

describe("requests on the phone", () => {
  it("file in the village of the account's resident or farmer grant", () => {
    expect(myVillage([{ role: "buyer", scope: "330523" }, { role: "farmer", scope: "330523108204" }])).toBe("330523108204");
    expect(myVillage([{ role: "village_official", scope: "330523108204" }])).toBeUndefined();
    expect(myVillage(undefined)).toBeUndefined();
  });

  it("photos shrink to 1600 px on their longer side, never grow", () => {
    expect(fitWithin(4000, 3000)).toEqual({ width: 1600, height: 1200 });
    expect(fitWithin(3000, 4000)).toEqual({ width: 1200, height: 1600 });
    expect(fitWithin(800, 600)).toEqual({ width: 800, height: 600 });
  });

  it("rating after resolution, once; reopening while resolved, within the window", () => {
    const now = new Date("2026-12-04T12:00:00Z");
    expect(canRate(S.RESOLVED, 0)).toBe(true);
    expect(canRate(S.CLOSED, 0)).toBe(true);
    expect(canRate(S.RESOLVED, 4)).toBe(false);
    expect(canRate(S.IN_PROGRESS, 0)).toBe(false);
    expect(canReopen(S.RESOLVED, new Date("2026-12-10T00:00:00Z"), now)).toBe(true);
    expect(canReopen(S.RESOLVED, new Date("2026-12-01T00:00:00Z"), now)).toBe(false);
    expect(canReopen(S.CLOSED, undefined, now)).toBe(false);
  });
});
