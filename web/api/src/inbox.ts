import type { Client } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { describeError } from "./errors";
import { newRequestId } from "./ids";
import { InboxItemSchema, type InboxItem } from "./gen/terrace/notify/v1/notify_pb";
import type { NotifyService } from "./gen/terrace/notify/v1/notify_service_pb";

/**
 * A person's in-app inbox kept live, the same in both web apps: listed, then watched
 * (`WatchInbox`) after its newest item; when the stream ends (the network, a server draining,
 * the token expiring) it reconnects after a pause (1 s doubling to 30 s) with the last item it
 * has, so nothing is missed; a cursor the server no longer knows lists the inbox again.
 */

/** What a followed inbox holds. */
export interface InboxState {
  items: InboxItem[];
  unread: number;
  loaded: boolean;
}

/** `items` with `incoming` added (an item already there replaced), newest first (ids are UUIDv7). */
export function merged(items: InboxItem[], incoming: InboxItem[]): InboxItem[] {
  const byId = new Map(items.map((item) => [item.id, item]));
  for (const item of incoming) byId.set(item.id, item);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** `items` with those of `ids` marked read (their read time left as the server will say it). */
export function markedRead(items: InboxItem[], ids: string[], read: (item: InboxItem) => InboxItem = readNow): InboxItem[] {
  const marked = new Set(ids);
  return items.map((item) => (marked.has(item.id) && !item.readTime ? read(item) : item));
}

/** The item, read now (the server's time arrives with the next list). */
export const readNow = (item: InboxItem) => create(InboxItemSchema, { ...item, readTime: timestampNow() });

/** Waits `ms`, or less when `signal` aborts. */
const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Follows the caller's inbox until `signal` aborts, telling `update` each change as a function
 * of the state before it (React's `setState` takes it as it is).
 */
export async function followInbox(
  notify: Client<typeof NotifyService>,
  signal: AbortSignal,
  update: (change: (before: InboxState) => InboxState) => void,
): Promise<void> {
  let last = "";
  let wait = 1_000;
  while (!signal.aborted) {
    try {
      if (!last) {
        const answer = await notify.listInbox({ page: { pageSize: 50 } }, { signal });
        last = answer.items[0]?.id ?? "";
        update(() => ({ items: answer.items, unread: Number(answer.unreadCount), loaded: true }));
      }
      for await (const message of notify.watchInbox({ afterItemId: last }, { signal })) {
        wait = 1_000;
        const unread = Number(message.unreadCount);
        const event = message.event;
        if (event.case === "item") {
          last = event.value.id;
          update((s) => ({ ...s, items: merged(s.items, [event.value]), unread }));
        } else if (event.case === "itemsRead") {
          update((s) => ({ ...s, items: markedRead(s.items, event.value.itemIds), unread }));
        } else {
          update((s) => ({ ...s, unread }));
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      // The cursor is unknown (or too old): list the inbox again.
      if (describeError(err).code === Code.InvalidArgument) last = "";
    }
    await pause(wait, signal);
    wait = Math.min(wait * 2, 30_000);
  }
}

/**
 * Marks `ids` read (or everything up to the newest item, when empty); the change to apply once
 * the server answered, or undefined when there is nothing to mark.
 */
export async function markInboxRead(
  notify: Client<typeof NotifyService>,
  items: InboxItem[],
  ids: string[],
): Promise<((before: InboxState) => InboxState) | undefined> {
  const newest = items[0]?.id;
  if (ids.length === 0 && !newest) return undefined;
  const answer = await notify.markRead(
    ids.length > 0 ? { requestId: newRequestId(), itemIds: ids } : { requestId: newRequestId(), upToItemId: newest },
  );
  const marked = ids.length > 0 ? ids : items.map((i) => i.id);
  return (s) => ({ ...s, items: markedRead(s.items, marked), unread: Number(answer.unreadCount) });
}
