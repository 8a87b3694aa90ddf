//! `terrace dev`: all five services in one process, healthy, listed, guarded, and stopping cleanly.

use terrace_proto::identity::v1::GetJwksRequest;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_proto::market::v1::ListCategoriesRequest;
use terrace_proto::market::v1::market_service_client::MarketServiceClient;
use terrace_testkit::TestContext;
use terrace_testkit::process::{TerraceProcess, health, reflected_services};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

const SERVICES: [&str; 5] = [
    "terrace.identity.v1.IdentityService",
    "terrace.governance.v1.GovernanceService",
    "terrace.agri.v1.AgriService",
    "terrace.market.v1.MarketService",
    "terrace.notify.v1.NotifyService",
];

#[tokio::test]
async fn dev_runs_every_service_and_stops_cleanly_on_sigterm() {
    let ctx = TestContext::new();
    let dev = TerraceProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_terrace")),
        &["dev", "--demo"],
        &ctx,
    )
    .await
    .unwrap();
    let channel = dev.channel().await.unwrap();

    for service in SERVICES {
        assert_eq!(
            health(&channel, service).await,
            Some(ServingStatus::Serving),
            "{service}"
        );
    }
    let names = reflected_services(&channel).await.unwrap();
    for service in SERVICES {
        assert!(
            names.iter().any(|name| name == service),
            "{service} missing from {names:?}"
        );
    }

    // A public method reaches its (not yet implemented) handler; a guarded one needs a token.
    let status = IdentityServiceClient::new(channel.clone())
        .get_jwks(GetJwksRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    let status = MarketServiceClient::new(channel.clone())
        .list_categories(ListCategoriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // Metrics on the side port count those calls.
    let metrics = terrace_testkit::http_client()
        .get(format!("http://127.0.0.1:{}/metrics", dev.http_port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused = metrics.lines().find(|line| {
        line.starts_with("rpc_server_requests_total")
            && line.contains("rpc_method=\"ListCategories\"")
    });
    assert!(
        refused.is_some_and(|line| line.contains("rpc_grpc_status_code=\"16\"")),
        "the refused call is counted as UNAUTHENTICATED: {metrics}"
    );

    // SIGTERM: the process drains and exits 0.
    let status = dev.terminate().await.unwrap();
    assert!(status.success(), "terrace dev exited with {status}");
}
