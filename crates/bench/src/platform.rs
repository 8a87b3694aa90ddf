//! The platform's numbers, each to be read beside its baseline.

use std::time::{Duration, Instant};

use sea_orm_migration::MigratorTrait;
use terrace_platform::auth::Role;
use terrace_platform::bus::relay::Relay;
use terrace_platform::service::ServiceDef;
use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
use terrace_testkit::pb::{EchoRequest, RecordRequest};
use terrace_testkit::probe::{Probe, ProbeMigrator};
use terrace_testkit::process::TerraceProcess;
use terrace_testkit::{TestApp, TestContext};

use crate::measure::{self, Measurement};
use crate::substrate::PAYLOAD;

/// Fills the outbox with `messages` committed rows, then times the relay draining them to JetStream
/// with the default settings.
pub(crate) async fn relay(
    ctx: &TestContext,
    messages: usize,
    round: usize,
) -> anyhow::Result<Measurement> {
    let db = ctx.database(&format!("relay{round}")).await;
    ProbeMigrator::up(&db, None).await?;
    let bus = ctx.bus(&["bench"]).await;
    let pool = db.get_postgres_connection_pool().clone();
    sqlx::query(
        "INSERT INTO outbox (event_id, subject, event_type, source, payload, occurred_at) \
         SELECT gen_random_uuid(), 'bench.relay.published', 'terrace.bench.Published', 'terrace/bench', $1, now() \
         FROM generate_series(1, $2)",
    )
    .bind(&PAYLOAD[..])
    .bind(i64::try_from(messages)?)
    .execute(&pool)
    .await?;
    let relay = Relay::new("bench", &db, &bus, &ctx.settings.outbox);
    let started = Instant::now();
    let mut drained = 0;
    loop {
        let claimed = relay.drain_once().await?;
        if claimed == 0 {
            break;
        }
        drained += claimed;
    }
    anyhow::ensure!(drained == messages, "drained {drained} of {messages}");
    Ok(Measurement {
        ops: messages,
        elapsed: started.elapsed(),
        latencies: Vec::new(),
    })
}

/// Authenticated no-op calls (`Echo`) through the whole server stack: tracing, CORS and gRPC-Web
/// detection, load shedding, token verification, validation.
pub(crate) async fn probe_calls(calls: usize, concurrency: usize) -> anyhow::Result<Measurement> {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let token = app.token("bench-user", &[(Role::Farmer, "110101001001")]);
    let channel = app.channel().await;
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse()?;
    measure::run(calls, concurrency, move |_| {
        let mut client = ProbeServiceClient::new(channel.clone());
        let mut request = tonic::Request::new(EchoRequest {
            text: "ping".into(),
            repeat: 1,
        });
        request
            .metadata_mut()
            .insert("authorization", header.clone());
        async move {
            client.echo(request).await?;
            Ok(())
        }
    })
    .await
}

/// The probe's creates, closed-loop (capacity) and then open-loop at half that rate.
#[derive(Debug)]
pub(crate) struct Creates {
    pub(crate) capacity: Measurement,
    pub(crate) at_half: Measurement,
}

/// Idempotent creates: one gRPC call writes a row and its outbox event in one statement, with the
/// relay publishing the events meanwhile. With `CONSUMES`, the probe's own consumer also handles
/// every event in the same process (the whole loop; deployed, a consumer runs in another service's
/// process and on other cores).
pub(crate) async fn probe_writes<const CONSUMES: bool>(
    calls: usize,
    concurrency: usize,
) -> anyhow::Result<Creates> {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe<CONSUMES>>()]).await;
    let token = app.token("bench-user", &[(Role::Farmer, "110101001001")]);
    let channel = app.channel().await;
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse()?;
    let record = move |i: usize| {
        let mut client = ProbeServiceClient::new(channel.clone());
        let mut request = tonic::Request::new(RecordRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            text: format!("note {i}"),
            fail_after_write: false,
        });
        request
            .metadata_mut()
            .insert("authorization", header.clone());
        async move {
            client.record(request).await?;
            Ok(())
        }
    };
    let capacity = measure::run(calls, concurrency, record.clone()).await?;
    let at_half = measure::open_loop(calls, capacity.rate() / 2.0, record).await?;
    Ok(Creates { capacity, at_half })
}

