import { RequestFieldType, type RequestFieldDefinition } from "./gen/terrace/governance/v1/service_requests_pb";
import { normalizePhone } from "./phone";

/**
 * A service request's extra field values checked in the browser as governance checks them
 * (`services/governance/src/request_types/fields.rs`), so a form can say what is wrong before
 * sending; the server still decides, and its violations (`service_request.field_values["key"]`)
 * go beside the same fields (`fieldValueKey`). Shared by the console (filing for a walk-in) and
 * the farmers' app; imported as `@terrace/api/requestFields`, not through the index, so the
 * apps' first screens do not carry it.
 */

/** What is wrong with a value, for the app to word; `limit` for min, max, length and choices. */
export type FieldProblem =
  | { problem: "required" }
  | { problem: "tooLong"; limit: string }
  | { problem: "pattern" }
  | { problem: "number" }
  | { problem: "min"; limit: string }
  | { problem: "max"; limit: string }
  | { problem: "boolean" }
  | { problem: "date" }
  | { problem: "datetime" }
  | { problem: "choice" }
  | { problem: "maxChoices"; limit: string }
  | { problem: "phone" };

const DEFAULT_TEXT_CHARS = 2000;
const MAX_NUMBER_CHARS = 32;

/** A decimal as the server reads one: an optional minus, digits, an optional fraction. */
export function isDecimal(value: string): boolean {
  return value.length <= MAX_NUMBER_CHARS && /^-?\d+(\.\d+)?$/.test(value);
}

/** Compares two decimals written as isDecimal accepts them, exactly (no floats). */
export function compareDecimals(a: string, b: string): number {
  const negA = a.startsWith("-");
  const negB = b.startsWith("-");
  const absA = a.replace(/^-/, "");
  const absB = b.replace(/^-/, "");
  const [wa = "", fa = ""] = absA.split(".");
  const [wb = "", fb = ""] = absB.split(".");
  const whole = (w: string) => w.replace(/^0+(?=\d)/, "");
  const width = Math.max(fa.length, fb.length);
  const na = whole(wa) + fa.padEnd(width, "0");
  const nb = whole(wb) + fb.padEnd(width, "0");
  const magnitude = (x: string, y: string) => {
    const sx = x.replace(/^0+(?=\d)/, "");
    const sy = y.replace(/^0+(?=\d)/, "");
    return sx.length !== sy.length ? Math.sign(sx.length - sy.length) : sx < sy ? -1 : sx > sy ? 1 : 0;
  };
  const zero = (x: string) => /^0*$/.test(x);
  const sa = zero(na) ? 0 : negA ? -1 : 1;
  const sb = zero(nb) ? 0 : negB ? -1 : 1;
  if (sa !== sb) return Math.sign(sa - sb);
  return sa === 0 ? 0 : sa * magnitude(na, nb);
}

function validDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

/** The value as it is sent (trimmed; a phone in E.164), or what is wrong with it. */
export function checkFieldValue(definition: RequestFieldDefinition, raw: string): { value: string } | FieldProblem {
  const value = raw.trim();
  if (value === "" || (value === "[]" && definition.type === RequestFieldType.MULTI_CHOICE)) {
    return definition.required ? { problem: "required" } : { value: "" };
  }
  switch (definition.type) {
    case RequestFieldType.TEXT: {
      const max = definition.maxLength || DEFAULT_TEXT_CHARS;
      if ([...value].length > max) return { problem: "tooLong", limit: String(max) };
      if (definition.pattern) {
        let pattern: RegExp | undefined;
        try {
          pattern = new RegExp(`^(?:${definition.pattern})$`, "u");
        } catch {
          pattern = undefined; // RE2 syntax JavaScript does not read: the server judges
        }
        if (pattern && !pattern.test(value)) return { problem: "pattern" };
      }
      return { value };
    }
    case RequestFieldType.NUMBER:
      if (!isDecimal(value)) return { problem: "number" };
      if (definition.minValue && isDecimal(definition.minValue) && compareDecimals(value, definition.minValue) < 0) {
        return { problem: "min", limit: definition.minValue };
      }
      if (definition.maxValue && isDecimal(definition.maxValue) && compareDecimals(value, definition.maxValue) > 0) {
        return { problem: "max", limit: definition.maxValue };
      }
      return { value };
    case RequestFieldType.BOOLEAN:
      return value === "true" || value === "false" ? { value } : { problem: "boolean" };
    case RequestFieldType.DATE:
      return validDate(value) ? { value } : { problem: "date" };
    case RequestFieldType.DATETIME:
      return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(value) &&
        validDate(value.slice(0, 10)) &&
        !Number.isNaN(Date.parse(value))
        ? { value }
        : { problem: "datetime" };
    case RequestFieldType.CHOICE:
      return definition.options.some((o) => o.value === value) ? { value } : { problem: "choice" };
    case RequestFieldType.MULTI_CHOICE: {
      let picked: unknown;
      try {
        picked = JSON.parse(value);
      } catch {
        return { problem: "choice" };
      }
      if (!Array.isArray(picked) || picked.some((p) => typeof p !== "string" || !definition.options.some((o) => o.value === p))) {
        return { problem: "choice" };
      }
      if (new Set(picked).size !== picked.length) return { problem: "choice" };
      if (definition.maxChoices > 0 && picked.length > definition.maxChoices) {
        return { problem: "maxChoices", limit: String(definition.maxChoices) };
      }
      return { value: JSON.stringify(picked) };
    }
    case RequestFieldType.PHONE: {
      const phone = normalizePhone(value);
      return /^\+[1-9]\d{6,14}$/.test(phone) ? { value: phone } : { problem: "phone" };
    }
    default:
      return { value };
  }
}

/**
 * Every value of a type's fields checked: the values to send (empty ones left out) and the
 * problems by key.
 */
export function checkFieldValues(
  definitions: RequestFieldDefinition[],
  values: Record<string, string | undefined>,
): { values: Record<string, string>; problems: Record<string, FieldProblem> } {
  const out: Record<string, string> = {};
  const problems: Record<string, FieldProblem> = {};
  for (const definition of definitions) {
    const checked = checkFieldValue(definition, values[definition.key] ?? "");
    if ("problem" in checked) problems[definition.key] = checked;
    else if (checked.value !== "") out[definition.key] = checked.value;
  }
  return { values: out, problems };
}

/** The key a violation of `service_request.field_values["key"]` names, if it names one. */
export function fieldValueKey(path: string): string | undefined {
  const m = /field_values\["((?:[^"\\]|\\.)*)"\]/.exec(path) ?? /field_values\[([^\]"]+)\]/.exec(path) ?? /field_values\.(\w+)/.exec(path);
  return m?.[1];
}
