import type { Category } from "@terrace/api/gen/terrace/market/v1/listings_pb";
import { FulfilmentMethod, ListingStatus } from "@terrace/api/gen/terrace/market/v1/listings_pb";
import { OrderStatus, type Order } from "@terrace/api/gen/terrace/market/v1/orders_pb";

/** The market's rules on the phone: who may buy and sell, what each side may do next, categories and highlights. */

type Roles = { role: string; scope: string }[] | undefined;

/** Farmers sell (CreateListing takes the village of their farmer grant). */
export function canSell(roles: Roles): boolean {
  return roles?.some((r) => r.role === "farmer") ?? false;
}

/** Buyers and farmers buy (PlaceOrder's rule). */
export function canBuy(roles: Roles): boolean {
  return roles?.some((r) => r.role === "buyer" || r.role === "farmer") ?? false;
}

export function categoryName(category: Category | undefined, language: string): string {
  const t = category?.name?.translations ?? {};
  return t[language] || t["zh-CN"] || category?.id || "";
}

/** The taxonomy as the sell screen shows it: each top-level group with its leaves, in their order. */
export function groupCategories(categories: Category[]): { group: Category; leaves: Category[] }[] {
  const bySort = (a: Category, b: Category) => a.sortOrder - b.sortOrder || a.id.localeCompare(b.id);
  return categories
    .filter((c) => c.parentId === "")
    .sort(bySort)
    .map((group) => ({ group, leaves: categories.filter((c) => c.parentId === group.id).sort(bySort) }))
    .filter((g) => g.leaves.length > 0);
}

/** What the seller may do with a listing in this status. */
export function listingActions(status: ListingStatus): ("publish" | "pause" | "close")[] {
  switch (status) {
    case ListingStatus.DRAFT:
    case ListingStatus.PAUSED:
    case ListingStatus.EXPIRED:
      return ["publish", "close"];
    case ListingStatus.ACTIVE:
      return ["pause", "close"];
    case ListingStatus.SOLD_OUT:
      return ["close"];
    default:
      return [];
  }
}

export type SellerAction = "accept" | "decline" | "ship" | "pickedUp" | "noShow";
export type BuyerAction = "cancel" | "complete";

/** What the seller may do with an order: answer it while pending, hand it over (or record a no-show) once accepted. */
export function sellerActions(order: Pick<Order, "status" | "fulfilmentMethod">): SellerAction[] {
  if (order.status === OrderStatus.PENDING) return ["accept", "decline"];
  if (order.status === OrderStatus.CONFIRMED) {
    return order.fulfilmentMethod === FulfilmentMethod.DELIVERY ? ["ship"] : ["pickedUp", "noShow"];
  }
  return [];
}

/** What the buyer may do: cancel before the hand-over, confirm receipt after it. */
export function buyerActions(order: Pick<Order, "status">): BuyerAction[] {
  if (order.status === OrderStatus.PENDING || order.status === OrderStatus.CONFIRMED) return ["cancel"];
  if (order.status === OrderStatus.SHIPPED || order.status === OrderStatus.PICKED_UP) return ["complete"];
  return [];
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#x27": "'" };

function decode(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#39|#x27);/g, (_, name: string) => ENTITIES[name] ?? "");
}

/**
 * A search hit's `highlighted_title` (matched terms in `<em>`…`</em>`, the rest HTML-escaped) as
 * plain text pieces, each marked or not, for React to render as text: no markup from the server
 * is ever put into the page as HTML. Any other tag is dropped.
 */
export function highlightParts(html: string): { text: string; em: boolean }[] {
  const parts: { text: string; em: boolean }[] = [];
  let em = false;
  for (const piece of html.split(/(<\/?[a-zA-Z][^>]*>)/)) {
    if (piece.startsWith("<")) {
      if (/^<em\s*>$/i.test(piece)) em = true;
      else if (/^<\/em\s*>$/i.test(piece)) em = false;
      continue;
    }
    if (piece) parts.push({ text: decode(piece), em });
  }
  return parts;
}

/** A price facet bucket ("min-max" fen per kg, an open end empty) as a search's price range. */
export function priceBucket(value: string): { min?: bigint; max?: bigint } | undefined {
  const match = /^(\d*)-(\d*)$/.exec(value);
  if (!match) return undefined;
  return { min: match[1] ? BigInt(match[1]) : undefined, max: match[2] ? BigInt(match[2]) : undefined };
}

/**
 * Request ids for buttons that may be pressed again after a lost answer (accept, pause…): the
 * same id for the same action on the same thing until the server answered it, so the repeated
 * press is the same request (answered again as it was) rather than a second one (told the order
 * is already accepted). A definite refusal forgets the id too: the next press is a new attempt.
 */
export function pressIds(make: () => string, transient: (err: unknown) => boolean) {
  const ids = new Map<string, string>();
  return {
    /** The id for pressing `action` on `thing`. */
    idFor(thing: string, action: string): string {
      const key = `${thing}:${action}`;
      let id = ids.get(key);
      if (id === undefined) {
        id = make();
        ids.set(key, id);
      }
      return id;
    },
    /** The press was answered (`err` undefined) or failed: keep the id only for a transient failure. */
    settle(thing: string, action: string, err?: unknown) {
      if (err === undefined || !transient(err)) ids.delete(`${thing}:${action}`);
    },
  };
}

/**
 * The categories searched after pressing `id`'s chip: pressed again, it is let go; a kind of
 * produce pressed under a chosen group (苹果 under 水果) narrows it, replacing the group (kept
 * both, the search would still find every fruit).
 */
export function pickCategory(chosen: string[], id: string, parentOf: (id: string) => string | undefined): string[] {
  if (chosen.includes(id)) return chosen.filter((c) => c !== id);
  const parent = parentOf(id);
  return [...chosen.filter((c) => c !== parent), id];
}

/**
 * The chips of the category facet: the server's buckets (it counts one level below what is
 * chosen: the kinds once a group is chosen), and before them each chosen category it no longer
 * counts, so that what narrows the search stays on screen and can be let go.
 */
export function categoryChips<B extends { value: string }>(buckets: B[], chosen: string[]): (B | { value: string; chosenOnly: true })[] {
  const missing = chosen.filter((id) => !buckets.some((b) => b.value === id)).map((value) => ({ value, chosenOnly: true as const }));
  return [...missing, ...buckets];
}

/**
 * What the buyer may follow from a search: the one category chosen, in the county of the chosen
 * village (else of the first listing found); undefined unless exactly one category is chosen and
 * a village is known.
 */
export function followTopic(categories: string[], villages: string[], firstFound?: string): { categoryId: string; county: string } | undefined {
  const village = villages[0] ?? firstFound;
  if (categories.length !== 1 || !village || !/^\d{12}$/.test(village)) return undefined;
  return { categoryId: categories[0] as string, county: `${village.slice(0, 6)}000000` };
}
