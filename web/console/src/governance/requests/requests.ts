import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { LocalizedTextSchema, type LocalizedText } from "@terrace/api/gen/terrace/common/v1/localized_text_pb";
import {
  RequestFieldType,
  RequestPriority,
  RequestFieldDefinitionSchema,
  RequestTypeSchema,
  ServiceRequestStatus,
  type RequestFieldDefinition,
  type RequestType,
  type ServiceRequest,
} from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { ServiceRequestOrder } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { Role } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { adminCodeFromDigits } from "../../identity/labels";

/**
 * Service requests in the console: the request-type catalogue's form (a RequestType to and from
 * what the form holds, the update mask, the server's violation paths to form fields), and the
 * inbox's and a request's rules as the contract states them (service_requests.proto): the
 * workflow's transitions, what is open, what is overdue. Hints only: the server decides.
 */

/** A LocalizedText's text in the reader's language, else Chinese, else any. */
export function localized(text: LocalizedText | undefined, language: string): string {
  const t = text?.translations ?? {};
  return t[language] || t[language.split("-")[0] ?? ""] || t["zh-CN"] || t.zh || Object.values(t).find((v) => v) || "";
}

/** A LocalizedText of the non-empty texts given (trimmed). */
export function localizedText(zh: string | undefined, en: string | undefined): LocalizedText {
  const translations: Record<string, string> = {};
  if (zh?.trim()) translations["zh-CN"] = zh.trim();
  if (en?.trim()) translations.en = en.trim();
  return create(LocalizedTextSchema, { translations });
}

// ----- The catalogue's form -------------------------------------------------------------------

export type SlaKind = "none" | "hours" | "days";

export interface OptionValues {
  value: string;
  labelZh: string;
  labelEn?: string;
}

export interface FieldValues {
  key: string;
  labelZh: string;
  labelEn?: string;
  type: RequestFieldType;
  required?: boolean;
  options?: OptionValues[];
  maxLength?: number | null;
  minValue?: string;
  maxValue?: string;
  pattern?: string;
  helpZh?: string;
  helpEn?: string;
  maxChoices?: number | null;
}

export interface TypeValues {
  area: string;
  code: string;
  nameZh: string;
  nameEn?: string;
  descriptionZh?: string;
  descriptionEn?: string;
  group?: string;
  role: Role;
  slaKind: SlaKind;
  slaValue?: number | null;
  active: boolean;
  /** Its requests listed publicly through Open311 (off unless the owner turns it on). */
  publicListing?: boolean;
  fields?: FieldValues[];
}

/** The field types in the order the form offers them. */
export const FIELD_TYPES = [
  RequestFieldType.TEXT,
  RequestFieldType.NUMBER,
  RequestFieldType.BOOLEAN,
  RequestFieldType.DATE,
  RequestFieldType.DATETIME,
  RequestFieldType.CHOICE,
  RequestFieldType.MULTI_CHOICE,
  RequestFieldType.PHONE,
];

export const hasOptions = (type: RequestFieldType | undefined) =>
  type === RequestFieldType.CHOICE || type === RequestFieldType.MULTI_CHOICE;

