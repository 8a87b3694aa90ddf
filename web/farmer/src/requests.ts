import { Code, describeError } from "@terrace/api";
import { ServiceRequestStatus } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";

/**
 * A villager's service requests on the phone: the village they file in, photos made small
 * before they leave the phone, and the outbox that keeps a request filed without a network
 * until it can be sent, once.
 */

/** The village of the account's resident or farmer grant (a 12-digit scope), if it has one. */
export function myVillage(roles: { role: string; scope: string }[] | undefined): string | undefined {
  return roles?.find((r) => (r.role === "resident" || r.role === "farmer") && /^\d{12}$/.test(r.scope))?.scope;
}

/** A photo's size after compression: its longer side at most `max` pixels, never enlarged. */
export function fitWithin(width: number, height: number, max = 1600): { width: number; height: number } {
  const longer = Math.max(width, height);
  if (longer <= max || longer === 0) return { width, height };
  const scale = max / longer;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * A photo from the camera or the gallery as a JPEG of at most 1600 px on its longer side at
 * quality 0.8 (a few hundred kB instead of several MB over a village's mobile network). The
 * server re-encodes it and drops its metadata anyway.
 */
export async function compressPhoto(file: Blob, max = 1600, quality = 0.8): Promise<Uint8Array> {
  const bitmap = await createImageBitmap(file);
  const size = fitWithin(bitmap.width, bitmap.height, max);
  const canvas = document.createElement("canvas");
  canvas.width = size.width;
  canvas.height = size.height;
  canvas.getContext("2d")?.drawImage(bitmap, 0, 0, size.width, size.height);
  bitmap.close();
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  if (!blob) throw new Error("the photo could not be encoded");
  return new Uint8Array(await blob.arrayBuffer());
}

/** A request filed on the phone, waiting in the outbox until it is sent. */
export interface Queued {
  /** CreateServiceRequest's request_id: the same on every attempt, so a resend is safe. */
  requestId: string;
  /** The account that filed it: each account of a shared phone sends only its own. */
  userId: string;
  queuedAt: number;
  typeId: string;
  typeName: string;
  villageCode: string;
  description: string;
  address: string;
  point?: { latitude: number; longitude: number };
  fieldValues: Record<string, string>;
  /** Compressed JPEGs, base64, each with the UploadPhoto request_id it is sent with. */
  photos: { requestId: string; jpegBase64: string; photoId?: string }[];
  /** Why the server refused it (it stays until the villager removes it); empty while waiting. */
  refused?: string;
}

/** Where the outbox lives (localStorage in the app; a map in tests). */
export interface OutboxStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const KEY = "terrace.farmer.outbox";

export class Outbox {
  constructor(private readonly storage: OutboxStorage) {}

  all(): Queued[] {
    try {
      const parsed: unknown = JSON.parse(this.storage.getItem(KEY) ?? "[]");
      return Array.isArray(parsed) ? (parsed as Queued[]) : [];
    } catch {
      return [];
    }
  }

  of(userId: string): Queued[] {
    return this.all()
      .filter((q) => q.userId === userId)
      .sort((a, b) => a.queuedAt - b.queuedAt);
  }

  put(item: Queued) {
    this.storage.setItem(KEY, JSON.stringify([...this.all().filter((q) => q.requestId !== item.requestId), item]));
  }

  remove(requestId: string) {
    this.storage.setItem(KEY, JSON.stringify(this.all().filter((q) => q.requestId !== requestId)));
  }
}

/** Failures after which the same request is sent again later: the network, not the request. */
export function isTransient(err: unknown): boolean {
  const code = describeError(err).code;
  return code === Code.Unavailable || code === Code.Unknown || code === Code.DeadlineExceeded || code === Code.Canceled || code === Code.Unauthenticated;
}

export interface Sender {
  upload(requestId: string, jpeg: Uint8Array): Promise<string>;
  create(item: Queued, photoIds: string[]): Promise<{ id: string }>;
}

export function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * Sends the account's queued requests, oldest first: each photo (kept by id once uploaded), then
 * the request under its own request_id. Sent ones leave the outbox; a refusal is kept with its
 * reason; a network failure stops the round (the rest wait for the next). Returns the ids sent.
 */
export async function sendQueued(outbox: Outbox, userId: string, sender: Sender, explain: (err: unknown) => string): Promise<string[]> {
  const sent: string[] = [];
  for (const item of outbox.of(userId)) {
    if (item.refused) continue;
    try {
      for (const photo of item.photos) {
        if (!photo.photoId) {
          photo.photoId = await sender.upload(photo.requestId, fromBase64(photo.jpegBase64));
          outbox.put(item);
        }
      }
      const created = await sender.create(item, item.photos.map((p) => p.photoId ?? ""));
      outbox.remove(item.requestId);
      sent.push(created.id);
    } catch (err) {
      if (isTransient(err)) break;
      outbox.put({ ...item, refused: explain(err) });
    }
  }
  return sent;
}

/** Statuses the requester may act on: rate once resolved or closed; reopen while resolved. */
export function canRate(status: ServiceRequestStatus, rating: number): boolean {
  return rating === 0 && (status === ServiceRequestStatus.RESOLVED || status === ServiceRequestStatus.CLOSED);
}

export function canReopen(status: ServiceRequestStatus, reopenDeadline: Date | undefined, now: Date): boolean {
  return status === ServiceRequestStatus.RESOLVED && (reopenDeadline === undefined || reopenDeadline.getTime() > now.getTime());
}
