import { Session } from "@terrace/api";
import { useSyncExternalStore } from "react";

/** The app's one session (one per tab). Accounts of a shared family phone live in it. */
export const session = new Session({
  clientDescription: `Terrace farmer app; ${navigator.userAgent}`,
});

export function useSession() {
  return useSyncExternalStore(session.subscribe, session.getSnapshot);
}
