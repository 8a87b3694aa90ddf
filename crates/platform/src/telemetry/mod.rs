//! Logs, traces and metrics for every Terrace process.
//!
//! One call to [`init`] at start-up wires the three together so that a request can be followed
//! from the browser through every service and every event it causes:
//!
//! - **Logs** are `tracing` events, formatted for a terminal or as JSON lines
//!   ([`LogFormat`]) and filtered by `telemetry.log_filter`.
//! - **Traces**: every `tracing` span at `INFO` or above (and every span of a `terrace*` crate) is
//!   also an OpenTelemetry span. An SDK tracer provider is always installed, so spans carry real
//!   trace ids even when nothing is exported, which is what lets a `traceparent` travel through
//!   gRPC metadata and NATS headers ([`propagation`]) and lets logs, tests and error reports name
//!   the trace. Spans are exported over OTLP/gRPC only when `telemetry.otlp_endpoint` is set.
//! - **Metrics** are OpenTelemetry instruments made from [`meter`]. A Prometheus reader is always
//!   attached, so [`render_metrics`] can serve `/metrics`; with an OTLP endpoint they are also
//!   pushed periodically.
//!
//! [`GrpcTraceLayer`] is the server side of this for gRPC: one span and the RED metrics per call.
//!
//! # Layout
//!
//! - this module: [`init`], [`init_for_tests`], [`TelemetryGuard`], [`meter`], [`render_metrics`].
//! - [`propagation`]: W3C trace context in and out of HTTP headers, gRPC metadata and NATS headers.
//! - `grpc`: [`GrpcTraceLayer`], the per-call span and `rpc.server.*` metrics.

use std::io::IsTerminal;
use std::sync::OnceLock;

use anyhow::Context as _;
use opentelemetry::metrics::Meter;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogFormat, TelemetrySettings};

mod grpc;
pub mod propagation;

pub use grpc::{GrpcTraceLayer, GrpcTraceService};

/// The instrumentation scope of every tracer and meter the platform creates: one name, so that
/// dashboards select Terrace's own instruments with one `otel_scope_name` label.
const SCOPE: &str = "terrace";

/// The log filter of [`init_for_tests`] when `TEST_LOG` is set: our own crates in detail, the
/// libraries underneath only when they have something to say.
const TEST_LOG_FILTER: &str = "info,terrace=debug";

/// The registry the Prometheus reader of the installed meter provider writes into. Set once, by
/// whichever of [`init`] or [`init_for_tests`] installed telemetry; [`render_metrics`] reads it.
static PROMETHEUS: OnceLock<prometheus::Registry> = OnceLock::new();

/// Keeps the telemetry pipelines of a process alive, and flushes them at the end.
///
/// The batch span processor and the periodic metric reader hold telemetry in memory; without an
/// explicit shutdown the last seconds of spans and metrics before exit would be lost. Hold the
/// guard in `main` for the life of the process and call [`TelemetryGuard::shutdown`] (or let it
/// drop) after the servers have drained, so that the spans of the drain itself are exported.
///
/// With an OTLP endpoint, shutting down waits for the final export, which runs on the Tokio
/// runtime that [`init`] ran in: shut down before that runtime stops, and not from inside a
/// current-thread runtime's only thread (use `spawn_blocking` there).
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down at once"]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
}

impl TelemetryGuard {
    /// Flushes pending spans and metrics and shuts both providers down, reporting what failed
    /// (an unreachable collector, typically) instead of swallowing it as `Drop` must.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.shutdown_providers()
    }

    fn shutdown_providers(&mut self) -> anyhow::Result<()> {
        let traces = self
            .tracer_provider
            .take()
            .map(|provider| provider.shutdown());
        let metrics = self
            .meter_provider
            .take()
            .map(|provider| provider.shutdown());
        if let Some(result) = traces {
            result.context("shutting down the tracer provider")?;
        }
        if let Some(result) = metrics {
            result.context("shutting down the meter provider")?;
        }
        Ok(())
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown_providers() {
            tracing::warn!(error = format!("{err:#}"), "telemetry shutdown failed");
        }
    }
}

