import type { SessionSnapshot } from "./session";

/** What `accountCaches` needs of a Session: its snapshot and its change events. */
export interface SessionLike {
  getSnapshot(): Pick<SessionSnapshot, "account">;
  subscribe(listener: () => void): () => void;
}

/** The in-memory caches of one app that hold what one account may see. */
export interface AccountCaches {
  /** A new Map that is emptied whenever the account in use changes. */
  map<K, V>(): Map<K, V>;
  /** Empties every map made here now. */
  clear(): void;
  /** Stops following the session (tests). */
  close(): void;
}

/**
 * One place for the caches that hold one account's data in memory (what a screen last loaded,
 * names only that account may look up). They are emptied together when the account in use
 * changes: a logout, an account switch, "log in as someone else", or a new login by another
 * person over a lost session, here or in another tab. On a family's shared phone nothing loaded
 * for one person must be shown to the next. A lost session that is logged in again as the same
 * person keeps them (it is still that person's page).
 */
export function accountCaches(session: SessionLike): AccountCaches {
  const maps = new Set<Map<unknown, unknown>>();
  let userId = session.getSnapshot().account?.userId;
  const clear = () => maps.forEach((m) => m.clear());
  const unsubscribe = session.subscribe(() => {
    const next = session.getSnapshot().account?.userId;
    if (next !== userId) {
      userId = next;
      clear();
    }
  });
  return {
    map<K, V>() {
      const m = new Map<K, V>();
      maps.add(m as Map<unknown, unknown>);
      return m;
    },
    clear,
    close: unsubscribe,
  };
}
