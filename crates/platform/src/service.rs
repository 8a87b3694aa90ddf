//! Running services: one, as a Kubernetes Deployment does, or all five in one process, as
//! `terrace dev` and small sites do. Same code, same wire.
//!
//! A service crate describes itself with the [`Service`] trait: its name, its migrations, the gRPC
//! services it registers, its public methods, its HTTP routes and its background work. [`run`]
//! does the rest in the same order for everyone:
//!
//! 1. bind nothing itself: the caller passes already-bound listeners (port 0 in tests);
//! 2. build every service's handlers over a lazily connecting database pool and NATS client and
//!    start answering at once, with health `NOT_SERVING`;
//! 3. in the background: create the databases when allowed, migrate them, set up the streams,
//!    start each service's outbox relay and its own tasks, then flip health to `SERVING`;
//! 4. watch the database and NATS connections and report `NOT_SERVING` while either is down;
//! 5. on shutdown: `NOT_SERVING`, drain gRPC, then stop the tasks (the relays publish what the
//!    last requests committed), close the pools. A fatal error anywhere (start-up, the gRPC or
//!    HTTP server) takes the same path and makes `run` return it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{KeySource, SharedJwks, Verifier};
use crate::bus::Bus;
use crate::bus::relay::Relay;
use crate::clock::Clock;
use crate::config::Settings;
use crate::grpc::{GrpcServer, Health};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything a service's handlers and tasks share.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    /// The service's name (`identity`, `market`, ...), also its database suffix and event source.
    pub name: &'static str,
    pub settings: Arc<Settings>,
    /// The service's own database. Connects lazily: usable once the service is ready.
    pub db: DatabaseConnection,
    pub bus: Bus,
    pub verifier: Verifier,
    /// The key set published by the identity service of this process, when there is one; the
    /// verifiers of the other services read it without a network hop.
    pub jwks: SharedJwks,
    /// The time every rule and job reads (the wall clock, or a test's hand-moved clock).
    pub clock: Clock,
    pub shutdown: CancellationToken,
    /// Background tasks; waited for on shutdown.
    pub tasks: TaskTracker,
}

impl ServiceContext {
    /// The CloudEvents source of this service's events, `terrace/<name>`.
    pub fn event_source(&self) -> String {
        format!("terrace/{}", self.name)
    }
}

/// What a service crate tells the runner about itself.
pub trait Service: Send + Sync + 'static {
    /// `identity`, `governance`, `agri`, `market` or `notify`.
    const NAME: &'static str;
    /// The service's migrator (the platform's outbox and inbox tables come first in its list).
    type Migrator: MigratorTrait;
    /// What the service's handlers, routes and background tasks share (caches, clients), built
    /// once per process before anything is registered. `()` for a service with nothing to share.
    type State: Send + Sync + 'static;

    /// Builds the shared state. Runs before the database is ready: connect nothing here.
    fn state(ctx: &ServiceContext) -> anyhow::Result<Self::State>;

    /// Adds the service's gRPC services (and their public methods) to the server.
    fn register(ctx: &ServiceContext, state: &Arc<Self::State>, server: &mut GrpcServer);

    /// Routes the service adds to the side HTTP port.
    fn http_routes(_ctx: &ServiceContext, _state: &Arc<Self::State>) -> axum::Router {
        axum::Router::new()
    }

    /// Background work started once the database and NATS are ready (consumers, jobs). Spawn on
    /// `ctx.tasks` and stop when `ctx.shutdown` is cancelled.
    fn start(
        _ctx: &ServiceContext,
        _state: &Arc<Self::State>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }
}

/// Start-up work of one service, bound to its state.
type StartFn =
    Box<dyn for<'a> FnOnce(&'a ServiceContext) -> BoxFuture<'a, anyhow::Result<()>> + Send>;

/// What setting a service up in a process yields: its HTTP routes and its start-up work.
struct SetUp {
    http_routes: axum::Router,
    start: StartFn,
}

/// A [`Service`] as a value, so that a process can run a list of them.
#[derive(Clone, Copy)]
pub struct ServiceDef {
    pub name: &'static str,
    migrate: for<'a> fn(&'a DatabaseConnection) -> BoxFuture<'a, anyhow::Result<()>>,
    set_up: fn(&ServiceContext, &mut GrpcServer) -> anyhow::Result<SetUp>,
}

