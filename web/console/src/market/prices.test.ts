import { create } from "@bufbuild/protobuf";
import { AdminCodeSchema, AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { CategorySchema } from "@terrace/api/gen/terrace/market/v1/listings_pb";
import { describe, expect, it } from "vitest";
import { categoryGroups, kindsOf, widened, windowFrom } from "./prices";

const category = (id: string, parentId: string, sortOrder: number) => create(CategorySchema, { id, parentId, sortOrder });

describe("the price reference screen's helpers", () => {
  const taxonomy = [
    category("fruit.pear", "fruit", 2),
    category("vegetable", "", 2),
    category("fruit", "", 1),
    category("fruit.apple", "fruit", 1),
    category("vegetable.cabbage", "vegetable", 1),
  ];

  it("lists the groups and one group's kinds in their display order", () => {
    expect(categoryGroups(taxonomy).map((c) => c.id)).toEqual(["fruit", "vegetable"]);
    expect(kindsOf(taxonomy, "fruit").map((c) => c.id)).toEqual(["fruit.apple", "fruit.pear"]);
    expect(kindsOf(taxonomy, "grain")).toEqual([]);
  });

  it("tells a widened answer from the area asked", () => {
    const county = create(AdminCodeSchema, { code: "330523000000", level: AdminLevel.COUNTY });
    const city = create(AdminCodeSchema, { code: "330500000000", level: AdminLevel.CITY });
    expect(widened(county, city)).toBe(true);
    expect(widened(county, county)).toBe(false);
    expect(widened(undefined, city)).toBe(false);
  });

  it("reads the window from the address bar, 30 days unless it is one offered", () => {
    expect(windowFrom("90")).toBe(90);
    expect(windowFrom("365")).toBe(365);
    expect(windowFrom("7")).toBe(30);
    expect(windowFrom(null)).toBe(30);
    expect(windowFrom("abc")).toBe(30);
  });
});
