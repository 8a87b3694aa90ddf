import { describe, expect, it } from "vitest";
import { describeDivision } from "./describe";

describe("describeDivision", () => {
  it("puts the name first and the places above it after", () => {
    expect(describeDivision("余村村委会", "浙江省 湖州市 安吉县 天荒坪镇 余村村委会")).toBe(
      "余村村委会 · 浙江省 湖州市 安吉县 天荒坪镇",
    );
  });

  it("shows a province by its name alone", () => {
    expect(describeDivision("浙江省", "浙江省")).toBe("浙江省");
  });

  it("keeps the name when the full name does not end with it", () => {
    expect(describeDivision("余村", "浙江省 别处")).toBe("余村");
  });
});
