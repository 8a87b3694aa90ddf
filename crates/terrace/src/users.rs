//! `terrace user ...`: users and role grants from the command line.
//!
//! These act on the identity database directly, with the operator's authority instead of a token's:
//! this is how the first platform admin comes to be. Events and audit records are written as for
//! the RPCs; the service's relay publishes the events when it runs.

use std::io::BufRead as _;

use anyhow::Context as _;
use clap::Subcommand;
use terrace_identity::admin::{self, NewAccount};
use terrace_platform::auth::{Role, RoleGrant};
use terrace_platform::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user (for a villager without a smartphone, or the first admin).
    Create {
        /// Phone number, e.g. +8613800138000 or 13800138000.
        #[arg(long)]
        phone: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Read a password from the first line of standard input (else the user logs in with codes).
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, default_value = "zh-CN")]
        locale: String,
        #[arg(long, default_value = "Asia/Shanghai")]
        time_zone: String,
    },
    /// Give a user a role in an area.
    Grant {
        #[arg(long)]
        phone: String,
        /// resident, farmer, buyer, village_official, township_official, county_admin, platform_admin.
        #[arg(long)]
        role: Role,
        /// The area as a division-code prefix: 12 digits for a village, 9 a township, 6 a county;
        /// empty for the whole country (platform_admin only).
        #[arg(long, default_value = "")]
        scope: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Take a grant back.
    Revoke {
        #[arg(long)]
        grant_id: uuid::Uuid,
        #[arg(long)]
        reason: String,
    },
}

#[allow(clippy::print_stdout)] // The command's answer is its output.
pub(crate) async fn run(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let db = terrace_platform::db::connect(&settings.database, "identity").await?;
    terrace_platform::db::migrate::<terrace_identity::migration::Migrator>(&db).await?;
    match command {
        UserCommand::Create {
            phone,
            name,
            password_stdin,
            locale,
            time_zone,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password")?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let account = NewAccount {
                phone: &phone,
                display_name: &name,
                password: password.as_deref(),
                locale: &locale,
                time_zone: &time_zone,
            };
            match admin::create_user(&db, account, "terrace user create")
                .await
                .map_err(explain)?
            {
                Some(user) => println!("created user {} ({})", user.id, user.phone_number),
                None => anyhow::bail!("a user with this phone number already exists"),
            }
        }
        UserCommand::Grant {
            phone,
            role,
            scope,
            reason,
        } => {
            let grant =
                RoleGrant::parse(role, &scope).map_err(|error| anyhow::anyhow!("{error}"))?;
            let row = admin::grant(&db, &phone, grant, &reason)
                .await
                .map_err(explain)?;
            println!(
                "grant {}: {}@{:?} for user {}",
                row.id,
                row.grant.role.as_str(),
                row.grant.scope.as_str(),
                row.user_id
            );
        }
        UserCommand::Revoke { grant_id, reason } => {
            let row = admin::revoke(&db, grant_id, &reason)
                .await
                .map_err(explain)?;
            println!("revoked grant {}", row.id);
        }
    }
    db.close().await?;
    Ok(())
}

/// The platform's error as a message for a person at a terminal.
fn explain(error: terrace_platform::Error) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}
