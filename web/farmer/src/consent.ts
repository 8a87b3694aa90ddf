import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GrantConsentRequestSchema } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";

/**
 * The consent form's rules, as the contract states them (proto/terrace/identity/v1:
 * `Consent`, `GrantConsent`): the helper is another user named by their user id (UUID), there
 * must be at least one scope ("no blanket consent"), the end is required and at most one year
 * after the start, the note is short. The server checks all of it again; checking here only
 * saves a villager a round trip and explains the rule in their language.
 */

/**
 * What a villager may let a helper do, as the API scopes the services check. Shown as plain
 * words (locales `consent.scope.*`); the string is what goes to the server.
 */
export const CONSENT_SCOPES = ["market.listings:write", "governance.requests:write"] as const;
export type ConsentScope = (typeof CONSENT_SCOPES)[number];

/** How long a consent lasts, as offered to the villager; the contract allows up to a year. */
export const DURATIONS = ["week", "month", "quarter", "year"] as const;
export type Duration = (typeof DURATIONS)[number];

export const MAX_NOTE_CHARS = 500;
const DAY_MS = 24 * 3_600_000;

export interface ConsentForm {
  helperId: string;
  scopes: string[];
  duration: Duration | undefined;
  note: string;
}

export type ConsentField = "helperId" | "scopes" | "duration" | "note";
/** Locale keys under `consent.errors`. */
export type ConsentProblem = "helperRequired" | "helperFormat" | "helperSelf" | "scopesRequired" | "durationRequired" | "noteTooLong";

/** A user id as typed or pasted: spaces and line breaks out, lower case (UUIDs are hex). */
export function normalizeUserId(input: string): string {
  return input.replace(/\s+/g, "").toLowerCase();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The end of a consent starting at `startMs`, in local calendar terms (a month is a month). */
export function endOf(duration: Duration, startMs: number): number {
  const end = new Date(startMs);
  switch (duration) {
    case "week":
      end.setDate(end.getDate() + 7);
      break;
    case "month":
      end.setMonth(end.getMonth() + 1);
      break;
    case "quarter":
      end.setMonth(end.getMonth() + 3);
      break;
    case "year":
      // 365 days, not a calendar year: the server allows at most 366 days from its own "now",
      // so this holds across a leap day and with a phone clock up to a day fast.
      return startMs + 365 * DAY_MS;
  }
  return end.getTime();
}

/** Every problem of the form at once, by field; empty when it may be sent. */
export function validateConsent(form: ConsentForm, selfUserId: string | undefined): Partial<Record<ConsentField, ConsentProblem>> {
  const problems: Partial<Record<ConsentField, ConsentProblem>> = {};
  const helperId = normalizeUserId(form.helperId);
  if (helperId === "") {
    problems.helperId = "helperRequired";
  } else if (!UUID.test(helperId)) {
    problems.helperId = "helperFormat";
  } else if (selfUserId !== undefined && helperId === selfUserId.toLowerCase()) {
    problems.helperId = "helperSelf";
  }
  if (form.scopes.length === 0) {
    problems.scopes = "scopesRequired";
  }
  if (form.duration === undefined) {
    problems.duration = "durationRequired";
  }
  if ([...form.note].length > MAX_NOTE_CHARS) {
    problems.note = "noteTooLong";
  }
  return problems;
}

/**
 * The GrantConsent request for a valid form: starting now (start_time absent), ending after the
 * chosen duration. `grantor_user_id` stays empty: the caller is the villager.
 */
export function grantConsentRequest(
  form: ConsentForm & { duration: Duration },
  requestId: string,
  nowMs: number,
): MessageInitShape<typeof GrantConsentRequestSchema> {
  return {
    requestId,
    consent: {
      helperUserId: normalizeUserId(form.helperId),
      scopes: [...new Set(form.scopes)],
      endTime: timestampFromMs(endOf(form.duration, nowMs)),
      note: form.note.trim(),
    },
  };
}

/** Server violation paths (`consent.scopes[1]`) to the form's fields. */
export const CONSENT_VIOLATION_FIELDS: Record<string, ConsentField> = {
  "consent.helper_user_id": "helperId",
  "consent.scopes": "scopes",
  "consent.end_time": "duration",
  "consent.start_time": "duration",
  "consent.note": "note",
};
