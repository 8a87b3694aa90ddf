import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RequestFieldDefinitionSchema, RequestFieldType as K } from "./gen/terrace/governance/v1/service_requests_pb";
import { checkFieldValue, checkFieldValues, compareDecimals, fieldValueKey, isDecimal } from "./requestFields";

const def = (init: Parameters<typeof create<typeof RequestFieldDefinitionSchema>>[1]) => create(RequestFieldDefinitionSchema, init);
const options = [{ value: "water" }, { value: "road" }, { value: "light" }];

describe("extra field values, as the server checks them", () => {
  it("decimals are written plainly and compared exactly", () => {
    expect(["3", "-2.5", "0.10", "99"].every(isDecimal)).toBe(true);
    expect(["1e3", " 3", "3.", ".5", "+1", "", "1".repeat(33)].some(isDecimal)).toBe(false);
    expect(compareDecimals("99.5", "100")).toBe(-1);
    expect(compareDecimals("-1", "-0.5")).toBe(-1);
    expect(compareDecimals("0.10", "0.1")).toBe(0);
    expect(compareDecimals("-0", "0")).toBe(0);
    expect(compareDecimals("12345678901234567890.1", "12345678901234567890")).toBe(1);
  });

  it("each kind accepts its written form and says what is wrong otherwise", () => {
    const number = def({ type: K.NUMBER, minValue: "1", maxValue: "99" });
    expect(checkFieldValue(number, " 7 ")).toEqual({ value: "7" });
    expect(checkFieldValue(number, "0.5")).toEqual({ problem: "min", limit: "1" });
    expect(checkFieldValue(number, "100")).toEqual({ problem: "max", limit: "99" });
    expect(checkFieldValue(number, "seven")).toEqual({ problem: "number" });
    const text = def({ type: K.TEXT, maxLength: 4, pattern: "\\d+" });
    expect(checkFieldValue(text, "123")).toEqual({ value: "123" });
    expect(checkFieldValue(text, "12a")).toEqual({ problem: "pattern" });
    expect(checkFieldValue(text, "12345")).toEqual({ problem: "tooLong", limit: "4" });
    expect(checkFieldValue(def({ type: K.BOOLEAN }), "yes")).toEqual({ problem: "boolean" });
    expect(checkFieldValue(def({ type: K.DATE }), "2026-02-30")).toEqual({ problem: "date" });
    expect(checkFieldValue(def({ type: K.DATE }), "2026-12-04")).toEqual({ value: "2026-12-04" });
    expect(checkFieldValue(def({ type: K.DATETIME }), "2026-12-04T09:30:00+08:00")).toEqual({ value: "2026-12-04T09:30:00+08:00" });
    expect(checkFieldValue(def({ type: K.DATETIME }), "2026-12-04 09:30")).toEqual({ problem: "datetime" });
    expect(checkFieldValue(def({ type: K.CHOICE, options }), "road")).toEqual({ value: "road" });
    expect(checkFieldValue(def({ type: K.CHOICE, options }), "sky")).toEqual({ problem: "choice" });
    const multi = def({ type: K.MULTI_CHOICE, options, maxChoices: 2 });
    expect(checkFieldValue(multi, '["water","road"]')).toEqual({ value: '["water","road"]' });
    expect(checkFieldValue(multi, '["water","water"]')).toEqual({ problem: "choice" });
    expect(checkFieldValue(multi, '["water","road","light"]')).toEqual({ problem: "maxChoices", limit: "2" });
    expect(checkFieldValue(def({ type: K.PHONE }), "138 0013 8000")).toEqual({ value: "+8613800138000" });
    expect(checkFieldValue(def({ type: K.PHONE }), "12345")).toEqual({ problem: "phone" });
  });

  it("required fields need a value; empty optional ones are left out", () => {
    const definitions = [def({ key: "a", type: K.TEXT, required: true }), def({ key: "b", type: K.MULTI_CHOICE, options }), def({ key: "c", type: K.NUMBER })];
    expect(checkFieldValues(definitions, { a: " ", b: "[]", c: "3" })).toEqual({ values: { c: "3" }, problems: { a: { problem: "required" } } });
  });

  it("reads the key out of the server's violation path", () => {
    expect(fieldValueKey('service_request.field_values["well_number"]')).toBe("well_number");
    expect(fieldValueKey("service_request.description")).toBeUndefined();
  });
});
