//! The web apps — the officials' console and the farmers' app — served on the gRPC port.
//!
//! Served from the same origin as the gRPC-Web endpoint, the apps need no CORS and the refresh
//! token's cookie stays first-party (`SameSite=Strict`, see identity's `web_session`). Each app is
//! a directory built by Vite (`<dir>/console/dist`, `<dir>/farmer/dist`) served under its prefix
//! (`/console/`, `/farmer/`): files as they are, any other path the app's `index.html` (the app
//! routes on the client). Hashed assets (`/assets/`) are cached for a year; everything else —
//! `index.html`, the service worker, the manifest — is revalidated on every load, so a new
//! version reaches phones at once.
//!
//! The build writes brotli and gzip copies beside the files (`index-abc.js.br`, `.gz`, by
//! `vite-plugin-compression2`); a browser that accepts one gets it with `Content-Encoding`, any
//! other the file as it is, and every answer says `Vary: Accept-Encoding` so that a cache keeps
//! them apart. Compressing at build time costs nothing per request and lets brotli use its
//! slowest, smallest setting. Files without copies (images, the service worker, which the PWA
//! plugin writes after the compression step) go as they are.
//!
//! The layer sits outside authentication (a page load carries no token) and answers only `GET`
//! and `HEAD` under an app's prefix, plus `/` (a page linking both apps); every other request goes
//! on to gRPC untouched.

use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tower::{Layer, Service, ServiceExt as _};
use tower_http::services::{ServeDir, ServeFile};

/// The apps and the prefixes they are served under.
const APPS: [&str; 2] = ["console", "farmer"];

/// Which built apps a directory holds (`<dir>/<app>/dist/index.html`).
#[derive(Debug, Clone, Default)]
pub struct WebApps {
    apps: Arc<Vec<(String, ServeDir<ServeFile>)>>,
}

impl WebApps {
    /// The apps built under `dir` (the repository's `web/`); apps not built are left out.
    pub fn from_dir(dir: &Path) -> Self {
        let apps = APPS
            .iter()
            .map(|app| (*app, dir.join(app).join("dist")))
            .filter(|(_, dist)| dist.join("index.html").is_file())
            .map(|(app, dist)| {
                // The client routes' page is compressed too: it is also the first page a
                // browser loads on any deep link.
                let index = ServeFile::new(dist.join("index.html"))
                    .precompressed_br()
                    .precompressed_gzip();
                let files = ServeDir::new(&dist)
                    .precompressed_br()
                    .precompressed_gzip()
                    .fallback(index);
                (format!("/{app}"), files)
            })
            .collect();
        Self {
            apps: Arc::new(apps),
        }
    }

    /// The prefixes served, e.g. `["/console", "/farmer"]`.
    pub fn prefixes(&self) -> Vec<&str> {
        self.apps
            .iter()
            .map(|(prefix, _)| prefix.as_str())
            .collect()
    }

    /// The app serving `path`, and the path within it.
    fn route(&self, path: &str) -> Option<(&ServeDir<ServeFile>, String)> {
        self.apps.iter().find_map(|(prefix, app)| {
            let rest = path.strip_prefix(prefix.as_str())?;
            rest.starts_with('/').then(|| (app, rest.to_owned()))
        })
    }

    fn is_app_root(&self, path: &str) -> bool {
        self.apps.iter().any(|(prefix, _)| prefix == path)
    }
}

/// Serves [`WebApps`] in front of the gRPC stack.
#[derive(Debug, Clone)]
pub struct WebAppsLayer {
    apps: WebApps,
}

impl WebAppsLayer {
    pub fn new(apps: WebApps) -> Self {
        Self { apps }
    }
}

impl<S> Layer<S> for WebAppsLayer {
    type Service = WebAppsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WebAppsService {
            inner,
            apps: self.apps.clone(),
        }
    }
}

/// See [`WebAppsLayer`].
#[derive(Debug, Clone)]
pub struct WebAppsService<S> {
    inner: S,
    apps: WebApps,
}

impl<S, B> Service<Request<B>> for WebAppsService<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let reading = matches!(*request.method(), Method::GET | Method::HEAD);
        let path = request.uri().path().to_owned();
        if reading && !self.apps.apps.is_empty() {
            if path == "/" {
                return Box::pin(async move { Ok(landing_page()) });
            }
            if self.apps.is_app_root(&path) {
                return Box::pin(async move { Ok(redirect(&format!("{path}/"))) });
            }
            if let Some((app, rest)) = self.apps.route(&path) {
                let app = app.clone();
                let immutable = rest.starts_with("/assets/");
                let (mut parts, body) = request.into_parts();
                parts.uri = match rest.parse() {
                    Ok(uri) => uri,
                    Err(_) => return Box::pin(async move { Ok(status(StatusCode::BAD_REQUEST)) }),
                };
                let request = Request::from_parts(parts, body);
                return Box::pin(async move {
                    let Ok(response) = app.oneshot(request).await;
                    let mut response = response.map(tonic::body::Body::new);
                    let cache = match immutable {
                        true => "public, max-age=31536000, immutable",
                        false => "no-cache",
                    };
                    response
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
                    Ok(response)
                });
            }
        }
        // The clone that was driven to readiness serves this call (tower's pattern for services
        // moved into a future).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move { inner.call(request).await })
    }
}

fn landing_page() -> Response<tonic::body::Body> {
    const PAGE: &str = r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>梯田 Terrace</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; line-height: 1.6">
<h1>梯田 Terrace</h1>
<ul>
<li><a href="/console/">管理后台 · Officials' console</a></li>
<li><a href="/farmer/">农户应用 · Farmers' app</a></li>
</ul>
</body></html>
"#;
    let mut response = Response::new(tonic::body::Body::new(http_body_util::Full::new(
        bytes::Bytes::from_static(PAGE.as_bytes()),
    )));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

fn redirect(to: &str) -> Response<tonic::body::Body> {
    let mut response = status(StatusCode::PERMANENT_REDIRECT);
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn status(code: StatusCode) -> Response<tonic::body::Body> {
    let mut response = Response::new(tonic::body::Body::empty());
    *response.status_mut() = code;
    response
}