impl std::fmt::Debug for ServiceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDef")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ServiceDef {
    pub fn of<S: Service>() -> Self {
        Self {
            name: S::NAME,
            migrate: |db| Box::pin(crate::db::migrate::<S::Migrator>(db)),
            set_up: |ctx, server| {
                let state = Arc::new(S::state(ctx)?);
                S::register(ctx, &state, server);
                let http_routes = S::http_routes(ctx, &state);
                let start: StartFn =
                    Box::new(move |ctx| Box::pin(async move { S::start(ctx, &state).await }));
                Ok(SetUp { http_routes, start })
            },
        }
    }

    /// Runs the service's pending migrations.
    pub async fn migrate(&self, db: &DatabaseConnection) -> anyhow::Result<()> {
        (self.migrate)(db).await
    }
}

/// The listeners a process serves on.
#[derive(Debug)]
pub struct Listeners {
    pub grpc: TcpListener,
    /// The side HTTP port; `None` in tests that do not need metrics.
    pub http: Option<TcpListener>,
}

/// Runs `services` until `shutdown` is cancelled.
pub async fn run(
    settings: Settings,
    services: Vec<ServiceDef>,
    listeners: Listeners,
    clock: Clock,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let process_name = match services.as_slice() {
        [one] => one.name.to_owned(),
        _ => "terrace".to_owned(),
    };
    let bus = Bus::connect(&settings.nats, &process_name, settings.outbox.max_in_flight).await?;
    let jwks = SharedJwks::default();
    let key_source = match &settings.auth.jwks_url {
        Some(url) => KeySource::Url(url.clone()),
        None => KeySource::Shared(jwks.clone()),
    };
    let verifier = Verifier::new_with_clock(&settings.auth, key_source, clock.clone());
    let tasks = TaskTracker::new();
    // Background work (relays, consumers, the HTTP port) stops only after gRPC has drained, so
    // that what the last requests committed is still relayed and metrics stay scrapable.
    let tasks_shutdown = CancellationToken::new();

    let mut server = GrpcServer::new(&settings.grpc);
    let mut contexts = Vec::with_capacity(services.len());
    let mut starts = Vec::with_capacity(services.len());
    let mut http_routes = axum::Router::new();
    for def in &services {
        let ctx = ServiceContext {
            name: def.name,
            settings: settings.clone(),
            db: crate::db::pool(
                &settings.database,
                &settings.database.database_name(def.name),
                true,
            )
            .await?,
            bus: bus.clone(),
            verifier: verifier.clone(),
            jwks: jwks.clone(),
            clock: clock.clone(),
            shutdown: tasks_shutdown.clone(),
            tasks: tasks.clone(),
        };
        let set_up =
            (def.set_up)(&ctx, &mut server).with_context(|| format!("setting up {}", def.name))?;
        http_routes = http_routes.merge(set_up.http_routes);
        contexts.push((*def, ctx));
        starts.push(set_up.start);
    }
    let pools: Vec<DatabaseConnection> = contexts.iter().map(|(_, ctx)| ctx.db.clone()).collect();
    let health = server.health();
    // Before the port answers anything: every service NOT_SERVING until it is ready.
    health.set_all(false).await;
    tracing::info!(services = ?server.service_names(), "starting");

    if let Some(listener) = listeners.http {
        let router = crate::http::router(http_routes);
        let stop = tasks_shutdown.clone();
        let failed = shutdown.clone();
        tasks.spawn(async move {
            if let Err(error) = crate::http::serve(listener, router, stop).await {
                tracing::error!(error = format!("{error:#}"), "http server failed, stopping");
                failed.cancel();
            }
        });
    }

    let mut grpc = tokio::spawn(server.serve(listeners.grpc, verifier, shutdown.clone()));

    let startup = {
        let settings = settings.clone();
        let bus = bus.clone();
        let shutdown = shutdown.clone();
        let health = health.clone();
        async move {
            let started = tokio::time::Instant::now();
            prepare(&settings, &bus, &contexts, starts, &shutdown).await?;
            health.set_all(true).await;
            tracing::info!(elapsed = ?started.elapsed(), "ready");
            watch_dependencies(&contexts, &bus, &health, &shutdown).await;
            anyhow::Ok(())
        }
    };
    let mut grpc_result = None;
    let result = tokio::select! {
        // A stop request wins over whatever start-up was doing when it came.
        biased;
        () = shutdown.cancelled() => Ok(()),
        served = &mut grpc => {
            grpc_result = Some(served);
            Err(anyhow::anyhow!("the grpc server stopped before it was asked to"))
        }
        result = startup => result,
    };
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "stopping after a fatal error");
    }
    shutdown.cancel();
    let served = match grpc_result {
        Some(served) => served,
        None => grpc.await,
    }
    .context("grpc task panicked")?;
    tasks_shutdown.cancel();
    tasks.close();
    if tokio::time::timeout(settings.grpc.drain_timeout, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop in time");
    }
    for pool in pools {
        if let Err(error) = pool.close().await {
            tracing::warn!(%error, "closing a database pool");
        }
    }
    tracing::info!("stopped");
    result.and(served)
}

