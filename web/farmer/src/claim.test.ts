import { create } from "@bufbuild/protobuf";
import { Code } from "@terrace/api";
import { ResidentClaimSchema, ResidentClaimStatus } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { describe, expect, it } from "vitest";
import {
  claimFormProblems,
  claimRefusal,
  claimStep,
  cleanNationalId,
  codeProblem,
  villageFromRoles,
  withClaim,
} from "./claim";

const claim = (id: string, status: ResidentClaimStatus) => create(ResidentClaimSchema, { id, status });

describe("claimFormProblems", () => {
  const good = { village: "330523108204", name: "陈国华", nationalId: "33052319721108071x" };

  it("accepts a 12-digit village, a name and an 18-character number ending in X", () => {
    expect(claimFormProblems(good)).toEqual({});
  });

  it("names every empty field at once", () => {
    expect(claimFormProblems({ village: " ", name: "", nationalId: "" })).toEqual({
      village: "villageRequired",
      name: "nameRequired",
      nationalId: "nationalIdRequired",
    });
  });

  it("catches a village code that is not 12 digits and an ID of the wrong shape", () => {
    expect(claimFormProblems({ ...good, village: "330523" }).village).toBe("villageFormat");
    expect(claimFormProblems({ ...good, village: "33052310820a" }).village).toBe("villageFormat");
    expect(claimFormProblems({ ...good, nationalId: "3305231972110807" }).nationalId).toBe("nationalIdFormat");
    expect(claimFormProblems({ ...good, nationalId: "3305231972110807XX" }).nationalId).toBe("nationalIdFormat");
  });
});

describe("cleanNationalId", () => {
  it("drops spaces, writes x as X and stops at 18 characters", () => {
    expect(cleanNationalId("330523 19721108 071x")).toBe("33052319721108071X");
    expect(cleanNationalId("33052319721108071X9")).toBe("33052319721108071X");
  });
});

describe("codeProblem", () => {
  it("wants exactly six digits", () => {
    expect(codeProblem("123456")).toBeUndefined();
    expect(codeProblem("12345")).toBe("codeRequired");
    expect(codeProblem("")).toBe("codeRequired");
  });
});

describe("villageFromRoles", () => {
  it("offers the village of a village-level role, not a county's", () => {
    expect(
      villageFromRoles([
        { role: "buyer", scope: "330523" },
        { role: "resident", scope: "330523108204" },
      ]),
    ).toBe("330523108204");
    expect(villageFromRoles([{ role: "buyer", scope: "330523" }])).toBe("");
    expect(villageFromRoles(undefined)).toBe("");
  });
});

describe("claimRefusal", () => {
  const refusal = (code: Code, reason?: string, retryAfterMs?: number) => claimRefusal({ code, reason, retryAfterMs });

  it("words the refusals the contract names", () => {
    expect(refusal(Code.NotFound)).toBe("notFound");
    expect(refusal(Code.FailedPrecondition, "ACCOUNT_ALREADY_LINKED")).toBe("accountLinked");
    expect(refusal(Code.FailedPrecondition, "RECORD_ALREADY_LINKED")).toBe("recordLinked");
    expect(refusal(Code.FailedPrecondition, "NO_PHONE_ON_RECORD")).toBe("noPhone");
    expect(refusal(Code.FailedPrecondition, "CLAIM_CODE_EXPIRED")).toBe("closed");
    expect(refusal(Code.FailedPrecondition, "CLAIM_TRIES_EXHAUSTED")).toBe("closed");
    expect(refusal(Code.FailedPrecondition, "CLAIM_CLOSED")).toBe("closed");
    expect(refusal(Code.ResourceExhausted)).toBe("tooMany");
  });

  it("leaves the rest to the shared sentence", () => {
    expect(refusal(Code.ResourceExhausted, undefined, 30_000)).toBeUndefined();
    expect(refusal(Code.InvalidArgument)).toBeUndefined();
    expect(refusal(Code.FailedPrecondition, "CLAIM_ALREADY_PROVEN")).toBeUndefined();
    expect(refusal(Code.FailedPrecondition, undefined)).toBeUndefined();
    expect(refusal(Code.Unavailable)).toBeUndefined();
  });
});

describe("claimStep", () => {
  it("follows the newest claim's status", () => {
    expect(claimStep(undefined, false)).toBe("offer");
    expect(claimStep(claim("a", ResidentClaimStatus.AWAITING_CODE), false)).toBe("code");
    expect(claimStep(claim("a", ResidentClaimStatus.AWAITING_OFFICIAL), false)).toBe("waiting");
    expect(claimStep(claim("a", ResidentClaimStatus.CONFIRMED), false)).toBe("confirmed");
    expect(claimStep(claim("a", ResidentClaimStatus.REFUSED), false)).toBe("refused");
    expect(claimStep(claim("a", ResidentClaimStatus.LAPSED), false)).toBe("lapsed");
  });

  it("shows the form when the villager starts again", () => {
    expect(claimStep(claim("a", ResidentClaimStatus.REFUSED), true)).toBe("form");
    expect(claimStep(undefined, true)).toBe("form");
  });
});

describe("withClaim", () => {
  it("puts a new claim first and replaces a known one in place", () => {
    const old = [claim("b", ResidentClaimStatus.LAPSED), claim("a", ResidentClaimStatus.REFUSED)];
    expect(withClaim(old, claim("c", ResidentClaimStatus.AWAITING_CODE)).map((c) => c.id)).toEqual(["c", "b", "a"]);
    const verified = withClaim(old, claim("b", ResidentClaimStatus.AWAITING_OFFICIAL));
    expect(verified.map((c) => [c.id, c.status])).toEqual([
      ["b", ResidentClaimStatus.AWAITING_OFFICIAL],
      ["a", ResidentClaimStatus.REFUSED],
    ]);
  });
});
