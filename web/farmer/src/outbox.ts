import { Code, ConnectError, describeError } from "@terrace/api";

/**
 * The phone's outbox: what a farmer did without a network (a service request filed, produce put
 * up for sale), kept on the phone in IndexedDB until it can be sent, once.
 *
 * Each item carries the request_id made on the phone when the farmer pressed the button, and
 * every photo its own UploadPhoto request_id: a resend after a lost answer (the network dropped
 * after the server acted) is answered by the server with what it did the first time, so nothing
 * is filed twice. Items are sent oldest first, one round at a time (per tab, and across tabs
 * through a Web Lock); a network failure ends the round and leaves the rest waiting; a refusal is
 * kept as failed with the server's reason; what was sent stays listed as sent for a day.
 *
 * The kinds (`request`, `listing`) differ only in their payload and in how they are sent (a
 * `Sender` per kind, given to `sendQueued`).
 */

/** A photo waiting with its item: a compressed JPEG (base64) and, once uploaded, its id. */
export interface QueuedPhoto {
  requestId: string;
  jpegBase64: string;
  photoId?: string;
}

export type OutboxState = "waiting" | "sent" | "failed";

export interface OutboxItem<P = unknown> {
  /** What it is: decides its Sender. */
  kind: string;
  /** The create call's request_id: the same on every attempt. */
  requestId: string;
  /** The account that made it: each account of a shared phone sends and sees only its own. */
  userId: string;
  queuedAt: number;
  /** What the list shows of it (a type's name, a listing's title) and a line under it. */
  title: string;
  summary: string;
  payload: P;
  photos: QueuedPhoto[];
  state: OutboxState;
  /** Why the server refused it (failed). */
  reason?: string;
  /** The id the server gave it, and when (sent). */
  sentId?: string;
  sentAt?: number;
}

/** Where items are kept: IndexedDB in the app (`idbStore`), a map in tests (`memoryStore`). */
export interface OutboxStore {
  all(): Promise<OutboxItem[]>;
  put(item: OutboxItem): Promise<void>;
  remove(requestId: string): Promise<void>;
}

/** How one kind is sent: its photos, then the item under its request_id. */
export interface Sender<P = unknown> {
  upload(requestId: string, jpeg: Uint8Array): Promise<string>;
  create(item: OutboxItem<P>, photoIds: string[]): Promise<{ id: string }>;
}

/** Sent items are listed this long, then forgotten. */
export const KEEP_SENT_MS = 24 * 60 * 60 * 1000;