/// The create's statement alone: `idempotency::create_once` (claim with answer, row, outbox
/// event) straight on the pool, no gRPC, no relay, no consumer — what the write path costs
/// against the raw insert, apart from the platform's work around it.
pub(crate) async fn create_statement(
    ctx: &TestContext,
    ops: usize,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    use sea_orm::ConnectionTrait as _;
    use terrace_platform::auth::Caller;
    use terrace_platform::bus::{Envelope, outbox};
    use terrace_platform::error::Violations;
    use terrace_platform::idempotency::{self, Mutation, NewRow};
    let db = ctx.database("bench_create").await;
    for sql in [
        idempotency::MIGRATION.up,
        outbox::MIGRATION.up,
        "CREATE TABLE bench_notes (id uuid PRIMARY KEY, request_id uuid NOT NULL UNIQUE, \
         text text NOT NULL)",
    ] {
        db.execute_unprepared(sql).await?;
    }
    let caller = Caller::User(terrace_platform::auth::Principal {
        subject: uuid::Uuid::now_v7().to_string(),
        kind: terrace_platform::auth::PrincipalKind::User,
        grants: Vec::new(),
        api_scopes: Vec::new(),
        actor: None,
        token_id: String::new(),
        expires_at: terrace_platform::Clock::system_now(),
    });
    measure::run(ops, concurrency, move |i| {
        let (db, caller) = (db.clone(), caller.clone());
        async move {
            let request = RecordRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                text: format!("note {i}"),
                fail_after_write: false,
            };
            let mutation = Mutation::parse(
                &mut Violations::new(),
                "Record",
                &request.request_id,
                &request,
            )
            .ok_or_else(|| anyhow::anyhow!("a request id"))?;
            let id = uuid::Uuid::now_v7();
            let event = Envelope::new(
                "terrace/bench",
                &terrace_testkit::pb::NoteRecorded {
                    note_id: id.to_string(),
                    text: request.text.clone(),
                },
            );
            let row = NewRow {
                table: "bench_notes",
                columns: vec!["id", "request_id", "text"],
                values: vec![
                    id.into(),
                    mutation.request_id().into(),
                    request.text.clone().into(),
                ],
            };
            let answer = terrace_testkit::pb::RecordResponse {
                event_id: event.id.to_string(),
                trace_id: String::new(),
            };
            idempotency::create_once(
                &db,
                &caller,
                &mutation,
                terrace_platform::Clock::system_now(),
                answer,
                row,
                &[event],
            )
            .await?;
            Ok(())
        }
    })
    .await
}

/// What `terrace dev` costs.
#[derive(Debug)]
pub(crate) struct DevProcess {
    pub(crate) first_ready: Duration,
    pub(crate) ready: Duration,
    pub(crate) idle_rss_kb: u64,
}

/// Starts `terrace dev` twice (fresh, then already migrated) and reads its memory when idle.
pub(crate) async fn terrace_dev(bin: &std::path::Path) -> anyhow::Result<DevProcess> {
    let ctx = TestContext::new();
    let first = TerraceProcess::start(bin, &["dev"], &ctx).await?;
    let first_ready = first.ready_after;
    anyhow::ensure!(
        first.terminate().await?.success(),
        "terrace dev failed to stop"
    );
    let second = TerraceProcess::start(bin, &["dev"], &ctx).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_rss_kb = second.rss_kb()?;
    let ready = second.ready_after;
    anyhow::ensure!(
        second.terminate().await?.success(),
        "terrace dev failed to stop"
    );
    Ok(DevProcess {
        first_ready,
        ready,
        idle_rss_kb,
    })
}
