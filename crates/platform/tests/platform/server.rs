//! The gRPC server: health, drain, gRPC-Web, CORS, size limits, load shedding, reflection.

use std::time::Duration;

use futures::StreamExt as _;
use prost::Message as _;
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;
use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
use terrace_testkit::pb::{EchoRequest, EchoResponse, SleepRequest, UploadRequest};
use terrace_testkit::probe::Probe;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn health_turns_not_serving_on_shutdown_before_the_server_stops() {
    let mut app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let mut health = HealthClient::new(app.channel().await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "terrace.testkit.v1.ProbeService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    app.shutdown.cancel();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("a health update on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(next.status(), ServingStatus::NotServing);
    // An open watch would hold the drain until its timeout; a real client goes away.
    drop(watch);
    drop(health);
    app.stop().await.unwrap();
}

fn grpc_web_frame(message: &impl prost::Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

#[tokio::test]
async fn grpc_web_calls_from_a_browser_are_answered() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);
    let url = format!(
        "http://{}/terrace.testkit.v1.ProbeService/Echo",
        app.grpc_addr
    );
    let http = terrace_testkit::http_client();

    let preflight = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://console.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-grpc-web,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert!(
        preflight
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let response = http
        .post(&url)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", "http://console.example")
        .header("authorization", format!("Bearer {token}"))
        .body(grpc_web_frame(&EchoRequest {
            text: "你好".into(),
            repeat: 1,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/grpc-web+proto"
    );
    let body = response.bytes().await.unwrap();
    // A data frame, then a trailers frame (flag 0x80).
    assert_eq!(body[0], 0);
    let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let echo = EchoResponse::decode(&body[5..5 + len]).unwrap();
    assert_eq!(echo.text, "你好");
    assert_eq!(echo.subject, "user-1");
    let trailers = String::from_utf8_lossy(&body[5 + len + 5..]).to_lowercase();
    assert_eq!(body[5 + len], 0x80);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let app = TestApp::spawn_with(&[ServiceDef::of::<Probe>()], |settings| {
        settings.grpc.max_message_bytes = 64 * 1024;
    })
    .await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);
    let mut client = ProbeServiceClient::new(app.channel().await);
    let small = client
        .upload(app.request(
            UploadRequest {
                data: vec![1; 60 * 1024],
            },
            &token,
        ))
        .await
        .unwrap();
    assert_eq!(small.into_inner().size, 60 * 1024);
    let status = client
        .upload(app.request(
            UploadRequest {
                data: vec![1; 65 * 1024],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
}

#[tokio::test]
async fn calls_beyond_the_concurrency_limit_are_shed_at_once() {
    let app = TestApp::spawn_with(&[ServiceDef::of::<Probe>()], |settings| {
        settings.grpc.concurrency_limit = 2;
    })
    .await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);
    let channel = app.channel().await;
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
    let slow = std::sync::Arc::new(move |millis| {
        let mut client = ProbeServiceClient::new(channel.clone());
        let mut request = tonic::Request::new(SleepRequest { millis });
        request
            .metadata_mut()
            .insert("authorization", header.clone());
        async move { client.sleep(request).await }
    });
    // Two slow calls take both slots; each retries if a probe below took its slot first.
    let hold = |millis| {
        let slow = slow.clone();
        async move {
            loop {
                match slow(millis).await {
                    Err(status) if status.code() == Code::ResourceExhausted => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    other => return other,
                }
            }
        }
    };
    let first = tokio::spawn(hold(2000));
    let second = tokio::spawn(hold(2000));
    // While both are held, a call is refused at once instead of queued, and health checks (which
    // bypass the limit, so that a busy pod is not restarted by its probes) still answer.
    let (shed, took, health) =
        crate::eventually("a call to be shed", Duration::from_secs(5), || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let started = tokio::time::Instant::now();
            let status = slow(0).await.err()?;
            let took = started.elapsed();
            Some((status, took, app.health("").await))
        })
        .await;
    assert_eq!(shed.code(), Code::ResourceExhausted, "{shed:?}");
    assert!(
        took < Duration::from_secs(1),
        "refused at once, not after waiting for a slot"
    );
    assert_eq!(health, Some(ServingStatus::Serving));
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    // With the slots free again, calls pass.
    slow(0).await.unwrap();
}

#[tokio::test]
async fn reflection_lists_the_registered_services() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let names = terrace_testkit::process::reflected_services(&app.channel().await)
        .await
        .unwrap();
    assert!(
        names.contains(&"terrace.testkit.v1.ProbeService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
}
