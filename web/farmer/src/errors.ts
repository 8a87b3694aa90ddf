import { Code, describeError, errorSentence, mapFieldViolations } from "@terrace/api";
import type { TFunction } from "i18next";

/**
 * A failed call as the screens show it: server field violations by form field (beside the field)
 * and one sentence for the rest (above the form).
 *
 * Violation paths are matched without their list indexes (`consent.scopes[1]` is
 * `consent.scopes`), so one form field stands for a repeated request field.
 */
export function explainError<Field extends string>(
  t: TFunction,
  err: unknown,
  fields: Record<string, Field>,
): { byField: Partial<Record<Field, string>>; message: string | undefined } {
  const e = describeError(err);
  const unindexed: Record<string, string> = {};
  for (const [path, description] of Object.entries(e.fieldViolations)) {
    const key = path.replace(/\[\d+\]/g, "");
    unindexed[key] = unindexed[key] ? `${unindexed[key]}; ${description}` : description;
  }
  const { byField, rest } = mapFieldViolations(unindexed, fields);
  const restText = Object.entries(rest).map(([path, description]) => `${path}: ${description}`);
  let message: string | undefined;
  if (e.code === Code.InvalidArgument) {
    message = restText.length > 0 ? restText.join("; ") : undefined;
  } else {
    message = errorMessage(t, err);
  }
  return { byField: byField as Partial<Record<Field, string>>, message };
}

/** The sentence for a failed call no field is to blame for. */
export function errorMessage(t: TFunction, err: unknown): string {
  return errorSentence(t, err);
}
