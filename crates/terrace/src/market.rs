//! `terrace market ...`: the market's operator commands — exchange rates, searching as a replica
//! does, and making every replica's search index take every listing again.

use clap::Subcommand;
use terrace_market::rates::{self, Rate};
use terrace_market::search::index::{SearchQuery, Sort};
use terrace_platform::config::Settings;
use terrace_proto::market::v1 as pb;

#[derive(Debug, Subcommand)]
pub(crate) enum MarketCommand {
    /// Search the listings as buyers do (active ones; a blank query lists the newest).
    Search {
        /// Free text, e.g. "苹果" or "red fuji apple".
        query: String,
        /// How many hits to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Republish every listing's snapshot: every replica's search index takes them (and drops
    /// what it holds already). For an index that missed something, or a lost state stream.
    Reindex,
    /// Exchange rates for buyers from afar (prices shown in their currency, indicative).
    Rates {
        #[command(subcommand)]
        action: RatesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RatesCommand {
    /// Set how many yuan one unit of a currency costs: `terrace market rates set USD 7.1234`.
    Set {
        /// ISO 4217 code, e.g. USD, KZT, RUB.
        currency: String,
        /// Yuan per one unit of the currency, at most six decimals.
        cny_per_unit: String,
        /// Who set it and from where (recorded), e.g. "PBOC central parity 2026-12-04".
        #[arg(long)]
        source: String,
    },
    /// List the rates kept.
    List,
}

#[allow(clippy::print_stdout)] // The command's answer is its output.
pub(crate) async fn run(settings: &Settings, command: MarketCommand) -> anyhow::Result<()> {
    let db = terrace_platform::db::connect(&settings.database, "market").await?;
    terrace_platform::db::migrate::<terrace_market::migration::Migrator>(&db).await?;
    let listings = terrace_market::admin::listings(db.clone(), settings)?;
    match command {
        MarketCommand::Search { query, limit } => {
            let query = SearchQuery {
                text: query,
                sort: Sort::Default,
                limit,
                ..Default::default()
            };
            let page = terrace_market::admin::search(&listings, &query).await?;
            println!("{} listings found", page.total);
            for hit in page.hits {
                let Ok(listing) = <pb::Listing as prost::Message>::decode(hit.payload.as_slice())
                else {
                    continue;
                };
                let title = listing
                    .title
                    .as_ref()
                    .and_then(|t| {
                        t.translations
                            .get("zh-CN")
                            .or_else(|| t.translations.values().next())
                    })
                    .cloned()
                    .unwrap_or_default();
                let price = listing
                    .unit_price
                    .map(|p| p.amount_minor)
                    .unwrap_or_default();
                println!(
                    "{}  {title}  ¥{}.{:02} per {}  village {}",
                    listing.id,
                    price / 100,
                    price % 100,
                    terrace_proto::common::v1::Unit::try_from(
                        listing.stocked.map(|q| q.unit).unwrap_or_default()
                    )
                    .unwrap_or_default()
                    .as_str_name(),
                    listing.village_code
                );
            }
            Ok(())
        }
        MarketCommand::Reindex => {
            let written = terrace_market::admin::resnapshot(&listings).await?;
            println!(
                "{written} listings queued for the state stream: every replica's search index takes them as the relay publishes"
            );
            Ok(())
        }
        MarketCommand::Rates {
            action: RatesCommand::List,
        } => {
            for rate in rates::all(&db).await? {
                println!(
                    "{}  {} CNY  set {} by {}",
                    rate.currency,
                    rate.decimal(),
                    rate.set_at.to_rfc3339(),
                    rate.set_by
                );
            }
            Ok(())
        }
        MarketCommand::Rates {
            action:
                RatesCommand::Set {
                    currency,
                    cny_per_unit,
                    source,
                },
        } => {
            let currency = currency.trim().to_ascii_uppercase();
            if iso_currency::Currency::from_code(&currency).is_none() || currency == "CNY" {
                anyhow::bail!("{currency:?} is not an ISO 4217 currency other than CNY");
            }
            let micro = rates::parse_decimal(&cny_per_unit).map_err(anyhow::Error::msg)?;
            if source.trim().is_empty() {
                anyhow::bail!("--source: say where the rate comes from");
            }
            let rate = Rate {
                currency,
                cny_micro_per_unit: micro,
                set_at: terrace_platform::Clock::system().now(),
                set_by: source.trim().to_owned(),
            };
            rates::set_by_operator(&db, "terrace/market", &rate).await?;
            println!(
                "1 {} = {} CNY (indicative prices use it from now on)",
                rate.currency,
                rate.decimal()
            );
            Ok(())
        }
    }
}
