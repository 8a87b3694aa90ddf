import { normalizePhone } from "@terrace/api";

/**
 * The phone field of the login screen. The server decides what is valid (its violation is shown
 * beside the field); this only catches what is certainly not a phone number before a code is
 * asked for, so nobody waits a minute for a code that cannot come.
 */
export type PhoneProblem = "empty" | "notPhone";

export function phoneProblem(input: string): PhoneProblem | undefined {
  const trimmed = input.trim();
  if (trimmed === "") {
    return "empty";
  }
  const e164 = normalizePhone(trimmed);
  return /^\+\d{6,15}$/.test(e164) ? undefined : "notPhone";
}

/**
 * A phone number for reading aloud or checking by eye: Chinese mobiles as `138 0000 0001`
 * (3-4-4, as printed on cards), others as given.
 */
export function displayPhone(phone: string): string {
  const match = /^\+86(1\d{2})(\d{4})(\d{4})$/.exec(normalizePhone(phone));
  return match ? `${match[1]} ${match[2]} ${match[3]}` : phone;
}

/** Keeps only what a phone number can hold while typing (digits, +, spaces, dashes), 20 at most. */
export function cleanPhoneInput(input: string): string {
  return input.replace(/[^\d+\s-]/g, "").slice(0, 20);
}
