import type { AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { useMemo } from "react";
import { ownAreas } from "../../identity/access";
import { useMyGrants } from "../../shell/CurrentUser";

/** The areas the official keeps a register for: their official grants' areas, each once. */
export function useRegisterAreas(): AdminCode[] | undefined {
  const grants = useMyGrants();
  return useMemo(() => (grants === undefined ? undefined : ownAreas(grants)), [grants]);
}
