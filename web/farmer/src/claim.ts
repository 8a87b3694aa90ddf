import { Code, type ErrorDescription } from "@terrace/api";
import type { Division } from "@terrace/api/gen/terrace/governance/v1/divisions_pb";
import { ResidentClaimStatus, type ResidentClaim } from "@terrace/api/gen/terrace/governance/v1/registry_pb";

/**
 * Claiming one's own record in the village register (governance's RequestResidentClaim,
 * VerifyResidentClaim, ListResidentClaims): the form's rules, where each server violation goes,
 * what a refusal means to the villager, and which step of the claim to show. The server checks
 * everything again; checking here only saves a round trip and explains the rule in the
 * villager's language.
 */

export type ClaimField = "village" | "name" | "nationalId" | "code";

/**
 * Request fields as the server names them in violations, to the form's fields. The village is an
 * AdminCode, so its violation may name the message or its `code`.
 */
export const CLAIM_VIOLATION_FIELDS: Record<string, ClaimField> = {
  village_code: "village",
  "village_code.code": "village",
  name: "name",
  national_id: "nationalId",
  code: "code",
};

export interface ClaimForm {
  village: string;
  name: string;
  nationalId: string;
}

/** Locale keys under `claim.errors`. */
export type ClaimProblem =
  | "villageRequired"
  | "villageFormat"
  | "nameRequired"
  | "nationalIdRequired"
  | "nationalIdFormat"
  | "codeRequired";

/** A national ID number as typed: spaces out, a final x as X (how it is printed on the card). */
export function cleanNationalId(input: string): string {
  return input.replace(/\s+/g, "").toUpperCase().slice(0, 18);
}

/** What is wrong with the form before it is sent, by field; empty when it may be sent. */
export function claimFormProblems(form: ClaimForm): Partial<Record<ClaimField, ClaimProblem>> {
  const problems: Partial<Record<ClaimField, ClaimProblem>> = {};
  const village = form.village.trim();
  if (village === "") problems.village = "villageRequired";
  else if (!/^\d{12}$/.test(village)) problems.village = "villageFormat";
  if (form.name.trim() === "") problems.name = "nameRequired";
  const id = cleanNationalId(form.nationalId);
  if (id === "") problems.nationalId = "nationalIdRequired";
  // The shape only: the check digit is the server's to judge (its violation names the field).
  else if (!/^\d{17}[\dX]$/.test(id)) problems.nationalId = "nationalIdFormat";
  return problems;
}

/** A code is six digits; anything else is not sent. */
export function codeProblem(code: string): ClaimProblem | undefined {
  return /^\d{6}$/.test(code) ? undefined : "codeRequired";
}

/**
 * The village to offer in the form: the 12-digit area of the account's first village-level role
 * (a villager registered as resident or farmer of their village), from the token's claims.
 */
export function villageFromRoles(roles: { role: string; scope: string }[] | undefined): string {
  return roles?.find((grant) => /^\d{12}$/.test(grant.scope))?.scope ?? "";
}

/** Locale keys under `claim` for refusals the villager can act on. */
export type ClaimRefusal = "notFound" | "accountLinked" | "recordLinked" | "noPhone" | "tooMany" | "closed";

/**
 * What a refused RequestResidentClaim or VerifyResidentClaim means to the villager, when it is
 * one of the answers the contract names; undefined for the rest (shown as the server words them).
 */
export function claimRefusal(error: Pick<ErrorDescription, "code" | "reason" | "retryAfterMs">): ClaimRefusal | undefined {
  switch (error.code) {
    case Code.NotFound:
      return "notFound";
    case Code.FailedPrecondition:
      switch (error.reason) {
        case "ACCOUNT_ALREADY_LINKED":
          return "accountLinked";
        case "RECORD_ALREADY_LINKED":
          return "recordLinked";
        case "NO_PHONE_ON_RECORD":
          return "noPhone";
        // VerifyResidentClaim: the code expired, too many wrong codes, or a newer claim.
        case "CLAIM_CODE_EXPIRED":
        case "CLAIM_TRIES_EXHAUSTED":
        case "CLAIM_CLOSED":
          return "closed";
        default:
          // CLAIM_ALREADY_PROVEN and the rest: the server's words (the list is read again).
          return undefined;
      }
    case Code.ResourceExhausted:
      // A day's claims used up: the contract gives no time to wait. A throttle that says how
      // long to wait is worded by the shared sentence instead.
      return error.retryAfterMs === undefined ? "tooMany" : undefined;
    default:
      return undefined;
  }
}

/** Which part of a claim the record page shows. */
export type ClaimStep = "offer" | "form" | "code" | "waiting" | "confirmed" | "refused" | "lapsed";

