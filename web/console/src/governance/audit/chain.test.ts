import { create, fromJson } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { ActorKind, ActorSchema } from "@terrace/api/gen/terrace/common/v1/actor_pb";
import { AdminCodeSchema, AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { AuditEntrySchema, type AuditEntry } from "@terrace/api/gen/terrace/governance/v1/audit_pb";
import { describe, expect, it } from "vitest";
import { encodeFields, entryHash, GENESIS, hashedFields, readAndVerify, timeText, verifyChain, type ChainPage } from "./chain";

const CHAIN = "330523000000";
const VILLAGE = "330523108204";

/** 2027-01-15T08:00:00Z + `second`, and 123 456 µs, as chain.rs's tests build their entries. */
function time(second: number, nanos = 123_456_000) {
  return create(TimestampSchema, { seconds: BigInt(1_800_000_000 + second), nanos });
}

/** A chain of `n` entries like chain.rs's tests' (user-n, resident.updated, r<n>, {"n":n}), hashed here. */
async function chain(n: number): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let previous = GENESIS;
  for (let sequence = 1; sequence <= n; sequence++) {
    const entry = create(AuditEntrySchema, {
      sequence: BigInt(sequence),
      time: time(sequence),
      actor: create(ActorSchema, { kind: ActorKind.USER, userId: `user-${sequence}` }),
      action: "resident.updated",
      targetType: "resident",
      targetId: `r${sequence}`,
      area: create(AdminCodeSchema, { code: VILLAGE, level: AdminLevel.VILLAGE }),
      detailsJson: `{"n":${sequence}}`,
      previousHash: previous,
      chain: create(AdminCodeSchema, { code: CHAIN, level: AdminLevel.COUNTY }),
    });
    entry.hash = (await entryHash(entry)) as string;
    previous = entry.hash;
    entries.push(entry);
  }
  return entries;
}

describe("the bytes hashed", () => {
  it("are each field as a u64 big-endian length and its UTF-8 bytes", () => {
    const bytes = encodeFields(["ab", "", "村"]);
    expect(Array.from(bytes)).toEqual([
      0, 0, 0, 0, 0, 0, 0, 2, 0x61, 0x62,
      0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 3, 0xe6, 0x9d, 0x91,
    ]);
  });

  it("write the time as RFC 3339 UTC with exactly six fractional digits", () => {
    expect(timeText(time(0))).toBe("2027-01-15T08:00:00.123456Z");
    expect(timeText(time(1, 7_999))).toBe("2027-01-15T08:00:01.000007Z"); // cut, not rounded
    expect(timeText(time(2, 0))).toBe("2027-01-15T08:00:02.000000Z");
    expect(timeText(undefined)).toBeUndefined();
    expect(timeText(create(TimestampSchema, { seconds: 1n, nanos: -1 }))).toBeUndefined();
  });

  it("are the contract's fifteen fields in order, the actor kind by its value name", async () => {
    const [first] = await chain(1);
    expect(hashedFields(first!)).toEqual([
      "terrace.governance.audit.v1",
      CHAIN,
      "1",
      GENESIS,
      "2027-01-15T08:00:01.123456Z",
      "ACTOR_KIND_USER",
      "user-1",
      "",
      "",
      "",
      "resident.updated",
      "resident",
      "r1",
      VILLAGE,
      '{"n":1}',
    ]);
  });

  // Vectors computed independently of this module (Python's hashlib over the same bytes), for
  // the entries chain.rs's tests build.
  it("hash to the known vectors", async () => {
    const [first, second] = await chain(2);
    expect(first!.hash).toBe("f2b30278a51b0a7c4f9b2072e1204143479e83ffe9307cffe33e59de7b934595");
    expect(second!.hash).toBe("d45400ac02c0e7d52b66f4392aa68d3ff790ddbb228ba8d0f92aede1a7c58a91");
    const system = create(AuditEntrySchema, {
      sequence: 3n,
      time: time(3, 7_000),
      actor: create(ActorSchema, { kind: ActorKind.SYSTEM, systemComponent: "retention" }),
      action: "resident.erased",
      targetType: "resident",
      targetId: "r3",
      area: create(AdminCodeSchema, { code: VILLAGE }),
      detailsJson: '{"原因":"村民申请"}',
      previousHash: second!.hash,
      chain: create(AdminCodeSchema, { code: CHAIN }),
    });
    expect(await entryHash(system)).toBe("9dd754ad7100ebb11104ad3950f2628971fa8f613004f46b99c0a414f5957822");
  });
});

