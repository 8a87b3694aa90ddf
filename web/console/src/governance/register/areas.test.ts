import { create } from "@bufbuild/protobuf";
import { AdminCodeSchema, AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { describe, expect, it } from "vitest";
import { chosenArea, isVillage, withLevel } from "./areas";

const village = create(AdminCodeSchema, { code: "330523108204", level: AdminLevel.VILLAGE });
const township = create(AdminCodeSchema, { code: "330523108000", level: AdminLevel.TOWNSHIP });

describe("chosenArea", () => {
  it("takes an own area named in the address bar", () => {
    expect(chosenArea("330523108204", [township, village])?.code).toBe("330523108204");
  });
  it("takes a village inside an own area, with its level", () => {
    const area = chosenArea("330523108201", [township]);
    expect(area?.code).toBe("330523108201");
    expect(area?.level).toBe(AdminLevel.VILLAGE);
  });
  it("falls back to the first own area for anything outside them or malformed", () => {
    expect(chosenArea("330523109201", [township])?.code).toBe("330523108000");
    expect(chosenArea("33052", [village])?.code).toBe("330523108204");
    expect(chosenArea(null, [village])?.code).toBe("330523108204");
    expect(chosenArea(null, [])).toBeUndefined();
  });
});

describe("withLevel and isVillage", () => {
  it("read a level from the digits", () => {
    expect(withLevel(create(AdminCodeSchema, { code: "330523000000" })).level).toBe(AdminLevel.COUNTY);
    expect(isVillage("330523108204")).toBe(true);
    expect(isVillage("330523108000")).toBe(false);
  });
});
