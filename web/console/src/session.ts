import { Session } from "@terrace/api";
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
