import { describe, expect, it } from "vitest";
import { changedPaths } from "./edits";

describe("changedPaths", () => {
  const paths = { status: "status", phone: "phone_number", remarks: "remarks", household: "household_id" };
  it("names only the fields that changed, by their proto paths", () => {
    const before = { status: 1, phone: "+8613800000001", remarks: "", household: "h1" };
    expect(changedPaths(before, { ...before }, paths)).toEqual([]);
    expect(changedPaths(before, { ...before, status: 3, household: "h2" }, paths)).toEqual(["status", "household_id"]);
    expect(changedPaths(before, { ...before, phone: "", remarks: "低保户" }, paths)).toEqual(["phone_number", "remarks"]);
  });
});
