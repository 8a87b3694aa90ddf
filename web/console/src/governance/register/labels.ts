import type { Date as CalendarDate } from "@terrace/api/gen/terrace/common/v1/date_pb";
import {
  Gender,
  HouseholdRelationship,
  HouseholdStatus,
  ResidentStatus,
} from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import type { TFunction } from "i18next";

/** Words for the register's enums; a value this console does not know shows as its number. */
export function genderLabel(t: TFunction, gender: Gender): string {
  const name = Gender[gender];
  return name ? t(`register.gender.${name}` as "register.gender.MALE") : String(gender);
}

export function relationshipLabel(t: TFunction, relationship: HouseholdRelationship): string {
  const name = HouseholdRelationship[relationship];
  return name ? t(`register.relationship.${name}` as "register.relationship.HEAD") : String(relationship);
}

export function residentStatusLabel(t: TFunction, status: ResidentStatus): string {
  const name = ResidentStatus[status];
  return name ? t(`register.residentStatus.${name}` as "register.residentStatus.ACTIVE") : String(status);
}

export function householdStatusLabel(t: TFunction, status: HouseholdStatus): string {
  const name = HouseholdStatus[status];
  return name ? t(`register.householdStatus.${name}` as "register.householdStatus.ACTIVE") : String(status);
}

/** The tag colour of a resident's status: current ones green or blue, history grey. */
export function residentStatusColor(status: ResidentStatus): string | undefined {
  switch (status) {
    case ResidentStatus.ACTIVE:
      return "green";
    case ResidentStatus.AWAY:
      return "blue";
    default:
      return undefined;
  }
}

/** What an access-log entry says was read ("national_id", "export"), in words when known. */
export function accessFieldLabel(t: TFunction, field: string): string {
  if (field === "national_id") return t("register.nationalId");
  if (field === "export") return t("register.exportField");
  return field;
}

/** A calendar date as ISO 8601 (1985-03-12), the same in both languages; "" when unset. */
export function dateText(date: CalendarDate | undefined): string {
  if (!date || date.year === 0) return "";
  return `${String(date.year).padStart(4, "0")}-${String(date.month).padStart(2, "0")}-${String(date.day).padStart(2, "0")}`;
}

/** Relationships in the order a household form offers them. */
export const RELATIONSHIPS = [
  HouseholdRelationship.HEAD,
  HouseholdRelationship.SPOUSE,
  HouseholdRelationship.CHILD,
  HouseholdRelationship.PARENT,
  HouseholdRelationship.GRANDCHILD,
  HouseholdRelationship.GRANDPARENT,
  HouseholdRelationship.SIBLING,
  HouseholdRelationship.CHILD_IN_LAW,
  HouseholdRelationship.OTHER,
];

export const RESIDENT_STATUSES = [
  ResidentStatus.ACTIVE,
  ResidentStatus.AWAY,
  ResidentStatus.MOVED_OUT,
  ResidentStatus.DECEASED,
];
