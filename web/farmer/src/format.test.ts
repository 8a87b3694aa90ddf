import { create } from "@bufbuild/protobuf";
import { MoneySchema } from "@terrace/api/gen/terrace/common/v1/money_pb";
import { describe, expect, it } from "vitest";
import { formatter } from "./format";

describe("formatter", () => {
  it("writes money as the chosen language does", () => {
    const price = create(MoneySchema, { amountMinor: 880n, currencyCode: "CNY" });
    expect(formatter("zh-CN").money(price)).toBe("¥8.80");
    expect(formatter("en").money(price)).toBe("CN¥8.80");
    expect(formatter("en").money(undefined)).toBe("");
  });
});
