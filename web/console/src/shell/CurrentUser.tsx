import type { GetCurrentUserResponse } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import type { RoleGrant } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { createContext, useContext, useMemo } from "react";
import { grantsFromClaims } from "../identity/access";
import { useSession } from "../session";

/** The logged-in official as GetCurrentUser answered, for every page under the shell. */
export const CurrentUserContext = createContext<GetCurrentUserResponse | undefined>(undefined);

export function useCurrentUser(): GetCurrentUserResponse | undefined {
  return useContext(CurrentUserContext);
}

/**
 * The logged-in user's role grants: GetCurrentUser's, or when it answers none, those the access
 * token's claims state (role and scope prefix). Undefined until the user is known.
 */
export function useMyGrants(): RoleGrant[] | undefined {
  const me = useCurrentUser();
  const claims = useSession().claims;
  return useMemo(() => {
    if (!me) {
      return undefined;
    }
    const grants = me.user?.roleGrants ?? [];
    return grants.length > 0 ? grants : grantsFromClaims(claims?.roles ?? []);
  }, [me, claims]);
}
