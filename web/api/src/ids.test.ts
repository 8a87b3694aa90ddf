import { validate, version } from "uuid";
import { describe, expect, it } from "vitest";
import { newRequestId } from "./ids";
import { normalizePhone } from "./phone";

describe("newRequestId", () => {
  it("makes valid UUIDv7s", () => {
    const id = newRequestId();
    expect(validate(id)).toBe(true);
    expect(version(id)).toBe(7);
  });

  it("makes distinct ids that sort by creation", () => {
    const ids = Array.from({ length: 100 }, () => newRequestId());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe("normalizePhone", () => {
  it.each([
    ["13800138000", "+8613800138000"],
    ["138 0013 8000", "+8613800138000"],
    ["138-0013-8000", "+8613800138000"],
    ["+86 138 0013 8000", "+8613800138000"],
    ["008613800138000", "+8613800138000"],
    ["8613800138000", "+8613800138000"],
    ["+14155550123", "+14155550123"],
  ])("%s -> %s", (input, expected) => {
    expect(normalizePhone(input)).toBe(expected);
  });

  it("passes what it cannot read through for the server to refuse", () => {
    expect(normalizePhone(" 12345 ")).toBe("12345");
  });
});
