import { UserStatus } from "@terrace/api/gen/terrace/identity/v1/identity_pb";

export type StatusAction = "lock" | "unlock" | "disable" | "enable";

/** The status changes offered for a user in a status (SetUserStatus; the server decides). */
export function statusActions(status: UserStatus): StatusAction[] {
  switch (status) {
    case UserStatus.ACTIVE:
      return ["lock", "disable"];
    case UserStatus.LOCKED:
      return ["unlock", "disable"];
    case UserStatus.DISABLED:
      return ["enable"];
    default:
      return [];
  }
}

/** The status an action sets. */
export function targetStatus(action: StatusAction): UserStatus {
  switch (action) {
    case "lock":
      return UserStatus.LOCKED;
    case "disable":
      return UserStatus.DISABLED;
    default:
      return UserStatus.ACTIVE;
  }
}

/** Tag colour for a status: green active, orange locked, red disabled. */
export function statusColor(status: UserStatus): string {
  return status === UserStatus.ACTIVE ? "green" : status === UserStatus.LOCKED ? "orange" : "red";
}
