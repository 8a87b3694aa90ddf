/**
 * Resident ID numbers (居民身份证号, GB 11643-1999): 6 digits of the issuing area, 8 of the birth
 * date, 3 of sequence (odd: male), and a check digit over the first 17 (ISO 7064 MOD 11-2).
 * The console uses this for a hint while typing; the server checks the number and decides.
 */

/** The weight of each of the first 17 digits: 2^(17-i) mod 11. */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/** The check character for each remainder of the weighted sum mod 11. */
const CHECK = "10X98765432";

/** The check character for 17 digits, or undefined when `first17` is not 17 digits. */
export function checkCharacter(first17: string): string | undefined {
  if (!/^\d{17}$/.test(first17)) return undefined;
  let sum = 0;
  WEIGHTS.forEach((weight, i) => (sum += Number(first17[i]) * weight));
  return CHECK[sum % 11];
}

/** Typed text as the server reads a number: no spaces, a lower-case x upper-cased. */
export function normalizeNationalId(text: string): string {
  return text.replace(/\s+/g, "").toUpperCase();
}

export type NationalIdProblem =
  | { kind: "length" }
  | { kind: "characters" }
  | { kind: "checkDigit"; expected: string };

/** What is wrong with a typed number at a glance (length, characters, check digit); undefined if nothing. */
export function nationalIdProblem(text: string): NationalIdProblem | undefined {
  const id = normalizeNationalId(text);
  if (id.length !== 18) return { kind: "length" };
  if (!/^\d{17}[\dX]$/.test(id)) return { kind: "characters" };
  const expected = checkCharacter(id.slice(0, 17));
  return expected === id[17] || expected === undefined ? undefined : { kind: "checkDigit", expected };
}

/** A full number grouped for reading aloud: area, birth date, sequence and check ("330523 19850312 123 4"). */
export function groupNationalId(id: string): string {
  const n = normalizeNationalId(id);
  return n.length === 18 ? `${n.slice(0, 6)} ${n.slice(6, 14)} ${n.slice(14, 17)} ${n.slice(17)}` : n;
}