/** What the form shows for a stored type (or a new one in `area`). */
export function typeValues(type: RequestType | undefined, area: string): TypeValues {
  if (!type) {
    return { area, code: "", nameZh: "", role: Role.VILLAGE_OFFICIAL, slaKind: "days", slaValue: 5, active: true, publicListing: false, fields: [] };
  }
  const tr = (text: LocalizedText | undefined, lang: string) => text?.translations[lang] ?? "";
  return {
    area: type.area?.code ?? area,
    code: type.code,
    nameZh: tr(type.name, "zh-CN"),
    nameEn: tr(type.name, "en"),
    descriptionZh: tr(type.description, "zh-CN"),
    descriptionEn: tr(type.description, "en"),
    group: type.group,
    role: type.responsibleRole,
    slaKind: type.slaWorkingDays > 0 ? "days" : type.slaHours > 0 ? "hours" : "none",
    slaValue: type.slaWorkingDays > 0 ? type.slaWorkingDays : type.slaHours > 0 ? type.slaHours : null,
    active: type.active,
    publicListing: type.publicListing,
    fields: type.fields.map((f) => ({
      key: f.key,
      labelZh: tr(f.label, "zh-CN"),
      labelEn: tr(f.label, "en"),
      type: f.type,
      required: f.required,
      options: f.options.map((o) => ({ value: o.value, labelZh: tr(o.label, "zh-CN"), labelEn: tr(o.label, "en") })),
      maxLength: f.maxLength || null,
      minValue: f.minValue,
      maxValue: f.maxValue,
      pattern: f.pattern,
      helpZh: tr(f.help, "zh-CN"),
      helpEn: tr(f.help, "en"),
      maxChoices: f.maxChoices || null,
    })),
  };
}

/** The field definitions as sent: only what each type uses (the server refuses the rest). */
export function fieldDefinitions(fields: FieldValues[] | undefined): RequestFieldDefinition[] {
  return (fields ?? []).map((f) => create(RequestFieldDefinitionSchema, {
    key: f.key.trim(),
    label: localizedText(f.labelZh, f.labelEn),
    type: f.type,
    required: Boolean(f.required),
    options: hasOptions(f.type)
      ? (f.options ?? []).map((o) => ({ value: o.value.trim(), label: localizedText(o.labelZh, o.labelEn) }))
      : [],
    maxLength: f.type === RequestFieldType.TEXT ? (f.maxLength ?? 0) : 0,
    minValue: f.type === RequestFieldType.NUMBER ? (f.minValue?.trim() ?? "") : "",
    maxValue: f.type === RequestFieldType.NUMBER ? (f.maxValue?.trim() ?? "") : "",
    pattern: f.type === RequestFieldType.TEXT ? (f.pattern?.trim() ?? "") : "",
    help: localizedText(f.helpZh, f.helpEn),
    maxChoices: f.type === RequestFieldType.MULTI_CHOICE ? (f.maxChoices ?? 0) : 0,
  } satisfies MessageInitShape<typeof RequestFieldDefinitionSchema>));
}

/** The RequestType the form describes. */
export function typeFromValues(values: TypeValues, id = ""): RequestType {
  const sla = values.slaKind === "none" ? 0 : Math.trunc(values.slaValue ?? 0);
  return create(RequestTypeSchema, {
    id,
    area: adminCodeFromDigits(values.area),
    code: values.code.trim(),
    name: localizedText(values.nameZh, values.nameEn),
    description: localizedText(values.descriptionZh, values.descriptionEn),
    group: values.group?.trim() ?? "",
    fields: fieldDefinitions(values.fields),
    responsibleRole: values.role,
    slaHours: values.slaKind === "hours" ? sla : 0,
    slaWorkingDays: values.slaKind === "days" ? sla : 0,
    active: values.active,
    publicListing: Boolean(values.publicListing),
  });
}

/** UpdateRequestType's mask: the paths whose value differs between the stored type and the form's. */
export function typeMask(before: RequestType, after: RequestType): string[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const texts = (t: LocalizedText | undefined) => Object.entries(t?.translations ?? {}).sort();
  const fields = (fs: RequestType["fields"]) =>
    fs.map((f) => ({
      ...f,
      $typeName: undefined,
      label: texts(f.label),
      help: texts(f.help),
      options: f.options.map((o) => [o.value, texts(o.label)]),
    }));
  const paths: string[] = [];
  if (!same(texts(before.name), texts(after.name))) paths.push("name");
  if (!same(texts(before.description), texts(after.description))) paths.push("description");
  if (before.group !== after.group) paths.push("group");
  if (!same(fields(before.fields), fields(after.fields))) paths.push("fields");
  if (before.responsibleRole !== after.responsibleRole) paths.push("responsible_role");
  if (before.slaHours !== after.slaHours || before.slaWorkingDays !== after.slaWorkingDays) {
    paths.push("sla_hours", "sla_working_days");
  }
  if (before.active !== after.active) paths.push("active");
  if (before.publicListing !== after.publicListing) paths.push("public_listing");
  return paths;
}

