//! The platform's numbers, each to be read beside its baseline.

use std::time::{Duration, Instant};

use sea_orm_migration::MigratorTrait;
use terrace_platform::auth::Role;
use terrace_platform::bus::relay::Relay;
use terrace_platform::service::ServiceDef;
use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
use terrace_testkit::pb::{EchoRequest, RecordRequest};
use terrace_testkit::probe::{Probe, ProbeMigrator};
use terrace_testkit::{TestApp, TestContext};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

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

/// Idempotent creates: one gRPC call writes a row and its outbox event in one transaction.
pub(crate) async fn probe_writes(calls: usize, concurrency: usize) -> anyhow::Result<Measurement> {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let token = app.token("bench-user", &[(Role::Farmer, "110101001001")]);
    let channel = app.channel().await;
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse()?;
    measure::run(calls, concurrency, move |i| {
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
    let first = start_dev(bin, &ctx).await?;
    let first_ready = first.ready;
    first.stop().await?;
    let second = start_dev(bin, &ctx).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_rss_kb = rss_kb(second.child.id().unwrap_or_default())?;
    let ready = second.ready;
    second.stop().await?;
    Ok(DevProcess {
        first_ready,
        ready,
        idle_rss_kb,
    })
}

struct Running {
    child: tokio::process::Child,
    ready: Duration,
}

impl Running {
    async fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id().unwrap_or_default().to_string();
        tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await?;
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??;
        anyhow::ensure!(status.success(), "terrace dev exited with {status}");
        Ok(())
    }
}

async fn free_port() -> anyhow::Result<u16> {
    Ok(tokio::net::TcpListener::bind("127.0.0.1:0")
        .await?
        .local_addr()?
        .port())
}

async fn start_dev(bin: &std::path::Path, ctx: &TestContext) -> anyhow::Result<Running> {
    let grpc = free_port().await?;
    let http = free_port().await?;
    let started = Instant::now();
    let child = tokio::process::Command::new(bin)
        .arg("dev")
        .env(
            "TERRACE__DATABASE__DATABASE_PREFIX",
            &ctx.settings.database.database_prefix,
        )
        .env("TERRACE__NATS__PREFIX", &ctx.settings.nats.prefix)
        .env("TERRACE__GRPC__ADDR", format!("127.0.0.1:{grpc}"))
        .env("TERRACE__HTTP__ADDR", format!("127.0.0.1:{http}"))
        .env("TERRACE__GRPC__DRAIN_DELAY", "0")
        .env("TERRACE__TELEMETRY__LOG_FILTER", "warn")
        .kill_on_drop(true)
        .spawn()?;
    loop {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "terrace dev not ready in 60 s"
        );
        if let Ok(channel) =
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{grpc}"))?
                .connect()
                .await
        {
            let status = HealthClient::new(channel)
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .ok()
                .map(|response| response.into_inner().status());
            if status == Some(ServingStatus::Serving) {
                return Ok(Running {
                    child,
                    ready: started.elapsed(),
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for process {pid}"))
}
