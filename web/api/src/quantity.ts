/**
 * Typed amounts to the contract's fixed-point integers and back, exactly: a quantity is kept in
 * thousandths of its unit (`Quantity.value_milli`), money in minor units (`Money.amount_minor`,
 * fen for CNY). What a person types ("12.5", "３.８", "1,200") becomes a bigint by string and
 * integer arithmetic only; a float never holds a stored value.
 */

/** Why a typed amount was not taken. */
export type AmountProblem = "required" | "format" | "precision" | "positive" | "tooLarge";

export type Parsed = { ok: true; value: bigint } | { ok: false; problem: AmountProblem };

/** int64's upper bound: what the server stores. */
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Full-width digits and point (what a Chinese keyboard may type) as ASCII, surrounding spaces
 * out, and thousands commas out where they stand as thousands commas ("1,200"). Anything else
 * ("12，5", "1,5", "1 2") is left to fail as a format: read as a decimal point or dropped, a comma
 * could make a price ten times too large without a word.
 */
function normalise(text: string): string {
  const ascii = text
    .trim()
    .replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0))
    .replace(/[．。]/g, ".")
    .replace(/，/g, ",");
  return /^\d{1,3}(,\d{3})+(\.\d*)?$/.test(ascii) ? ascii.replace(/,/g, "") : ascii;
}

/**
 * A typed decimal as an integer count of 10^-`places` (e.g. "12.5" with 3 places is 12500n):
 * more decimals than `places` is a problem (never rounded away silently), as are a sign, an
 * exponent or anything else not digits with at most one point, zero (amounts are positive), and
 * a value beyond int64.
 */
export function parseScaled(text: string, places: number): Parsed {
  const plain = normalise(text);
  if (plain === "") return { ok: false, problem: "required" };
  const match = /^(\d*)(?:\.(\d*))?$/.exec(plain);
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) return { ok: false, problem: "format" };
  const whole = match[1] || "0";
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  if (fraction.length > places) return { ok: false, problem: "precision" };
  const value = BigInt(whole) * 10n ** BigInt(places) + BigInt(fraction.padEnd(places, "0") || "0");
  if (value <= 0n) return { ok: false, problem: "positive" };
  if (value > INT64_MAX) return { ok: false, problem: "tooLarge" };
  return { ok: true, value };
}

/** A typed quantity in thousandths of its unit: "12.5" 斤 is 12500n. */
export function parseQuantityMilli(text: string): Parsed {
  return parseScaled(text, 3);
}

/** A typed price in yuan as fen: "3.8" is 380n; a third decimal is a problem. */
export function parseYuanToFen(text: string): Parsed {
  return parseScaled(text, 2);
}

/** An integer count of 10^-`places` as the shortest decimal: 12500n, 3 → "12.5"; 0n → "0". */
export function formatScaled(value: bigint, places: number): string {
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const unit = 10n ** BigInt(places);
  const fraction = (abs % unit).toString().padStart(places, "0").replace(/0+$/, "");
  return `${sign}${abs / unit}${fraction ? `.${fraction}` : ""}`;
}

/** Thousandths of a unit as the decimal a person reads: 12500n → "12.5". */
export function formatMilli(valueMilli: bigint): string {
  return formatScaled(valueMilli, 3);
}

/** Fen as yuan for an input field: 380n → "3.8". */
export function fenToYuanText(fen: bigint): string {
  return formatScaled(fen, 2);
}

/**
 * unit price (fen per unit) × quantity (thousandths of the unit), rounded half-even to the fen,
 * as the server prices an order (`Order.total_price`). Shown before ordering; the server's
 * figure is what counts.
 */
export function totalFen(unitPriceFen: bigint, quantityMilli: bigint): bigint {
  const product = unitPriceFen * quantityMilli;
  const quotient = product / 1000n;
  const remainder = product % 1000n;
  if (remainder * 2n > 1000n || (remainder * 2n === 1000n && quotient % 2n !== 0n)) return quotient + 1n;
  return quotient;
}
