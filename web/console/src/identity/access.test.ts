import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AdminCodeSchema, AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { Role, RoleGrantSchema } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { describe, expect, it } from "vitest";
import {
  areaSuggestions,
  endOfChinaDay,
  grantsFromClaims,
  ownAreas,
  registerScreensFor,
  requestScreensFor,
  roleFromClaim,
  scopePrefix,
  screensFor,
  startOfChinaDay,
  withinAreas,
} from "./access";

const code = (c: string, level = AdminLevel.UNSPECIFIED) => create(AdminCodeSchema, { code: c, level });
const grant = (role: Role, c: string) => create(RoleGrantSchema, { role, scope: code(c) });

describe("screensFor", () => {
  it("gives a villager only their sessions", () => {
    expect(screensFor([Role.RESIDENT, Role.FARMER])).toEqual(["sessions"]);
  });
  it("gives officials the area screens", () => {
    expect(screensFor([Role.VILLAGE_OFFICIAL])).toEqual(["people", "grants", "consents", "sessions"]);
  });
  it("gives county admins agencies and the audit log", () => {
    expect(screensFor([Role.COUNTY_ADMIN])).toEqual(["people", "grants", "consents", "agencies", "sessions", "audit"]);
  });
});

describe("requestScreensFor", () => {
  it("offers the inbox and the dashboard to officials and the catalogue to those who may define types", () => {
    expect(requestScreensFor([Role.VILLAGE_OFFICIAL])).toEqual(["inbox", "dashboard"]);
    expect(requestScreensFor([Role.TOWNSHIP_OFFICIAL])).toEqual(["inbox", "dashboard", "types"]);
    expect(requestScreensFor([Role.COUNTY_ADMIN])).toEqual(["inbox", "dashboard", "types"]);
    expect(requestScreensFor([Role.FARMER, Role.RESIDENT])).toEqual([]);
  });
});

describe("registerScreensFor", () => {
  it("gives officials the register, its claims and the divisions, and admins the audit chain too", () => {
    expect(registerScreensFor([Role.VILLAGE_OFFICIAL, Role.TOWNSHIP_OFFICIAL])).toEqual(["households", "claims", "divisions"]);
    expect(registerScreensFor([Role.RESIDENT, Role.COUNTY_ADMIN])).toEqual(["households", "claims", "divisions", "chain"]);
    expect(registerScreensFor([Role.PLATFORM_ADMIN])).toEqual(["households", "claims", "divisions", "chain"]);
  });
  it("gives villagers and buyers none", () => {
    expect(registerScreensFor([Role.RESIDENT, Role.FARMER, Role.BUYER, Role.DIGITAL_HELPER])).toEqual([]);
  });
});

describe("roleFromClaim", () => {
  it("reads snake_case claims", () => {
    expect(roleFromClaim("village_official")).toBe(Role.VILLAGE_OFFICIAL);
    expect(roleFromClaim("county_admin")).toBe(Role.COUNTY_ADMIN);
    expect(roleFromClaim("nonsense")).toBe(Role.UNSPECIFIED);
  });
});

describe("scopePrefix", () => {
  it.each([
    ["330523101001", AdminLevel.VILLAGE, "330523101001"],
    ["330523101000", AdminLevel.TOWNSHIP, "330523101"],
    ["330523000000", AdminLevel.COUNTY, "330523"],
    ["330500000000", AdminLevel.CITY, "3305"],
    ["330000000000", AdminLevel.PROVINCE, "33"],
    ["000000000000", AdminLevel.COUNTRY, ""],
  ])("%s", (c, level, prefix) => {
    expect(scopePrefix(code(c, level))).toBe(prefix);
    expect(scopePrefix(code(c))).toBe(prefix); // level read from the padding
  });
});

describe("ownAreas", () => {
  it("keeps official areas once, the covering one absorbing those inside", () => {
    const areas = ownAreas([
      grant(Role.RESIDENT, "330523101001"),
      grant(Role.VILLAGE_OFFICIAL, "330523101001"),
      grant(Role.TOWNSHIP_OFFICIAL, "330523101000"),
      grant(Role.VILLAGE_OFFICIAL, "330523102003"),
      grant(Role.VILLAGE_OFFICIAL, "330523101001"),
    ]);
    expect(areas.map((a) => a.code)).toEqual(["330523101000", "330523102003"]);
  });
  it("is empty without grants", () => {
    expect(ownAreas(undefined)).toEqual([]);
  });
});

describe("withinAreas and areaSuggestions", () => {
  const areas = [code("330523101000"), code("330523102003")];
  it("checks a code against the areas' prefixes", () => {
    expect(withinAreas("330523101005", areas)).toBe(true);
    expect(withinAreas("330523102003", areas)).toBe(true);
    expect(withinAreas("330523102004", areas)).toBe(false);
    expect(withinAreas("anything", [code("000000000000")])).toBe(true);
  });
  it("offers own areas for a short prefix", () => {
    expect(areaSuggestions("", areas)).toEqual(["330523101000", "330523102003"]);
    expect(areaSuggestions("3305231", areas)).toEqual(["330523101000", "330523102003"]);
  });
  it("pads a deeper prefix inside an area", () => {
    expect(areaSuggestions("3305231010", areas)).toEqual(["330523101000"]);
    expect(areaSuggestions("330523101007", areas)).toEqual(["330523101007"]);
    expect(areaSuggestions("4401", areas)).toEqual([]);
  });
});

describe("China days", () => {
  it("ends a day at 23:59:59 +08:00", () => {
    expect(timestampDate(endOfChinaDay(2027, 6, 30)).toISOString()).toBe("2027-06-30T15:59:59.000Z");
  });
  it("starts a day at 00:00 +08:00", () => {
    expect(timestampDate(startOfChinaDay(2027, 1, 1)).toISOString()).toBe("2026-12-31T16:00:00.000Z");
  });
});

describe("grantsFromClaims", () => {
  it("reads roles and scope prefixes from token claims", () => {
    const grants = grantsFromClaims([
      { role: "county_admin", scope: "330523" },
      { role: "platform_admin", scope: "" },
    ]);
    expect(grants.map((g) => [g.role, g.scope?.code, g.scope?.level])).toEqual([
      [Role.COUNTY_ADMIN, "330523000000", AdminLevel.COUNTY],
      [Role.PLATFORM_ADMIN, "000000000000", AdminLevel.COUNTRY],
    ]);
  });
});
