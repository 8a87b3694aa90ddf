//! Plain HTTP routes a service mounts on the gRPC port, by path prefix.
//!
//! Browsers reach a service on its gRPC port (gRPC-Web, the web apps), so what a page loads
//! directly — a photo in an `<img>`, which can send no token — must be answered there too, on the
//! same origin. A service mounts an `axum::Router` under a prefix with
//! [`crate::grpc::GrpcServer::add_http_routes`]; every request whose path starts with a mounted
//! prefix goes to its router (which sees the whole path), every other request goes on to gRPC
//! untouched.
//!
//! The layer sits where the web apps' does: inside tracing, outside authentication, load shedding
//! and the request timeout. A mounted route is its own authorization (a photo URL's signature),
//! and answers plain HTTP, which the gRPC layers would only get in the way of.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt as _};

/// The routers mounted on one gRPC port, each under its prefix.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    routes: Arc<Vec<(String, axum::Router)>>,
}

impl Mounts {
    /// Adds `router` for every path under `prefix`. A prefix ends with `/` (so that `/media/`
    /// does not also take `/mediafoo`); one without is given one.
    pub fn add(&mut self, prefix: &str, router: axum::Router) {
        let mut prefix = prefix.to_owned();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Arc::make_mut(&mut self.routes).push((prefix, router));
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The prefixes mounted, in the order they were added.
    pub fn prefixes(&self) -> Vec<&str> {
        self.routes
            .iter()
            .map(|(prefix, _)| prefix.as_str())
            .collect()
    }

    /// The router of `path`: the first mounted prefix it starts with.
    fn route(&self, path: &str) -> Option<&axum::Router> {
        self.routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map(|(_, router)| router)
    }
}

/// Serves [`Mounts`] in front of the gRPC stack.
#[derive(Debug, Clone)]
pub struct MountsLayer {
    mounts: Mounts,
}

impl MountsLayer {
    pub fn new(mounts: Mounts) -> Self {
        Self { mounts }
    }
}

impl<S> Layer<S> for MountsLayer {
    type Service = MountsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MountsService {
            inner,
            mounts: self.mounts.clone(),
        }
    }
}

/// See [`MountsLayer`].
#[derive(Debug, Clone)]
pub struct MountsService<S> {
    inner: S,
    mounts: Mounts,
}

impl<S, B> Service<Request<B>> for MountsService<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Some(router) = self.mounts.route(request.uri().path()) {
            let router = router.clone();
            let request = request.map(axum::body::Body::new);
            return Box::pin(async move {
                let response: Result<_, Infallible> = router.oneshot(request).await;
                let Ok(response) = response;
                Ok(response.map(tonic::body::Body::new))
            });
        }
        // The clone that was driven to readiness serves this call (tower's pattern for services
        // moved into a future).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(request).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_takes_only_paths_under_it() {
        let mut mounts = Mounts::default();
        mounts.add("/media/governance", axum::Router::new());
        mounts.add("/media/market/", axum::Router::new());
        assert_eq!(mounts.prefixes(), ["/media/governance/", "/media/market/"]);
        assert!(mounts.route("/media/governance/a.jpg").is_some());
        assert!(mounts.route("/media/market/b.jpg").is_some());
        assert!(mounts.route("/media/governancex/a.jpg").is_none());
        assert!(mounts.route("/media/agri/a.jpg").is_none());
        assert!(
            mounts
                .route("/terrace.governance.v1.GovernanceService/UploadPhoto")
                .is_none()
        );
    }
}
