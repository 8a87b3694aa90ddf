//! The handlers of `terrace.notify.v1.NotifyService`.

use terrace_platform::service::ServiceContext;
use terrace_proto::notify::v1::notify_service_server::NotifyService;

/// Handlers share the service context: the database, the bus and the token verifier.
#[derive(Debug)]
pub struct NotifyGrpc {
    #[allow(dead_code)] // Read by the handlers that land with the notify issue.
    ctx: ServiceContext,
}

impl NotifyGrpc {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }
}

// Every method keeps tonic's generated default (`UNIMPLEMENTED`) until its issue lands.
#[tonic::async_trait]
impl NotifyService for NotifyGrpc {}
