//! The handlers of `terrace.governance.v1.GovernanceService`.

use terrace_platform::service::ServiceContext;
use terrace_proto::governance::v1::governance_service_server::GovernanceService;

/// Handlers share the service context: the database, the bus and the token verifier.
#[derive(Debug)]
pub struct GovernanceGrpc {
    #[allow(dead_code)] // Read by the handlers that land with the governance issue.
    ctx: ServiceContext,
}

impl GovernanceGrpc {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }
}

// Every method keeps tonic's generated default (`UNIMPLEMENTED`) until its issue lands.
#[tonic::async_trait]
impl GovernanceService for GovernanceGrpc {}
