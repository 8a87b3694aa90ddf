import { describe, expect, it } from "vitest";
import { checkCharacter, groupNationalId, nationalIdProblem, normalizeNationalId } from "./nationalId";

describe("checkCharacter", () => {
  it("computes GB 11643's check character", () => {
    // The standard's own example.
    expect(checkCharacter("11010519491231002")).toBe("X");
    expect(checkCharacter("44052418800101001")).toBe("4");
    expect(checkCharacter("33052319850312122")).toBe("1");
  });
  it("answers nothing for anything but 17 digits", () => {
    expect(checkCharacter("1101051949123100")).toBeUndefined();
    expect(checkCharacter("1101051949123100X")).toBeUndefined();
  });
});

describe("nationalIdProblem", () => {
  it("accepts a right number, with a lower-case x and spaces", () => {
    expect(nationalIdProblem("110105194912310021".slice(0, 17) + "x")).toBeUndefined();
    expect(nationalIdProblem("330523 19850312 122 1")).toBeUndefined();
  });
  it("names the check character a wrong one should be", () => {
    expect(nationalIdProblem("330523198503121227")).toEqual({ kind: "checkDigit", expected: "1" });
  });
  it("says when the length or the characters are wrong", () => {
    expect(nationalIdProblem("33052319850312")).toEqual({ kind: "length" });
    expect(nationalIdProblem("3305231985031212A7")).toEqual({ kind: "characters" });
  });
});

describe("normalizeNationalId and groupNationalId", () => {
  it("read a number as the server does and group it for reading", () => {
    expect(normalizeNationalId(" 11010519491231002x ")).toBe("11010519491231002X");
    expect(groupNationalId("11010519491231002X")).toBe("110105 19491231 002 X");
    expect(groupNationalId("1234")).toBe("1234");
  });
});