/// Creates and migrates the databases, sets up the streams, starts relays and service tasks. Retries
/// while PostgreSQL or NATS are not reachable yet; a failing migration is fatal.
async fn prepare(
    settings: &Settings,
    bus: &Bus,
    contexts: &[(ServiceDef, ServiceContext)],
    starts: Vec<StartFn>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let names: Vec<&str> = contexts.iter().map(|(def, _)| def.name).collect();
    retry("nats streams", shutdown, || {
        crate::bus::streams::ensure_streams(&bus.jetstream, &bus.naming, &settings.nats, &names)
    })
    .await?;
    for ((def, ctx), start) in contexts.iter().zip(starts) {
        let name = settings.database.database_name(def.name);
        retry("database", shutdown, || async {
            if settings.database.create_if_missing {
                crate::db::create_database_if_missing(&settings.database, &name).await?;
            }
            ctx.db
                .ping()
                .await
                .with_context(|| format!("reaching database {name}"))
        })
        .await?;
        if settings.database.migrate_on_start {
            def.migrate(&ctx.db)
                .await
                .with_context(|| format!("migrating {}", def.name))?;
        }
        let relay = Relay::new(def.name, &ctx.db, bus, &settings.outbox);
        let stop = ctx.shutdown.clone();
        let name = def.name;
        ctx.tasks.spawn(async move {
            if let Err(error) = relay.run(stop).await {
                tracing::error!(
                    service = name,
                    error = format!("{error:#}"),
                    "outbox relay stopped"
                );
            }
        });
        start(ctx)
            .await
            .with_context(|| format!("starting {}", def.name))?;
    }
    Ok(())
}

/// Retries a start-up step with backoff until it succeeds or the process is told to stop.
async fn retry<F, Fut, T>(
    what: &str,
    shutdown: &CancellationToken,
    mut step: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut backoff =
        crate::backoff::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let delay = backoff.next_delay();
        match step().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                tracing::warn!(
                    step = what,
                    error = format!("{error:#}"),
                    ?delay,
                    "not ready yet, retrying"
                );
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => anyhow::bail!("stopped while waiting for {what}"),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Reports `NOT_SERVING` while a database or NATS is unreachable, and `SERVING` again after.
async fn watch_dependencies(
    contexts: &[(ServiceDef, ServiceContext)],
    bus: &Bus,
    health: &Health,
    shutdown: &CancellationToken,
) {
    let mut serving = true;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
        let mut ok = bus.is_connected();
        for (_, ctx) in contexts {
            ok &= ctx.db.ping().await.is_ok();
        }
        if ok != serving && !shutdown.is_cancelled() {
            serving = ok;
            tracing::warn!(serving, "dependency health changed");
            health.set_all(serving).await;
        }
    }
}

/// Binds the configured ports and runs `services` until SIGINT or SIGTERM: what a service's own
/// binary and `terrace serve` do.
pub async fn serve(settings: Settings, services: Vec<ServiceDef>) -> anyhow::Result<()> {
    let grpc = TcpListener::bind(settings.grpc.addr)
        .await
        .with_context(|| format!("binding the grpc port {}", settings.grpc.addr))?;
    let http = TcpListener::bind(settings.http.addr)
        .await
        .with_context(|| format!("binding the http port {}", settings.http.addr))?;
    let shutdown = crate::shutdown::on_signal();
    run(
        settings,
        services,
        Listeners {
            grpc,
            http: Some(http),
        },
        Clock::system(),
        shutdown,
    )
    .await
}

/// The `main` of a single-service binary: settings from `TERRACE_CONFIG` and the environment,
/// telemetry, then [`serve`].
pub async fn main_for(def: ServiceDef) -> anyhow::Result<()> {
    let settings = Settings::load(&crate::config::Sources {
        file: Settings::file_from_environment(),
        environment: true,
    })?;
    let _telemetry = crate::telemetry::init(&settings.telemetry, &format!("terrace-{}", def.name))?;
    serve(settings, vec![def]).await
}
