//! The probe: a small service built only from platform parts, so that the platform's tests and
//! benchmarks can drive every layer from the outside exactly as a real service uses it.
//!
//! - `Echo` validates its fields and reports the principal and trace id it saw.
//! - `Record` writes a note and its `probe.note.recorded` event in one transaction (idempotent by
//!   `request_id`), or rolls both back on request.
//! - `GET /probe/hello` is a plain HTTP route mounted on the gRPC port (no token).
//! - A consumer (`probe-notes`) records every event it handles in `probe_seen`, with the trace id it
//!   ran under and how often it was attempted. Notes whose text is `fail-always` always fail; notes
//!   whose text is `fail-once` fail their first attempt.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement, TransactionTrait};
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use terrace_platform::auth::Principal;
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use terrace_platform::bus::outbox;
use terrace_platform::bus::{Envelope, Event};
use terrace_platform::db::SqlMigration;
use terrace_platform::error::{Error, Violations};
use terrace_platform::grpc::GrpcServer;
use terrace_platform::service::{Service, ServiceContext};
use terrace_platform::telemetry::propagation::current_trace_id;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::pb;
use crate::pb::probe_service_server::{ProbeService, ProbeServiceServer};

/// The probe as a service the platform runner can start. `Probe<false>` serves the same calls
/// and relays the same events but runs no consumer of its own: the benchmark measures the create
/// apart from a consumer that, deployed, would run in another service's process.
#[derive(Debug)]
pub struct Probe<const CONSUMES: bool = true>;

impl Event for pb::NoteRecorded {
    const SUBJECT: &'static str = "probe.note.recorded";
    const TYPE: &'static str = "terrace.testkit.v1.NoteRecorded";
}

/// The probe's migrations: the platform's tables, then its own.
#[derive(Debug)]
pub struct ProbeMigrator;

impl MigratorTrait for ProbeMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = terrace_platform::db::migrations();
        migrations.push(
            SqlMigration {
                name: "m20261128_100001_probe",
                up: r"
CREATE TABLE probe_notes (
    note_id    uuid PRIMARY KEY,
    request_id uuid NOT NULL UNIQUE,
    event_id   uuid NOT NULL,
    text       text NOT NULL
);
CREATE TABLE probe_seen (
    event_id uuid PRIMARY KEY,
    text     text NOT NULL,
    trace_id text,
    handled  integer NOT NULL DEFAULT 1
);
-- A test's instrument, counted outside the handler's transaction: unlogged, so that counting
-- an attempt does not cost a WAL flush of its own (it would double the commits per event).
CREATE UNLOGGED TABLE probe_attempts (
    event_id uuid PRIMARY KEY,
    attempts integer NOT NULL
);
",
            }
            .boxed(),
        );
        migrations
    }
}

impl<const CONSUMES: bool> Service for Probe<CONSUMES> {
    const NAME: &'static str = "probe";
    type Migrator = ProbeMigrator;
    type State = ();

    fn state(_ctx: &ServiceContext) -> anyhow::Result<()> {
        Ok(())
    }

    fn register(ctx: &ServiceContext, _state: &std::sync::Arc<()>, server: &mut GrpcServer) {
        let limit = server.max_message_bytes();
        server.add_file_descriptor_set(pb::FILE_DESCRIPTOR_SET);
        // A plain HTTP route on the gRPC port, reached without a token (the platform's mounts).
        server.add_http_routes(
            "/probe/",
            axum::Router::new().route(
                "/probe/hello",
                axum::routing::get(|| async { "hello from the probe" }),
            ),
        );
        server.add_service(
            ProbeServiceServer::new(ProbeHandler { ctx: ctx.clone() })
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit),
        );
    }

    async fn start(ctx: &ServiceContext, _state: &std::sync::Arc<()>) -> anyhow::Result<()> {
        if !CONSUMES {
            return Ok(());
        }
        let consumer = notes_consumer(&ctx.db, &ctx.bus, &ctx.settings.consumer);
        consumer.ensure().await?;
        ctx.tasks.spawn(consumer.run(ctx.shutdown.clone()));
        Ok(())
    }
}

/// The probe's consumer of its own notes (`probe-notes`), which records what it handles in
/// `probe_seen` and `probe_attempts`.
pub fn notes_consumer(
    db: &sea_orm::DatabaseConnection,
    bus: &terrace_platform::bus::Bus,
    settings: &terrace_platform::config::ConsumerSettings,
) -> Consumer<impl Handler + std::fmt::Debug> {
    Consumer::new(
        ConsumerSpec {
            name: "probe-notes".to_owned(),
            domain: "probe".to_owned(),
            subject: Some("probe.note.>".to_owned()),
        },
        db,
        bus,
        settings,
        SeenRecorder { db: db.clone() },
    )
}

#[derive(Debug)]
struct ProbeHandler {
    ctx: ServiceContext,
}

