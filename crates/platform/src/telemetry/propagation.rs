//! W3C trace context across process boundaries.
//!
//! A trace only covers a whole flow if every hop carries the `traceparent` of the span that made
//! it: gRPC calls in their metadata, events in their NATS headers (next to `Nats-Msg-Id` and the
//! `ce-*` headers), outbox rows in a column until the relay publishes them. The functions here
//! are the only place that knows how the context is written into each carrier; they use the
//! global propagator that [`init`](super::init) installs (W3C TraceContext), except the
//! `traceparent` string helpers, which are W3C by definition.
//!
//! The carrier adapters are a few lines each, written here rather than pulled from
//! `opentelemetry-http`, because that crate covers only one of the three header types we need.

use std::collections::HashMap;
use std::str::FromStr;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header, and the one key the outbox stores.
const TRACEPARENT: &str = "traceparent";

/// Writes `cx` into outgoing HTTP headers, for calls made with a plain HTTP client (webhooks,
/// JWKS fetches) so that the receiver can join the trace.
pub fn inject_http_headers(cx: &Context, headers: &mut http::HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut HttpInjector(headers));
    });
}

/// Reads the remote context from incoming HTTP headers (gRPC requests included, whose metadata
/// are HTTP/2 headers). Without a valid `traceparent` the result is an empty context, never the
/// caller's current one, so that a request without a parent starts a new trace.
pub fn extract_http_headers(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &HttpExtractor(headers))
    })
}

/// Writes `cx` into the headers of a NATS message, so that consumers continue the trace of the
/// request that caused the event.
pub fn inject_nats_headers(cx: &Context, headers: &mut async_nats::HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut NatsInjector(headers));
    });
}

/// Reads the remote context from the headers of a received NATS message; an empty context when
/// the publisher sent none.
pub fn extract_nats_headers(headers: &async_nats::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract_with_context(&Context::new(), &NatsExtractor(headers))
    })
}

/// The W3C `traceparent` of the current tracing span, if it has a valid span context.
///
/// This is what the outbox stores next to an event: the relay publishes later, from another
/// task, so the context must be captured as a string while the request's span is current.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The remote context a stored `traceparent` stands for, to set as the parent of the span that
/// handles it (`span.set_parent(context_from_traceparent(tp))`). A malformed value gives an
/// empty context, so the work still runs, in a trace of its own.
pub fn context_from_traceparent(traceparent: &str) -> Context {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract_with_context(&Context::new(), &carrier)
}

/// The hex trace id of the current tracing span, for log fields, error reports and tests.
pub fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// A tonic client interceptor that writes the current span's context into the request metadata,
/// so that the called service continues the trace: `Client::with_interceptor(channel,
/// inject_grpc_metadata)`. It never fails; the `Result` is the interceptor signature.
pub fn inject_grpc_metadata(
    mut request: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut GrpcInjector(request.metadata_mut()));
    });
    Ok(request)
}

/// Sets propagation fields as HTTP headers; a field that is not a valid header is skipped
/// rather than failing the call it rides on.
struct HttpInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HttpInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::try_from(value),
        ) else {
            return;
        };
        self.0.insert(name, value);
    }
}

/// Reads propagation fields from HTTP headers; non-UTF-8 values count as absent.
struct HttpExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HttpExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Sets propagation fields as NATS headers. async-nats panics on invalid names or values given
/// as strings, so they are parsed first and skipped when invalid.
struct NatsInjector<'a>(&'a mut async_nats::HeaderMap);

impl Injector for NatsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let (Ok(name), Ok(value)) = (
            async_nats::header::HeaderName::from_str(key),
            async_nats::HeaderValue::from_str(&value),
        ) else {
            return;
        };
        self.0.insert(name, value);
    }
}

/// Reads propagation fields from NATS headers.
struct NatsExtractor<'a>(&'a async_nats::HeaderMap);