export class Outbox {
  constructor(
    private readonly store: OutboxStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** The account's items (of one kind, if given), oldest first; sent ones older than a day are dropped. */
  async of(userId: string, kind?: string): Promise<OutboxItem[]> {
    const items = await this.store.all();
    const stale = items.filter((i) => i.state === "sent" && (i.sentAt ?? 0) < this.now() - KEEP_SENT_MS);
    for (const item of stale) await this.store.remove(item.requestId);
    return items
      .filter((i) => i.userId === userId && (kind === undefined || i.kind === kind) && !stale.includes(i))
      .sort((a, b) => a.queuedAt - b.queuedAt);
  }

  async waiting(userId: string): Promise<OutboxItem[]> {
    return (await this.of(userId)).filter((i) => i.state === "waiting");
  }

  put(item: OutboxItem): Promise<void> {
    return this.store.put(item);
  }

  remove(requestId: string): Promise<void> {
    return this.store.remove(requestId);
  }
}

/** Failures after which the same item is sent again later: the network, not the item. */
export function isTransient(err: unknown): boolean {
  // Only the network's or the server's transient answers: anything else (a sender's own bug, a
  // storage error) fails the item, or one bad item would hold back every item behind it.
  if (!(err instanceof ConnectError)) return false;
  const code = describeError(err).code;
  return code === Code.Unavailable || code === Code.Unknown || code === Code.DeadlineExceeded || code === Code.Canceled || code === Code.Unauthenticated;
}

export function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export interface RoundResult {
  /** Ids the server gave the items sent in this round. */
  sent: string[];
  /** Whether the network stopped the round (the rest wait for the next). */
  interrupted: boolean;
}

/**
 * One round: the account's waiting items, oldest first; each photo (kept by id once uploaded),
 * then the item under its own request_id. Sent ones are marked sent (their photos' bytes let go),
 * a refusal failed with its reason; a network failure stops the round.
 */
export async function sendQueued(
  outbox: Outbox,
  userId: string,
  senders: Record<string, Sender<never>>,
  explain: (err: unknown) => string,
  now: () => number = Date.now,
): Promise<RoundResult> {
  const sent: string[] = [];
  for (const item of await outbox.waiting(userId)) {
    const sender = senders[item.kind] as Sender<unknown> | undefined;
    if (!sender) continue;
    try {
      for (const photo of item.photos) {
        if (!photo.photoId) {
          photo.photoId = await sender.upload(photo.requestId, fromBase64(photo.jpegBase64));
          await outbox.put(item);
        }
      }
      const created = await sender.create(item, item.photos.map((p) => p.photoId ?? ""));
      await outbox.put({
        ...item,
        state: "sent",
        sentId: created.id,
        sentAt: now(),
        photos: item.photos.map((p) => ({ ...p, jpegBase64: "" })),
      });
      sent.push(created.id);
    } catch (err) {
      if (isTransient(err)) return { sent, interrupted: true };
      await outbox.put({ ...item, state: "failed", reason: explain(err) });
    }
  }
  return { sent, interrupted: false };
}

/** A map standing in for IndexedDB (tests). */
export function memoryStore(): OutboxStore {
  const items = new Map<string, OutboxItem>();
  const copy = (i: OutboxItem): OutboxItem => structuredClone(i);
  return {
    all: async () => [...items.values()].map(copy),
    put: async (item) => void items.set(item.requestId, copy(item)),
    remove: async (requestId) => void items.delete(requestId),
  };
}

/**
 * The outbox in IndexedDB (database `terrace-farmer`, store `outbox`, keyed by request_id): it
 * holds photos (base64 JPEGs) far beyond localStorage's few MB, and writes do not block the page.
 * Calls `changed` after every write, so open screens show the new state.
 *
 * What the app kept in localStorage (`terrace.farmer.outbox`, service requests only) before is
 * moved in on first use.
 */
export function idbStore(changed: () => void = () => {}): OutboxStore {
  let opened: Promise<IDBDatabase> | undefined;
  const db = () =>
    (opened ??= new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open("terrace-farmer", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("outbox", { keyPath: "requestId" });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error ?? new Error("the outbox could not be opened"));
    }).then(async (database) => {
      await migrateLocalStorage(database);
      return database;
    }));
  const run = async <T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T> | undefined): Promise<T | undefined> => {
    const transaction = (await db()).transaction("outbox", mode);
    const request = body(transaction.objectStore("outbox"));
    return new Promise<T | undefined>((resolve, reject) => {
      transaction.oncomplete = () => resolve(request?.result);
      transaction.onerror = () => reject(transaction.error ?? new Error("the outbox could not be written"));
      transaction.onabort = () => reject(transaction.error ?? new Error("the outbox could not be written"));
    });
  };
  return {
    all: async () => ((await run("readonly", (s) => s.getAll())) ?? []) as OutboxItem[],
    put: async (item) => {
      await run("readwrite", (s) => s.put(item));
      changed();
    },
    remove: async (requestId) => {
      await run("readwrite", (s) => s.delete(requestId));
      changed();
    },
  };
}

const LEGACY_KEY = "terrace.farmer.outbox";

/** Service requests queued by an earlier version in localStorage, as outbox items. */
export function fromLegacy(text: string | null): OutboxItem[] {
  try {
    const parsed: unknown = JSON.parse(text ?? "[]");
    if (!Array.isArray(parsed)) return [];
    return (parsed as (Record<string, unknown> & { requestId: string; userId: string; queuedAt: number; refused?: string })[]).map((q) => ({
      kind: "request",
      requestId: q.requestId,
      userId: q.userId,
      queuedAt: q.queuedAt,
      title: String(q.typeName ?? ""),
      summary: String(q.description ?? ""),
      payload: {
        typeId: q.typeId,
        villageCode: q.villageCode,
        description: q.description,
        address: q.address,
        point: q.point,
        fieldValues: q.fieldValues,
      },
      photos: (q.photos ?? []) as QueuedPhoto[],
      state: q.refused ? "failed" : "waiting",
      reason: q.refused || undefined,
    }));
  } catch {
    return [];
  }
}

async function migrateLocalStorage(database: IDBDatabase) {
  const legacy = fromLegacy(localStorage.getItem(LEGACY_KEY));
  if (localStorage.getItem(LEGACY_KEY) === null) return;
  const transaction = database.transaction("outbox", "readwrite");
  for (const item of legacy) transaction.objectStore("outbox").put(item);
  await new Promise<void>((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error("the outbox could not be written"));
  });
  localStorage.removeItem(LEGACY_KEY);
}
