//! TLS on the gRPC listener: native gRPC and gRPC-Web over TLS, optional client certificates,
//! and no plaintext.

use prost::Message as _;
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;
use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
use terrace_testkit::pb::{EchoRequest, EchoResponse};
use terrace_testkit::probe::Probe;
use terrace_testkit::tls::TestPki;
use tonic::transport::Channel;

fn echo() -> EchoRequest {
    EchoRequest {
        text: "hi".into(),
        repeat: 1,
    }
}

#[tokio::test]
async fn a_tls_server_answers_over_tls_with_or_without_a_client_certificate() {
    let pki = TestPki::new();
    let app = TestApp::spawn_tls(&[ServiceDef::of::<Probe>()], &pki, true, |_| {}).await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);

    let anonymous = ProbeServiceClient::new(app.channel().await)
        .echo(app.request(echo(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(anonymous.text, "hi");
    assert_eq!(anonymous.subject, "user-1");

    let agency = pki.client("agency");
    let channel = pki.channel(app.grpc_addr, Some(&agency)).await.unwrap();
    let with_certificate = ProbeServiceClient::new(channel)
        .echo(app.request(echo(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(with_certificate.text, "hi");

    // A certificate from another CA does not pass the handshake.
    let stranger = TestPki::new().client("stranger");
    let refused = match pki.channel(app.grpc_addr, Some(&stranger)).await {
        Err(_) => true,
        Ok(channel) => ProbeServiceClient::new(channel)
            .echo(app.request(echo(), &token))
            .await
            .is_err(),
    };
    assert!(
        refused,
        "a client certificate of an unknown CA was accepted"
    );
}

#[tokio::test]
async fn a_tls_server_refuses_plaintext_and_stops_cleanly() {
    let pki = TestPki::new();
    let mut app = TestApp::spawn_tls(&[ServiceDef::of::<Probe>()], &pki, false, |_| {}).await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);
    let plaintext = Channel::from_shared(format!("http://{}", app.grpc_addr))
        .unwrap()
        .connect()
        .await;
    let answered = match plaintext {
        Err(_) => false,
        Ok(channel) => ProbeServiceClient::new(channel)
            .echo(app.request(echo(), &token))
            .await
            .is_ok(),
    };
    assert!(!answered, "a TLS server answered plaintext gRPC");

    app.stop().await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(app.grpc_addr).await.is_err(),
        "the listener is closed once the server stopped"
    );
}

#[tokio::test]
async fn grpc_web_works_over_tls() {
    let pki = TestPki::new();
    let app = TestApp::spawn_tls(&[ServiceDef::of::<Probe>()], &pki, true, |_| {}).await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);
    let ca = std::fs::read(pki.dir().join("ca.pem")).unwrap();
    let _ = terrace_testkit::http_client();
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .resolve("localhost", app.grpc_addr)
        .build()
        .unwrap();
    let body = EchoRequest {
        text: "你好".into(),
        repeat: 1,
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&body);
    let response = http
        .post(format!(
            "https://localhost:{}/terrace.testkit.v1.ProbeService/Echo",
            app.grpc_addr.port()
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", format!("Bearer {token}"))
        .body(frame)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let echo = EchoResponse::decode(&body[5..5 + len]).unwrap();
    assert_eq!(echo.text, "你好");
}
