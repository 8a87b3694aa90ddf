//! `terrace governance ...`: the governance service's operator commands (re-sealing national ids;
//! verifying the audit log, in [`crate::audit`]).

use clap::Subcommand;
use terrace_governance::config::GovernanceSettings;
use terrace_governance::register::Register;
use terrace_governance::register::sealing::Sealer;
use terrace_platform::config::Settings;

/// Numbers re-sealed per transaction by `rotate-id-key`.
const RESEAL_BATCH: u64 = 500;

#[derive(Debug, Subcommand)]
pub(crate) enum GovernanceCommand {
    /// Re-seal every national id of the register under the active key of
    /// `[services.governance.national_id]`. Configure the new key beside the old one and make it
    /// `active_key` first; once this has finished, the old key may be removed. Safe to run while
    /// the service runs, and to run again.
    RotateIdKey,
    /// Recompute the audit log's hash chains and name the first broken entry of each; exits
    /// non-zero when any chain is broken.
    VerifyAudit {
        /// The county whose chain to verify, as 6 or 12 digits (330523 or 330523000000); an area
        /// inside a county verifies that county's chain. Without it, every chain.
        #[arg(long, value_parser = crate::audit::parse_area)]
        county: Option<terrace_platform::auth::AdminScope>,
    },
}

#[allow(clippy::print_stdout)] // The command's answer is its output.
pub(crate) async fn run(settings: &Settings, command: GovernanceCommand) -> anyhow::Result<()> {
    match command {
        GovernanceCommand::VerifyAudit { county } => crate::audit::verify(settings, county).await,
        GovernanceCommand::RotateIdKey => {
            let own: GovernanceSettings = settings.service("governance")?;
            let sealer = Sealer::new(&own.national_id)?;
            let active = sealer.active_key().to_owned();
            let db = terrace_platform::db::connect(&settings.database, "governance").await?;
            terrace_platform::db::migrate::<terrace_governance::migration::Migrator>(&db).await?;
            let register = Register::new(
                db,
                "terrace/governance".to_owned(),
                terrace_platform::Clock::system(),
                sealer,
            );
            let mut total = 0;
            loop {
                let done = register.reseal_batch(RESEAL_BATCH).await?;
                if done == 0 {
                    break;
                }
                total += done;
                println!("re-sealed {total} national ids so far");
            }
            println!("every national id is sealed under key {active:?} ({total} re-sealed)");
            Ok(())
        }
    }
}
