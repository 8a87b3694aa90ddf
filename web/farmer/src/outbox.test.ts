import { Code, ConnectError } from "@terrace/api";
import { describe, expect, it } from "vitest";
import { KEEP_SENT_MS, Outbox, base64, fromBase64, fromLegacy, memoryStore, sendQueued, type OutboxItem, type Sender } from "./outbox";

const queued = (requestId: string, userId = "u1", at = 1, kind = "request"): OutboxItem => ({
  kind,
  requestId,
  userId,
  queuedAt: at,
  title: "水井",
  summary: "井坏了",
  payload: { n: requestId },
  photos: [{ requestId: `${requestId}-p`, jpegBase64: base64(new Uint8Array([0xff, 0xd8, 0xff])) }],
  state: "waiting",
});

/** A sender recording its calls, failing with `failure` while it is set. */
function recording(calls: string[], failure: { code?: Code; on?: "upload" | "create"; once?: boolean } = {}) {
  const fail = (on: "upload" | "create") => {
    if (failure.code !== undefined && failure.on === on) {
      const code = failure.code;
      if (failure.once) failure.code = undefined;
      throw new ConnectError("failed", code);
    }
  };
  const sender: Sender<{ n: string }> = {
    upload: async (id) => {
      calls.push(`upload ${id}`);
      fail("upload");
      return `photo-${id}`;
    },
    create: async (item, photos) => {
      calls.push(`create ${item.kind} ${item.requestId} ${photos.join(",")}`);
      fail("create");
      return { id: `id-${item.payload.n}` };
    },
  };
  return sender as Sender<never>;
}

