import type { GetCurrentUserResponse } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { createContext, useContext } from "react";

/** The logged-in official as GetCurrentUser answered, for every page under the shell. */
export const CurrentUserContext = createContext<GetCurrentUserResponse | undefined>(undefined);

export function useCurrentUser(): GetCurrentUserResponse | undefined {
  return useContext(CurrentUserContext);
}
