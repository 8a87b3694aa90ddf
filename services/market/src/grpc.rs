//! The handlers of `terrace.market.v1.MarketService`.

use terrace_platform::service::ServiceContext;
use terrace_proto::market::v1::market_service_server::MarketService;

/// Handlers share the service context: the database, the bus and the token verifier.
#[derive(Debug)]
pub struct MarketGrpc {
    #[allow(dead_code)] // Read by the handlers that land with the market issue.
    ctx: ServiceContext,
}

impl MarketGrpc {
    pub fn new(ctx: ServiceContext) -> Self {
        Self { ctx }
    }
}

// Every method keeps tonic's generated default (`UNIMPLEMENTED`) until its issue lands.
#[tonic::async_trait]
impl MarketService for MarketGrpc {}