/**
 * The step for the villager's newest claim (ListResidentClaims is newest first): nothing yet is
 * an offer to claim; `restarting` (they asked to claim again) is the form.
 */
export function claimStep(newest: ResidentClaim | undefined, restarting: boolean): ClaimStep {
  if (restarting) return "form";
  switch (newest?.status) {
    case ResidentClaimStatus.AWAITING_CODE:
      return "code";
    case ResidentClaimStatus.AWAITING_OFFICIAL:
      return "waiting";
    case ResidentClaimStatus.CONFIRMED:
      return "confirmed";
    case ResidentClaimStatus.REFUSED:
      return "refused";
    case ResidentClaimStatus.LAPSED:
      return "lapsed";
    default:
      return "offer";
  }
}

/** A claim's status as a key under `claim.status`. */
export function claimStatusKey(status: ResidentClaimStatus): `claim.status.${string}` {
  return `claim.status.${ResidentClaimStatus[status] ?? "UNSPECIFIED"}`;
}

/** The claims list with `claim` put in its place (a new one first, as the server orders them). */
export function withClaim(claims: ResidentClaim[], claim: ResidentClaim): ResidentClaim[] {
  return claims.some((c) => c.id === claim.id) ? claims.map((c) => (c.id === claim.id ? claim : c)) : [claim, ...claims];
}

/**
 * What the village picker sends to SearchDivisions for what the villager typed: `name`, the last
 * word, is the query (a village's name or part of it, or its pinyin initials in lower case);
 * the words before it (a township's name, "天荒坪 余村") must be in the match's full name.
 * Undefined when there is nothing to search for.
 */
export interface VillageQuery {
  name: string;
  place: string[];
}

export function villageQuery(text: string): VillageQuery | undefined {
  const words = text
    .trim()
    .split(/[\s,，、·]+/)
    .map((word) => (/^[a-z]+$/i.test(word) ? word.toLowerCase() : word))
    .filter((word) => word !== "");
  const name = words.pop();
  return name === undefined ? undefined : { name, place: words };
}

/** One village the picker offers: the code the claim sends, its name, and its place to tell it apart. */
export interface VillageChoice {
  code: string;
  name: string;
  /** The full name, "浙江省 湖州市 安吉县 天荒坪镇 余村村民委员会"; the name if the server gave none. */
  fullName: string;
}

/**
 * SearchDivisions' answer as the picker lists it: villages only (12-digit codes), in the server's
 * order, each once, those whose full name lacks a word of `query.place` left out.
 */
export function villageChoices(divisions: Pick<Division, "code" | "name" | "fullName">[], query: VillageQuery): VillageChoice[] {
  const seen = new Set<string>();
  const choices: VillageChoice[] = [];
  for (const division of divisions) {
    const code = division.code?.code ?? "";
    if (!/^\d{12}$/.test(code) || seen.has(code)) continue;
    const fullName = division.fullName || division.name;
    if (!query.place.every((word) => fullName.includes(word))) continue;
    seen.add(code);
    choices.push({ code, name: division.name, fullName });
  }
  return choices;
}

/** Typing stops this long before the picker asks the server. */
export const VILLAGE_SEARCH_DELAY_MS = 250;

/** Where the picker's search stands, for what was typed last. */
export type VillageSearchState =
  | { kind: "idle" }
  | { kind: "waiting"; query: VillageQuery }
  | { kind: "found"; query: VillageQuery; choices: VillageChoice[] }
  | { kind: "failed"; query: VillageQuery; error: unknown };

export interface VillageSearch {
  /** The text now in the field: searched once typing has paused; an empty text is idle at once. */
  typed(text: string): void;
  /** Drops the pending search and any answer still to come (a village was picked, or unmount). */
  stop(): void;
}

/**
 * Debounced search that shows only the answer to the newest text: each `typed` cancels the timer
 * of the one before, and an answer arriving after a newer text was typed (or after `stop`) is
 * dropped, so a slow answer to "余" never replaces the answer to "余村".
 */
export function villageSearch(
  search: (query: VillageQuery) => Promise<VillageChoice[]>,
  show: (state: VillageSearchState) => void,
  delayMs = VILLAGE_SEARCH_DELAY_MS,
): VillageSearch {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let newest = 0;
  return {
    typed(text) {
      clearTimeout(timer);
      const mine = ++newest;
      const query = villageQuery(text);
      if (query === undefined) {
        show({ kind: "idle" });
        return;
      }
      show({ kind: "waiting", query });
      timer = setTimeout(() => {
        search(query).then(
          (choices) => mine === newest && show({ kind: "found", query, choices }),
          (error: unknown) => mine === newest && show({ kind: "failed", query, error }),
        );
      }, delayMs);
    },
    stop() {
      clearTimeout(timer);
      newest++;
    },
  };
}
