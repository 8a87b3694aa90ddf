import { AdminLevel, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import {
  AgencyAuthMethod,
  AgencyClientStatus,
  ConsentStatus,
  LoginMethod,
  Role,
  UserStatus,
} from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import type { TFunction } from "i18next";

export function roleLabel(t: TFunction, role: Role): string {
  const name = Role[role];
  return name ? t(`role.ROLE_${name}` as "role.ROLE_RESIDENT") : String(role);
}

/** Token claims name roles in snake_case ("village_official"). */
export function claimRoleLabel(t: TFunction, role: string): string {
  const key = `role.ROLE_${role.toUpperCase()}`;
  return t(key as "role.ROLE_RESIDENT", { defaultValue: role });
}

export function statusLabel(t: TFunction, status: UserStatus): string {
  const name = UserStatus[status];
  return name ? t(`status.USER_STATUS_${name}` as "status.USER_STATUS_ACTIVE") : String(status);
}

/**
 * An area as text without asking governance: the whole country, or its division code. Screens
 * show areas by name with AreaName (`src/governance/AreaName.tsx`), which falls back to this
 * until the name is known.
 */
export function areaLabel(t: TFunction, area: AdminCode | string | undefined): string {
  const code = typeof area === "string" ? area : (area?.code ?? "");
  if (code === "" || /^0+$/.test(code)) {
    return t("area.country");
  }
  return code;
}

/** Roles that see a list of people in their area. */
export const OFFICIAL_ROLES = new Set<Role>([
  Role.VILLAGE_OFFICIAL,
  Role.TOWNSHIP_OFFICIAL,
  Role.COUNTY_ADMIN,
  Role.PLATFORM_ADMIN,
]);

/**
 * An AdminCode from 12 digits, its level read from the padding (GB/T 2260: PP CC DD TTT VVV).
 * Anything else goes to the server as typed with no level, for its violation to explain.
 */
export function adminCodeFromDigits(input: string): { code: string; level: AdminLevel } {
  const code = input.trim();
  if (!/^\d{12}$/.test(code)) {
    return { code, level: AdminLevel.UNSPECIFIED };
  }
  const level =
    code.slice(9) !== "000"
      ? AdminLevel.VILLAGE
      : code.slice(6, 9) !== "000"
        ? AdminLevel.TOWNSHIP
        : code.slice(4, 6) !== "00"
          ? AdminLevel.COUNTY
          : code.slice(2, 4) !== "00"
            ? AdminLevel.CITY
            : code.slice(0, 2) !== "00"
              ? AdminLevel.PROVINCE
              : AdminLevel.COUNTRY;
  return { code, level };
}

export function consentStatusLabel(t: TFunction, status: ConsentStatus): string {
  const name = ConsentStatus[status];
  return name ? t(`consentStatus.CONSENT_STATUS_${name}` as "consentStatus.CONSENT_STATUS_ACTIVE") : String(status);
}

export function loginMethodLabel(t: TFunction, method: LoginMethod): string {
  const name = LoginMethod[method];
  return name ? t(`loginMethod.LOGIN_METHOD_${name}` as "loginMethod.LOGIN_METHOD_PASSWORD") : String(method);
}

export function authMethodLabel(t: TFunction, method: AgencyAuthMethod): string {
  const name = AgencyAuthMethod[method];
  return name ? t(`authMethod.AGENCY_AUTH_METHOD_${name}` as "authMethod.AGENCY_AUTH_METHOD_SECRET") : String(method);
}

export function agencyStatusLabel(t: TFunction, status: AgencyClientStatus): string {
  const name = AgencyClientStatus[status];
  return name
    ? t(`agencyStatus.AGENCY_CLIENT_STATUS_${name}` as "agencyStatus.AGENCY_CLIENT_STATUS_ACTIVE")
    : String(status);
}