// An entry as `terrace dev --demo` wrote it (the Rust chain.rs hashed it), read back through
// ListAuditEntries in the end-to-end test: the first of 安吉县's chain.
it("recomputes the hash the Rust server wrote for a real entry", async () => {
  const entry = fromJson(AuditEntrySchema, {
    sequence: "1",
    time: "2026-12-03T22:46:02.676595Z",
    actor: { kind: "ACTOR_KIND_SYSTEM", systemComponent: "terrace command line" },
    action: "role.granted",
    targetType: "user",
    targetId: "01a23e16-0e9a-7200-842b-abd7d1abb2f1",
    area: { code: "330523108204", level: "ADMIN_LEVEL_VILLAGE" },
    detailsJson:
      '{"grant_id":"01a23e16-0ebb-7745-a3da-e2936cdd7bc2","identity_record_id":"01a23e16-0ebe-75f0-bf56-408bfeedec55","operator_reason":"terrace dev --demo","reason":"terrace dev --demo","role":"resident","scope":"330523108204"}',
    previousHash: GENESIS,
    hash: "1dd76f8bd65d3b8100098735298b91cead05b59b6cd1e86190c23af7953076c5",
    chain: { code: "330523000000", level: "ADMIN_LEVEL_COUNTY" },
  });
  expect(await entryHash(entry)).toBe(entry.hash);
  expect(await verifyChain(CHAIN, [entry], { sequence: 1n, hash: entry.hash })).toMatchObject({ intact: true, entries: 1n });
});

describe("verifying a chain", () => {
  const headOf = (entries: AuditEntry[]) => ({ sequence: entries.at(-1)!.sequence, hash: entries.at(-1)!.hash });

  it("finds an intact chain intact, and an empty one", async () => {
    const entries = await chain(5);
    expect(await verifyChain(CHAIN, entries, headOf(entries))).toEqual({ intact: true, entries: 5n, headHash: entries[4]!.hash });
    expect(await verifyChain(CHAIN, [], { sequence: 0n, hash: GENESIS })).toEqual({ intact: true, entries: 0n, headHash: GENESIS });
  });

  it("names an edited entry", async () => {
    const entries = await chain(5);
    entries[2]!.detailsJson = '{"n":99}';
    expect(await verifyChain(CHAIN, entries, headOf(entries))).toEqual({
      intact: false,
      broken: { sequence: 3n, problem: { kind: "edited" } },
    });
  });

  it("names a deleted entry, and entries deleted at the end", async () => {
    const entries = await chain(5);
    const head = headOf(entries);
    expect(await verifyChain(CHAIN, entries.filter((e) => e.sequence !== 2n), head)).toEqual({
      intact: false,
      broken: { sequence: 2n, problem: { kind: "missing", found: 3n } },
    });
    expect(await verifyChain(CHAIN, entries.slice(0, 3), head)).toEqual({
      intact: false,
      broken: { sequence: 4n, problem: { kind: "truncated", head: 5n } },
    });
  });

  it("names reordered entries, renumbered or not", async () => {
    const entries = await chain(5);
    const swapped = [entries[0]!, entries[2]!, entries[1]!, entries[3]!, entries[4]!];
    expect((await verifyChain(CHAIN, swapped, headOf(entries))).intact).toBe(false);
    expect(await verifyChain(CHAIN, swapped)).toEqual({
      intact: false,
      broken: { sequence: 2n, problem: { kind: "missing", found: 3n } },
    });
    // Renumbered to hide the swap: the links no longer hold.
    const renumbered = swapped.map((e, i) => create(AuditEntrySchema, { ...e, sequence: BigInt(i + 1) }));
    expect(await verifyChain(CHAIN, renumbered)).toEqual({ intact: false, broken: { sequence: 2n, problem: { kind: "reordered" } } });
  });

  it("names a rewritten head, another chain's entry and a malformed one", async () => {
    const entries = await chain(3);
    expect(await verifyChain(CHAIN, entries, { sequence: 3n, hash: "f".repeat(64) })).toEqual({
      intact: false,
      broken: { sequence: 3n, problem: { kind: "headMismatch" } },
    });
    expect(await verifyChain("330522000000", entries)).toEqual({
      intact: false,
      broken: { sequence: 1n, problem: { kind: "wrongChain", found: CHAIN } },
    });
    entries[1]!.actor = undefined;
    expect(await verifyChain(CHAIN, entries)).toEqual({
      intact: false,
      broken: { sequence: 2n, problem: { kind: "malformed", what: "no actor" } },
    });
  });

  it("reads the chain in pages from sequence 1 and stops at the first page's head", async () => {
    const entries = await chain(7);
    const asked: [bigint, number][] = [];
    // Pages of 3 (as if the server's maximum were 3); the head seen first is 6, a 7th was appended.
    const read = async (from: bigint, size: number): Promise<ChainPage> => {
      asked.push([from, size]);
      return {
        entries: entries.filter((e) => e.sequence >= from).slice(0, 3),
        headSequence: asked.length === 1 ? 6n : 7n,
        headHash: asked.length === 1 ? entries[5]!.hash : entries[6]!.hash,
      };
    };
    const verdict = await readAndVerify(CHAIN, read);
    expect(verdict).toEqual({ intact: true, entries: 6n, headHash: entries[5]!.hash, headSequence: 6n, headTime: undefined });
    expect(asked).toEqual([
      [1n, 5000],
      [4n, 5000],
    ]);
  });
});
