import { describe, expect, it } from "vitest";
import { fenToYuanText, formatMilli, parseQuantityMilli, parseYuanToFen, totalFen } from "./quantity";

describe("typed amounts", () => {
  it("quantities become thousandths of the unit, exactly", () => {
    expect(parseQuantityMilli("12.5")).toEqual({ ok: true, value: 12500n });
    expect(parseQuantityMilli("200")).toEqual({ ok: true, value: 200000n });
    expect(parseQuantityMilli("0.001")).toEqual({ ok: true, value: 1n });
    expect(parseQuantityMilli(".5")).toEqual({ ok: true, value: 500n });
    expect(parseQuantityMilli("3.")).toEqual({ ok: true, value: 3000n });
    // 0.1 + 0.2 is not 0.30000000000000004 here.
    expect(parseQuantityMilli("0.3")).toEqual({ ok: true, value: 300n });
    expect(parseQuantityMilli(" 1,200 ")).toEqual({ ok: true, value: 1200000n });
    expect(parseQuantityMilli("１２．５")).toEqual({ ok: true, value: 12500n });
    expect(parseQuantityMilli("1.2500")).toEqual({ ok: true, value: 1250n });
    expect(parseQuantityMilli("9007199254740993")).toEqual({ ok: true, value: 9007199254740993000n });
  });

  it("what is not a positive amount with at most three decimals says why", () => {
    expect(parseQuantityMilli("")).toEqual({ ok: false, problem: "required" });
    expect(parseQuantityMilli("abc")).toEqual({ ok: false, problem: "format" });
    expect(parseQuantityMilli("-1")).toEqual({ ok: false, problem: "format" });
    expect(parseQuantityMilli("1e3")).toEqual({ ok: false, problem: "format" });
    expect(parseQuantityMilli("1.2.3")).toEqual({ ok: false, problem: "format" });
    expect(parseQuantityMilli(".")).toEqual({ ok: false, problem: "format" });
    expect(parseQuantityMilli("0")).toEqual({ ok: false, problem: "positive" });
    expect(parseQuantityMilli("0.0001")).toEqual({ ok: false, problem: "precision" });
    expect(parseQuantityMilli("99999999999999999")).toEqual({ ok: false, problem: "tooLarge" });
  });

  it("prices in yuan become fen; a third decimal is refused, not rounded", () => {
    expect(parseYuanToFen("3.8")).toEqual({ ok: true, value: 380n });
    expect(parseYuanToFen("12")).toEqual({ ok: true, value: 1200n });
    expect(parseYuanToFen("0.01")).toEqual({ ok: true, value: 1n });
    expect(parseYuanToFen("1.005")).toEqual({ ok: false, problem: "precision" });
  });

  it("back to what a person reads", () => {
    expect(formatMilli(12500n)).toBe("12.5");
    expect(formatMilli(200000n)).toBe("200");
    expect(formatMilli(1n)).toBe("0.001");
    expect(formatMilli(0n)).toBe("0");
    expect(fenToYuanText(380n)).toBe("3.8");
    expect(fenToYuanText(5n)).toBe("0.05");
  });

  it("an order's total is rounded half-even to the fen, as the server does", () => {
    expect(totalFen(380n, 12500n)).toBe(4750n); // 3.80 × 12.5
    expect(totalFen(333n, 1500n)).toBe(500n); // 499.5 → 500 (to even)
    expect(totalFen(333n, 500n)).toBe(166n); // 166.5 → 166 (to even)
    expect(totalFen(1n, 1n)).toBe(0n);
  });
});

describe("commas in typed amounts", () => {
  it("are thousands separators only where they stand as such; anywhere else the amount is refused, never read ten times too large", () => {
    expect(parseQuantityMilli("1,200")).toEqual({ ok: true, value: 1200000n });
    expect(parseQuantityMilli("1，200.5")).toEqual({ ok: true, value: 1200500n });
    expect(parseYuanToFen("12，5")).toEqual({ ok: false, problem: "format" });
    expect(parseYuanToFen("1,5")).toEqual({ ok: false, problem: "format" });
    expect(parseQuantityMilli("1 2")).toEqual({ ok: false, problem: "format" });
    expect(parseQuantityMilli("12,00")).toEqual({ ok: false, problem: "format" });
  });
});
