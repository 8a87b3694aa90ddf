import type { AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import type { Category } from "@terrace/api/gen/terrace/market/v1/listings_pb";

/** The taxonomy's top-level groups (水果, 蔬菜…), in their display order. */
export function categoryGroups(categories: Category[]): Category[] {
  return categories.filter((c) => c.parentId === "").sort((a, b) => a.sortOrder - b.sortOrder);
}

/** The kinds of produce under one group, in their display order. */
export function kindsOf(categories: Category[], groupId: string): Category[] {
  return categories.filter((c) => c.parentId === groupId).sort((a, b) => a.sortOrder - b.sortOrder);
}

/**
 * Whether the server answered for a wider area than the one asked (it widens a level at a time
 * when the asked area has fewer than five prices): the screen then says whose prices these are.
 */
export function widened(asked: AdminCode | undefined, used: AdminCode | undefined): boolean {
  return asked !== undefined && used !== undefined && used.code !== asked.code;
}

/** How many days back the reference looks: the choices the screen offers (the contract allows 1–365). */
export const WINDOWS = [30, 90, 365] as const;
export type Window = (typeof WINDOWS)[number];

/** The window from the address bar, or 30 days. */
export function windowFrom(param: string | null): Window {
  const days = Number(param);
  return (WINDOWS as readonly number[]).includes(days) ? (days as Window) : 30;
}
