//! One trace from a gRPC call, through the outbox and NATS, to the consumer.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement};
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;
use terrace_testkit::pb::RecordRequest;
use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
use terrace_testkit::probe::Probe;
use uuid::Uuid;

#[tokio::test]
async fn trace_id_survives_grpc_outbox_nats_and_consumer() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let db = app.ctx.database("probe").await;
    let token = app.token("user-1", &[(Role::Farmer, "110101")]);
    let trace_id = format!("{:032x}", rand::random::<u128>() | 1);
    let traceparent = format!("00-{trace_id}-{:016x}-01", rand::random::<u64>() | 1);

    let mut request = app.request(
        RecordRequest {
            request_id: Uuid::now_v7().to_string(),
            text: "traced".into(),
            fail_after_write: false,
        },
        &token,
    );
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    let response = ProbeServiceClient::new(app.channel().await)
        .record(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.trace_id, trace_id,
        "the handler ran in the caller's trace"
    );
    let event_id: Uuid = response.event_id.parse().unwrap();

    let consumer_trace: Option<String> =
        crate::eventually("event consumed", Duration::from_secs(10), || async {
            db.query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT trace_id FROM probe_seen WHERE event_id = $1",
                [event_id.into()],
            ))
            .await
            .unwrap()
            .map(|row| row.try_get("", "trace_id").unwrap())
        })
        .await;
    assert_eq!(
        consumer_trace.as_deref(),
        Some(trace_id.as_str()),
        "the consumer ran in the same trace"
    );
}
