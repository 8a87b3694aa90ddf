import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { formatMoney } from "@terrace/api";
import type { Money } from "@terrace/api/gen/terrace/common/v1/money_pb";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

/** Dates, numbers and money in the reader's language, through Intl (no formatting library needed). */
export function formatter(language: string) {
  const dateTime = new Intl.DateTimeFormat(language, {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: "Asia/Shanghai",
  });
  const date = new Intl.DateTimeFormat(language, { dateStyle: "long", timeZone: "Asia/Shanghai" });
  const number = new Intl.NumberFormat(language);
  return {
    dateTime: (ts: Timestamp | undefined) => (ts ? dateTime.format(timestampDate(ts)) : ""),
    date: (d: Date | Timestamp | undefined) =>
      d === undefined ? "" : date.format(d instanceof Date ? d : timestampDate(d)),
    number: (n: number | bigint) => number.format(n),
    /** A Money with its currency's sign as this language writes it (¥ in Chinese, CN¥ in English). */
    money: (m: Money | undefined) => formatMoney(m, language),
  };
}

export function useFormat() {
  const { i18n } = useTranslation();
  const language = i18n.language;
  return useMemo(() => formatter(language), [language]);
}
