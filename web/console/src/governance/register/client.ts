import { GovernanceService } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { session } from "../../session";

/** The register's screens talk to governance, and to identity to find an account by phone. */
export const governance = session.client(GovernanceService);
export const identity = session.client(IdentityService);
