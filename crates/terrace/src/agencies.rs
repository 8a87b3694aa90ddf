//! `terrace agency ...`: agency clients from the command line.
//!
//! Like `terrace user`, these act on the identity database directly with the operator's authority
//! (`Caller::operator`, with the reason given), under the rules the RPCs apply to the data (scope
//! format, valid areas, name length); the same audit records and events are written, and the
//! service's relay publishes the events when it runs. A secret is printed once and never again:
//! only its hash is kept.

use clap::Subcommand;
use secrecy::ExposeSecret as _;
use terrace_identity::admin::SOURCE;
use terrace_identity::agencies::{AgencySettings, Clients, NewClient};
use terrace_platform::Clock;
use terrace_platform::auth::{Caller, Role, RoleGrant};
use terrace_platform::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum AgencyCommand {
    /// Create a client that authenticates with a secret; prints its id and secret once.
    Create {
        /// The agency's name, e.g. "县农业农村局 data platform".
        #[arg(long)]
        name: String,
        /// Who is responsible and how to reach them.
        #[arg(long, default_value = "")]
        description: String,
        /// An API scope it may request, `<domain>.<resource>:<read|write>` such as
        /// governance.requests:write; repeat for more.
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        /// An area it acts in with its standing there, ROLE@PREFIX such as county_admin@110101
        /// (a division-code prefix; platform_admin@ for the whole country); repeat for more.
        #[arg(long = "area", value_name = "ROLE@PREFIX", required = true, value_parser = parse_area)]
        areas: Vec<RoleGrant>,
        /// Why, kept in the audit record.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Give a client a new secret; the old one keeps working for
    /// `services.identity.agency_secret_overlap` (24 hours unless configured).
    Rotate {
        /// The client's id, as `terrace agency create` printed it.
        #[arg(long)]
        client_id: uuid::Uuid,
        /// Why, kept in the audit record.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// `ROLE@PREFIX`, e.g. `county_admin@110101`: a role grant as the command line writes it.
fn parse_area(value: &str) -> Result<RoleGrant, String> {
    let (role, prefix) = value
        .split_once('@')
        .ok_or_else(|| format!("{value:?} is not ROLE@PREFIX, e.g. county_admin@110101"))?;
    let role: Role = role.parse().map_err(|error| format!("{error}"))?;
    RoleGrant::parse(role, prefix).map_err(|error| format!("{error}"))
}

#[allow(clippy::print_stdout)] // The command's answer is its output.
pub(crate) async fn run(settings: &Settings, command: AgencyCommand) -> anyhow::Result<()> {
    let agency_settings = AgencySettings::load(settings)?;
    let db = terrace_platform::db::connect(&settings.database, "identity").await?;
    terrace_platform::db::migrate::<terrace_identity::migration::Migrator>(&db).await?;
    let clients = Clients::on(
        db.clone(),
        SOURCE.to_owned(),
        Clock::system(),
        agency_settings,
    );
    match command {
        AgencyCommand::Create {
            name,
            description,
            scopes,
            areas,
            reason,
        } => {
            let new = NewClient::secret(&name, &description, scopes, areas).map_err(explain)?;
            let created = clients
                .create_now(&Caller::operator(reason), new)
                .await
                .map_err(explain)?;
            println!("created agency client {:?}", created.client.name);
            println!("client_id: {}", created.client.id);
            if let Some(secret) = created.secret {
                println!("client_secret: {}", secret.expose_secret());
                println!("the secret is shown this once; only its hash is kept");
            }
        }
        AgencyCommand::Rotate { client_id, reason } => {
            let rotated = clients
                .rotate_secret_now(&Caller::operator(reason), client_id)
                .await
                .map_err(explain)?;
            println!("client_id: {}", rotated.client.id);
            println!("client_secret: {}", rotated.secret.expose_secret());
            match rotated.previous_expires_at {
                Some(until) => println!("the previous secret works until {}", until.to_rfc3339()),
                None => println!("the previous secret no longer works"),
            }
            println!("the secret is shown this once; only its hash is kept");
        }
    }
    db.close().await?;
    Ok(())
}

/// The platform's error as a message for a person at a terminal.
fn explain(error: terrace_platform::Error) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}
