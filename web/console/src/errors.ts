import { errorSentence } from "@terrace/api";
import type { TFunction } from "i18next";

/**
 * The message to show for a failed call when no field is to blame. Codes the user can act on get
 * a sentence of their own; the rest show the server's message, which is written for people.
 */
export function errorMessage(t: TFunction, err: unknown): string {
  return errorSentence(t, err);
}

/**
 * Form errors from the server's field violations: each proto path (`user.phone_number`,
 * `initial_grants[0].scope.code`) goes to the first form field whose rule matches it, a string
 * matching the path or a prefix of it (up to a `.` or `[`). Violations no rule matches are
 * returned in `rest`, to be shown above the form rather than lost.
 */
export function formErrors<Name extends string>(
  violations: Record<string, string>,
  rules: [pattern: string | RegExp, formName: Name][],
): { fields: { name: Name; errors: string[] }[]; rest: string[] } {
  const byName = new Map<Name, string[]>();
  const rest: string[] = [];
  for (const [path, description] of Object.entries(violations)) {
    const rule = rules.find(([pattern]) =>
      typeof pattern === "string"
        ? path === pattern || path.startsWith(`${pattern}.`) || path.startsWith(`${pattern}[`)
        : pattern.test(path),
    );
    if (rule) {
      byName.set(rule[1], [...(byName.get(rule[1]) ?? []), description]);
    } else {
      rest.push(`${path}: ${description}`);
    }
  }
  return { fields: [...byName].map(([name, errors]) => ({ name, errors })), rest };
}
