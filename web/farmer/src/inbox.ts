import type { InboxItem } from "@terrace/api/gen/terrace/notify/v1/notify_pb";

/**
 * Where an inbox item's link (`terrace://market/orders/<id>`) leads in this app; undefined for
 * a link the app has no page for (the item is then only read).
 */
export function linkPath(link: string): string | undefined {
  const match = /^terrace:\/\/([a-z]+)(?:\/([a-z_]+))?(?:\/([\w-]+))?$/.exec(link);
  if (!match) return undefined;
  const [, area, page, id] = match;
  if (area === "market" && page === "listings" && id) return `/market/listings/${id}`;
  if (area === "market" && page === "orders") return "/market/orders";
  if (area === "market" && page === "incoming") return "/market/incoming";
  if (area === "requests") return "/requests";
  return undefined;
}

/** `items` with `incoming` added (an item already there replaced), newest first (ids are UUIDv7). */
export function merged(items: InboxItem[], incoming: InboxItem[]): InboxItem[] {
  const byId = new Map(items.map((item) => [item.id, item]));
  for (const item of incoming) byId.set(item.id, item);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** `items` with those of `ids` marked read (their read time left as the server will say it). */
export function markedRead(items: InboxItem[], ids: string[], read: (item: InboxItem) => InboxItem): InboxItem[] {
  const marked = new Set(ids);
  return items.map((item) => (marked.has(item.id) && !item.readTime ? read(item) : item));
}
