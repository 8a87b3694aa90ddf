import { AdminLevel, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { GovernanceService } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { useEffect, useState } from "react";
import { session } from "../session";
import { adminCodeFromDigits } from "../identity/labels";
import { describeDivision } from "./describe";

/**
 * Division names for the console's area fields and lists: governance's division tree
 * (GetDivision, SearchDivisions). Codes stay what requests carry; names are what people read.
 */
const governance = session.client(GovernanceService);

/** One name lookup per code per page load: a list of grants repeats the same few areas. */
const names = new Map<string, Promise<string | undefined>>();

/** The 12 digits of a code or prefix, or "" for the country (which has no division of its own). */
function digits(area: AdminCode | string): string {
  const code = typeof area === "string" ? area : area.code;
  if (/^0*$/.test(code)) return "";
  // A token's scopes are prefixes ("330523"): the contract's codes are 12 digits.
  return /^\d{2,11}$/.test(code) ? code.padEnd(12, "0") : code;
}

/** A division's name with its place ("天荒坪镇 · 浙江省 湖州市 安吉县"), undefined if unknown. */
export function divisionName(area: AdminCode | string): Promise<string | undefined> {
  const code = digits(area);
  if (code === "") return Promise.resolve(undefined);
  let name = names.get(code);
  if (name === undefined) {
    name = governance
      .getDivision({ code: adminCodeFromDigits(code) })
      .then(({ division }) => (division ? describeDivision(division.name, division.fullName) : undefined))
      .catch(() => {
        names.delete(code); // not cached: the next render asks again
        return undefined;
      });
    names.set(code, name);
  }
  return name;
}

/** The name of `area` once known (undefined until then, or when it has none). */
export function useDivisionName(area: AdminCode | string | undefined): string | undefined {
  const [name, setName] = useState<string | undefined>(undefined);
  const code = area === undefined ? "" : digits(area);
  useEffect(() => {
    let current = true;
    setName(undefined);
    if (code !== "") void divisionName(code).then((found) => current && setName(found));
    return () => {
      current = false;
    };
  }, [code]);
  return name;
}

export interface DivisionOption {
  /** The 12-digit code, as the area field holds it. */
  value: string;
  label: string;
}

/**
 * Divisions whose name contains `text` (or whose pinyin initials start with it), inside any of
 * `within` (the official's own areas; all of the country when empty), best first; only of
 * `level` when given.
 */
export async function searchDivisions(
  text: string,
  within: AdminCode[],
  limit = 20,
  level: AdminLevel = AdminLevel.UNSPECIFIED,
): Promise<DivisionOption[]> {
  const query = text.trim();
  if (query === "") return [];
  const scopes = within.length > 0 ? within : [undefined];
  const pages = await Promise.all(
    scopes.map((area) =>
      governance
        .searchDivisions({
          query,
          within: area && digits(area) !== "" ? area : undefined,
          level,
          page: { pageSize: limit, pageToken: "" },
        })
        .then((answer) => answer.divisions)
        .catch(() => []),
    ),
  );
  const seen = new Set<string>();
  const options: DivisionOption[] = [];
  for (const division of pages.flat()) {
    const code = division.code?.code ?? "";
    if (code === "" || seen.has(code)) continue;
    seen.add(code);
    options.push({ value: code, label: `${describeDivision(division.name, division.fullName)} (${code})` });
  }
  return options.slice(0, limit);
}