/// Installs the global tracing subscriber, the OpenTelemetry tracer and meter providers and the
/// W3C TraceContext propagator, once per process.
///
/// The tracer provider samples `ParentBased(TraceIdRatioBased(sample_ratio))`: a caller's decision
/// is always followed, so a trace is never cut in half between services. With
/// `settings.otlp_endpoint` set, spans go to a batch OTLP/gRPC exporter and metrics to a periodic
/// OTLP reader; that requires a Tokio runtime, so call `init` from inside one (`#[tokio::main]`).
/// The resource names the process `service.name = service_name` (`OTEL_RESOURCE_ATTRIBUTES` adds
/// to it, for example the pod name in Kubernetes).
///
/// Fails when the filter or the endpoint is invalid, when `sample_ratio` is not within 0..=1, or
/// when a global subscriber is already installed.
pub fn init(settings: &TelemetrySettings, service_name: &str) -> anyhow::Result<TelemetryGuard> {
    if !(0.0..=1.0).contains(&settings.sample_ratio) {
        anyhow::bail!(
            "telemetry.sample_ratio must be between 0 and 1, not {}",
            settings.sample_ratio
        );
    }
    let log_filter = EnvFilter::builder()
        .parse(&settings.log_filter)
        .with_context(|| format!("invalid telemetry.log_filter {:?}", settings.log_filter))?;
    let exporters = match settings.otlp_endpoint.as_deref() {
        Some(endpoint) => Some(OtlpExporters::build(endpoint)?),
        None => None,
    };
    let resource = resource(service_name);

    let mut traces = SdkTracerProvider::builder()
        .with_sampler(Sampler::parent_based(Sampler::TraceIdRatioBased(
            settings.sample_ratio,
        )))
        .with_resource(resource.clone());
    let mut metrics = SdkMeterProvider::builder().with_resource(resource);
    if let Some(exporters) = exporters {
        traces = traces.with_batch_exporter(exporters.spans);
        metrics = metrics.with_periodic_exporter(exporters.metrics);
    }
    let tracer_provider = traces.build();

    let fmt_layer = match settings.log_format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stdout)
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stdout)
            .flatten_event(true)
            // Every enclosing span, not only the innermost: the `grpc` span's `trace_id` must
            // be on the lines that a handler's own span logs.
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
    };
    let subscriber = tracing_subscriber::registry()
        .with(fmt_layer.with_filter(log_filter))
        .with(otel_layer(&tracer_provider));
    tracing::subscriber::set_global_default(subscriber)
        .context("a global tracing subscriber is already installed")?;

    let meter_provider = install_otel(tracer_provider.clone(), metrics)?;
    tracing::debug!(
        service = service_name,
        otlp_endpoint = settings.otlp_endpoint.as_deref(),
        "telemetry installed"
    );
    Ok(TelemetryGuard {
        tracer_provider: Some(tracer_provider),
        meter_provider: Some(meter_provider),
    })
}

/// Installs telemetry for a test binary: the first call wins, later calls do nothing, so every
/// test can call it first thing.
///
/// Logs are formatted into a sink (so formatting code still runs) unless the `TEST_LOG`
/// environment variable is set, in which case they go to stderr at `debug` for Terrace's crates.
/// The tracer provider (always sampling, exporting nowhere), the propagator and the Prometheus
/// reader are installed as in production, so tests can assert on trace ids and on
/// [`render_metrics`].
pub fn init_for_tests(service_name: &str) {
    static INSTALLED: OnceLock<Option<TelemetryGuard>> = OnceLock::new();
    INSTALLED.get_or_init(|| install_for_tests(service_name));
}

fn install_for_tests(service_name: &str) -> Option<TelemetryGuard> {
    // `TEST_LOG` is a switch for whoever runs the tests, not a setting of the platform, so it is
    // read here rather than through `config`.
    let to_stderr = std::env::var_os("TEST_LOG").is_some();
    let resource = resource(service_name);
    let tracer_provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_resource(resource.clone())
        .build();
    let fmt_layer = if to_stderr {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .boxed()
    };
    let subscriber = tracing_subscriber::registry()
        .with(fmt_layer.with_filter(EnvFilter::new(TEST_LOG_FILTER)))
        .with(otel_layer(&tracer_provider));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        // Someone else's subscriber is in place; ours could not see any span, so installing the
        // rest would only pretend.
        return None;
    }
    let meter_provider = install_otel(
        tracer_provider.clone(),
        SdkMeterProvider::builder().with_resource(resource),
    )
    .ok()?;
    Some(TelemetryGuard {
        tracer_provider: Some(tracer_provider),
        meter_provider: Some(meter_provider),
    })
}

/// The meter every platform and service instrument is created from.
///
/// Instruments are bound to the meter provider installed when they are created: create them
/// after [`init`] (in a service's constructor, not in a `static`), or they record nowhere.
pub fn meter() -> Meter {
    opentelemetry::global::meter(SCOPE)
}

/// The Prometheus text exposition of every metric of the process, for the HTTP `/metrics` route.
///
/// Empty before [`init`], so that a scrape of a half-started process is harmless.
pub fn render_metrics() -> String {
    let Some(registry) = PROMETHEUS.get() else {
        return String::new();
    };
    match prometheus::TextEncoder::new().encode_to_string(&registry.gather()) {
        Ok(text) => text,
        Err(err) => {
            tracing::warn!(error = %err, "metrics could not be encoded");
            String::new()
        }
    }
}

