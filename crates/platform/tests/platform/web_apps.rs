//! The web apps on the gRPC port: files, the client-side routes' fallback, cache headers, and
//! gRPC-Web beside them on the same origin; routes a service mounts on the port.

use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;
use terrace_testkit::probe::Probe;

/// A built app as Vite leaves it: `index.html`, hashed assets, their brotli and gzip copies
/// (stand-ins: the server sends the copies as they are, so their bytes need only differ), a
/// service worker without copies.
fn built_apps() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("terrace-web-apps-{}", uuid::Uuid::now_v7()));
    for (path, text) in [
        ("console/dist/index.html", "<title>console</title>"),
        (
            "console/dist/index.html.br",
            "brotli of the console's index.html",
        ),
        (
            "console/dist/index.html.gz",
            "gzip of the console's index.html",
        ),
        ("console/dist/assets/index-abc123.js", "console.log(1)"),
        (
            "console/dist/assets/index-abc123.js.br",
            "brotli of index-abc123.js",
        ),
        (
            "console/dist/assets/index-abc123.js.gz",
            "gzip of index-abc123.js",
        ),
        ("farmer/dist/index.html", "<title>farmer</title>"),
        (
            "farmer/dist/sw.js",
            "self.addEventListener('fetch', () => {})",
        ),
        ("farmer/dist/manifest.webmanifest", "{}"),
    ] {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[tokio::test]
async fn the_apps_are_served_beside_grpc_web_on_one_origin() {
    let dir = built_apps();
    let apps = dir.clone();
    let app = TestApp::start(&[ServiceDef::of::<Probe>()], move |settings| {
        settings.grpc.web_apps_dir = Some(apps);
    })
    .await;
    let http = terrace_testkit::http_client();
    let base = format!("http://{}", app.grpc_addr);
    let get = |path: &str| http.get(format!("{base}{path}")).send();

    let index = get("/console/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(index.text().await.unwrap().contains("console"));
    // A client-side route is the app's index.html.
    let route = get("/console/identity/people").await.unwrap();
    assert_eq!(route.status(), 200);
    assert!(route.text().await.unwrap().contains("console"));
    // Hashed assets are cached for good; the service worker and manifest never.
    let asset = get("/console/assets/index-abc123.js").await.unwrap();
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let worker = get("/farmer/sw.js").await.unwrap();
    assert_eq!(worker.headers()["cache-control"], "no-cache");
    assert!(
        worker.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let manifest = get("/farmer/manifest.webmanifest").await.unwrap();
    assert_eq!(
        manifest.headers()["content-type"],
        "application/manifest+json"
    );
    // The app's bare name redirects to its root; `/` links both apps.
    let bare = terrace_testkit::http_client_without_redirects()
        .get(format!("{base}/farmer"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/farmer/");
    let landing = get("/").await.unwrap().text().await.unwrap();
    assert!(landing.contains("/console/") && landing.contains("/farmer/"));
    // Nothing outside the apps' directories: no path escapes them.
    let escape = get("/console/../../../etc/passwd").await.unwrap();
    assert!(!escape.text().await.unwrap().contains("root:"));

    // gRPC (and gRPC-Web) on the same port still need a token, and are not shadowed.
    let refused = http
        .post(format!("{base}/terrace.testkit.v1.ProbeService/Echo"))
        .header("content-type", "application/grpc-web+proto")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["grpc-status"], "16");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_browser_that_accepts_brotli_or_gzip_gets_the_copy_built_beside_the_file() {
    let dir = built_apps();
    let apps = dir.clone();
    let app = TestApp::start(&[ServiceDef::of::<Probe>()], move |settings| {
        settings.grpc.web_apps_dir = Some(apps);
    })
    .await;
    // reqwest here decodes nothing, so what arrives is the bytes sent.
    let http = terrace_testkit::http_client();
    let base = format!("http://{}", app.grpc_addr);
    let get = async |path: &str, accept: Option<&str>| {
        let mut request = http.get(format!("{base}{path}"));
        if let Some(accept) = accept {
            request = request.header("accept-encoding", accept);
        }
        let response = request.send().await.unwrap();
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        let encoding = header("content-encoding");
        let vary = header("vary");
        let cache = header("cache-control");
        let kind = header("content-type").unwrap_or_default();
        assert_eq!(response.status(), 200, "{path} {accept:?}");
        let body = response.text().await.unwrap();
        (encoding, vary, cache, kind, body)
    };
    let immutable = Some("public, max-age=31536000, immutable".to_owned());
    let asset = "/console/assets/index-abc123.js";

    let (encoding, vary, cache, kind, body) = get(asset, Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(body, "gzip of index-abc123.js");
    assert_eq!(vary.as_deref(), Some("accept-encoding"));
    assert_eq!(cache, immutable);
    // The type is the file's, not the copy's (`application/gzip`).
    assert!(kind.contains("javascript"), "{kind}");

    let (encoding, vary, cache, _, body) = get(asset, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(
        encoding.as_deref(),
        Some("br"),
        "brotli, the smaller, first"
    );
    assert_eq!(body, "brotli of index-abc123.js");
    assert_eq!(vary.as_deref(), Some("accept-encoding"));
    assert_eq!(cache, immutable);

    // Without Accept-Encoding (or with only what no copy is), the file as it is; `Vary` still
    // tells a cache that another browser may get a copy.
    for accept in [None, Some("identity"), Some("deflate")] {
        let (encoding, vary, cache, _, body) = get(asset, accept).await;
        assert_eq!(encoding, None, "{accept:?}");
        assert_eq!(body, "console.log(1)", "{accept:?}");
        assert_eq!(vary.as_deref(), Some("accept-encoding"), "{accept:?}");
        assert_eq!(cache, immutable, "{accept:?}");
    }

    // The app's root and a client-side route (the fallback) are its index.html, compressed too,
    // and revalidated.
    for path in ["/console/", "/console/identity/people"] {
        let (encoding, vary, cache, kind, body) = get(path, Some("br")).await;
        assert_eq!(encoding.as_deref(), Some("br"), "{path}");
        assert_eq!(body, "brotli of the console's index.html", "{path}");
        assert_eq!(vary.as_deref(), Some("accept-encoding"), "{path}");
        assert_eq!(cache.as_deref(), Some("no-cache"), "{path}");
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        let (encoding, _, _, _, body) = get(path, None).await;
        assert_eq!(encoding, None, "{path}");
        assert_eq!(body, "<title>console</title>", "{path}");
    }

    // A file built without copies — the service worker — goes as it is to every browser.
    let (encoding, _, cache, kind, body) = get("/farmer/sw.js", Some("br, gzip")).await;
    assert_eq!(encoding, None);
    assert!(body.starts_with("self.addEventListener"));
    assert_eq!(cache.as_deref(), Some("no-cache"));
    assert!(kind.contains("javascript"), "{kind}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_mounted_route_answers_plain_http_on_the_grpc_port_without_a_token() {
    let app = TestApp::start(&[ServiceDef::of::<Probe>()], |_| {}).await;
    let http = terrace_testkit::http_client();
    let base = format!("http://{}", app.grpc_addr);

    let hello = http
        .get(format!("{base}/probe/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(hello.status(), 200);
    assert_eq!(hello.text().await.unwrap(), "hello from the probe");
    // Under the prefix, the router decides: a path it lacks is its 404, not a gRPC answer.
    let missing = http
        .get(format!("{base}/probe/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().get("grpc-status").is_none());
    // A path merely starting like the prefix is not under it: it goes on to gRPC, which wants a
    // token.
    let beside = http
        .post(format!("{base}/probex/hello"))
        .header("content-type", "application/grpc-web+proto")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(beside.headers()["grpc-status"], "16");
    // gRPC on the same port is untouched and still needs a token.
    let refused = http
        .post(format!("{base}/terrace.testkit.v1.ProbeService/Echo"))
        .header("content-type", "application/grpc-web+proto")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["grpc-status"], "16");
}
