import { ResidentClaimStatus } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import type { TFunction } from "i18next";

/**
 * The claims page's filter and words: villagers' claims of their records
 * (ListResidentClaims with an area), newest first, by status.
 */

/** The statuses in the order the filter offers them: what awaits the official first. */
export const CLAIM_STATUSES = [
  ResidentClaimStatus.AWAITING_OFFICIAL,
  ResidentClaimStatus.AWAITING_CODE,
  ResidentClaimStatus.CONFIRMED,
  ResidentClaimStatus.REFUSED,
  ResidentClaimStatus.LAPSED,
];

/** The filter: one status, or every claim. */
export type ClaimFilter = ResidentClaimStatus | "all";

/**
 * The filter from the address bar's `status` (a status's name in lower case, or `all`); what
 * awaits the official when it says nothing, or nothing this page knows.
 */
export function claimFilter(param: string | null): ClaimFilter {
  if (param === "all") return "all";
  const status = CLAIM_STATUSES.find((s) => ResidentClaimStatus[s].toLowerCase() === param);
  return status ?? ResidentClaimStatus.AWAITING_OFFICIAL;
}

/** The filter as the address bar keeps it; the default is left out. */
export function claimFilterParam(filter: ClaimFilter): string {
  if (filter === ResidentClaimStatus.AWAITING_OFFICIAL) return "";
  return filter === "all" ? "all" : ResidentClaimStatus[filter].toLowerCase();
}

/** The request's `statuses`: empty asks for every claim. */
export function claimStatuses(filter: ClaimFilter): ResidentClaimStatus[] {
  return filter === "all" ? [] : [filter];
}

export function claimStatusLabel(t: TFunction, status: ResidentClaimStatus): string {
  const name = ResidentClaimStatus[status];
  return name ? t(`claims.status.${name}` as "claims.status.AWAITING_OFFICIAL") : String(status);
}

/**
 * The tag colour: what awaits the official stands out in blue, a decision is green or red, the
 * rest grey (antd's gold and orange tags write under WCAG AA's 4.5:1 on their own background).
 */
export function claimStatusColor(status: ResidentClaimStatus): string | undefined {
  switch (status) {
    case ResidentClaimStatus.AWAITING_OFFICIAL:
      return "blue";
    case ResidentClaimStatus.CONFIRMED:
      return "green";
    case ResidentClaimStatus.REFUSED:
      return "red";
    default:
      return undefined;
  }
}
