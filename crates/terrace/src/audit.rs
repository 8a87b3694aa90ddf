//! `terrace governance verify-audit`: recomputes the hash chains of governance's audit log and
//! names the first broken entry.
//!
//! It reads governance's database directly, with the operator's authority, like the other
//! operator commands (`terrace user`, `terrace import`): no token to mint, and it works while the
//! services are down. The entries are checked in the contract's form (`AuditEntry`), by the same
//! rules a holder of `ListAuditEntries` pages would apply
//! (`terrace_governance::audit::chain`).

use terrace_governance::audit::{self, chain::Verdict};
use terrace_platform::auth::AdminScope;
use terrace_platform::config::Settings;

pub(crate) fn parse_area(code: &str) -> Result<AdminScope, String> {
    AdminScope::parse(code).map_err(|error| error.to_string())
}

#[allow(clippy::print_stdout)] // The command's answer is its output.
pub(crate) async fn verify(settings: &Settings, county: Option<AdminScope>) -> anyhow::Result<()> {
    {
        {
            let db = terrace_platform::db::connect(&settings.database, "governance").await?;
            terrace_platform::db::migrate::<terrace_governance::migration::Migrator>(&db).await?;
            let chains = match county {
                Some(area) => vec![audit::chain_of(&area)],
                None => audit::chains(&db).await?,
            };
            let mut broken = 0;
            for chain in &chains {
                let code = chain.to_proto().code;
                match audit::verify_stored(&db, chain).await? {
                    Verdict::Intact { entries, head_hash } => {
                        println!("chain {code}: intact, {entries} entries, head {head_hash}");
                    }
                    Verdict::Broken(at) => {
                        broken += 1;
                        println!("chain {code}: BROKEN at {at}");
                    }
                }
            }
            if broken > 0 {
                anyhow::bail!("{broken} of {} audit chains are broken", chains.len());
            }
            Ok(())
        }
    }
}
