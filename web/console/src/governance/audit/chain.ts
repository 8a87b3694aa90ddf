import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { ActorKindSchema } from "@terrace/api/gen/terrace/common/v1/actor_pb";
import type { AuditEntry } from "@terrace/api/gen/terrace/governance/v1/audit_pb";

/**
 * Governance's tamper-evident audit log, checked in the browser exactly as
 * `proto/terrace/governance/v1/audit.proto` (AuditEntry) writes the bytes hashed and as
 * `services/governance/src/audit/chain.rs` verifies a chain: entries in sequence order from 1,
 * no gap, each one's `previous_hash` the hash of the one before, each one's contents hashing to
 * its `hash`, and the last one the chain head. No network here: the page feeds the entries.
 */

/** The first field of the bytes hashed: the version of the encoding. */
export const TAG = "terrace.governance.audit.v1";

/** The previous hash of a chain's first entry, and the head hash of an empty chain. */
export const GENESIS = "0".repeat(64);

/** A time as it is hashed: RFC 3339, UTC, exactly six fractional digits, `Z`; undefined when invalid. */
export function timeText(time: Timestamp | undefined): string | undefined {
  if (!time || time.nanos < 0 || time.nanos > 999_999_999) return undefined;
  const ms = Number(time.seconds) * 1000;
  const date = new Date(ms);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) return undefined;
  const micros = String(Math.floor(time.nanos / 1000)).padStart(6, "0");
  return `${date.toISOString().slice(0, 19)}.${micros}Z`;
}

/** An actor kind by its enum value name (`ACTOR_KIND_USER`), as it is hashed. */
export function actorKindName(kind: number): string | undefined {
  return (ActorKindSchema.value as Record<number, { name: string } | undefined>)[kind]?.name;
}

/** The fifteen texts hashed of an entry, in the contract's order; a string says what is malformed. */
export function hashedFields(entry: AuditEntry): string[] | string {
  const time = timeText(entry.time);
  if (time === undefined) return "no valid time";
  if (!entry.actor) return "no actor";
  const kind = actorKindName(entry.actor.kind);
  if (kind === undefined) return "unknown actor kind";
  return [
    TAG,
    entry.chain?.code ?? "",
    String(entry.sequence),
    entry.previousHash,
    time,
    kind,
    entry.actor.userId,
    entry.actor.onBehalfOfUserId,
    entry.actor.agencyClientId,
    entry.actor.systemComponent,
    entry.action,
    entry.targetType,
    entry.targetId,
    entry.area?.code ?? "",
    entry.detailsJson,
  ];
}

/** Each text as its UTF-8 length (u64, big-endian) and its UTF-8 bytes. */
export function encodeFields(fields: string[]): Uint8Array<ArrayBuffer> {
  const encoder = new TextEncoder();
  const parts = fields.map((field) => encoder.encode(field));
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + 8 + part.length, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const part of parts) {
    view.setBigUint64(at, BigInt(part.length), false);
    bytes.set(part, at + 8);
    at += 8 + part.length;
  }
  return bytes;
}

/** Lower-case hex SHA-256 (WebCrypto). */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What an entry's hash should be; a string starting "malformed:" when it cannot be computed. */
export async function entryHash(entry: AuditEntry): Promise<string | { malformed: string }> {
  const fields = hashedFields(entry);
  if (typeof fields === "string") return { malformed: fields };
  return sha256Hex(encodeFields(fields));
}

/** Why a chain is broken, at the entry `Break.sequence` names (the Rust `Problem`). */
export type Problem =
  | { kind: "edited" }
  | { kind: "reordered" }
  | { kind: "missing"; found: bigint }
  | { kind: "outOfOrder"; found: bigint }
  | { kind: "truncated"; head: bigint }
  | { kind: "headMismatch" }
  | { kind: "wrongChain"; found: string }
  | { kind: "malformed"; what: string };

export interface Break {
  /** The first broken entry: the one edited or out of place, or the first one missing. */
  sequence: bigint;
  problem: Problem;
}

export type Verdict = { intact: true; entries: bigint; headHash: string } | { intact: false; broken: Break };

/**
 * Checks a chain entry by entry, in sequence order, from its first entry; pages are pushed as
 * they are read. After the first break nothing more is checked.
 */
export class ChainVerifier {
  private next = 1n;
  private previousHash = GENESIS;
  private broken: Break | undefined;

