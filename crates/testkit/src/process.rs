//! The `terrace` binary run as its own process, with a test's names, as a person or a container
//! would run it.

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::context::TestContext;

/// A running `terrace` process.
#[derive(Debug)]
pub struct TerraceProcess {
    pub child: Child,
    pub grpc_port: u16,
    pub http_port: u16,
    /// From spawning to health `SERVING`.
    pub ready_after: Duration,
}

impl TerraceProcess {
    /// Runs `bin` with `args` (e.g. `["dev"]`) on free ports, with `ctx`'s database and NATS
    /// names, and waits (180 s at most: `terrace dev` may build the web apps first) until its
    /// overall health is `SERVING`.
    pub async fn start(
        bin: &std::path::Path,
        args: &[&str],
        ctx: &TestContext,
    ) -> anyhow::Result<Self> {
        Self::start_with_env(bin, args, ctx, &[]).await
    }

    /// As [`TerraceProcess::start`], with more environment variables.
    pub async fn start_with_env(
        bin: &std::path::Path,
        args: &[&str],
        ctx: &TestContext,
        env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let grpc_port = free_port().await?;
        let http_port = free_port().await?;
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args(args)
            .env(
                "TERRACE__DATABASE__DATABASE_PREFIX",
                &ctx.settings.database.database_prefix,
            )
            .env("TERRACE__NATS__PREFIX", &ctx.settings.nats.prefix)
            .env("TERRACE__GRPC__ADDR", format!("127.0.0.1:{grpc_port}"))
            .env("TERRACE__HTTP__ADDR", format!("127.0.0.1:{http_port}"))
            .env("TERRACE__GRPC__DRAIN_DELAY", "100")
            .env("TERRACE__TELEMETRY__LOG_FILTER", "warn")
            .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let endpoint = Channel::from_shared(format!("http://127.0.0.1:{grpc_port}"))?;
        loop {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(180),
                "terrace not ready in 180 s"
            );
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("terrace exited early with {status}");
            }
            if let Ok(channel) = endpoint.connect().await
                && health(&channel, "").await == Some(ServingStatus::Serving)
            {
                return Ok(Self {
                    child,
                    grpc_port,
                    http_port,
                    ready_after: started.elapsed(),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A channel to its gRPC port.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Ok(
            Channel::from_shared(format!("http://127.0.0.1:{}", self.grpc_port))?
                .connect()
                .await?,
        )
    }

    /// Resident memory now, in kB (Linux).
    pub fn rss_kb(&self) -> anyhow::Result<u64> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| anyhow::anyhow!("the process has exited"))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no VmRSS for process {pid}"))
    }

    /// Sends SIGTERM and waits (30 s at most) for the exit status.
    pub async fn terminate(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self
            .child
            .id()
            .ok_or_else(|| anyhow::anyhow!("the process has exited"))?;
        let killed = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        anyhow::ensure!(killed.success(), "kill -TERM {pid} failed");
        Ok(tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await??)
    }
}

/// A port nothing listens on right now, for a child process to bind.
///
/// Taken below the kernel's ephemeral range (Linux: 32768-60999), at random: a port the kernel
/// handed out (`bind(0)`) is free again the moment it is checked, and another test's listener or
/// outgoing connection could take it before the child binds it — a race that made `terrace dev`
/// fail with "Address already in use" on a busy machine. Ports below the range are only ever
/// taken on purpose, by this function in another test, which checks that the port binds.
pub async fn free_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = rand::random_range(20_000..32_000);
        if tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port between 20000 and 32000 after 100 tries")
}

/// The health of `service` (`""` for the whole server), or `None` if the call failed.
pub async fn health(channel: &Channel, service: &str) -> Option<ServingStatus> {
    let response = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

/// The services a server lists through gRPC reflection (v1).
pub async fn reflected_services(channel: &Channel) -> anyhow::Result<Vec<String>> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(futures::stream::iter([request]))
        .await?
        .into_inner();
    match responses
        .next()
        .await
        .transpose()?
        .and_then(|response| response.message_response)
    {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => anyhow::bail!("expected a service list, got {other:?}"),
    }
}
