import { create } from "@bufbuild/protobuf";
import { AdminCodeSchema, AdminLevel, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { withinAreas } from "../../identity/access";
import { adminCodeFromDigits } from "../../identity/labels";

/**
 * The area a register screen shows: `wanted` (from the address bar) when it lies inside the
 * official's areas (a village reached from the divisions page), else their first area.
 */
export function chosenArea(wanted: string | null, areas: AdminCode[]): AdminCode | undefined {
  const own = areas.find((a) => a.code === wanted);
  if (own) return own;
  if (wanted && /^\d{12}$/.test(wanted) && withinAreas(wanted, areas)) {
    return create(AdminCodeSchema, adminCodeFromDigits(wanted));
  }
  return areas[0];
}

/** An area with its level filled in from its digits when a grant left it unset. */
export function withLevel(area: AdminCode): AdminCode {
  return area.level === AdminLevel.UNSPECIFIED ? create(AdminCodeSchema, adminCodeFromDigits(area.code)) : area;
}

export function isVillage(code: string): boolean {
  return adminCodeFromDigits(code).level === AdminLevel.VILLAGE;
}

/** A village's 12 digits as an AdminCode (for identity's ListUsers in that village). */
export function villageArea(code: string): AdminCode {
  return create(AdminCodeSchema, adminCodeFromDigits(code));
}