  constructor(readonly chain: string) {}

  get failed(): boolean {
    return this.broken !== undefined;
  }

  /** The next sequence expected. */
  get expected(): bigint {
    return this.next;
  }

  /** Checks these entries in order (their hashes computed in parallel, checked in turn). */
  async push(entries: AuditEntry[]): Promise<void> {
    if (this.broken) return;
    const hashes = await Promise.all(entries.map(entryHash));
    entries.forEach((entry, i) => {
      if (this.broken) return;
      const problem = this.check(entry, hashes[i]!);
      if (problem) {
        this.broken = problem;
      } else {
        this.next = entry.sequence + 1n;
        this.previousHash = entry.hash;
      }
    });
  }

  private check(entry: AuditEntry, hash: string | { malformed: string }): Break | undefined {
    const at = (problem: Problem): Break => ({ sequence: entry.sequence, problem });
    if (entry.sequence > this.next) return { sequence: this.next, problem: { kind: "missing", found: entry.sequence } };
    if (entry.sequence < this.next) return { sequence: this.next, problem: { kind: "outOfOrder", found: entry.sequence } };
    const chain = entry.chain?.code ?? "";
    if (chain !== this.chain) return at({ kind: "wrongChain", found: chain });
    if (entry.previousHash !== this.previousHash) return at({ kind: "reordered" });
    if (typeof hash !== "string") return at({ kind: "malformed", what: hash.malformed });
    if (hash !== entry.hash) return at({ kind: "edited" });
    return undefined;
  }

  /**
   * The verdict, given the chain head read with (or before) the entries: a chain that ends
   * before its head lost its last entries; a last entry at the head must carry the head's hash.
   */
  finish(head?: { sequence: bigint; hash: string }): Verdict {
    if (this.broken) return { intact: false, broken: this.broken };
    const last = this.next - 1n;
    if (head) {
      if (last < head.sequence) {
        return { intact: false, broken: { sequence: this.next, problem: { kind: "truncated", head: head.sequence } } };
      }
      if (last === head.sequence && this.previousHash !== head.hash) {
        return { intact: false, broken: { sequence: last, problem: { kind: "headMismatch" } } };
      }
    }
    return { intact: true, entries: last, headHash: this.previousHash };
  }
}

/** Verifies a whole chain given in sequence order, against its head when known. */
export async function verifyChain(
  chain: string,
  entries: AuditEntry[],
  head?: { sequence: bigint; hash: string },
): Promise<Verdict> {
  const verifier = new ChainVerifier(chain);
  await verifier.push(entries);
  return verifier.finish(head);
}

/** One page of a chain as ListAuditEntries answers it. */
export interface ChainPage {
  entries: AuditEntry[];
  headSequence: bigint;
  headHash: string;
  /** When the head was read (the service clock). */
  headTime?: Timestamp;
}

/** Entries per request when verifying: ListAuditEntries' maximum. */
export const VERIFY_PAGE = 5000;

/**
 * Reads a chain from sequence 1 in pages of 5000 (`read(fromSequence, pageSize)`) and verifies it
 * against the head the first page reports: entries appended while reading (after that head) are
 * left for the next verification. `progress` is told how many entries were checked.
 */
export async function readAndVerify(
  chain: string,
  read: (fromSequence: bigint, pageSize: number) => Promise<ChainPage>,
  progress?: (checked: bigint, head: bigint) => void,
): Promise<Verdict & { headSequence: bigint; headTime?: Timestamp }> {
  const verifier = new ChainVerifier(chain);
  let head: { sequence: bigint; hash: string } | undefined;
  let headTime: Timestamp | undefined;
  let from = 1n;
  for (;;) {
    const page = await read(from, VERIFY_PAGE);
    if (!head) {
      head = { sequence: page.headSequence, hash: page.headHash };
      headTime = page.headTime;
    }
    const wanted = page.entries.filter((e) => e.sequence <= head!.sequence);
    await verifier.push(wanted);
    progress?.(verifier.expected - 1n, head.sequence);
    const last = page.entries.at(-1)?.sequence;
    if (verifier.failed || last === undefined || last >= head.sequence || wanted.length === 0) break;
    from = last + 1n;
  }
  return { ...verifier.finish(head), headSequence: head.sequence, headTime };
}
