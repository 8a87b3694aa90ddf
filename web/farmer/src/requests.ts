import { ServiceRequestStatus } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";

/**
 * A villager's service requests on the phone: the village they file in and photos made small
 * before they leave the phone (both used by the market's sell form too). A request filed without
 * a network waits in the phone's outbox (`./outbox`) until it can be sent, once.
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

/** Statuses the requester may act on: rate once resolved or closed; reopen while resolved. */
export function canRate(status: ServiceRequestStatus, rating: number): boolean {
  return rating === 0 && (status === ServiceRequestStatus.RESOLVED || status === ServiceRequestStatus.CLOSED);
}

export function canReopen(status: ServiceRequestStatus, reopenDeadline: Date | undefined, now: Date): boolean {
  return status === ServiceRequestStatus.RESOLVED && (reopenDeadline === undefined || reopenDeadline.getTime() > now.getTime());
}
