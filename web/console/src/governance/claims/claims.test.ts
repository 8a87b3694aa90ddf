import { ResidentClaimStatus } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { describe, expect, it } from "vitest";
import { CLAIM_STATUSES, claimFilter, claimFilterParam, claimStatuses } from "./claims";

describe("claimFilter", () => {
  it("shows what awaits the official unless the address bar says otherwise", () => {
    expect(claimFilter(null)).toBe(ResidentClaimStatus.AWAITING_OFFICIAL);
    expect(claimFilter("")).toBe(ResidentClaimStatus.AWAITING_OFFICIAL);
    expect(claimFilter("nonsense")).toBe(ResidentClaimStatus.AWAITING_OFFICIAL);
    expect(claimFilter("refused")).toBe(ResidentClaimStatus.REFUSED);
    expect(claimFilter("all")).toBe("all");
  });

  it("reads back every filter it writes", () => {
    for (const filter of [...CLAIM_STATUSES, "all" as const]) {
      expect(claimFilter(claimFilterParam(filter))).toBe(filter);
    }
    expect(claimFilterParam(ResidentClaimStatus.AWAITING_OFFICIAL)).toBe("");
    expect(claimFilterParam(ResidentClaimStatus.LAPSED)).toBe("lapsed");
  });
});

describe("claimStatuses", () => {
  it("asks for one status, or for every claim with none", () => {
    expect(claimStatuses(ResidentClaimStatus.CONFIRMED)).toEqual([ResidentClaimStatus.CONFIRMED]);
    expect(claimStatuses("all")).toEqual([]);
  });
});