const FIELD_PATHS: Record<string, string> = {
  key: "key",
  label: "labelZh",
  type: "type",
  required: "required",
  options: "options",
  max_length: "maxLength",
  min_value: "minValue",
  max_value: "maxValue",
  pattern: "pattern",
  help: "helpZh",
  max_choices: "maxChoices",
};

const TYPE_PATHS: Record<string, string> = {
  area: "area",
  code: "code",
  name: "nameZh",
  description: "descriptionZh",
  group: "group",
  responsible_role: "role",
  sla_hours: "slaValue",
  sla_working_days: "slaValue",
  active: "active",
  public_listing: "publicListing",
  fields: "fields",
};

/**
 * The form field a violation of CreateRequestType/UpdateRequestType names
 * (`request_type.fields[1].options[0].value` → `["fields", 1, "options", 0, "value"]`), or
 * undefined for one no field shows (it goes above the form).
 */
export function typeViolationField(path: string): (string | number)[] | undefined {
  const option = /^request_type\.fields\[(\d+)\]\.options\[(\d+)\]\.(value|label)/.exec(path);
  if (option) return ["fields", Number(option[1]), "options", Number(option[2]), option[3] === "label" ? "labelZh" : "value"];
  const field = /^request_type\.fields\[(\d+)\]\.(\w+)/.exec(path);
  if (field) {
    const name = FIELD_PATHS[field[2] ?? ""];
    return name ? ["fields", Number(field[1]), name] : undefined;
  }
  const top = /^request_type\.(\w+)/.exec(path);
  const name = top ? TYPE_PATHS[top[1] ?? ""] : undefined;
  return name && name !== "fields" ? [name] : undefined;
}

// ----- Requests -------------------------------------------------------------------------------

/**
 * Still being handled (governance's `workflow::is_open`): escalation, assignment, priority and
 * merging apply. A resolved request waits on its requester, so it is not.
 */
export function isOpen(status: ServiceRequestStatus): boolean {
  return [ServiceRequestStatus.SUBMITTED, ServiceRequestStatus.ACKNOWLEDGED, ServiceRequestStatus.IN_PROGRESS, ServiceRequestStatus.REOPENED].includes(status);
}

/** The statuses an official may move a request to from `status` (ChangeServiceRequestStatus). */
export function transitions(status: ServiceRequestStatus): ServiceRequestStatus[] {
  switch (status) {
    case ServiceRequestStatus.SUBMITTED:
      return [ServiceRequestStatus.ACKNOWLEDGED, ServiceRequestStatus.REJECTED];
    case ServiceRequestStatus.ACKNOWLEDGED:
    case ServiceRequestStatus.REOPENED:
      return [ServiceRequestStatus.IN_PROGRESS, ServiceRequestStatus.REJECTED];
    case ServiceRequestStatus.IN_PROGRESS:
      return [ServiceRequestStatus.RESOLVED];
    case ServiceRequestStatus.RESOLVED:
      return [ServiceRequestStatus.CLOSED];
    default:
      return [];
  }
}

/** Rejecting and resolving need a note; a rejection's is read by the requester, so public. */
export function noteRule(to: ServiceRequestStatus): { required: boolean; publicOnly: boolean } {
  return {
    required: to === ServiceRequestStatus.REJECTED || to === ServiceRequestStatus.RESOLVED,
    publicOnly: to === ServiceRequestStatus.REJECTED,
  };
}

/** Past its due time and still being handled (a resolved request waits on its requester). */
export function isOverdue(request: Pick<ServiceRequest, "status" | "dueTime">, now: Date): boolean {
  if (!request.dueTime || !isOpen(request.status)) return false;
  return timestampDate(request.dueTime as Timestamp).getTime() < now.getTime();
}

