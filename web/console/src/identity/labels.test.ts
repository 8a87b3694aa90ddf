import { AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { describe, expect, it } from "vitest";
import { adminCodeFromDigits } from "./labels";

describe("adminCodeFromDigits", () => {
  it.each([
    ["110101001001", AdminLevel.VILLAGE],
    ["110101001000", AdminLevel.TOWNSHIP],
    ["110101000000", AdminLevel.COUNTY],
    ["110100000000", AdminLevel.CITY],
    ["110000000000", AdminLevel.PROVINCE],
    ["000000000000", AdminLevel.COUNTRY],
    ["1101", AdminLevel.UNSPECIFIED],
  ])("%s", (code, level) => {
    expect(adminCodeFromDigits(code)).toEqual({ code, level });
  });
});
