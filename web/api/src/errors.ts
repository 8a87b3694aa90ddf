import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  LocalizedMessageSchema,
  ResourceInfoSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb";

/**
 * What a failed call means to the user interface, decoded once from the google.rpc details the
 * server sends in `grpc-status-details-bin` (crates/platform/src/error.rs):
 * - `fieldViolations`: BadRequest, one entry per bad request field, keyed by its path in the
 *   request (`user.phone_number`); several violations of one field are joined with "; ". Each in
 *   the language the call asked for (`localized_message`) when the server has it, else English.
 * - `reason`: ErrorInfo's stable UPPER_SNAKE_CASE reason (`USER_LOCKED`, `REQUEST_ID_REUSED`).
 * - `retryAfterMs`: RetryInfo's delay, when the server said how long to wait.
 */
export interface ErrorDescription {
  code: Code;
  /** The code's name, e.g. "InvalidArgument", for logs and tests. */
  codeName: string;
  reason: string | undefined;
  /**
   * The server's message in the language the call asked for (`LocalizedMessage`) when it has it,
   * else its English message, without connect's "[code]" prefix.
   */
  message: string;
  fieldViolations: Record<string, string>;
  retryAfterMs: number | undefined;
  /** ResourceInfo, for NOT_FOUND and ALREADY_EXISTS. */
  resource: { type: string; name: string } | undefined;
}

export function describeError(err: unknown): ErrorDescription {
  const error = ConnectError.from(err);
  const fieldViolations: Record<string, string> = {};
  for (const badRequest of error.findDetails(BadRequestSchema)) {
    for (const violation of badRequest.fieldViolations) {
      const text = violation.localizedMessage?.message || violation.description;
      const previous = fieldViolations[violation.field];
      fieldViolations[violation.field] = previous === undefined ? text : `${previous}; ${text}`;
    }
  }
  const info = error.findDetails(ErrorInfoSchema)[0];
  const retry = error.findDetails(RetryInfoSchema)[0];
  const resource = error.findDetails(ResourceInfoSchema)[0];
  const localized = error.findDetails(LocalizedMessageSchema)[0];
  let retryAfterMs: number | undefined;
  if (retry?.retryDelay) {
    retryAfterMs =
      Number(retry.retryDelay.seconds) * 1000 + Math.round(retry.retryDelay.nanos / 1_000_000);
  }
  return {
    code: error.code,
    codeName: Code[error.code],
    reason: info?.reason || undefined,
    message: localized?.message || error.rawMessage,
    fieldViolations,
    retryAfterMs,
    resource: resource ? { type: resource.resourceType, name: resource.resourceName } : undefined,
  };
}

/**
 * Field violations re-keyed for a form: each proto path is looked up in `fields` (proto path ->
 * form field name); paths not in the map are returned under `rest` so the caller can show them
 * above the form rather than lose them.
 */
export function mapFieldViolations(
  violations: Record<string, string>,
  fields: Record<string, string>,
): { byField: Record<string, string>; rest: Record<string, string> } {
  const byField: Record<string, string> = {};
  const rest: Record<string, string> = {};
  for (const [path, description] of Object.entries(violations)) {
    const name = fields[path];
    if (name === undefined) {
      rest[path] = description;
    } else {
      byField[name] = byField[name] ? `${byField[name]}; ${description}` : description;
    }
  }
  return { byField, rest };
}

/** The translation keys {@link errorSentence} uses; every app's locale files carry them. */
export type ErrorSentenceKey =
  | "errors.network"
  | "errors.permission"
  | "errors.retryIn"
  | "errors.loginExpired"
  | "errors.generic";

/**
 * The sentence to show for a failed call when no field is to blame, in the app's language: codes
 * the user can act on get a sentence of their own; the rest show the server's message.
 */
export function errorSentence(
  t: (key: ErrorSentenceKey, options?: { seconds?: number; message?: string }) => string,
  err: unknown,
): string {
  const e = describeError(err);
  switch (e.code) {
    case Code.Unavailable:
    case Code.Unknown:
    case Code.DeadlineExceeded:
      return t("errors.network");
    case Code.PermissionDenied:
      return `${t("errors.permission")} (${e.message})`;
    case Code.Unauthenticated:
      // An authenticated call refused after the session's refresh was refused too: the login is
      // what to act on (the app asks for it over the page), not the server's words about tokens.
      // Calls whose UNAUTHENTICATED means a wrong code or password (logins, sign-up, a password
      // reset, ChangePassword) must say so themselves, as the login forms do.
      return t("errors.loginExpired");
    case Code.ResourceExhausted:
      return e.retryAfterMs
        ? t("errors.retryIn", { seconds: Math.ceil(e.retryAfterMs / 1000) })
        : t("errors.generic", { message: e.message });
    default:
      return t("errors.generic", { message: e.message });
  }
}
