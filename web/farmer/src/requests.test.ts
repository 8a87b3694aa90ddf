import { Code, ConnectError } from "@terrace/api";
import { ServiceRequestStatus as S } from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { describe, expect, it } from "vitest";
import { Outbox, base64, canRate, canReopen, fitWithin, fromBase64, myVillage, sendQueued, type Queued, type Sender } from "./requests";

function memory() {
  const map = new Map<string, string>();
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v) };
}

const queued = (requestId: string, userId = "u1", at = 1): Queued => ({
  requestId,
  userId,
  queuedAt: at,
  typeId: "t",
  typeName: "水井",
  villageCode: "330523108204",
  description: "井坏了",
  address: "",
  fieldValues: {},
  photos: [{ requestId: `${requestId}-p`, jpegBase64: base64(new Uint8Array([0xff, 0xd8, 0xff])) }],
});

describe("requests on the phone", () => {
  it("file in the village of the account's resident or farmer grant", () => {
    expect(myVillage([{ role: "buyer", scope: "330523" }, { role: "farmer", scope: "330523108204" }])).toBe("330523108204");
    expect(myVillage([{ role: "village_official", scope: "330523108204" }])).toBeUndefined();
    expect(myVillage(undefined)).toBeUndefined();
  });

  it("photos shrink to 1600 px on their longer side, never grow", () => {
    expect(fitWithin(4000, 3000)).toEqual({ width: 1600, height: 1200 });
    expect(fitWithin(3000, 4000)).toEqual({ width: 1200, height: 1600 });
    expect(fitWithin(800, 600)).toEqual({ width: 800, height: 600 });
  });

  it("base64 goes both ways", () => {
    const bytes = new Uint8Array(70_000).map((_, i) => i % 256);
    expect(fromBase64(base64(bytes))).toEqual(bytes);
  });

  it("the outbox sends each request once, under its own request id, and keeps what the network stopped", async () => {
    const outbox = new Outbox(memory());
    outbox.put(queued("a", "u1", 1));
    outbox.put(queued("b", "u1", 2));
    outbox.put(queued("c", "u2", 0));
    const calls: string[] = [];
    let offline = false;
    const sender: Sender = {
      upload: async (id) => {
        calls.push(`upload ${id}`);
        return `photo-${id}`;
      },
      create: async (item, photos) => {
        calls.push(`create ${item.requestId} ${photos.join(",")}`);
        if (offline) throw new ConnectError("offline", Code.Unavailable);
        return { id: `sr-${item.requestId}` };
      },
    };
    offline = true;
    expect(await sendQueued(outbox, "u1", sender, String)).toEqual([]);
    // The photo was uploaded before the network went: it is not uploaded again.
    expect(outbox.of("u1").map((q) => q.photos[0]?.photoId)).toEqual(["photo-a-p", undefined]);
    offline = false;
    expect(await sendQueued(outbox, "u1", sender, String)).toEqual(["sr-a", "sr-b"]);
    expect(calls).toEqual(["upload a-p", "create a photo-a-p", "create a photo-a-p", "upload b-p", "create b photo-b-p"]);
    expect(outbox.of("u1")).toEqual([]);
    expect(outbox.of("u2").length).toBe(1);
  });

  it("a refusal stays in the outbox with its reason, and is not sent again", async () => {
    const outbox = new Outbox(memory());
    outbox.put(queued("a"));
    const sender: Sender = {
      upload: async () => "p",
      create: async () => {
        throw new ConnectError("type inactive", Code.FailedPrecondition);
      },
    };
    await sendQueued(outbox, "u1", sender, () => "refused");
    expect(outbox.of("u1")[0]?.refused).toBe("refused");
    expect(await sendQueued(outbox, "u1", sender, () => "again")).toEqual([]);
    expect(outbox.of("u1")[0]?.refused).toBe("refused");
  });

  it("rating after resolution, once; reopening while resolved, within the window", () => {
    const now = new Date("2026-12-04T12:00:00Z");
    expect(canRate(S.RESOLVED, 0)).toBe(true);
    expect(canRate(S.CLOSED, 0)).toBe(true);
    expect(canRate(S.RESOLVED, 4)).toBe(false);
    expect(canRate(S.IN_PROGRESS, 0)).toBe(false);
    expect(canReopen(S.RESOLVED, new Date("2026-12-10T00:00:00Z"), now)).toBe(true);
    expect(canReopen(S.RESOLVED, new Date("2026-12-01T00:00:00Z"), now)).toBe(false);
    expect(canReopen(S.CLOSED, undefined, now)).toBe(false);
  });
});
