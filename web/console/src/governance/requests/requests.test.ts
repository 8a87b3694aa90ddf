import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AdminCodeSchema, AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { ServiceRequestOrder } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import {
  RequestFieldDefinitionSchema,
  RequestFieldType,
  ServiceRequestStatus as S,
} from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { Role } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { describe, expect, it } from "vitest";
import {
  fieldValueText,
  inboxFilter,
  inboxQuery,
  isOpen,
  isOverdue,
  localized,
  noteRule,
  rawValue,
  transitions,
  typeFromValues,
  typeMask,
  typeValues,
  typeViolationField,
  type TypeValues,
} from "./requests";

const WELL: TypeValues = {
  area: "330523108000",
  code: " well ",
  nameZh: "水井损坏",
  nameEn: "",
  group: "water",
  role: Role.VILLAGE_OFFICIAL,
  slaKind: "days",
  slaValue: 2,
  active: true,
  fields: [
    {
      key: "well_number",
      labelZh: "水井编号",
      type: RequestFieldType.NUMBER,
      required: true,
      minValue: "1",
      maxValue: "99",
      pattern: "leftover",
      options: [{ value: "x", labelZh: "x" }],
    },
    {
      key: "kind",
      labelZh: "问题",
      labelEn: "Problem",
      type: RequestFieldType.MULTI_CHOICE,
      options: [
        { value: "dry", labelZh: "没水", labelEn: "Dry" },
        { value: "dirty", labelZh: "水浑" },
      ],
      maxChoices: 1,
      minValue: "3",
    },
  ],
};

describe("the catalogue's form", () => {
  it("sends what each field type uses, and only that", () => {
    const type = typeFromValues(WELL);
    expect(type.code).toBe("well");
    expect([type.area?.code, type.area?.level]).toEqual(["330523108000", AdminLevel.TOWNSHIP]);
    expect(type.name?.translations).toEqual({ "zh-CN": "水井损坏" });
    expect([type.slaHours, type.slaWorkingDays]).toEqual([0, 2]);
    const [number, choice] = type.fields;
    expect([number?.minValue, number?.maxValue, number?.pattern, number?.options.length]).toEqual(["1", "99", "", 0]);
    expect(number?.required).toBe(true);
    expect(choice?.options.map((o) => [o.value, o.label?.translations])).toEqual([
      ["dry", { "zh-CN": "没水", en: "Dry" }],
      ["dirty", { "zh-CN": "水浑" }],
    ]);
    expect([choice?.maxChoices, choice?.minValue]).toEqual([1, ""]);
    expect(typeFromValues({ ...WELL, slaKind: "none", slaValue: 9 }).slaWorkingDays).toBe(0);
    expect(typeFromValues({ ...WELL, slaKind: "hours", slaValue: 48 }).slaHours).toBe(48);
  });

  it("comes back as it went, and an edit's mask names only what changed", () => {
    const stored = typeFromValues(WELL, "t1");
    const values = typeValues(stored, "ignored");
    expect(values.area).toBe("330523108000");
    expect(typeMask(stored, typeFromValues(values, "t1"))).toEqual([]);
    expect(typeMask(stored, typeFromValues({ ...values, nameEn: "Broken well", active: false }, "t1"))).toEqual(["name", "active"]);
    expect(stored.publicListing).toBe(false);
    expect(typeMask(stored, typeFromValues({ ...values, publicListing: true }, "t1"))).toEqual(["public_listing"]);
    expect(typeValues(typeFromValues({ ...values, publicListing: true }, "t1"), "ignored").publicListing).toBe(true);
    expect(typeMask(stored, typeFromValues({ ...values, slaKind: "hours", slaValue: 24 }, "t1"))).toEqual([
      "sla_hours",
      "sla_working_days",
    ]);
    const fields = values.fields?.map((f, i) => (i === 0 ? { ...f, required: false } : f));
    expect(typeMask(stored, typeFromValues({ ...values, fields }, "t1"))).toEqual(["fields"]);
  });

  it("a new type starts with a village official, five working days, and not listed publicly", () => {
    expect(typeValues(undefined, "330523108000")).toMatchObject({ area: "330523108000", role: Role.VILLAGE_OFFICIAL, slaKind: "days", slaValue: 5, publicListing: false });
  });

  it("puts the server's violations beside their fields", () => {
    expect(typeViolationField("request_type.code")).toEqual(["code"]);
    expect(typeViolationField("request_type.name")).toEqual(["nameZh"]);
    expect(typeViolationField("request_type.name.translations[zh-CN]")).toEqual(["nameZh"]);
    expect(typeViolationField("request_type.sla_working_days")).toEqual(["slaValue"]);
    expect(typeViolationField("request_type.fields[1].key")).toEqual(["fields", 1, "key"]);
    expect(typeViolationField("request_type.fields[0].max_value")).toEqual(["fields", 0, "maxValue"]);
    expect(typeViolationField("request_type.fields[0].options")).toEqual(["fields", 0, "options"]);
    expect(typeViolationField("request_type.fields[2].options[3].value")).toEqual(["fields", 2, "options", 3, "value"]);
    expect(typeViolationField("request_type.fields")).toBeUndefined();
    expect(typeViolationField("update_mask")).toBeUndefined();
  });
});

