//! The `terrace` binary.
//!
//! - `terrace dev`: every service in one process on one gRPC port, metrics on another; starts a
//!   private PostgreSQL and NATS under the data directory when none is listening and the programs
//!   are installed.
//! - `terrace serve --service <name>`: one service, as its container runs it.
//! - `terrace migrate [--service <name>]`: create and migrate the databases, then exit.
//! - `terrace user create|grant|revoke`: users and role grants, with the operator's authority.
//! - `terrace agency create|rotate`: agency clients and their secrets, with the operator's
//!   authority.
//! - `terrace events resnapshot --service <name>`: republish a service's state streams.
//! - `terrace import divisions <dir>`: load the national division list into governance.
//! - `terrace governance rotate-id-key`: re-seal the register's national ids under the active key.
//! - `terrace governance verify-audit [--county <code>]`: recompute the audit log's hash chains.
//! - `terrace market search "<query>"|reindex|rates set|rates list`: the market's operator
//!   commands.
//!
//! # Layout
//!
//! - `main.rs`: command-line parsing and dispatch (this file).
//! - [`services`]: the list of services this binary can run.
//! - [`substrate`]: finding or starting PostgreSQL and NATS for `terrace dev`.
//! - [`users`]: `terrace user create|grant|revoke`.
//! - [`agencies`]: `terrace agency create|rotate`.
//! - [`events`]: `terrace events resnapshot`.
//! - [`import`]: `terrace import divisions`.
//! - [`governance`]: `terrace governance rotate-id-key|verify-audit`.
//! - [`market`]: `terrace market search|reindex|rates`.
//! - [`audit`]: verifying the audit log's chains.
//! - [`web`]: building the web apps for `terrace dev` when they are missing or stale.

mod agencies;
mod audit;
mod events;
mod governance;
mod import;
mod market;
mod services;
mod substrate;
mod users;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use terrace_platform::config::{Settings, Sources};