impl Extractor for NatsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let name = async_nats::header::HeaderName::from_str(key).ok()?;
        self.0.get(name).map(async_nats::HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

/// Sets propagation fields as ASCII gRPC metadata; invalid ones are skipped.
struct GrpcInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for GrpcInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value),
        ) else {
            return;
        };
        self.0.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceId};

    use super::*;
    use crate::telemetry::init_for_tests;

    /// The span context of the current tracing span, asserted to be real: a test that compared
    /// two invalid (all-zero) contexts would pass without any telemetry installed.
    fn current_span_context() -> SpanContext {
        let span_context = tracing::Span::current()
            .context()
            .span()
            .span_context()
            .clone();
        assert!(
            span_context.is_valid(),
            "the current span has no trace context: {span_context:?}"
        );
        span_context
    }

    fn assert_same_parent(extracted: &Context, parent: &SpanContext) {
        let extracted = extracted.span().span_context().clone();
        assert_eq!(extracted.trace_id(), parent.trace_id());
        assert_eq!(extracted.span_id(), parent.span_id());
        assert_eq!(extracted.trace_flags(), parent.trace_flags());
        assert!(extracted.is_remote(), "an extracted context is remote");
    }

    #[test]
    fn nats_headers_round_trip_the_parent() {
        init_for_tests("telemetry-test");
        let _span = tracing::info_span!("publish").entered();
        let parent = current_span_context();

        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", "event-1");
        inject_nats_headers(&tracing::Span::current().context(), &mut headers);

        let traceparent = headers
            .get(TRACEPARENT)
            .map(|value| value.as_str().to_owned());
        assert_eq!(traceparent, current_traceparent());
        assert_eq!(
            headers.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some("event-1")
        );
        assert_same_parent(&extract_nats_headers(&headers), &parent);
    }

    #[test]
    fn http_headers_round_trip_the_parent() {
        init_for_tests("telemetry-test");
        let _span = tracing::info_span!("call").entered();
        let parent = current_span_context();

        let mut headers = http::HeaderMap::new();
        inject_http_headers(&tracing::Span::current().context(), &mut headers);

        assert!(headers.contains_key(TRACEPARENT), "{headers:?}");
        assert_same_parent(&extract_http_headers(&headers), &parent);
    }

    #[test]
    fn missing_or_garbled_headers_extract_an_empty_context() {
        init_for_tests("telemetry-test");
        let _span = tracing::info_span!("consumer").entered();

        let mut nats = async_nats::HeaderMap::new();
        assert!(!extract_nats_headers(&nats).span().span_context().is_valid());
        nats.insert(TRACEPARENT, "00-not-a-trace-01");
        assert!(!extract_nats_headers(&nats).span().span_context().is_valid());
        assert!(
            !extract_http_headers(&http::HeaderMap::new())
                .span()
                .span_context()
                .is_valid()
        );
        assert!(
            !context_from_traceparent("garbage")
                .span()
                .span_context()
                .is_valid()
        );
    }

    #[test]
    fn grpc_interceptor_writes_the_current_traceparent() {
        init_for_tests("telemetry-test");
        let _span = tracing::info_span!("client").entered();

        let request = inject_grpc_metadata(tonic::Request::new(())).unwrap();

        let sent = request
            .metadata()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok());
        assert_eq!(sent.map(str::to_owned), current_traceparent());
        assert!(sent.is_some());
    }

    #[test]
    fn current_traceparent_is_well_formed_inside_a_span() {
        init_for_tests("telemetry-test");
        let _span = tracing::info_span!("work").entered();
        let span_context = current_span_context();

        let traceparent = current_traceparent().expect("a span is current");

        assert_eq!(traceparent.len(), 55, "{traceparent}");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], span_context.trace_id().to_string());
        assert_eq!(parts[2], span_context.span_id().to_string());
        assert_eq!(parts[3], "01", "init_for_tests samples every trace");
        assert_ne!(parts[1], TraceId::INVALID.to_string());
        assert_eq!(current_trace_id().as_deref(), Some(parts[1]));
    }

    #[test]
    fn no_traceparent_outside_any_span() {
        init_for_tests("telemetry-test");
        assert_eq!(current_traceparent(), None);
        assert_eq!(current_trace_id(), None);
    }

    #[test]
    fn remote_parent_from_traceparent_is_continued_by_a_child_span() {
        init_for_tests("telemetry-test");
        let remote_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let remote_span = "00f067aa0ba902b7";
        let parent = context_from_traceparent(&format!("00-{remote_trace}-{remote_span}-01"));
        assert!(parent.span().span_context().is_valid());

        let span = tracing::info_span!("consume");
        span.set_parent(parent).unwrap();
        let _entered = span.enter();

        assert_eq!(current_trace_id().as_deref(), Some(remote_trace));
        let own = current_span_context();
        assert_ne!(own.span_id(), SpanId::from_hex(remote_span).unwrap());
        let traceparent = current_traceparent().unwrap();
        assert!(
            traceparent.starts_with(&format!("00-{remote_trace}-")),
            "{traceparent}"
        );
        assert!(!traceparent.contains(remote_span), "{traceparent}");
    }

    #[test]
    fn garbled_traceparent_still_gives_the_child_a_fresh_trace() {
        init_for_tests("telemetry-test");
        let span = tracing::info_span!("consume");
        span.set_parent(context_from_traceparent("00-zz-zz-01"))
            .unwrap();
        let _entered = span.enter();

        let trace_id = current_trace_id().expect("a fresh trace");
        assert_ne!(trace_id, TraceId::INVALID.to_string());
    }
}
