//! `terrace import ...`: reference data loaded from files into a service's database.

use std::path::PathBuf;

use clap::Subcommand;
use terrace_platform::config::Settings;

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// The national division list: a directory with `provinces`, `cities`, `areas`, `streets` and
    /// `villages` as `.csv.gz` or `.csv` (e.g. ../shared/data/admin-divisions). Adds new codes,
    /// updates changed names, never duplicates; what changed is published (governance's relay
    /// sends it when it runs).
    Divisions {
        /// The directory of the list.
        dir: PathBuf,
        /// The list is complete (the whole country): divisions it does not name are marked
        /// inactive (a later list naming them again reactivates them).
        #[arg(long)]
        complete: bool,
    },
}

#[allow(clippy::print_stdout)] // The command's answer is its output.
pub(crate) async fn run(settings: &Settings, command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Divisions { dir, complete } => {
            let db = terrace_platform::db::connect(&settings.database, "governance").await?;
            terrace_platform::db::migrate::<terrace_governance::migration::Migrator>(&db).await?;
            let bar =
                indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} divisions ({per_sec}, {eta} left)",
                )?);
            let progress = |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let (source, now) = ("terrace/governance", terrace_platform::Clock::system_now());
            let report = if complete {
                terrace_governance::divisions::import_complete(&db, source, &dir, now, progress)
                    .await?
            } else {
                terrace_governance::divisions::import(&db, source, &dir, now, progress).await?
            };
            bar.finish_and_clear();
            println!(
                "divisions: {} read, {} added, {} changed, {} retired, {} skipped, {} events",
                report.read,
                report.added,
                report.changed,
                report.retired,
                report.skipped.len(),
                report.events
            );
            for why in &report.skipped {
                println!("  skipped {why}");
            }
            Ok(())
        }
    }
}