describe("the phone's outbox", () => {
  it("base64 goes both ways", () => {
    const bytes = new Uint8Array(70_000).map((_, i) => i % 256);
    expect(fromBase64(base64(bytes))).toEqual(bytes);
  });

  it("sends each item once, under its own request id, by its kind's sender; a network failure keeps the rest waiting", async () => {
    const outbox = new Outbox(memoryStore());
    await outbox.put(queued("a", "u1", 1, "request"));
    await outbox.put(queued("b", "u1", 2, "listing"));
    await outbox.put(queued("c", "u2", 0, "listing"));
    const calls: string[] = [];
    const failure: { code?: Code; on?: "create" } = { code: Code.Unavailable, on: "create" };
    const senders = { request: recording(calls, failure), listing: recording(calls, failure) };
    expect(await sendQueued(outbox, "u1", senders, String)).toEqual({ sent: [], interrupted: true });
    // The photo was uploaded before the network went: it is not uploaded again.
    expect((await outbox.of("u1")).map((q) => [q.state, q.photos[0]?.photoId])).toEqual([
      ["waiting", "photo-a-p"],
      ["waiting", undefined],
    ]);
    failure.code = undefined;
    expect(await sendQueued(outbox, "u1", senders, String)).toEqual({ sent: ["id-a", "id-b"], interrupted: false });
    expect(calls).toEqual(["upload a-p", "create request a photo-a-p", "create request a photo-a-p", "upload b-p", "create listing b photo-b-p"]);
    const mine = await outbox.of("u1");
    expect(mine.map((q) => [q.state, q.sentId])).toEqual([
      ["sent", "id-a"],
      ["sent", "id-b"],
    ]);
    // Sent: the photos' bytes are let go.
    expect(mine.every((q) => q.photos.every((p) => p.jpegBase64 === ""))).toBe(true);
    // Another round sends nothing again.
    expect(await sendQueued(outbox, "u1", senders, String)).toEqual({ sent: [], interrupted: false });
    expect(calls.length).toBe(5);
    // The other account's item was not touched.
    expect((await outbox.of("u2"))[0]?.state).toBe("waiting");
    expect((await outbox.of("u1", "listing")).map((q) => q.requestId)).toEqual(["b"]);
  });

  it("an answer lost after the server acted is sent again under the same request id", async () => {
    const outbox = new Outbox(memoryStore());
    await outbox.put({ ...queued("a"), photos: [] });
    await outbox.put({ ...queued("b", "u1", 2), photos: [] });
    const calls: string[] = [];
    const senders = { request: recording(calls, { code: Code.Unknown, on: "create", once: true }) };
    expect((await sendQueued(outbox, "u1", senders, String)).interrupted).toBe(true);
    expect((await sendQueued(outbox, "u1", senders, String)).sent).toEqual(["id-a", "id-b"]);
    expect(calls).toEqual(["create request a ", "create request a ", "create request b "]);
  });

  it("a refusal is kept as failed with its reason, is not sent again, and does not stop the others", async () => {
    const outbox = new Outbox(memoryStore());
    await outbox.put(queued("a", "u1", 1));
    await outbox.put(queued("b", "u1", 2));
    const calls: string[] = [];
    const senders = { request: recording(calls, { code: Code.FailedPrecondition, on: "create", once: true }) };
    expect((await sendQueued(outbox, "u1", senders, () => "refused")).sent).toEqual(["id-b"]);
    const [a, b] = await outbox.of("u1");
    expect([a?.state, a?.reason, b?.state]).toEqual(["failed", "refused", "sent"]);
    expect((await sendQueued(outbox, "u1", senders, () => "again")).sent).toEqual([]);
    expect((await outbox.of("u1"))[0]?.reason).toBe("refused");
  });

  it("items of a kind no sender knows wait", async () => {
    const outbox = new Outbox(memoryStore());
    await outbox.put(queued("a", "u1", 1, "future"));
    expect(await sendQueued(outbox, "u1", {}, String)).toEqual({ sent: [], interrupted: false });
    expect((await outbox.waiting("u1")).length).toBe(1);
  });

  it("sent items are listed for a day, then forgotten", async () => {
    let now = 1_000;
    const outbox = new Outbox(memoryStore(), () => now);
    await outbox.put({ ...queued("a"), state: "sent", sentAt: 1_000 });
    await outbox.put({ ...queued("b"), state: "failed", reason: "no" });
    expect((await outbox.of("u1")).length).toBe(2);
    now += KEEP_SENT_MS + 1;
    expect((await outbox.of("u1")).map((q) => q.requestId)).toEqual(["b"]);
  });

  it("service requests an earlier version kept in localStorage become outbox items", () => {
    const legacy = JSON.stringify([
      { requestId: "r1", userId: "u1", queuedAt: 5, typeId: "t", typeName: "水井", villageCode: "330523108204", description: "井坏了", address: "", fieldValues: {}, photos: [] },
      { requestId: "r2", userId: "u1", queuedAt: 6, typeId: "t", typeName: "水井", villageCode: "330523108204", description: "x", address: "", fieldValues: {}, photos: [], refused: "no" },
    ]);
    const items = fromLegacy(legacy);
    expect(items.map((i) => [i.kind, i.requestId, i.title, i.summary, i.state, i.reason])).toEqual([
      ["request", "r1", "水井", "井坏了", "waiting", undefined],
      ["request", "r2", "水井", "x", "failed", "no"],
    ]);
    expect((items[0]?.payload as { typeId: string }).typeId).toBe("t");
    expect(fromLegacy("not json")).toEqual([]);
    expect(fromLegacy(null)).toEqual([]);
  });
});

describe("an item its sender cannot send", () => {
  it("fails with its reason and holds back nothing behind it (only the network's answers wait)", async () => {
    const outbox = new Outbox(memoryStore());
    await outbox.put(queued("bad", "u1", 1, "broken"));
    await outbox.put(queued("good", "u1", 2, "request"));
    const calls: string[] = [];
    const broken: Sender<never> = {
      upload: async () => {
        throw new TypeError("a sender's own bug");
      },
      create: async () => ({ id: "never" }),
    };
    const senders = { broken, request: recording(calls) };
    const round = await sendQueued(outbox, "u1", senders, (e) => String(e));
    expect(round.interrupted).toBe(false);
    const states = (await outbox.of("u1")).map((q) => [q.requestId, q.state]);
    expect(states).toEqual([
      ["bad", "failed"],
      ["good", "sent"],
    ]);
  });
});
