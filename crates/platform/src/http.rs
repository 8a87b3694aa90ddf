//! The side HTTP port: Prometheus `/metrics`, `/healthz`, and routes a service adds (identity's
//! `/.well-known/jwks.json`).
//!
//! It is a separate port from gRPC so that scraping and probes never compete with user traffic for
//! the concurrency limit, and so that a NetworkPolicy can expose it to the monitoring namespace only.

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The routes every process serves, merged with `extra`.
pub fn router(extra: Router) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|| async { crate::telemetry::render_metrics() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .merge(extra)
}

/// Serves `router` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(addr = ?listener.local_addr().ok(), "http server listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("http server failed")
}
