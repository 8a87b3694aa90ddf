//! `terrace dev`: all five services in one process, healthy, listed, guarded, and stopping cleanly.

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt as _;
use terrace_proto::identity::v1::GetJwksRequest;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_proto::market::v1::ListCategoriesRequest;
use terrace_proto::market::v1::market_service_client::MarketServiceClient;
use terrace_testkit::TestContext;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const SERVICES: [&str; 5] = [
    "terrace.identity.v1.IdentityService",
    "terrace.governance.v1.GovernanceService",
    "terrace.agri.v1.AgriService",
    "terrace.market.v1.MarketService",
    "terrace.notify.v1.NotifyService",
];

async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn health(channel: &Channel, service: &str) -> Option<ServingStatus> {
    let response = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .ok()?;
    Some(response.into_inner().status())
}

#[tokio::test]
async fn dev_runs_every_service_and_stops_cleanly_on_sigterm() {
    let ctx = TestContext::new();
    let (grpc, http) = (free_port().await, free_port().await);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_terrace"))
        .args(["dev", "--demo"])
        .env(
            "TERRACE__DATABASE__DATABASE_PREFIX",
            &ctx.settings.database.database_prefix,
        )
        .env("TERRACE__NATS__PREFIX", &ctx.settings.nats.prefix)
        .env("TERRACE__GRPC__ADDR", format!("127.0.0.1:{grpc}"))
        .env("TERRACE__HTTP__ADDR", format!("127.0.0.1:{http}"))
        .env("TERRACE__GRPC__DRAIN_DELAY", "100")
        .env("TERRACE__TELEMETRY__LOG_FILTER", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let endpoint = Channel::from_shared(format!("http://127.0.0.1:{grpc}")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let channel = loop {
        if let Ok(channel) = endpoint.connect().await
            && health(&channel, "").await == Some(ServingStatus::Serving)
        {
            break channel;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "terrace dev did not become ready"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "terrace dev exited early"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    for service in SERVICES {
        assert_eq!(
            health(&channel, service).await,
            Some(ServingStatus::Serving),
            "{service}"
        );
    }

    // Reflection lists all five.
    {
        use tonic_reflection::pb::v1::ServerReflectionRequest;
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = ServerReflectionClient::new(channel.clone())
            .server_reflection_info(futures::stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            responses.next().await.unwrap().unwrap().message_response
        else {
            panic!("expected a service list");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for service in SERVICES {
            assert!(
                names.iter().any(|name| name == service),
                "{service} missing from {names:?}"
            );
        }
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
        .get(format!("http://127.0.0.1:{http}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("rpc_server_requests_total"), "{metrics}");
    let refused = metrics.lines().find(|line| {
        line.starts_with("rpc_server_requests_total")
            && line.contains("rpc_method=\"ListCategories\"")
    });
    assert!(
        refused.is_some_and(|line| line.contains("rpc_grpc_status_code=\"16\"")),
        "the refused call is counted as UNAUTHENTICATED: {metrics}"
    );

    // SIGTERM: health goes NOT_SERVING, the process drains and exits 0.
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exit in time")
        .unwrap();
    assert!(status.success(), "terrace dev exited with {status}");
}