/// The OTLP exporters, built before anything global is touched so that a bad endpoint fails
/// [`init`] cleanly.
struct OtlpExporters {
    spans: opentelemetry_otlp::SpanExporter,
    metrics: opentelemetry_otlp::MetricExporter,
}

impl OtlpExporters {
    fn build(endpoint: &str) -> anyhow::Result<Self> {
        // The tonic channel spawns its connection task on the current runtime; outside one it
        // would panic instead of failing.
        tokio::runtime::Handle::try_current().context(
            "telemetry with an otlp endpoint must be initialised inside a tokio runtime",
        )?;
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .with_context(|| format!("building the otlp span exporter for {endpoint}"))?;
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .with_context(|| format!("building the otlp metric exporter for {endpoint}"))?;
        Ok(Self { spans, metrics })
    }
}

/// What every span and metric says about the process that produced it.
fn resource(service_name: &str) -> Resource {
    Resource::builder()
        .with_service_name(service_name.to_owned())
        .build()
}

/// The `tracing` → OpenTelemetry bridge, with its own filter so that `log_filter` decides what is
/// printed, never what is traced.
///
/// Spans at `INFO` and above are traced from every crate, and spans of any level from Terrace's
/// own crates, so that a `debug_span!` of ours never hides the trace context from
/// [`propagation::current_traceparent`]. Events are kept (as span events) only at `INFO` and
/// above: a chatty `debug!` loop must not fill spans with events nobody printed.
fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    let filter = FilterFn::new(|metadata| {
        *metadata.level() <= Level::INFO
            || (metadata.is_span() && metadata.target().starts_with(SCOPE))
    });
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SCOPE))
        .with_filter(filter)
}

/// Makes the tracer provider and the W3C propagator global, builds the meter provider with its
/// Prometheus reader and makes it global too. Called only after the subscriber was installed, so
/// that it runs at most once per process.
fn install_otel(
    tracer_provider: SdkTracerProvider,
    metrics: opentelemetry_sdk::metrics::MeterProviderBuilder,
) -> anyhow::Result<SdkMeterProvider> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(tracer_provider);

    let registry = PROMETHEUS.get_or_init(prometheus::Registry::new);
    let prometheus = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()
        .context("registering the prometheus exporter")?;
    let meter_provider = metrics.with_reader(prometheus).build();
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    Ok(meter_provider)
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;

    use super::*;

    fn settings() -> TelemetrySettings {
        TelemetrySettings::default()
    }

    #[test]
    fn init_rejects_bad_settings_before_touching_anything() {
        // Installed first, so that a bug letting `init` through cannot take over the process.
        init_for_tests("telemetry-test");

        let ratio = TelemetrySettings {
            sample_ratio: 1.5,
            ..settings()
        };
        let err = init(&ratio, "test").unwrap_err();
        assert!(format!("{err:#}").contains("sample_ratio"), "{err:#}");

        let nan = TelemetrySettings {
            sample_ratio: f64::NAN,
            ..settings()
        };
        assert!(init(&nan, "test").is_err());

        let filter = TelemetrySettings {
            log_filter: "info,terrace=loud".to_owned(),
            ..settings()
        };
        let err = init(&filter, "test").unwrap_err();
        assert!(format!("{err:#}").contains("log_filter"), "{err:#}");

        // Outside a runtime the tonic exporter cannot start; that is an error, not a panic.
        let otlp = TelemetrySettings {
            otlp_endpoint: Some("http://127.0.0.1:4317".to_owned()),
            ..settings()
        };
        let err = init(&otlp, "test").unwrap_err();
        assert!(format!("{err:#}").contains("tokio runtime"), "{err:#}");
    }

    #[test]
    fn init_after_telemetry_is_installed_is_an_error() {
        init_for_tests("telemetry-test");
        let err = init(&settings(), "test").unwrap_err();
        assert!(format!("{err:#}").contains("already installed"), "{err:#}");
        // And the installed telemetry still works.
        let _span = tracing::info_span!("after").entered();
        assert!(propagation::current_traceparent().is_some());
    }

    #[test]
    fn init_for_tests_is_idempotent_and_metrics_render() {
        init_for_tests("telemetry-test");
        init_for_tests("second-call-must-not-install");
        let counter = meter().u64_counter("telemetry.test.renders").build();
        counter.add(2, &[KeyValue::new("case", "idempotent")]);

        let text = render_metrics();
        assert!(
            text.lines()
                .any(|line| line.starts_with("telemetry_test_renders_total{")
                    && line.contains("case=\"idempotent\"")
                    && line.ends_with(" 2")),
            "{text}"
        );
        // The first call's resource is the one in place.
        assert!(!text.contains("second-call-must-not-install"), "{text}");
    }
}
