import { clone } from "@bufbuild/protobuf";
import { Channel, TemplateSchema, VariableType } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { blankTemplate, newText, templateMask, typedValue } from "./templates";

describe("typedValue", () => {
  it("reads money in yuan, quantities in 斤, to the exact minor unit", () => {
    expect(typedValue(VariableType.MONEY, "3.5")?.value).toMatchObject({ case: "moneyValue", value: { amountMinor: 350n, currencyCode: "CNY" } });
    expect(typedValue(VariableType.MONEY, "3.555")).toBeUndefined();
    expect(typedValue(VariableType.QUANTITY, "12.25")?.value).toMatchObject({ case: "quantityValue", value: { valueMilli: 12250n } });
  });

  it("reads dates and China's clock times", () => {
    expect(typedValue(VariableType.DATE, "2026-12-08")?.value).toMatchObject({ case: "dateValue", value: { year: 2026, month: 12, day: 8 } });
    expect(typedValue(VariableType.DATE, "12/08/2026")).toBeUndefined();
    const at = typedValue(VariableType.TIMESTAMP, "2026-12-08 08:30");
    expect(at?.value.case).toBe("timestampValue");
    if (at?.value.case === "timestampValue") expect(timestampDate(at.value.value).toISOString()).toBe("2026-12-08T00:30:00.000Z");
  });

  it("leaves out what is empty or not of the type", () => {
    expect(typedValue(VariableType.STRING, "  ")).toBeUndefined();
    expect(typedValue(VariableType.INTEGER, "12a")).toBeUndefined();
    expect(typedValue(VariableType.BOOLEAN, "是")?.value).toEqual({ case: "booleanValue", value: true });
    expect(typedValue(VariableType.URL, "https://example.org")?.value).toEqual({ case: "stringValue", value: "https://example.org" });
  });
});

describe("templateMask", () => {
  it("names only what changed", () => {
    const before = blankTemplate();
    const after = clone(TemplateSchema, before);
    expect(templateMask(before, after)).toEqual([]);
    const first = after.contents[0];
    if (first) first.body = "{{ area }}停水";
    after.contents.push(newText("en", Channel.IN_APP));
    after.description = "停水通知";
    expect(templateMask(before, after)).toEqual(["description", "contents"]);
  });
});