describe("requests", () => {
  it("follow the contract's workflow", () => {
    expect(transitions(S.SUBMITTED)).toEqual([S.ACKNOWLEDGED, S.REJECTED]);
    expect(transitions(S.REOPENED)).toEqual([S.IN_PROGRESS, S.REJECTED]);
    expect(transitions(S.IN_PROGRESS)).toEqual([S.RESOLVED]);
    expect(transitions(S.RESOLVED)).toEqual([S.CLOSED]);
    expect(transitions(S.MERGED)).toEqual([]);
    expect(noteRule(S.REJECTED)).toEqual({ required: true, publicOnly: true });
    expect(noteRule(S.RESOLVED)).toEqual({ required: true, publicOnly: false });
    expect(noteRule(S.ACKNOWLEDGED)).toEqual({ required: false, publicOnly: false });
    expect([S.SUBMITTED, S.ACKNOWLEDGED, S.IN_PROGRESS, S.REOPENED].every(isOpen)).toBe(true);
    expect([S.RESOLVED, S.CLOSED, S.REJECTED, S.MERGED, S.UNSPECIFIED].some(isOpen)).toBe(false);
  });

  it("are overdue past their due time while officials still owe them something", () => {
    const now = new Date("2026-12-04T12:00:00Z");
    const dueTime = timestampFromDate(new Date("2026-12-04T11:00:00Z"));
    expect(isOverdue({ status: S.IN_PROGRESS, dueTime }, now)).toBe(true);
    expect(isOverdue({ status: S.RESOLVED, dueTime }, now)).toBe(false);
    expect(isOverdue({ status: S.CLOSED, dueTime }, now)).toBe(false);
    expect(isOverdue({ status: S.SUBMITTED, dueTime: undefined }, now)).toBe(false);
    expect(isOverdue({ status: S.SUBMITTED, dueTime: timestampFromDate(new Date("2026-12-05T00:00:00Z")) }, now)).toBe(false);
  });

  it("the inbox asks for what is open, overdue first, unless told otherwise", () => {
    const area = create(AdminCodeSchema, { code: "330523108204" });
    const plain = inboxQuery(inboxFilter(new URLSearchParams()), area, "me-id");
    expect(plain).toMatchObject({ statuses: [S.SUBMITTED, S.ACKNOWLEDGED, S.IN_PROGRESS, S.REOPENED], typeIds: [], assigneeUserId: "", overdueOnly: false });
    expect(plain.orderBy).toBe(ServiceRequestOrder.DUE_TIME_ASC);
    const chosen = inboxQuery(inboxFilter(new URLSearchParams("status=resolved&assignee=me&overdue=1&order=newest&type=t1")), area, "me-id");
    expect(chosen).toMatchObject({ statuses: [S.RESOLVED], typeIds: ["t1"], assigneeUserId: "me-id", overdueOnly: true, orderBy: ServiceRequestOrder.SUBMIT_TIME_DESC });
    expect(inboxQuery(inboxFilter(new URLSearchParams("status=all&assignee=-")), area, "x")).toMatchObject({ statuses: [], assigneeUserId: "-" });
  });

  it("show extra values in words", () => {
    const choice = create(RequestFieldDefinitionSchema, {
      type: RequestFieldType.MULTI_CHOICE,
      options: [
        { value: "dry", label: { translations: { "zh-CN": "没水", en: "Dry" } } },
        { value: "dirty", label: { translations: { "zh-CN": "水浑" } } },
      ],
    });
    const words = { yes: "是", no: "否" };
    expect(fieldValueText(choice, '["dry","dirty"]', "en", words)).toBe("Dry、水浑");
    expect(fieldValueText(choice, "not json", "en", words)).toBe("not json");
    expect(fieldValueText(create(RequestFieldDefinitionSchema, { type: RequestFieldType.BOOLEAN }), "true", "zh-CN", words)).toBe("是");
    expect(fieldValueText(undefined, "7", "zh-CN", words)).toBe("7");
    expect(localized({ translations: { "zh-CN": "水井" } } as never, "en")).toBe("水井");
  });
});

describe("a walk-in's extra values", () => {
  it("are written as the contract asks", () => {
    expect(rawValue(RequestFieldType.MULTI_CHOICE, ["water", "road"])).toBe('["water","road"]');
    expect(rawValue(RequestFieldType.MULTI_CHOICE, [])).toBe("");
    expect(rawValue(RequestFieldType.DATETIME, "2026-12-04T09:30")).toBe("2026-12-04T09:30:00+08:00");
    expect(rawValue(RequestFieldType.NUMBER, undefined)).toBe("");
    expect(rawValue(RequestFieldType.TEXT, "井 7")).toBe("井 7");
  });
});
