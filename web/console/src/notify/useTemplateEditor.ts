import { Role } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { useMyGrants } from "../shell/CurrentUser";

/** Whether the logged-in official saves templates (a platform admin); only a hint, the server decides. */
export function useTemplateEditor(): boolean {
  return (useMyGrants() ?? []).some((g) => g.role === Role.PLATFORM_ADMIN);
}
