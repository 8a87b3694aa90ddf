/**
 * What one tab of an app tells its other tabs about the login, over a BroadcastChannel: the
 * tabs share the account list (localStorage) and the refresh cookies, so when one tab logs an
 * account out or switches to another account, the others follow instead of acting as someone
 * who is no longer there (or no longer the one holding the phone).
 */
export type TabMessage =
  /** `userId` logged out in that tab: its session and cookie are gone. */
  | { type: "logout"; userId: string }
  /** That tab now acts as `userId` (a switch on a shared phone, or a new login). */
  | { type: "switch"; userId: string };

/** What a tab does on hearing a message. */
export type TabReaction =
  /** Stop acting as the current account (it was logged out elsewhere). */
  | { type: "sign-out" }
  /** Act as `userId` too, with that account's refresh cookie. */
  | { type: "switch"; userId: string }
  | undefined;

/** The part of a BroadcastChannel the session uses (a fake one in tests). */
export interface TabChannel {
  postMessage(message: TabMessage): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}

/** A message from another tab, or undefined for anything else (other versions, other senders). */
export function parseTabMessage(data: unknown): TabMessage | undefined {
  if (typeof data !== "object" || data === null) {
    return undefined;
  }
  const { type, userId } = data as { type?: unknown; userId?: unknown };
  if ((type === "logout" || type === "switch") && typeof userId === "string" && userId !== "") {
    return { type, userId };
  }
  return undefined;
}

/**
 * What this tab should do about `data`, given whom it acts as now (`current`: the account, and
 * whether the server refused its session here) and whether this device still remembers an
 * account (`remembered`, from the shared account list).
 * - A logout of the account this tab acts as signs this tab out; of another account, nothing
 *   (the shared list already forgot it).
 * - A switch (or a login) to an account this tab does not act as makes it switch too, if the
 *   account is remembered. To the one it acts as already: nothing, unless its session was lost
 *   here, when the other tab's fresh login is picked up.
 */
export function tabReaction(
  data: unknown,
  current: { userId: string; lost: boolean } | undefined,
  remembered: (userId: string) => boolean,
): TabReaction {
  const message = parseTabMessage(data);
  if (!message) {
    return undefined;
  }
  const same = message.userId === current?.userId;
  switch (message.type) {
    case "logout":
      return same ? { type: "sign-out" } : undefined;
    case "switch":
      return (!same || current?.lost) && remembered(message.userId)
        ? { type: "switch", userId: message.userId }
        : undefined;
  }
}

/** The app's channel, where the browser has BroadcastChannel (every current one); else none. */
export function openTabChannel(name: string): TabChannel | undefined {
  return typeof BroadcastChannel === "function" ? (new BroadcastChannel(name) as TabChannel) : undefined;
}
