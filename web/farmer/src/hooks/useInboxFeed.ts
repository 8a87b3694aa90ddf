import { followInbox, markInboxRead, type InboxState } from "@terrace/api/inbox";
import { NotifyService } from "@terrace/api/gen/terrace/notify/v1/notify_service_pb";
import type { InboxItem } from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { createContext, useCallback, useContext, useEffect, useState } from "react";
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

/** Follows the inbox ([`followInbox`]) while `enabled`; stops when the frame goes (another account). */
export function useInboxFeed(enabled: boolean): InboxFeed {
  const [state, setState] = useState<InboxState>({ items: [], unread: 0, loaded: false });

  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    void followInbox(notify, abort.signal, setState);
    return () => abort.abort();
  }, [enabled]);

  const markRead = useCallback(
    async (ids: string[]) => {
      const change = await markInboxRead(notify, state.items, ids);
      if (change) setState(change);
    },
    [state.items],
  );

  return { ...state, markRead };
}