/// Terrace: the digital-village platform.
#[derive(Debug, Parser)]
#[command(name = "terrace", version, about)]
struct Cli {
    /// A TOML settings file (also `TERRACE_CONFIG`); `TERRACE__SECTION__KEY` variables override it.
    #[arg(long, global = true, env = "TERRACE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every service in one process, for development and small sites.
    Dev {
        /// Load demonstration data.
        #[arg(long)]
        demo: bool,
        /// Where a private PostgreSQL and NATS keep their data, when they have to be started.
        #[arg(long, default_value = ".terrace")]
        data_dir: PathBuf,
        /// The gRPC (and gRPC-Web) address; overrides the settings.
        #[arg(long)]
        grpc_addr: Option<SocketAddr>,
        /// The metrics and JWKS address; overrides the settings.
        #[arg(long)]
        http_addr: Option<SocketAddr>,
        /// The web apps' workspace, built when missing or stale and served at /console/ and
        /// /farmer/ on the gRPC port.
        #[arg(long, default_value = "web")]
        web_dir: PathBuf,
        /// Serve gRPC only: neither build nor serve the web apps.
        #[arg(long)]
        no_web: bool,
    },
    /// Run one service, as its container does.
    Serve {
        #[arg(long, value_parser = services::parse_name)]
        service: &'static str,
    },
    /// Create and migrate the databases of one service, or of all, then exit.
    Migrate {
        #[arg(long, value_parser = services::parse_name)]
        service: Option<&'static str>,
    },
    /// Manage users directly in the identity database (the operator's authority, no token).
    User {
        #[command(subcommand)]
        action: users::UserCommand,
    },
    /// Manage agency clients directly in the identity database (the operator's authority).
    Agency {
        #[command(subcommand)]
        action: agencies::AgencyCommand,
    },
    /// Load reference data from files (the national division list).
    Import {
        #[command(subcommand)]
        action: import::ImportCommand,
    },
    /// The event bus: republish a service's state streams.
    Events {
        #[command(subcommand)]
        action: events::EventsCommand,
    },
    /// Governance's operator commands: re-seal national ids under a new key, verify the audit
    /// log's chains.
    Governance {
        #[command(subcommand)]
        action: governance::GovernanceCommand,
    },
    /// The market's operator commands: search as buyers do, reindex every replica, exchange
    /// rates.
    Market {
        #[command(subcommand)]
        action: market::MarketCommand,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(&Sources {
        file: cli.config.clone(),
        environment: true,
    })
    .context("reading settings")?;
    match cli.command {
        Command::Dev {
            demo,
            data_dir,
            grpc_addr,
            http_addr,
            web_dir,
            no_web,
        } => {
            if let Some(addr) = grpc_addr {
                settings.grpc.addr = addr;
            }
            if let Some(addr) = http_addr {
                settings.http.addr = addr;
            }
            // Development photos live with the rest of the development data, unless configured.
            if settings.photos.dir == terrace_platform::config::PhotosSettings::default().dir {
                settings.photos.dir = data_dir.join("photos");
            }
            let _telemetry = terrace_platform::telemetry::init(&settings.telemetry, "terrace")?;
            if !no_web {
                match web::prepare(&web_dir).await {
                    web::Outcome::Ready(dir) => settings.grpc.web_apps_dir = Some(dir),
                    web::Outcome::Unavailable(why) => tracing::warn!("{why}"),
                }
            }
            let substrate = substrate::Substrate::ensure(&settings, &data_dir).await?;
            tracing::info!(
                grpc = %settings.grpc.addr,
                http = %settings.http.addr,
                postgres = substrate.postgres_origin(),
                nats = substrate.nats_origin(),
                "terrace dev"
            );
            if let Some(dir) = &settings.grpc.web_apps_dir {
                let apps = terrace_platform::web_apps::WebApps::from_dir(dir);
                for prefix in apps.prefixes() {
                    tracing::info!(
                        url = format!("http://{}{prefix}/", settings.grpc.addr),
                        "web app"
                    );
                }
            }
            if demo {
                // Each service loads its own demonstration data when its setting says so.
                for (service, setting) in [
                    ("identity", "demo_users"),
                    ("governance", "demo_divisions"),
                    ("governance", "demo_register"),
                    ("governance", "demo_request_types"),
                    ("market", "demo_listings"),
                ] {
                    let section = settings
                        .services
                        .entry(service.to_owned())
                        .or_insert_with(|| serde_json::json!({}));
                    if let Some(section) = section.as_object_mut() {
                        section.insert(setting.to_owned(), serde_json::Value::Bool(true));
                    }
                }
            }
            // Texts (one-time codes among them) go through notify's development provider: shown
            // in the log and appended to `<data dir>/sms.log`, unless a provider is configured.
            let notify = settings
                .services
                .entry("notify".to_owned())
                .or_insert_with(|| serde_json::json!({}));
            if let Some(section) = notify.as_object_mut() {
                let sms = section
                    .entry("sms")
                    .or_insert_with(|| serde_json::json!({}));
                if let Some(sms) = sms.as_object_mut()
                    && !sms.contains_key("provider")
                {
                    sms.insert("provider".to_owned(), "log".into());
                    sms.insert(
                        "log_file".to_owned(),
                        data_dir
                            .join("sms.log")
                            .to_string_lossy()
                            .into_owned()
                            .into(),
                    );
                }
            }
            let result = terrace_platform::service::serve(settings, services::all()).await;
            substrate.stop().await;
            result
        }
        Command::Serve { service } => {
            let _telemetry = terrace_platform::telemetry::init(
                &settings.telemetry,
                &format!("terrace-{service}"),
            )?;
            terrace_platform::service::serve(settings, vec![services::by_name(service)?]).await
        }
        Command::Migrate { service } => {
            let _telemetry =
                terrace_platform::telemetry::init(&settings.telemetry, "terrace-migrate")?;
            let defs = match service {
                Some(name) => vec![services::by_name(name)?],
                None => services::all(),
            };
            for def in defs {
                let db = terrace_platform::db::connect(&settings.database, def.name).await?;
                def.migrate(&db).await?;
                tracing::info!(service = def.name, "migrated");
            }
            Ok(())
        }
        Command::User { action } => {
            let _telemetry = terrace_platform::telemetry::init(&settings.telemetry, "terrace-cli")?;
            users::run(&settings, action).await
        }
        Command::Agency { action } => {
            let _telemetry = terrace_platform::telemetry::init(&settings.telemetry, "terrace-cli")?;
            agencies::run(&settings, action).await
        }
        Command::Import { action } => {
            let _telemetry = terrace_platform::telemetry::init(&settings.telemetry, "terrace-cli")?;
            import::run(&settings, action).await
        }
        Command::Events { action } => {
            let _telemetry = terrace_platform::telemetry::init(&settings.telemetry, "terrace-cli")?;
            events::run(&settings, action).await
        }
        Command::Governance { action } => {
            let _telemetry = terrace_platform::telemetry::init(&settings.telemetry, "terrace-cli")?;
            governance::run(&settings, action).await
        }
        Command::Market { action } => {
            let _telemetry = terrace_platform::telemetry::init(&settings.telemetry, "terrace-cli")?;
            market::run(&settings, action).await
        }
    }
}
