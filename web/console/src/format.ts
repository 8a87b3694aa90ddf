import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";

/** Dates and numbers in the reader's language, through Intl (no formatting library needed). */
export function useFormat() {
  const { i18n } = useTranslation();
  const language = i18n.language;
  return useMemo(() => {
    const dateTime = new Intl.DateTimeFormat(language, {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone: "Asia/Shanghai",
    });
    const number = new Intl.NumberFormat(language);
    return {
      dateTime: (ts: Timestamp | undefined) => (ts ? dateTime.format(timestampDate(ts)) : ""),
      number: (n: number | bigint) => number.format(n),
    };
  }, [language]);
}
