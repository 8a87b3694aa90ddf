import { Code, type ErrorDescription } from "@terrace/api";
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
