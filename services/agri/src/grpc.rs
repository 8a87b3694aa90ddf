//! The handlers of `terrace.agri.v1.AgriService`.

use terrace_platform::service::ServiceContext;
use terrace_proto::agri::v1::agri_service_server::AgriService;

/// Handlers share the service context: the database, the bus and the token verifier.
#[derive(Debug)]
pub struct AgriGrpc {
    #[allow(dead_code)] // Read by the handlers that land with the agri issue.
    ctx: ServiceContext,
}

impl AgriGrpc {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }
}

// Every method keeps tonic's generated default (`UNIMPLEMENTED`) until its issue lands.
#[tonic::async_trait]
impl AgriService for AgriGrpc {}
