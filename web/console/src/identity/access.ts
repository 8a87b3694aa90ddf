import { create } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AdminCodeSchema, AdminLevel, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { Role, RoleGrantSchema, type RoleGrant } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { adminCodeFromDigits } from "./labels";

/**
 * What the console offers whom. Only a hint for showing menu items and buttons: the server
 * decides every call (identity_service.proto), and its refusals are shown as it words them.
 */

/** Token claims name roles in snake_case ("village_official"); grants use the enum. */
export function roleFromClaim(role: string): Role {
  const value = (Role as unknown as Record<string, number | undefined>)[role.toUpperCase()];
  return typeof value === "number" ? (value as Role) : Role.UNSPECIFIED;
}

export type Screen = "people" | "grants" | "consents" | "agencies" | "sessions" | "audit";

const OFFICIALS = [Role.VILLAGE_OFFICIAL, Role.TOWNSHIP_OFFICIAL, Role.COUNTY_ADMIN, Role.PLATFORM_ADMIN];
const ADMINS = [Role.COUNTY_ADMIN, Role.PLATFORM_ADMIN];

/**
 * The console screens a user with these roles can use, in menu order:
 * people, grants, consents: officials of an area (ListUsers, ListRoleGrants, ListConsents);
 * agency clients and the audit log: county and platform admins; sessions: everyone.
 */
export function screensFor(roles: Iterable<Role>): Screen[] {
  const held = new Set(roles);
  const official = OFFICIALS.some((r) => held.has(r));
  const admin = ADMINS.some((r) => held.has(r));
  const screens: Screen[] = [];
  if (official) {
    screens.push("people", "grants", "consents");
  }
  if (admin) {
    screens.push("agencies");
  }
  screens.push("sessions");
  if (admin) {
    screens.push("audit");
  }
  return screens;
}

export type RegisterScreen = "households" | "claims" | "divisions" | "chain";

/**
 * The village register's screens (governance): officials of an area read and keep its register
 * (households, residents), decide villagers' claims of records in it (ListResidentClaims,
 * DecideResidentClaim) and browse its divisions; county and platform admins also read
 * governance's tamper-evident audit log (ListAuditEntries); no one else has a register screen (a
 * villager reads and claims their own record in the farmers' app).
 */
export function registerScreensFor(roles: Iterable<Role>): RegisterScreen[] {
  const held = new Set(roles);
  if (!OFFICIALS.some((r) => held.has(r))) return [];
  const screens: RegisterScreen[] = ["households", "claims", "divisions"];
  return ADMINS.some((r) => held.has(r)) ? [...screens, "chain"] : screens;
}

/** Digits of a code that a grant over it covers (GB/T 2260 levels: 2, 4, 6, 9, 12; country: none). */
export function scopePrefix(area: AdminCode | undefined): string {
  if (!area) {
    return "";
  }
  const level = area.level === AdminLevel.UNSPECIFIED ? adminCodeFromDigits(area.code).level : area.level;
  switch (level) {
    case AdminLevel.COUNTRY:
      return "";
    case AdminLevel.PROVINCE:
      return area.code.slice(0, 2);
    case AdminLevel.CITY:
      return area.code.slice(0, 4);
    case AdminLevel.COUNTY:
      return area.code.slice(0, 6);
    case AdminLevel.TOWNSHIP:
      return area.code.slice(0, 9);
    default:
      return area.code;
  }
}

/**
 * The areas of the caller's grants of these roles (default: official roles), each once, a
 * covering area absorbing the areas inside it; in the order granted.
 */
export function ownAreas(grants: RoleGrant[] | undefined, roles: Role[] = OFFICIALS): AdminCode[] {
  const areas: AdminCode[] = [];
  for (const grant of grants ?? []) {
    if (!roles.includes(grant.role) || !grant.scope || areas.some((a) => a.code === grant.scope?.code)) {
      continue;
    }
    areas.push(grant.scope);
  }
  return areas.filter(
    (area) => !areas.some((other) => other !== area && covers(scopePrefix(other), area.code) && scopePrefix(other) !== scopePrefix(area)),
  );
}

