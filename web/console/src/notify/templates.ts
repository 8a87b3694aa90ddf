import { create } from "@bufbuild/protobuf";
import { MoneySchema } from "@terrace/api/gen/terrace/common/v1/money_pb";
import { DateSchema } from "@terrace/api/gen/terrace/common/v1/date_pb";
import { LocalizedTextSchema } from "@terrace/api/gen/terrace/common/v1/localized_text_pb";
import { QuantitySchema, Unit } from "@terrace/api/gen/terrace/common/v1/quantity_pb";
import {
  Channel,
  NotificationCategory,
  TemplateContentSchema,
  TemplateSchema,
  TemplateValueSchema,
  VariableType,
  type Template,
  type TemplateContent,
  type TemplateValue,
} from "@terrace/api/gen/terrace/notify/v1/notify_pb";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";

/**
 * The template editor's pure part: a blank template, a new text, what an official types for a
 * preview value turned into the typed value the server checks, and the fields a save changes.
 * The server judges every template whole when it is saved; nothing here second-guesses it.
 */

/** The channels a template can have a text for, in the order the editor offers them. */
export const CHANNELS = [Channel.IN_APP, Channel.SMS, Channel.EMAIL, Channel.WEBHOOK];

/** The variable types, in the order the editor offers them. */
export const VARIABLE_TYPES = [
  VariableType.STRING,
  VariableType.INTEGER,
  VariableType.DECIMAL,
  VariableType.MONEY,
  VariableType.QUANTITY,
  VariableType.DATE,
  VariableType.TIMESTAMP,
  VariableType.BOOLEAN,
  VariableType.LOCALIZED_TEXT,
  VariableType.URL,
];

/** A new template: a notice with one Chinese in-app text. */
export function blankTemplate(): Template {
  return create(TemplateSchema, {
    category: NotificationCategory.NOTICES,
    contents: [newText("zh-CN", Channel.IN_APP)],
  });
}

/** An empty text for `locale` on `channel`. */
export function newText(locale: string, channel: Channel): TemplateContent {
  return create(TemplateContentSchema, { locale, channel });
}

/** Whether a text on `channel` has a title (in-app and e-mail). */
export function titled(channel: Channel): boolean {
  return channel === Channel.IN_APP || channel === Channel.EMAIL;
}

/** The fields a save of `after` over `before` changes (UpdateTemplate's mask). */
export function templateMask(before: Template, after: Template): string[] {
  const paths: string[] = [];
  if (before.description !== after.description) paths.push("description");
  if (before.category !== after.category) paths.push("category");
  if (before.critical !== after.critical) paths.push("critical");
  if (JSON.stringify(variablesOf(before)) !== JSON.stringify(variablesOf(after))) paths.push("variables");
  if (JSON.stringify(contentsOf(before)) !== JSON.stringify(contentsOf(after))) paths.push("contents");
  return paths;
}

const variablesOf = (t: Template) => t.variables.map((v) => [v.name, v.type, v.required, v.description]);
const contentsOf = (t: Template) =>
  t.contents.map((c) => [c.locale, c.channel, c.subject, c.body, c.providerTemplateId, c.signature]);

/**
 * What an official typed for a preview value, as the typed value of `type`; undefined when it is
 * empty (left out: an optional variable reads as nothing) or cannot be that type (the server
 * then names the variable as missing or ill-typed).
 *
 * Money is typed in yuan (3.5), a quantity in 斤, a date as 2026-12-08, an instant as
 * 2026-12-08 08:30 in China's time, a localized text in Chinese, a boolean as 是/否 or yes/no.
 */
export function typedValue(type: VariableType, typed: string): TemplateValue | undefined {
  const text = typed.trim();
  if (text === "") return undefined;
  const value = (v: TemplateValue["value"]) => create(TemplateValueSchema, { value: v });
  switch (type) {
    case VariableType.INTEGER:
      return /^-?\d+$/.test(text) ? value({ case: "integerValue", value: BigInt(text) }) : undefined;
    case VariableType.DECIMAL:
      return value({ case: "decimalValue", value: text });
    case VariableType.MONEY: {
      const minor = minorUnits(text);
      return minor === undefined
        ? undefined
        : value({ case: "moneyValue", value: create(MoneySchema, { currencyCode: "CNY", amountMinor: minor }) });
    }
    case VariableType.QUANTITY: {
      const milli = minorUnits(text, 3);
      return milli === undefined
        ? undefined
        : value({ case: "quantityValue", value: create(QuantitySchema, { valueMilli: milli, unit: Unit.JIN }) });
    }
    case VariableType.DATE: {
      const m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text);
      if (!m) return undefined;
      const [, year = "", month = "", day = ""] = m;
      return value({ case: "dateValue", value: create(DateSchema, { year: +year, month: +month, day: +day }) });
    }
    case VariableType.TIMESTAMP: {
      const m = /^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})$/.exec(text);
      if (!m) return undefined;
      const [, year = "", month = "", day = "", hour = "", minute = ""] = m;
      // China has one time zone and no summer time: UTC+8 all year.
      const at = new Date(Date.UTC(+year, +month - 1, +day, +hour - 8, +minute));
      return value({ case: "timestampValue", value: timestampFromDate(at) });
    }
    case VariableType.BOOLEAN:
      if (["是", "yes", "true", "1"].includes(text.toLowerCase())) return value({ case: "booleanValue", value: true });
      if (["否", "no", "false", "0"].includes(text.toLowerCase())) return value({ case: "booleanValue", value: false });
      return undefined;
    case VariableType.LOCALIZED_TEXT:
      return value({
        case: "localizedTextValue",
        value: create(LocalizedTextSchema, { translations: { "zh-CN": text } }),
      });
    default:
      return value({ case: "stringValue", value: text });
  }
}

/** "3.5" → 350n with two places; undefined for anything but a plain decimal with at most `places`. */
function minorUnits(text: string, places = 2): bigint | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const [, sign = "", whole = "0", decimals = ""] = m;
  if (decimals.length > places) return undefined;
  const minor = BigInt(whole) * 10n ** BigInt(places) + BigInt(decimals.padEnd(places, "0") || "0");
  return sign === "-" ? -minor : minor;
}
