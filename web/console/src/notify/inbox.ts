import { followInbox, markInboxRead, type InboxState } from "@terrace/api/inbox";
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { notify } from "./client";

/** The official's own inbox as the frame keeps it: the newest items, live, and the unread count. */
export interface InboxFeed extends InboxState {
  /** Marks `ids` read (or everything, when empty). */
  markRead(ids: string[]): Promise<void>;
}

/** The feed the frame keeps for its account, for the bell and the inbox page. */
export const InboxContext = createContext<InboxFeed>({ items: [], unread: 0, loaded: false, markRead: async () => {} });

export function useInbox(): InboxFeed {
  return useContext(InboxContext);
}

/** Follows the official's inbox (`followInbox`, shared with the farmers' app) while the frame is up. */
export function useInboxFeed(): InboxFeed {
  const [state, setState] = useState<InboxState>({ items: [], unread: 0, loaded: false });
  useEffect(() => {
    const abort = new AbortController();
    void followInbox(notify, abort.signal, setState);
    return () => abort.abort();
  }, []);
  const markRead = useCallback(
    async (ids: string[]) => {
      const change = await markInboxRead(notify, state.items, ids);
      if (change) setState(change);
    },
    [state.items],
  );
  return { ...state, markRead };
}
