import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, describeError, newRequestId } from "@terrace/api";
import { NotifyService } from "@terrace/api/gen/terrace/notify/v1/notify_service_pb";
import { InboxItemSchema, type InboxItem } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { markedRead, merged } from "../inbox";
import { session } from "../session";

/** The inbox's screens talk to the notify service. */
export const notify = session.client(NotifyService);

/** The person's inbox as the app holds it: the newest items, live, and the unread count. */
export interface InboxFeed {
  items: InboxItem[];
  unread: number;
  loaded: boolean;
  /** Marks `ids` read (or everything, when empty); the feed follows the server's answer. */
  markRead(ids: string[]): Promise<void>;
}

const empty: InboxFeed = { items: [], unread: 0, loaded: false, markRead: async () => {} };

/** The feed the frame keeps for its account (one stream per open app), for every screen. */
export const InboxContext = createContext<InboxFeed>(empty);

export function useInbox(): InboxFeed {
  return useContext(InboxContext);
}

const read = (item: InboxItem) => create(InboxItemSchema, { ...item, readTime: timestampNow() });

/** Waits `ms`, or less when `signal` aborts. */
const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Lists the inbox, then watches it (WatchInbox) after its newest item; when the stream ends (the
 * network, a server draining, the token expiring) it reconnects after a pause (1 s doubling to
 * 30 s) with the last item it has, so nothing is missed; a cursor the server no longer knows
 * lists the inbox again. Stops when `enabled` turns false or the frame goes (another account).
 */
export function useInboxFeed(enabled: boolean): InboxFeed {
  const [state, setState] = useState<Omit<InboxFeed, "markRead">>({ items: [], unread: 0, loaded: false });

  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    const { signal } = abort;
    void (async () => {
      let last = "";
      let wait = 1_000;
      while (!signal.aborted) {
        try {
          if (!last) {
            const answer = await notify.listInbox({ page: { pageSize: 50 } }, { signal });
            last = answer.items[0]?.id ?? "";
            setState({ items: answer.items, unread: Number(answer.unreadCount), loaded: true });
          }
          for await (const message of notify.watchInbox({ afterItemId: last }, { signal })) {
            wait = 1_000;
            const unread = Number(message.unreadCount);
            const event = message.event;
            if (event.case === "item") {
              last = event.value.id;
              setState((s) => ({ ...s, items: merged(s.items, [event.value]), unread }));
            } else if (event.case === "itemsRead") {
              setState((s) => ({ ...s, items: markedRead(s.items, event.value.itemIds, read), unread }));
            } else {
              setState((s) => ({ ...s, unread }));
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
    })();
    return () => abort.abort();
  }, [enabled]);

  const markRead = useCallback(
    async (ids: string[]) => {
      const newest = state.items[0]?.id;
      if (ids.length === 0 && !newest) return;
      const answer = await notify.markRead(ids.length > 0 ? { requestId: newRequestId(), itemIds: ids } : { requestId: newRequestId(), upToItemId: newest });
      const marked = ids.length > 0 ? ids : state.items.map((i) => i.id);
      setState((s) => ({ ...s, items: markedRead(s.items, marked, read), unread: Number(answer.unreadCount) }));
    },
    [state.items],
  );

  return { ...state, markRead };
}
