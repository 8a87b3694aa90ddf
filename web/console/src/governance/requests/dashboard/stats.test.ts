import { create } from "@bufbuild/protobuf";
import { AdminCodeSchema, AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import {
  AgeCountSchema,
  DayCountSchema,
  StatusCountSchema,
  VillageSlaComplianceSchema,
} from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { ServiceRequestStatus as S } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { describe, expect, it } from "vitest";
import {
  addDays,
  ageBandWords,
  byAge,
  byDay,
  byStatus,
  chinaToday,
  complianceByVillage,
  complianceRate,
  defaultRange,
  overallCompliance,
  rangeDays,
  rangeFromParams,
  sum,
  toDateRange,
} from "./stats";

const status = (s: S, count: number) => create(StatusCountSchema, { status: s, count });
const age = (minAgeHours: number, maxAgeHours: number, count: number) => create(AgeCountSchema, { minAgeHours, maxAgeHours, count });
const village = (code: string, due: number, met: number) =>
  create(VillageSlaComplianceSchema, { village: create(AdminCodeSchema, { code, level: AdminLevel.VILLAGE }), due, met });

describe("byStatus", () => {
  it("lists every open status in the workflow's order, 0 where the server listed none", () => {
    expect(byStatus([status(S.REOPENED, 2), status(S.SUBMITTED, 5)])).toEqual([
      { status: S.SUBMITTED, count: 5 },
      { status: S.ACKNOWLEDGED, count: 0 },
      { status: S.IN_PROGRESS, count: 0 },
      { status: S.REOPENED, count: 2 },
    ]);
  });
  it("keeps a status it does not know as open after them, and adds repeats", () => {
    const bars = byStatus([status(S.SUBMITTED, 1), status(S.SUBMITTED, 2), status(S.RESOLVED, 3)]);
    expect(bars[0]).toEqual({ status: S.SUBMITTED, count: 3 });
    expect(bars.at(-1)).toEqual({ status: S.RESOLVED, count: 3 });
    expect(sum(bars)).toBe(6);
  });
  it("gives four zeros for nothing", () => {
    expect(byStatus([]).map((b) => b.count)).toEqual([0, 0, 0, 0]);
  });
});

describe("byAge", () => {
  it("fills the bands the server left out with 0, youngest first", () => {
    expect(byAge([age(720, 0, 1), age(24, 72, 4)])).toEqual([
      { minHours: 0, maxHours: 24, count: 0 },
      { minHours: 24, maxHours: 72, count: 4 },
      { minHours: 72, maxHours: 168, count: 0 },
      { minHours: 168, maxHours: 720, count: 0 },
      { minHours: 720, maxHours: 0, count: 1 },
    ]);
  });
  it("keeps a band the server added", () => {
    expect(byAge([age(2160, 0, 1)]).map((b) => b.minHours)).toEqual([0, 24, 72, 168, 720, 2160]);
  });
  it("names bands in hours while they end within two days, else in days", () => {
    expect(ageBandWords({ minHours: 0, maxHours: 24 })).toEqual({ unit: "hours", from: 0, to: 24 });
    expect(ageBandWords({ minHours: 24, maxHours: 72 })).toEqual({ unit: "days", from: 1, to: 3 });
    expect(ageBandWords({ minHours: 72, maxHours: 168 })).toEqual({ unit: "days", from: 3, to: 7 });
    expect(ageBandWords({ minHours: 720, maxHours: 0 })).toEqual({ unit: "days", from: 30 });
    expect(ageBandWords({ minHours: 24, maxHours: 36 })).toEqual({ unit: "hours", from: 24, to: 36 });
    expect(ageBandWords({ minHours: 36, maxHours: 84 })).toEqual({ unit: "days", from: 1.5, to: 3.5 });
  });
});

describe("compliance", () => {
  it("is undefined, not 0 % nor NaN, when nothing was due", () => {
    expect(complianceRate(0, 0)).toBeUndefined();
    expect(complianceRate(3, 0)).toBeUndefined();
    expect(complianceRate(0, 4)).toBe(0);
    expect(complianceRate(3, 4)).toBe(0.75);
  });
  it("never passes 100 %", () => {
    expect(complianceRate(5, 4)).toBe(1);
  });
  it("lists villages worst first, those with nothing due last", () => {
    const rows = complianceByVillage([village("330523108204", 4, 4), village("330523108201", 0, 0), village("330523108202", 4, 1), village("330523108203", 2, 1)]);
    expect(rows.map((r) => [r.village, r.rate])).toEqual([
      ["330523108202", 0.25],
      ["330523108203", 0.5],
      ["330523108204", 1],
      ["330523108201", undefined],
    ]);
  });
  it("adds villages up for the whole area", () => {
    expect(overallCompliance([village("1", 4, 3), village("2", 1, 0)])).toEqual({ due: 5, met: 3, rate: 0.6 });
    expect(overallCompliance([])).toEqual({ due: 0, met: 0, rate: undefined });
  });
});

describe("byDay", () => {
  it("gives each day as YYYY-MM-DD, oldest first", () => {
    const days = byDay([
      create(DayCountSchema, { date: { year: 2026, month: 12, day: 4 }, count: 2 }),
      create(DayCountSchema, { date: { year: 2026, month: 11, day: 30 }, count: 1 }),
    ]);
    expect(days).toEqual([
      { day: "2026-11-30", count: 1 },
      { day: "2026-12-04", count: 2 },
    ]);
  });
});

describe("the range of days", () => {
  it("counts today in China time", () => {
    // 17:00 UTC on 3 December is 01:00 on 4 December in China.
    expect(chinaToday(new Date(Date.UTC(2026, 11, 3, 17)))).toBe("2026-12-04");
    expect(chinaToday(new Date(Date.UTC(2026, 11, 3, 15)))).toBe("2026-12-03");
  });
  it("defaults to the last 7 days up to today", () => {
    const range = defaultRange(new Date(Date.UTC(2026, 2, 2, 4)));
    expect(range).toEqual({ from: "2026-02-24", to: "2026-03-02" });
    expect(rangeDays(range)).toBe(7);
  });
  it("moves across months and years", () => {
    expect(addDays("2026-01-01", -1)).toBe("2025-12-31");
    expect(addDays("2024-02-28", 1)).toBe("2024-02-29");
  });
  it("takes the address bar's range only when the server would", () => {
    const now = new Date(Date.UTC(2026, 11, 4, 4));
    const fallback = { from: "2026-11-28", to: "2026-12-04" };
    expect(rangeFromParams("2026-11-01", "2026-11-30", now)).toEqual({ from: "2026-11-01", to: "2026-11-30" });
    expect(rangeFromParams("2026-12-04", "2026-12-04", now)).toEqual({ from: "2026-12-04", to: "2026-12-04" });
    expect(rangeFromParams(null, null, now)).toEqual(fallback);
    expect(rangeFromParams("2026-12-04", "2026-12-01", now)).toEqual(fallback); // backwards
    expect(rangeFromParams("2026-02-30", "2026-03-01", now)).toEqual(fallback); // no such day
    expect(rangeFromParams("2026-01-01", "2026-04-03", now)).toEqual(fallback); // 93 days
    expect(rangeFromParams("2026-01-01", "2026-04-02", now)).toEqual({ from: "2026-01-01", to: "2026-04-02" }); // 92
  });
  it("is sent as the contract's DateRange", () => {
    expect(toDateRange({ from: "2026-11-28", to: "2026-12-04" })).toEqual({
      startDate: { year: 2026, month: 11, day: 28 },
      endDate: { year: 2026, month: 12, day: 4 },
    });
  });
});
