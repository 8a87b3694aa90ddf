import { create } from "@bufbuild/protobuf";
import { ActorKind, ActorSchema } from "@terrace/api/gen/terrace/common/v1/actor_pb";
import { DateSchema } from "@terrace/api/gen/terrace/common/v1/date_pb";
import { describe, expect, it } from "vitest";
import { dateText, looker, myDataFileName } from "./record";

const official = "0190c2d4-1234-7abc-8def-0123456789ab";

describe("looker", () => {
  it("names the villager themself", () => {
    expect(looker(create(ActorSchema, { kind: ActorKind.USER, userId: official }), official)).toEqual({ kind: "me" });
  });
  it("uses the name recorded, else the end of the account number", () => {
    expect(looker(create(ActorSchema, { kind: ActorKind.USER, userId: official, displayName: "李建国" }), "x")).toEqual({
      kind: "named",
      name: "李建国",
    });
    expect(looker(create(ActorSchema, { kind: ActorKind.USER, userId: official }), undefined)).toEqual({
      kind: "account",
      tail: "456789ab",
    });
  });
  it("says what a job or an agency was", () => {
    expect(looker(create(ActorSchema, { kind: ActorKind.SYSTEM, systemComponent: "governance.export" }), "x")).toEqual({
      kind: "system",
      what: "governance.export",
    });
  });
});

describe("dateText", () => {
  it("writes a date as ISO 8601, nothing when unset", () => {
    expect(dateText(create(DateSchema, { year: 1985, month: 3, day: 2 }))).toBe("1985-03-02");
    expect(dateText(undefined)).toBe("");
    expect(dateText(create(DateSchema, {}))).toBe("");
  });
});

describe("myDataFileName", () => {
  it("names the file by the export's day in China", () => {
    expect(myDataFileName(new Date("2026-12-03T08:15:30Z"))).toBe("terrace-my-data-2026-12-03.json");
    // 17:30 UTC is already the next day in China.
    expect(myDataFileName(new Date("2026-12-31T17:30:00Z"))).toBe("terrace-my-data-2027-01-01.json");
  });
});
