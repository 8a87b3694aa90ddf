//! The handlers of `terrace.identity.v1.IdentityService`.

use terrace_platform::service::ServiceContext;
use terrace_proto::identity::v1::identity_service_server::IdentityService;

/// Handlers share the service context: the database, the bus and the token verifier.
#[derive(Debug)]
pub struct IdentityGrpc {
    #[allow(dead_code)] // Read by the handlers that land with the identity issue.
    ctx: ServiceContext,
}

impl IdentityGrpc {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }
}

// Every method keeps tonic's generated default (`UNIMPLEMENTED`) until its issue lands.
#[tonic::async_trait]
impl IdentityService for IdentityGrpc {}
