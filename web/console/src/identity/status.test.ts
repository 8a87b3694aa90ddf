import { UserStatus } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { describe, expect, it } from "vitest";
import { statusActions, statusColor, targetStatus } from "./status";

describe("statusActions", () => {
  it("offers what changes the status", () => {
    expect(statusActions(UserStatus.ACTIVE)).toEqual(["lock", "disable"]);
    expect(statusActions(UserStatus.LOCKED)).toEqual(["unlock", "disable"]);
    expect(statusActions(UserStatus.DISABLED)).toEqual(["enable"]);
    expect(statusActions(UserStatus.UNSPECIFIED)).toEqual([]);
  });
  it("maps actions to statuses", () => {
    expect(targetStatus("lock")).toBe(UserStatus.LOCKED);
    expect(targetStatus("disable")).toBe(UserStatus.DISABLED);
    expect(targetStatus("unlock")).toBe(UserStatus.ACTIVE);
    expect(targetStatus("enable")).toBe(UserStatus.ACTIVE);
  });
  it("colours statuses", () => {
    expect(statusColor(UserStatus.ACTIVE)).toBe("green");
    expect(statusColor(UserStatus.LOCKED)).toBe("orange");
    expect(statusColor(UserStatus.DISABLED)).toBe("red");
  });
});
