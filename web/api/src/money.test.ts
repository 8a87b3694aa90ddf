import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MoneySchema } from "./gen/terrace/common/v1/money_pb";
import { decimal, formatMoney } from "./money";

const cny = (amountMinor: bigint) => create(MoneySchema, { amountMinor, currencyCode: "CNY" });

describe("formatMoney", () => {
  it("shows yuan with the sign each language uses: ¥ in Chinese, CN¥ in English", () => {
    expect(formatMoney(cny(123450n), "zh-CN")).toBe("¥1,234.50");
    expect(formatMoney(cny(123450n), "en")).toBe("CN¥1,234.50");
  });

  it("keeps fen exact: small, negative and beyond a double's integers", () => {
    expect(formatMoney(cny(5n), "zh-CN")).toBe("¥0.05");
    expect(formatMoney(cny(-5n), "zh-CN")).toBe("-¥0.05");
    expect(formatMoney(cny(0n), "en")).toBe("CN¥0.00");
    // 2^53 + 1 fen: a double would round it to ...992.
    expect(formatMoney(cny(9_007_199_254_740_993n), "zh-CN")).toBe("¥90,071,992,547,409.93");
  });

  it("uses each currency's own decimals", () => {
    expect(formatMoney(create(MoneySchema, { amountMinor: 1500n, currencyCode: "JPY" }), "en")).toBe("¥1,500");
    expect(formatMoney(create(MoneySchema, { amountMinor: 1234n, currencyCode: "USD" }), "en")).toBe("$12.34");
  });

  it("formats nothing as empty and an unknown code after the number, without throwing", () => {
    expect(formatMoney(undefined, "zh-CN")).toBe("");
    expect(formatMoney(create(MoneySchema, { amountMinor: 123456n, currencyCode: "" }), "en")).toBe("1,234.56");
    expect(formatMoney(create(MoneySchema, { amountMinor: 1234n, currencyCode: "rmb" }), "en")).toBe("12.34 rmb");
  });
});

describe("decimal", () => {
  it("places the point by the currency's digits", () => {
    expect(decimal(123450n, 2)).toBe("1234.50");
    expect(decimal(-7n, 3)).toBe("-0.007");
    expect(decimal(42n, 0)).toBe("42");
  });
});