function covers(prefix: string, code: string): boolean {
  return code.startsWith(prefix);
}

/** Whether a typed 12-digit code lies inside one of these areas (a hint; the server decides). */
export function withinAreas(code: string, areas: AdminCode[]): boolean {
  return areas.some((area) => covers(scopePrefix(area), code.trim()));
}

/**
 * Area codes to offer for a typed prefix: each own area's code, padded to 12 digits from its
 * prefix when the typed text goes deeper; at most `limit`.
 */
export function areaSuggestions(typed: string, areas: AdminCode[], limit = 20): string[] {
  const text = typed.trim();
  const out: string[] = [];
  for (const area of areas) {
    const prefix = scopePrefix(area);
    if (area.code.startsWith(text)) {
      out.push(area.code); // the area itself, e.g. "3305230" offers "330523000000"
    } else if (text.startsWith(prefix) && /^\d+$/.test(text) && text.length < 12) {
      out.push(text.padEnd(12, "0")); // deeper inside it, e.g. "330523101" → "330523101000"
    } else if (text.startsWith(prefix) && /^\d{12}$/.test(text)) {
      out.push(text);
    }
  }
  return [...new Set(out)].slice(0, limit);
}

/**
 * The end of a calendar day in China (23:59:59 +08:00), as a Timestamp: a grant "until
 * 2027-06-30" lasts through that day wherever the official's browser is.
 */
export function endOfChinaDay(year: number, month: number, day: number): Timestamp {
  const ms = Date.UTC(year, month - 1, day, 23, 59, 59) - 8 * 3600 * 1000;
  return create(TimestampSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 });
}

/** The start of a calendar day in China (00:00 +08:00). */
export function startOfChinaDay(year: number, month: number, day: number): Timestamp {
  const ms = Date.UTC(year, month - 1, day) - 8 * 3600 * 1000;
  return create(TimestampSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 });
}

/** A picked date (dayjs, as antd's DatePicker gives it) to its calendar parts. */
export function calendarDay(value: { year(): number; month(): number; date(): number }): [number, number, number] {
  return [value.year(), value.month() + 1, value.date()];
}

export function hours(n: number): Duration {
  return create(DurationSchema, { seconds: BigInt(n * 3600), nanos: 0 });
}

/** A scope prefix from a token claim ("330523", "" = the country) as the 12-digit area it covers. */
export function areaFromPrefix(prefix: string): AdminCode {
  return create(AdminCodeSchema, adminCodeFromDigits(prefix.padEnd(12, "0")));
}

/**
 * Role grants as the access token's claims state them (role and scope prefix), for when
 * GetCurrentUser answers no `role_grants`: enough to know the caller's roles and areas.
 */
export function grantsFromClaims(roles: { role: string; scope: string }[]): RoleGrant[] {
  return roles.map((claim) => create(RoleGrantSchema, { role: roleFromClaim(claim.role), scope: areaFromPrefix(claim.scope) }));
}

export type RequestScreen = "inbox" | "dashboard" | "types";

/**
 * Service requests' screens (governance): officials of an area handle its requests (the inbox)
 * and see its figures (the dashboard: GetServiceRequestStats is for the area's officials);
 * township officials and county and platform admins also keep the request-type catalogue
 * (CreateRequestType: "township officials for their township and its villages; county admins").
 */
export function requestScreensFor(roles: Iterable<Role>): RequestScreen[] {
  const held = new Set(roles);
  if (!OFFICIALS.some((r) => held.has(r))) return [];
  const catalogue = [Role.TOWNSHIP_OFFICIAL, ...ADMINS].some((r) => held.has(r));
  return catalogue ? ["inbox", "dashboard", "types"] : ["inbox", "dashboard"];
}
