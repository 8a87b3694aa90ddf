//! The web apps for `terrace dev`: built when missing or older than their sources, then served on
//! the gRPC port (`terrace_platform::web_apps`).
//!
//! Building needs Node.js and npm; without them `terrace dev` says so and serves gRPC alone. The
//! check is by modification time: any file of the apps' sources (the `src/` trees, the
//! `index.html` files, `public/`, the package and build configuration) newer than a built app's
//! `index.html` makes it stale, and `npm ci` runs when `node_modules` is missing or older than the
//! lockfile.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;

/// The apps `web/` builds, each served under `/<app>/`.
const APPS: [&str; 2] = ["console", "farmer"];
/// Packages whose sources the apps are built from.
const PACKAGES: [&str; 3] = ["api", "console", "farmer"];

/// What came of looking at the web apps.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Built (or already up to date) under this directory.
    Ready(PathBuf),
    /// Not served, with the reason to tell the developer.
    Unavailable(String),
}

/// Builds the apps under `dir` when they are missing or stale.
pub(crate) async fn prepare(dir: &Path) -> Outcome {
    if !dir.join("package.json").is_file() {
        return Outcome::Unavailable(format!(
            "no web apps: {} has no package.json (run terrace dev from the repository's root)",
            dir.display()
        ));
    }
    if !stale(dir) {
        return Outcome::Ready(dir.to_owned());
    }
    if which("npm").is_none() {
        return Outcome::Unavailable(
            "the web apps are not built and npm is not installed: install Node.js 20 or later \
             (Debian: apt-get install nodejs npm), or build them elsewhere with `npm ci && npm run \
             build` in web/"
                .to_owned(),
        );
    }
    match build(dir).await {
        Ok(()) => Outcome::Ready(dir.to_owned()),
        Err(error) => Outcome::Unavailable(format!("building the web apps failed: {error:#}")),
    }
}

async fn build(dir: &Path) -> anyhow::Result<()> {
    if needs_install(dir) {
        tracing::info!("installing the web apps' packages (npm ci)");
        npm(dir, &["ci", "--no-audit", "--no-fund"]).await?;
    }
    tracing::info!("building the web apps (npm run build)");
    npm(dir, &["run", "build"]).await
}

async fn npm(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = tokio::process::Command::new("npm")
        .args(args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("running npm {}", args.join(" ")))?;
    if output.status.success() {
        return Ok(());
    }
    let tail: String = String::from_utf8_lossy(&output.stderr)
        .lines()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    anyhow::bail!("npm {} failed ({}):\n{tail}", args.join(" "), output.status)
}

fn needs_install(dir: &Path) -> bool {
    let installed = modified(&dir.join("node_modules").join(".package-lock.json"));
    let locked = modified(&dir.join("package-lock.json"));
    match (installed, locked) {
        (Some(installed), Some(locked)) => installed < locked,
        _ => true,
    }
}

/// Whether an app is missing or older than any of the sources.
fn stale(dir: &Path) -> bool {
    let built = APPS
        .iter()
        .filter(|app| dir.join(app).is_dir())
        .map(|app| modified(&dir.join(app).join("dist").join("index.html")))
        .collect::<Option<Vec<_>>>();
    let Some(oldest) = built.and_then(|times| times.into_iter().min()) else {
        return true;
    };
    let mut sources = vec![dir.join("package.json"), dir.join("package-lock.json")];
    for package in PACKAGES {
        let root = dir.join(package);
        for file in [
            "package.json",
            "index.html",
            "vite.config.ts",
            "tsconfig.json",
        ] {
            sources.push(root.join(file));
        }
        sources.push(root.join("src"));
        sources.push(root.join("public"));
    }
    sources
        .iter()
        .any(|path| newest(path).is_some_and(|time| time > oldest))
}

/// The newest modification time of `path`, or of any file under it.
fn newest(path: &Path) -> Option<SystemTime> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_dir() {
        return metadata.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_older_than_a_source_is_stale_and_a_fresh_one_is_not() {
        let dir = std::env::temp_dir().join(format!("terrace-web-{}", uuid::Uuid::now_v7()));
        let start = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let write = |path: &str, minute: u64| {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let file = std::fs::File::create(path).unwrap();
            file.set_modified(start + std::time::Duration::from_secs(60 * minute))
                .unwrap();
        };
        write("package.json", 0);
        write("console/src/main.tsx", 1);
        assert!(stale(&dir), "not built");
        write("console/dist/index.html", 2);
        assert!(!stale(&dir), "built after its sources");
        write("api/src/session.ts", 3);
        assert!(stale(&dir), "a shared source changed since");
        write("console/dist/index.html", 4);
        write("farmer/src/main.tsx", 1);
        assert!(stale(&dir), "an app not built yet");
        write("farmer/dist/index.html", 5);
        assert!(!stale(&dir), "both built after every source");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
