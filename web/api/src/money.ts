import type { Money } from "./gen/terrace/common/v1/money_pb";

const CURRENCY_CODE = /^[A-Z]{3}$/;

/**
 * A `terrace.common.v1.Money` (int64 minor units and an ISO 4217 code) for a reader of
 * `language`, through `Intl.NumberFormat` with the currency: "¥1,234.50" in zh-CN, "CN¥1,234.50"
 * in en (whatever Intl says for that language; the currency's own number of decimals, so JPY
 * has none).
 *
 * Never through a float: the minor units become an exact decimal string (bigint arithmetic),
 * which Intl formats as written (Intl.NumberFormat v3: Chrome 106, Safari 15.4, Firefox 116; an
 * older browser reads the string as a double, exact below 2^53 minor units, i.e. for any sum a
 * village sees). An empty money formats as "". A currency code that is not three capital
 * letters (Intl would throw) is shown after the number, read with two decimals as most
 * currencies have.
 */
export function formatMoney(money: Pick<Money, "amountMinor" | "currencyCode"> | undefined, language: string): string {
  if (!money) {
    return "";
  }
  const amount = BigInt(money.amountMinor);
  if (!CURRENCY_CODE.test(money.currencyCode)) {
    const plain = new Intl.NumberFormat(language, { minimumFractionDigits: 2 });
    return `${formatDecimal(plain, decimal(amount, 2))} ${money.currencyCode}`.trim();
  }
  const format = new Intl.NumberFormat(language, { style: "currency", currency: money.currencyCode });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return formatDecimal(format, decimal(amount, digits));
}

/** Intl's format of an exact decimal string; TypeScript's ES2022 lib types format() without it. */
function formatDecimal(format: Intl.NumberFormat, value: string): string {
  return (format.format as unknown as (value: string) => string)(value);
}

/** `amount` minor units as a decimal string with `digits` places: -5n, 2 → "-0.05". */
export function decimal(amount: bigint, digits: number): string {
  const sign = amount < 0n ? "-" : "";
  const abs = amount < 0n ? -amount : amount;
  if (digits === 0) {
    return `${sign}${abs}`;
  }
  const unit = 10n ** BigInt(digits);
  return `${sign}${abs / unit}.${(abs % unit).toString().padStart(digits, "0")}`;
}
