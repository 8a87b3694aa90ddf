//! The web apps in a real browser: `terrace dev --demo` serving the console and the farmers' app,
//! driven by `web/e2e/run.mjs` (Playwright with the system Chromium): logins by password and by a
//! code from the SMS sink, a server field violation beside its field, a role granted and listed,
//! sessions kept across reloads by the refresh cookie, the farmer app's shell offline, a villager
//! claiming their record with a code from the SMS sink and an official confirming it, service
//! requests filed, handled, reopened, merged and escalated, the area's dashboard counting them,
//! and axe on every screen. Screenshots of every screen are left in `target/web-screenshots/`.
//!
//! Needs Node.js, npm, the apps' packages (`npm ci` in `web/`) and Chromium (`/usr/bin/chromium`,
//! or `CHROMIUM`). Without them the test says what is missing and passes, except in CI (`CI` set),
//! where `.ci/run` installs them and their absence fails the test.

use std::path::{Path, PathBuf};

use terrace_testkit::TestContext;
use terrace_testkit::process::TerraceProcess;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What is missing to run the browser test, if anything.
fn missing(web: &Path, chromium: &Path) -> Option<String> {
    let on_path = |program: &str| {
        std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(program).is_file())
        })
    };
    if !on_path("node") || !on_path("npm") {
        return Some("Node.js and npm are not installed".to_owned());
    }
    if !chromium.is_file() {
        return Some(format!("no Chromium at {}", chromium.display()));
    }
    if !web.join("node_modules/playwright-core").is_dir() {
        return Some("the web packages are not installed (npm ci in web/)".to_owned());
    }
    None
}

#[tokio::test]
async fn the_console_and_the_farmers_app_work_in_a_real_browser() {
    let repository = repository();
    let web = repository.join("web");
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if let Some(what) = missing(&web, &chromium) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test, but {what}"
        );
        eprintln!("SKIPPED: the browser test needs what is missing here: {what}");
        return;
    }
    let ctx = TestContext::new();
    let data_dir = std::env::temp_dir().join(format!("terrace-web-{}", ctx.id));
    let dev = TerraceProcess::start(
        Path::new(env!("CARGO_BIN_EXE_terrace")),
        &[
            "dev",
            "--demo",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--web-dir",
            web.to_str().unwrap(),
        ],
        &ctx,
    )
    .await
    .unwrap();
    let screenshots = repository.join("target/web-screenshots");
    let run = tokio::process::Command::new("node")
        .arg(web.join("e2e/run.mjs"))
        .current_dir(&web)
        .env("TERRACE_URL", format!("http://127.0.0.1:{}", dev.grpc_port))
        .env("TERRACE_SMS_LOG", data_dir.join("sms.log"))
        .env("TERRACE_SCREENSHOTS", &screenshots)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        run.status.success(),
        "the browser test failed ({}); screenshots in {}:\n{output}",
        run.status,
        screenshots.display()
    );
    eprintln!("{output}");
    // Every check of the script ran and said so.
    for check in ["console", "farmer", "axe"] {
        assert!(output.contains(check), "no {check} check in:\n{output}");
    }
    let status = dev.terminate().await.unwrap();
    assert!(status.success(), "terrace dev exited with {status}");
    let _ = std::fs::remove_dir_all(&data_dir);
}
