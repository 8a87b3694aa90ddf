//! `terrace events ...`: the event bus from the command line.

use clap::Subcommand;
use terrace_platform::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// Republish the current state of every entity the service publishes on its state stream
    /// (`state.<domain>.>`) through its outbox; its relay publishes them when it runs.
    Resnapshot {
        #[arg(long, value_parser = crate::services::parse_name)]
        service: &'static str,
    },
}

#[allow(clippy::print_stdout)] // The command's answer is its output.
pub(crate) async fn run(settings: &Settings, command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Resnapshot { service } => match service {
            "identity" => {
                let db = terrace_platform::db::connect(&settings.database, "identity").await?;
                terrace_platform::db::migrate::<terrace_identity::migration::Migrator>(&db).await?;
                let (users, grants) = terrace_identity::admin::resnapshot(&db).await?;
                println!("identity: {users} users and {grants} grants queued for the state stream");
                Ok(())
            }
            "market" => {
                let db = terrace_platform::db::connect(&settings.database, "market").await?;
                terrace_platform::db::migrate::<terrace_market::migration::Migrator>(&db).await?;
                let listings = terrace_market::admin::listings(db, settings)?;
                let listings = terrace_market::admin::resnapshot(&listings).await?;
                println!("market: {listings} listings queued for the state stream");
                Ok(())
            }
            other => anyhow::bail!("{other} publishes no state yet: nothing to resnapshot"),
        },
    }
}
