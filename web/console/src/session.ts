import { Session, accountCaches } from "@terrace/api";
import { useSyncExternalStore } from "react";

/** The console's one session (one per tab). */
export const session = new Session({
  clientDescription: `Terrace console; ${navigator.userAgent}`,
  // Its other tabs follow a logout or an account switch (BroadcastChannel).
  // Errors come back in the language the person chose (set on <html lang> by ./i18n).
  language: () => document.documentElement.lang,
  tabs: "terrace.console.session",
});

export function useSession() {
  return useSyncExternalStore(session.subscribe, session.getSnapshot);
}

/**
 * Every in-memory cache of what one account may see is made here (`caches.map()`), so that all
 * of them are emptied together when the account in use changes (logout, switch, someone else
 * logging in): nothing loaded for one person is shown to the next on a shared device.
 */
export const caches = accountCaches(session);
