import { Outbox, idbStore, sendQueued, type RoundResult } from "./outbox";

/**
 * The app's one outbox (IndexedDB) and its sending: what the shell calls whenever the phone is
 * (back) online, on any screen, and what a form calls after putting something in it.
 */

/** Told after every change of the outbox, so that open screens list its new state. */
export const OUTBOX_CHANGED = "terrace-outbox-changed";

export const outbox = new Outbox(idbStore(() => window.dispatchEvent(new Event(OUTBOX_CHANGED))));

let sending: Promise<RoundResult> | undefined;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
/** The wait before another try after the network stopped a round while the phone seemed online. */
let retryDelay = 2_000;

/**
 * Sends the account's waiting items, one round at a time: a second call while a round runs
 * waits for it rather than sending the same items alongside, and another tab's round is waited
 * for through a Web Lock. A round the network stopped while the phone still says it is online
 * (a request lost mid-way) is tried again after 2 s, doubling up to a minute; an `online` event
 * starts one at once anyway.
 */
export async function sendOutbox(userId: string, explain: (err: unknown) => string): Promise<void> {
  if (!userId || (await outbox.waiting(userId)).length === 0) return;
  if (retryTimer !== undefined) {
    clearTimeout(retryTimer);
    retryTimer = undefined;
  }
  sending ??= (async () => {
    // The clients are loaded with the first round, not with the shell.
    const { senders } = await import("./senders");
    const round = () => sendQueued(outbox, userId, senders, explain);
    return "locks" in navigator ? navigator.locks.request("terrace.farmer.outbox", round) : round();
  })()
    .then((result) => {
      if (result.interrupted && navigator.onLine) {
        retryTimer = setTimeout(() => void sendOutbox(userId, explain), retryDelay);
        retryDelay = Math.min(retryDelay * 2, 60_000);
      } else {
        retryDelay = 2_000;
      }
      return result;
    })
    .finally(() => {
      sending = undefined;
    });
  await sending;
}
