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