#[tonic::async_trait]
impl ProbeService for ProbeHandler {
    #[tracing::instrument(skip_all)]
    async fn echo(
        &self,
        request: Request<pb::EchoRequest>,
    ) -> Result<Response<pb::EchoResponse>, Status> {
        let principal = Principal::from_request(&request)?.clone();
        let message = request.into_inner();
        let mut violations = Violations::new();
        violations.check(!message.text.is_empty(), "text", "required");
        violations.check(
            message.text.chars().count() <= 100,
            "text",
            "at most 100 characters",
        );
        violations.check(
            (0..=10).contains(&message.repeat),
            "repeat",
            "must be between 0 and 10",
        );
        violations.finish()?;
        let times = usize::try_from(message.repeat.max(1)).unwrap_or(1);
        Ok(Response::new(pb::EchoResponse {
            text: message.text.repeat(times),
            subject: principal.subject.clone(),
            actor: principal.actor.clone().unwrap_or_default(),
            grants: principal
                .grants
                .iter()
                .map(|grant| format!("{}@{}", grant.role.as_str(), grant.scope.as_str()))
                .collect(),
            trace_id: current_trace_id().unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn record(
        &self,
        request: Request<pb::RecordRequest>,
    ) -> Result<Response<pb::RecordResponse>, Status> {
        let caller = terrace_platform::auth::Caller::required(&request)?;
        let message = request.into_inner();
        let mut violations = Violations::new();
        let mutation = terrace_platform::idempotency::Mutation::parse(
            &mut violations,
            "Record",
            &message.request_id,
            &message,
        );
        violations.check(!message.text.is_empty(), "text", "required");
        let mutation = violations.finish_with(|| mutation)?;
        if message.fail_after_write {
            return Err(self.write_and_roll_back(&message.text).await.into());
        }
        // The platform's one-round-trip create: claim, row and event in one statement.
        let note_id = Uuid::now_v7();
        let event = Envelope::new(
            &self.ctx.event_source(),
            &pb::NoteRecorded {
                note_id: note_id.to_string(),
                text: message.text.clone(),
            },
        );
        let row = terrace_platform::idempotency::NewRow {
            table: "probe_notes",
            columns: vec!["note_id", "request_id", "event_id", "text"],
            values: vec![
                note_id.into(),
                mutation.request_id().into(),
                event.id.into(),
                message.text.clone().into(),
            ],
        };
        let answer = pb::RecordResponse {
            event_id: event.id.to_string(),
            trace_id: current_trace_id().unwrap_or_default(),
        };
        let answer = terrace_platform::idempotency::create_once(
            &self.ctx.db,
            &caller,
            &mutation,
            self.ctx.clock.now(),
            answer,
            row,
            &[event],
        )
        .await?;
        Ok(Response::new(answer))
    }

    async fn sleep(
        &self,
        request: Request<pb::SleepRequest>,
    ) -> Result<Response<pb::SleepResponse>, Status> {
        Principal::from_request(&request)?;
        let millis = request.into_inner().millis.min(60_000);
        tokio::time::sleep(Duration::from_millis(u64::from(millis))).await;
        Ok(Response::new(pb::SleepResponse {}))
    }

    async fn upload(
        &self,
        request: Request<pb::UploadRequest>,
    ) -> Result<Response<pb::UploadResponse>, Status> {
        Principal::from_request(&request)?;
        let size = request.into_inner().data.len() as u64;
        Ok(Response::new(pb::UploadResponse { size }))
    }
}

impl ProbeHandler {
    /// Writes a note and its event in a transaction, then rolls it back as the request asked:
    /// the outbox must keep no event of a change that did not happen.
    async fn write_and_roll_back(&self, text: &str) -> Error {
        let written = async {
            let txn = self.ctx.db.begin().await?;
            let note_id = Uuid::now_v7();
            let event = pb::NoteRecorded {
                note_id: note_id.to_string(),
                text: text.to_owned(),
            };
            let event_id = outbox::publish(&txn, &self.ctx.event_source(), &event).await?;
            txn.execute_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                "INSERT INTO probe_notes (note_id, request_id, event_id, text) \
                 VALUES ($1, $2, $3, $4)",
                [
                    note_id.into(),
                    Uuid::now_v7().into(),
                    event_id.into(),
                    text.into(),
                ],
            ))
            .await?;
            txn.rollback().await?;
            Ok::<_, Error>(())
        };
        match written.await {
            Ok(()) => {
                Error::failed_precondition("ASKED_TO_FAIL", "the note was rolled back as asked")
            }
            Err(error) => error,
        }
    }
}

/// The probe's consumer: remembers what it saw.
#[derive(Debug)]
struct SeenRecorder {
    db: sea_orm::DatabaseConnection,
}

impl Handler for SeenRecorder {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let note: pb::NoteRecorded = event.decode().map_err(HandlerError::Reject)?;
        // Attempts are counted outside the transaction so that failed attempts are counted too.
        let attempts: i32 = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                "INSERT INTO probe_attempts (event_id, attempts) VALUES ($1, 1) \
                 ON CONFLICT (event_id) DO UPDATE SET attempts = probe_attempts.attempts + 1 \
                 RETURNING attempts",
                [event.id.into()],
            ))
            .await?
            .map(|row| row.try_get("", "attempts"))
            .transpose()?
            .unwrap_or(1);
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO probe_seen (event_id, text, trace_id) VALUES ($1, $2, $3) \
             ON CONFLICT (event_id) DO UPDATE SET handled = probe_seen.handled + 1",
            [
                event.id.into(),
                note.text.clone().into(),
                current_trace_id().into(),
            ],
        ))
        .await?;
        match note.text.as_str() {
            "fail-always" => Err(HandlerError::Retry(anyhow::anyhow!(
                "this note always fails"
            ))),
            "fail-once" if attempts == 1 => {
                Err(HandlerError::Retry(anyhow::anyhow!("first attempt fails")))
            }
            _ => Ok(()),
        }
    }
}
