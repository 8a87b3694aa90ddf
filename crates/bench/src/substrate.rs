//! The raw baselines: what PostgreSQL, JetStream and tonic do with nothing of ours on top.

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use terrace_testkit::TestContext;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::measure::{self, Measurement};

/// The same 64 bytes the platform measurements carry as event payloads.
pub(crate) const PAYLOAD: &[u8; 64] =
    b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[derive(Debug)]
pub(crate) struct Postgres {
    pub(crate) insert: Measurement,
    /// Inserts open-loop at half of `insert`'s rate: the latency to compare at half capacity.
    pub(crate) insert_at_half: Measurement,
    pub(crate) select: Measurement,
}

/// Single-row inserts (closed-loop, then open-loop at half that rate) and primary-key selects
/// through a sqlx pool.
pub(crate) async fn postgres(
    ctx: &TestContext,
    ops: usize,
    concurrency: usize,
) -> anyhow::Result<Postgres> {
    let db = ctx.database("bench").await;
    let pool = db.get_postgres_connection_pool().clone();
    sqlx::query("CREATE TABLE bench_rows (id uuid PRIMARY KEY, payload bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
        .execute(&pool)
        .await?;
    let ids: std::sync::Arc<Vec<uuid::Uuid>> =
        std::sync::Arc::new((0..ops).map(|_| uuid::Uuid::now_v7()).collect());
    let insert_one = |pool: sqlx::PgPool, id: uuid::Uuid| async move {
        sqlx::query("INSERT INTO bench_rows (id, payload) VALUES ($1, $2)")
            .bind(id)
            .bind(&PAYLOAD[..])
            .execute(&pool)
            .await?;
        anyhow::Ok(())
    };
    let insert = {
        let (pool, ids) = (pool.clone(), ids.clone());
        measure::run(ops, concurrency, move |i| insert_one(pool.clone(), ids[i])).await?
    };
    let insert_at_half = {
        let pool = pool.clone();
        measure::open_loop(ops / 4, insert.rate() / 2.0, move |_| {
            insert_one(pool.clone(), uuid::Uuid::now_v7())
        })
        .await?
    };
    let select = {
        let (pool, ids) = (pool.clone(), ids.clone());
        measure::run(ops, concurrency, move |i| {
            let (pool, id) = (pool.clone(), ids[i]);
            async move {
                let _: (Vec<u8>,) = sqlx::query_as("SELECT payload FROM bench_rows WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await?;
                Ok(())
            }
        })
        .await?
    };
    Ok(Postgres {
        insert,
        insert_at_half,
        select,
    })
}

#[derive(Debug)]
pub(crate) struct JetStream {
    pub(crate) sync: Measurement,
    pub(crate) pipelined: Measurement,
}

/// Publishes to a file-backed stream with message ids, as the relay does: one at a time, and
/// pipelined with at most 1024 acknowledgements outstanding (the relay's default budget).
pub(crate) async fn jetstream(
    ctx: &TestContext,
    messages: usize,
    round: usize,
) -> anyhow::Result<JetStream> {
    let bus = ctx.bus(&["bench"]).await;
    let subject = bus.naming.subject("bench.raw.published");
    let payload = Bytes::from_static(PAYLOAD);

    let sync_ops = (messages / 5).max(1);
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(sync_ops);
    for i in 0..sync_ops {
        let start = Instant::now();
        let publish = async_nats::jetstream::message::PublishMessage::build()
            .payload(payload.clone())
            .message_id(format!("sync-{round}-{i}"));
        bus.jetstream
            .send_publish(subject.clone(), publish)
            .await?
            .await?;
        latencies.push(start.elapsed());
    }
    latencies.sort_unstable();
    let sync = Measurement {
        ops: sync_ops,
        elapsed: started.elapsed(),
        latencies,
    };

    let started = Instant::now();
    let mut acks = FuturesUnordered::new();
    for i in 0..messages {
        let publish = async_nats::jetstream::message::PublishMessage::build()
            .payload(payload.clone())
            .message_id(format!("async-{round}-{i}"));
        acks.push(
            bus.jetstream
                .send_publish(subject.clone(), publish)
                .await?
                .into_future(),
        );
        while acks.len() >= 1024 {
            if let Some(ack) = acks.next().await {
                ack?;
            }
        }
    }
    while let Some(ack) = acks.next().await {
        ack?;
    }
    let pipelined = Measurement {
        ops: messages,
        elapsed: started.elapsed(),
        latencies: Vec::new(),
    };
    Ok(JetStream { sync, pipelined })
}

/// A no-op unary call on a bare tonic server (the health service, nothing else in the stack).
pub(crate) async fn bare_grpc(calls: usize, concurrency: usize) -> anyhow::Result<Measurement> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = shutdown.clone();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                async move { stop.cancelled().await },
            ),
    );
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let result = measure::run(calls, concurrency, move |_| {
        let mut client = HealthClient::new(channel.clone());
        async move {
            client
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await?;
            Ok(())
        }
    })
    .await;
    shutdown.cancel();
    server.await??;
    result
}