/** The statuses in the order the inbox's filter offers them. */
export const STATUSES = [
  ServiceRequestStatus.SUBMITTED,
  ServiceRequestStatus.ACKNOWLEDGED,
  ServiceRequestStatus.IN_PROGRESS,
  ServiceRequestStatus.REOPENED,
  ServiceRequestStatus.RESOLVED,
  ServiceRequestStatus.CLOSED,
  ServiceRequestStatus.REJECTED,
  ServiceRequestStatus.MERGED,
];

/** What still needs an official: the inbox's default. */
export const OPEN_STATUSES = [
  ServiceRequestStatus.SUBMITTED,
  ServiceRequestStatus.ACKNOWLEDGED,
  ServiceRequestStatus.IN_PROGRESS,
  ServiceRequestStatus.REOPENED,
];

export const PRIORITIES = [RequestPriority.LOW, RequestPriority.NORMAL, RequestPriority.HIGH, RequestPriority.URGENT];

export interface InboxFilter {
  /** "open" (default), "all", or one status's name in lower case. */
  status: string;
  typeId: string;
  /** "" any, "-" unassigned, "me", or a user id. */
  assignee: string;
  overdue: boolean;
  order: ServiceRequestOrder;
}

/** The inbox's filter from the address bar. */
export function inboxFilter(params: URLSearchParams): InboxFilter {
  const order = params.get("order");
  return {
    status: params.get("status") || "open",
    typeId: params.get("type") ?? "",
    assignee: params.get("assignee") ?? "",
    overdue: params.get("overdue") === "1",
    order:
      order === "newest"
        ? ServiceRequestOrder.SUBMIT_TIME_DESC
        : order === "updated"
          ? ServiceRequestOrder.UPDATE_TIME_DESC
          : ServiceRequestOrder.DUE_TIME_ASC,
  };
}

export function statusesOf(filter: string): ServiceRequestStatus[] {
  if (filter === "all") return [];
  if (filter === "open") return OPEN_STATUSES;
  const status = STATUSES.find((s) => ServiceRequestStatus[s].toLowerCase() === filter);
  return status === undefined ? OPEN_STATUSES : [status];
}

/** ListServiceRequests's filter fields for the inbox's filter in `area`, as `me`. */
export function inboxQuery(filter: InboxFilter, area: AdminCode, me: string) {
  return {
    area,
    statuses: statusesOf(filter.status),
    typeIds: filter.typeId ? [filter.typeId] : [],
    assigneeUserId: filter.assignee === "me" ? me : filter.assignee,
    overdueOnly: filter.overdue,
    orderBy: filter.order,
  };
}

/** An extra field's stored value as a reader sees it (choices by their labels, booleans in words). */
export function fieldValueText(
  definition: RequestFieldDefinition | undefined,
  value: string,
  language: string,
  words: { yes: string; no: string },
): string {
  if (!definition) return value;
  const label = (v: string) => localized(definition.options.find((o) => o.value === v)?.label, language) || v;
  switch (definition.type) {
    case RequestFieldType.BOOLEAN:
      return value === "true" ? words.yes : value === "false" ? words.no : value;
    case RequestFieldType.CHOICE:
      return label(value);
    case RequestFieldType.MULTI_CHOICE:
      try {
        const values: unknown = JSON.parse(value);
        return Array.isArray(values) ? values.map((v) => label(String(v))).join("、") : value;
      } catch {
        return value;
      }
    default:
      return value;
  }
}

/** A form field's value as the contract writes it (choices as JSON, a moment with China's offset). */
export function rawValue(type: RequestFieldType, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (type === RequestFieldType.MULTI_CHOICE) return Array.isArray(value) && value.length > 0 ? JSON.stringify(value) : "";
  const text = String(value);
  if (type === RequestFieldType.DATETIME && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(text)) return `${text}:00+08:00`;
  return text;
}
