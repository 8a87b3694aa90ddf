import { FulfilmentMethod, ListingStatus } from "@terrace/api/gen/terrace/market/v1/listings_pb";
import { OrderStatus } from "@terrace/api/gen/terrace/market/v1/orders_pb";
import { describe, expect, it } from "vitest";
import { buyerActions, canBuy, categoryChips, followTopic, pickCategory, canSell, groupCategories, highlightParts, listingActions, pressIds, priceBucket, sellerActions } from "./market";

describe("the market on the phone", () => {
  it("farmers sell; buyers and farmers buy", () => {
    expect(canSell([{ role: "farmer", scope: "330523108204" }])).toBe(true);
    expect(canSell([{ role: "buyer", scope: "000000000000" }])).toBe(false);
    expect(canBuy([{ role: "buyer", scope: "000000000000" }])).toBe(true);
    expect(canBuy([{ role: "resident", scope: "330523108204" }])).toBe(false);
    expect(canBuy(undefined)).toBe(false);
  });

  it("highlighted titles become text pieces, never markup", () => {
    expect(highlightParts("红富士<em>苹果</em> 5 斤")).toEqual([
      { text: "红富士", em: false },
      { text: "苹果", em: true },
      { text: " 5 斤", em: false },
    ]);
    expect(highlightParts("&lt;script&gt;alert(1)&lt;/script&gt; <em>apple</em>")).toEqual([
      { text: "<script>alert(1)</script> ", em: false },
      { text: "apple", em: true },
    ]);
    expect(highlightParts('<img src=x onerror="x">tea')).toEqual([{ text: "tea", em: false }]);
  });

  it("the seller's next steps follow the listing's and the order's status", () => {
    expect(listingActions(ListingStatus.ACTIVE)).toEqual(["pause", "close"]);
    expect(listingActions(ListingStatus.PAUSED)).toEqual(["publish", "close"]);
    expect(listingActions(ListingStatus.CLOSED)).toEqual([]);
    expect(sellerActions({ status: OrderStatus.PENDING, fulfilmentMethod: FulfilmentMethod.PICKUP })).toEqual(["accept", "decline"]);
    expect(sellerActions({ status: OrderStatus.CONFIRMED, fulfilmentMethod: FulfilmentMethod.PICKUP })).toEqual(["pickedUp", "noShow"]);
    expect(sellerActions({ status: OrderStatus.CONFIRMED, fulfilmentMethod: FulfilmentMethod.DELIVERY })).toEqual(["ship"]);
    expect(sellerActions({ status: OrderStatus.COMPLETED, fulfilmentMethod: FulfilmentMethod.PICKUP })).toEqual([]);
  });

  it("the buyer cancels before the hand-over and confirms receipt after it", () => {
    expect(buyerActions({ status: OrderStatus.PENDING })).toEqual(["cancel"]);
    expect(buyerActions({ status: OrderStatus.PICKED_UP })).toEqual(["complete"]);
    expect(buyerActions({ status: OrderStatus.DECLINED })).toEqual([]);
  });

  it("groups the taxonomy, leaves under their group in order", () => {
    const c = (id: string, parentId: string, sortOrder: number) => ({ id, parentId, sortOrder }) as never;
    const groups = groupCategories([c("fruit.pear", "fruit", 2), c("fruit", "", 1), c("fruit.apple", "fruit", 1), c("empty", "", 0)]);
    expect(groups.map((g) => [g.group.id, g.leaves.map((l) => l.id)])).toEqual([["fruit", ["fruit.apple", "fruit.pear"]]]);
  });

  it("price buckets become ranges in fen per kg", () => {
    expect(priceBucket("500-1000")).toEqual({ min: 500n, max: 1000n });
    expect(priceBucket("-500")).toEqual({ min: undefined, max: 500n });
    expect(priceBucket("2000-")).toEqual({ min: 2000n, max: undefined });
    expect(priceBucket("x")).toBeUndefined();
  });
});

describe("request ids of repeated presses", () => {
  const transient = (err: unknown) => err === "network";
  const counter = () => {
    let n = 0;
    return () => `id-${++n}`;
  };

  it("keeps one id per action and thing until the press is answered", () => {
    const ids = pressIds(counter(), transient);
    const first = ids.idFor("order-1", "accept");
    expect(ids.idFor("order-1", "accept")).toBe(first);
    expect(ids.idFor("order-1", "decline")).not.toBe(first);
    expect(ids.idFor("order-2", "accept")).not.toBe(first);
    ids.settle("order-1", "accept");
    expect(ids.idFor("order-1", "accept")).not.toBe(first);
  });

  it("keeps the id after a lost answer, and forgets it after a definite refusal", () => {
    const ids = pressIds(counter(), transient);
    const first = ids.idFor("listing-1", "pause");
    ids.settle("listing-1", "pause", "network");
    expect(ids.idFor("listing-1", "pause")).toBe(first);
    ids.settle("listing-1", "pause", "FAILED_PRECONDITION");
    expect(ids.idFor("listing-1", "pause")).not.toBe(first);
  });
});

describe("the category facet", () => {
  const parents: Record<string, string> = { "fruit.apple": "fruit", "fruit.pear": "fruit", fruit: "" };
  const parentOf = (id: string) => parents[id];

  it("narrows a chosen group to a kind, lets a pressed chip go, and keeps other choices", () => {
    expect(pickCategory([], "fruit", parentOf)).toEqual(["fruit"]);
    expect(pickCategory(["fruit"], "fruit.apple", parentOf)).toEqual(["fruit.apple"]);
    expect(pickCategory(["fruit.apple"], "fruit.pear", parentOf)).toEqual(["fruit.apple", "fruit.pear"]);
    expect(pickCategory(["fruit.apple", "fruit.pear"], "fruit.apple", parentOf)).toEqual(["fruit.pear"]);
    expect(pickCategory(["tea"], "fruit", parentOf)).toEqual(["tea", "fruit"]);
  });

  it("keeps a chosen category on screen when the server counts the level below it", () => {
    const buckets = [{ value: "fruit.apple", count: 2n }, { value: "fruit.pear", count: 1n }];
    expect(categoryChips(buckets, ["fruit"]).map((c) => c.value)).toEqual(["fruit", "fruit.apple", "fruit.pear"]);
    expect(categoryChips(buckets, ["fruit.apple"]).map((c) => c.value)).toEqual(["fruit.apple", "fruit.pear"]);
    expect(categoryChips(buckets, [])).toEqual(buckets);
  });
});

describe("following produce", () => {
  it("follows the one category chosen in the county of the chosen village, else of what was found", () => {
    expect(followTopic(["fruit.apple"], ["330523108204"])).toEqual({ categoryId: "fruit.apple", county: "330523000000" });
    expect(followTopic(["fruit"], [], "330522100200")).toEqual({ categoryId: "fruit", county: "330522000000" });
    expect(followTopic([], ["330523108204"])).toBeUndefined();
    expect(followTopic(["fruit", "tea"], ["330523108204"])).toBeUndefined();
    expect(followTopic(["fruit"], [])).toBeUndefined();
  });
});
