import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { InboxItemSchema } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { describe, expect, it } from "vitest";
import { markedRead, merged } from "@terrace/api/inbox";
import { linkPath } from "./inbox";

const item = (id: string) => create(InboxItemSchema, { id, title: id });

describe("the inbox on the phone", () => {
  it("leads an item's link to the app's page for it, or nowhere", () => {
    expect(linkPath("terrace://market/orders/0190-ab")).toBe("/market/orders");
    expect(linkPath("terrace://market/incoming/0190-ab")).toBe("/market/incoming");
    expect(linkPath("terrace://requests/0190-ab")).toBe("/requests");
    expect(linkPath("terrace://market/listings/0190-ab")).toBe("/market/listings/0190-ab");
    expect(linkPath("https://example.com/x")).toBeUndefined();
    expect(linkPath("terrace://unknown/page")).toBeUndefined();
  });

  it("merges live items newest first, once each", () => {
    const list = merged([item("0190-b"), item("0190-a")], [item("0190-c"), item("0190-b")]);
    expect(list.map((i) => i.id)).toEqual(["0190-c", "0190-b", "0190-a"]);
  });

  it("marks the given items read, leaving the others and those read already", () => {
    const read = (i: ReturnType<typeof item>) => ({ ...i, readTime: timestampNow() });
    const list = markedRead([item("a"), item("b")], ["b", "x"], read);
    expect(list.map((i) => i.readTime !== undefined)).toEqual([false, true]);
  });
});
