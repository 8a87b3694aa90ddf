//! PostgreSQL and NATS for `terrace dev`.
//!
//! When something already listens at the configured address, it is used as it is. Otherwise, if
//! the server programs are installed, a private server is started with its data under the data
//! directory and stopped when `terrace dev` exits. If neither, start-up fails with a message that
//! names what is missing and how to install it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use terrace_platform::config::Settings;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The PostgreSQL and NATS servers `terrace dev` talks to, and the ones it started itself.
#[derive(Debug)]
pub(crate) struct Substrate {
    postgres: Option<PathBuf>,
    nats: Option<Child>,
}

impl Substrate {
    /// Uses what is running, or starts what is missing.
    pub(crate) async fn ensure(settings: &Settings, data_dir: &Path) -> anyhow::Result<Self> {
        let mut substrate = Self {
            postgres: None,
            nats: None,
        };
        let (pg_host, pg_port) = host_port(settings.database.url.expose_secret(), 5432)?;
        if !listening(&pg_host, pg_port).await {
            substrate.postgres = Some(start_postgres(data_dir, &pg_host, pg_port).await?);
        }
        let (nats_host, nats_port) = host_port(&settings.nats.url, 4222)?;
        if !listening(&nats_host, nats_port).await {
            match start_nats(data_dir, &nats_host, nats_port).await {
                Ok(nats) => substrate.nats = Some(nats),
                Err(error) => {
                    // Do not leave a private PostgreSQL behind.
                    substrate.stop().await;
                    return Err(error);
                }
            }
        }
        Ok(substrate)
    }

    pub(crate) fn postgres_origin(&self) -> &'static str {
        if self.postgres.is_some() {
            "private"
        } else {
            "existing"
        }
    }

    pub(crate) fn nats_origin(&self) -> &'static str {
        if self.nats.is_some() {
            "private"
        } else {
            "existing"
        }
    }

    /// Stops the servers this process started, gently (SIGTERM, then a kill after 10 s).
    pub(crate) async fn stop(mut self) {
        if let Some(mut nats) = self.nats.take() {
            if let Some(pid) = nats.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(10), nats.wait())
                .await
                .is_err()
            {
                let _ = nats.kill().await;
            }
        }
        if let Some(dir) = self.postgres.take() {
            let status = pg_command("pg_ctl")
                .arg("-D")
                .arg(&dir)
                .args(["stop", "-m", "fast"])
                .stdout(Stdio::null())
                .status()
                .await;
            if let Err(error) = status {
                tracing::warn!(%error, "could not stop the private postgresql");
            }
        }
    }
}

/// The host and port of a `scheme://[user[:password]@]host[:port][/...]` URL.
fn host_port(url: &str, default_port: u16) -> anyhow::Result<(String, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match host_port.rsplit_once(':') {
        Some((host, port)) => Ok((
            host.to_owned(),
            port.parse()
                .with_context(|| format!("bad port in {host_port}"))?,
        )),
        None => Ok((host_port.to_owned(), default_port)),
    }
}

async fn listening(host: &str, port: u16) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_millis(500), TcpStream::connect((host, port))).await,
        Ok(Ok(_))
    )
}

async fn wait_listening(host: &str, port: u16, what: &str) -> anyhow::Result<()> {
    for _ in 0..100 {
        if listening(host, port).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{what} did not start listening on {host}:{port} within 10 s")
}

/// Finds a program on `PATH`, or in Debian's PostgreSQL directory (not on `PATH` by default).
fn which(program: &str) -> Option<PathBuf> {
    which::which(program).ok().or_else(|| {
        let debian = Path::new("/usr/lib/postgresql");
        let mut versions: Vec<PathBuf> = std::fs::read_dir(debian)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        versions.sort();
        versions
            .into_iter()
            .rev()
            .map(|v| v.join("bin").join(program))
            .find(|p| p.is_file())
    })
}

/// PostgreSQL refuses to run as root; as root, its programs run as the `postgres` user.
fn pg_command(program: &str) -> Command {
    let path = which(program).unwrap_or_else(|| PathBuf::from(program));
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

async fn start_postgres(data_dir: &Path, host: &str, port: u16) -> anyhow::Result<PathBuf> {
    if which("initdb").is_none() || which("pg_ctl").is_none() {
        anyhow::bail!(
            "nothing listens at {host}:{port} and PostgreSQL is not installed: \
             install it (Debian: apt-get install postgresql) or point TERRACE__DATABASE__URL at a server"
        );
    }
    let dir = std::path::absolute(data_dir.join("postgres"))?;
    std::fs::create_dir_all(&dir)?;
    if running_as_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .await?;
        anyhow::ensure!(
            status.success(),
            "cannot hand {} to the postgres user",
            dir.display()
        );
    }
    if !dir.join("PG_VERSION").exists() {
        tracing::info!(dir = %dir.display(), "initialising a private postgresql");
        let status = pg_command("initdb")
            .arg("-D")
            .arg(&dir)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ])
            .stdout(Stdio::null())
            .status()
            .await
            .context("running initdb")?;
        anyhow::ensure!(status.success(), "initdb failed");
    }
    let options = format!("-p {port} -c listen_addresses={host} -k {}", dir.display());
    let status = pg_command("pg_ctl")
        .arg("-D")
        .arg(&dir)
        .args(["-o", &options, "-l"])
        .arg(dir.join("server.log"))
        .args(["-w", "start"])
        .stdout(Stdio::null())
        .status()
        .await
        .context("running pg_ctl start")?;
    anyhow::ensure!(
        status.success(),
        "pg_ctl start failed; see {}",
        dir.join("server.log").display()
    );
    wait_listening(host, port, "postgresql").await?;
    tracing::info!(%host, port, "private postgresql started");
    Ok(dir)
}

async fn start_nats(data_dir: &Path, host: &str, port: u16) -> anyhow::Result<Child> {
    let Some(program) = which("nats-server") else {
        anyhow::bail!(
            "nothing listens at {host}:{port} and nats-server is not installed: \
             install it (Debian: apt-get install nats-server) or point TERRACE__NATS__URL at a server"
        );
    };
    let dir = std::path::absolute(data_dir.join("nats"))?;
    std::fs::create_dir_all(&dir)?;
    let child = Command::new(program)
        .args(["-a", host, "-p", &port.to_string(), "-js", "-sd"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: Ctrl-C in the terminal reaches terrace, which drains first and
        // then stops the server, instead of the server dying under the draining services.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .context("starting nats-server")?;
    wait_listening(host, port, "nats-server").await?;
    tracing::info!(%host, port, "private nats-server started");
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_and_port_come_out_of_urls() {
        assert_eq!(
            host_port("postgres://u:p@db.local:6543", 5432).unwrap(),
            ("db.local".into(), 6543)
        );
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1", 5432).unwrap(),
            ("127.0.0.1".into(), 5432)
        );
        assert_eq!(
            host_port("nats://127.0.0.1:4222", 4222).unwrap(),
            ("127.0.0.1".into(), 4222)
        );
        assert!(host_port("nats://host:notaport", 4222).is_err());
    }
}
