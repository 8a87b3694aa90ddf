//! The tower layer that authenticates every gRPC call before a handler runs.
//!
//! It reads `authorization: Bearer <token>`, verifies the token and puts the [`Principal`] in the
//! request's extensions, where tonic hands it to the handler (`tonic::Request::extensions`). A call
//! without a valid token is answered `UNAUTHENTICATED` here and never reaches the service. Public
//! methods (login, health, reflection) pass without a token; a valid one is still attached, an
//! invalid one ignored, so that a client holding a stale token can still log in.
//!
//! gRPC-Web requests carry the same path and the same header, so the layer works the same whether
//! it sits inside or outside tonic-web's translation. It must sit inside the CORS layer: a browser's
//! preflight carries no credentials and is answered by CORS before it would reach this layer.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Request, Response};
use tower::{Layer, Service};

use super::{Principal, Verifier};
use crate::Error;

/// Authenticates requests with a [`Verifier`]; see the module documentation.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    verifier: Verifier,
    public: Arc<PublicMethods>,
}

impl AuthLayer {
    /// `public_methods` are full gRPC paths (`/terrace.identity.v1.IdentityService/Login`) or
    /// service prefixes ending in `/` (`/grpc.health.v1.Health/`) that need no token.
    pub fn new(
        verifier: Verifier,
        public_methods: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let mut public = PublicMethods::default();
        for method in public_methods {
            let method = method.into();
            if method.ends_with('/') {
                public.prefixes.push(method);
            } else {
                public.exact.insert(method);
            }
        }
        Self {
            verifier,
            public: Arc::new(public),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
            public: Arc::clone(&self.public),
        }
    }
}

#[derive(Debug, Default)]
struct PublicMethods {
    exact: HashSet<String>,
    prefixes: Vec<String>,
}

impl PublicMethods {
    fn contains(&self, path: &str) -> bool {
        self.exact.contains(path) || self.prefixes.iter().any(|prefix| path.starts_with(prefix))
    }
}

/// The service [`AuthLayer`] wraps around a gRPC server's routes.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    verifier: Verifier,
    public: Arc<PublicMethods>,
}

impl<S, B, ResBody> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone that was driven to readiness serves this call; the fresh clone waits for the
        // next `poll_ready` (tower's documented pattern for services moved into a future).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let public = self.public.contains(request.uri().path());
        // Nothing but this layer may put a principal on a request.
        request.extensions_mut().remove::<Principal>();
        Box::pin(async move {
            // Bound in its own statement so that only the header's `&str`, not a borrow of the
            // whole request (whose body need not be `Sync`), lives across the await.
            let token = bearer_token(request.headers());
            let verified = match token {
                Ok(token) => verifier.verify(token).await,
                Err(error) => Err(error),
            };
            match verified {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                }
                Err(_) if public => {}
                Err(error) => {
                    tracing::debug!(path = request.uri().path(), %error, "call refused");
                    return Ok(tonic::Status::from(error).into_http());
                }
            }
            inner.call(request).await
        })
    }
}

/// The token of an `authorization: Bearer <token>` header (the scheme in any case).
fn bearer_token(headers: &HeaderMap) -> crate::Result<&str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(match headers.contains_key(AUTHORIZATION) {
            true => unauthenticated("more than one authorization header"),
            false => unauthenticated("missing token"),
        });
    };
    let value = value
        .to_str()
        .map_err(|_| unauthenticated("malformed authorization header"))?;
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(unauthenticated("malformed authorization header")),
    }
}

fn unauthenticated(message: &str) -> Error {
    Error::Unauthenticated(message.to_owned())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn message(result: crate::Result<&str>) -> String {
        match result {
            Err(Error::Unauthenticated(message)) => message,
            other => panic!("expected unauthenticated, got {other:?}"),
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(&headers(&["Bearer a.b.c"])).unwrap(), "a.b.c");
        assert_eq!(bearer_token(&headers(&["bearer a.b.c"])).unwrap(), "a.b.c");
        assert_eq!(
            bearer_token(&headers(&["BEARER  a.b.c "])).unwrap(),
            "a.b.c"
        );
    }

    #[test]
    fn bad_headers_are_named() {
        assert_eq!(message(bearer_token(&headers(&[]))), "missing token");
        for bad in [
            "Basic dXNlcjpwdw==",
            "Bearer",
            "Bearer ",
            "a.b.c",
            "Bearerx a.b.c",
        ] {
            assert_eq!(
                message(bearer_token(&headers(&[bad]))),
                "malformed authorization header",
                "{bad}"
            );
        }
        assert_eq!(
            message(bearer_token(&headers(&["Bearer a", "Bearer b"]))),
            "more than one authorization header"
        );
    }

    #[test]
    fn public_methods_match_exactly_or_by_service() {
        let layer = AuthLayer::new(
            Verifier::new(
                &Default::default(),
                super::super::KeySource::Url("http://127.0.0.1:1".into()),
            ),
            [
                "/terrace.identity.v1.IdentityService/Login",
                "/grpc.health.v1.Health/",
            ],
        );
        let public = &layer.public;
        assert!(public.contains("/terrace.identity.v1.IdentityService/Login"));
        assert!(!public.contains("/terrace.identity.v1.IdentityService/LoginX"));
        assert!(!public.contains("/terrace.identity.v1.IdentityService/Logout"));
        assert!(public.contains("/grpc.health.v1.Health/Check"));
        assert!(public.contains("/grpc.health.v1.Health/Watch"));
        assert!(!public.contains("/grpc.health.v1.HealthX/Check"));
    }
}
