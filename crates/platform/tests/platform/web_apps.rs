//! The web apps on the gRPC port: files, the client-side routes' fallback, cache headers, and
//! gRPC-Web beside them on the same origin.

use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;
use terrace_testkit::probe::Probe;

/// A built app as Vite leaves it: `index.html`, hashed assets, a service worker.
fn built_apps() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("terrace-web-apps-{}", uuid::Uuid::now_v7()));
    for (path, text) in [
        ("console/dist/index.html", "<title>console</title>"),
        ("console/dist/assets/index-abc123.js", "console.log(1)"),
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
