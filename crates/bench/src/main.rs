//! `terrace-bench`: the platform measured against its substrate, in one run on one machine.
//!
//! Every platform number is printed beside the raw baseline it must be compared with, measured in
//! the same run: PostgreSQL inserts and primary-key selects through sqlx, JetStream publishes (one at
//! a time, and pipelined) through async-nats, and a no-op tonic call on a bare server. Then the
//! outbox relay's drain rate, a call through the full platform server stack, and optionally the
//! `terrace dev` process (readiness time and idle memory).
//!
//! Run: `cargo run --release -p terrace-bench -- [--terrace-bin target/release/terrace]`
//!
//! # Layout
//!
//! - `main.rs`: the command line, the runs and the report (this file).
//! - [`measure`]: timing of a fixed number of operations at a given concurrency.
//! - [`substrate`]: the raw baselines.
//! - [`platform`]: the platform's own numbers.
//! - [`identity`]: token verification and password login costs.
//! - [`governance`]: creating a resident; the national division import and search.
//! - [`requests`]: filing a service request; a township's list over 100,000 requests.
//! - [`search`]: the market's search index over a million listings against bare tantivy.
//! - [`notify`]: an event to an inbox row, closed-loop and at half of capacity.

mod governance;
mod identity;
mod market;
mod measure;
mod notify;
mod platform;
mod requests;
mod search;
mod substrate;

use clap::Parser;
use terrace_testkit::TestContext;

/// Measures the substrate baselines and the platform against them.
#[derive(Debug, Parser)]
struct Args {
    /// Operations per database measurement.
    #[arg(long, default_value_t = 20_000)]
    db_ops: usize,
    /// Messages per JetStream and relay measurement.
    #[arg(long, default_value_t = 50_000)]
    messages: usize,
    /// Calls per gRPC measurement.
    #[arg(long, default_value_t = 20_000)]
    calls: usize,
    /// Alternating rounds of raw publishing and relay draining.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent tasks for database and gRPC measurements.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Only the raw insert and the creates (for working on the write path).
    #[arg(long)]
    creates_only: bool,
    /// Only the raw insert and service requests (issue 10): filing, and a township's list over
    /// 100,000 requests.
    #[arg(long, conflicts_with = "creates_only")]
    requests_only: bool,
    /// Only market search (issue 11): the market's index over `--search-listings` listings against
    /// a bare tantivy index of the same listings. Needs no database.
    #[arg(long, conflicts_with_all = ["creates_only", "requests_only"])]
    search_only: bool,
    /// Only the raw insert and the market's writes (issue 11): creating listings, and order
    /// attempts on one hot listing.
    #[arg(long, conflicts_with_all = ["creates_only", "requests_only", "search_only"])]
    market_only: bool,
    /// Only notify (issue 12): market's order events to the seller's inbox row, against a raw
    /// JetStream publish and the raw insert.
    #[arg(long, conflicts_with_all = ["creates_only", "requests_only", "search_only", "market_only"])]
    notify_only: bool,
    /// Events per notify measurement.
    #[arg(long, default_value_t = 5_000)]
    notify_events: usize,
    /// Sellers without phones: the inbox row alone, no text queued beside it.
    #[arg(long)]
    notify_no_texts: bool,
    /// Order attempts on the hot listing.
    #[arg(long, default_value_t = 100_000)]
    hot_attempts: usize,
    /// Concurrent buyers on the hot listing.
    #[arg(long, default_value_t = 128)]
    hot_buyers: usize,
    /// Listings in the market search indexes.
    #[arg(long, default_value_t = 1_000_000)]
    search_listings: usize,
    /// Timed searches on each index (after a warm-up of the whole query mix).
    #[arg(long, default_value_t = 5_000)]
    search_ops: usize,
    /// Threads searching at once.
    #[arg(long, default_value_t = 2)]
    search_workers: usize,
    /// Calls per service-request list measurement (each variant, each loop).
    #[arg(long, default_value_t = 2_000)]
    list_calls: usize,
    /// The national division list (e.g. ../shared/data/admin-divisions); when given, its import
    /// is timed against a raw COPY of the same rows, and division search over it.
    #[arg(long)]
    divisions: Option<std::path::PathBuf>,
    /// Searches timed over the national list.
    #[arg(long, default_value_t = 400)]
    searches: usize,
    /// A built `terrace` binary; when given, `terrace dev` readiness and idle memory are measured.
    #[arg(long)]
    terrace_bin: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut report = measure::Report::default();

    if args.search_only {
        market_search(&args, &mut report).await?;
        report.print();
        return Ok(());
    }

    let ctx = TestContext::new();

    let pg = substrate::postgres(&ctx, args.db_ops, args.concurrency).await?;
    report.add("postgres: single-row insert (sqlx)", &pg.insert);
    report.add(
        "postgres: single-row insert, open-loop at half that rate",
        &pg.insert_at_half,
    );
    report.add("postgres: primary-key select (sqlx)", &pg.select);

    if args.requests_only {
        service_requests(&args, &pg.insert, &mut report).await?;
        report.print();
        return Ok(());
    }

    if args.market_only {
        market_writes(&args, &pg.insert, &mut report).await?;
        report.print();
        return Ok(());
    }

    if args.notify_only {
        notify_inbox(&args, &ctx, &pg.insert_at_half, &mut report).await?;
        report.print();
        return Ok(());
    }

    if !args.creates_only {
        substrate_and_calls(&args, &ctx, &mut report).await?;
    }

    let statement = platform::create_statement(&ctx, args.db_ops, args.concurrency).await?;
    report.add(
        "platform: create statement alone (claim + row + event, no gRPC, no relay)",
        &statement,
    );
    report.ratio(
        "create statement / raw insert",
        statement.rate() / pg.insert.rate(),
    );

    let writes = platform::probe_writes::<false>(args.db_ops / 4, args.concurrency).await?;
    report.add(
        "platform: create with outbox event (gRPC → row + event, relay publishing)",
        &writes.capacity,
    );
    report.add(
        "platform: create with outbox event, open-loop at half that rate",
        &writes.at_half,
    );
    report.ratio(
        "create with event / raw insert",
        writes.capacity.rate() / pg.insert.rate(),
    );
    if let (Some(create), Some(insert)) = (
        writes.at_half.percentile(0.99),
        pg.insert_at_half.percentile(0.99),
    ) {
        report.note(format!(
            "p99 at half capacity, create / raw insert: {:.1}x",
            create.as_secs_f64() / insert.as_secs_f64()
        ));
    }
    let looped = platform::probe_writes::<true>(args.db_ops / 4, args.concurrency).await?;
    report.add(
        "platform: the whole loop (create, relay, and the probe's consumer in the same process)",
        &looped.capacity,
    );
    report.ratio(
        "whole loop / raw insert",
        looped.capacity.rate() / pg.insert.rate(),
    );

    let residents = governance::resident_creates(args.db_ops / 4, args.concurrency).await?;
    report.add(
        "governance: create a resident (gRPC, GB 11643, AES-GCM seal, duplicate lookup, row + snapshot + event)",
        &residents,
    );
    report.ratio(
        "resident create / raw insert",
        residents.rate() / pg.insert.rate(),
    );

    if let Some(dir) = &args.divisions {
        let national =
            governance::national_divisions(dir, args.searches, args.db_ops / 4, args.concurrency)
                .await?;
        report.note(format!(
            "governance: national division import, {} rows: {:.1} s; raw COPY of the same rows \
             into the same table and indexes: {:.1} s ({:.1}x)",
            national.rows,
            national.import.as_secs_f64(),
            national.copy.as_secs_f64(),
            national.import.as_secs_f64() / national.copy.as_secs_f64()
        ));
        report.note(format!(
            "governance: division search index of the national list: read and built in {:.1} s, \
             {:.0} MB on the heap",
            national.index_build.as_secs_f64(),
            national.index_bytes as f64 / 1e6
        ));
        report.add(
            "governance: SearchDivisions over the national tree (gRPC, one at a time)",
            &national.search,
        );
        report.add(
            "governance: the division search index alone (in process, one at a time)",
            &national.index_search,
        );
        report.add(
            "postgres: the same search query, raw (sqlx, one at a time)",
            &national.raw_search,
        );
        report.add(
            "governance: create a resident, spread over villages of eight counties (eight audit chains)",
            &national.creates_in_eight_counties,
        );
        report.ratio(
            "resident create in eight counties / raw insert",
            national.creates_in_eight_counties.rate() / pg.insert.rate(),
        );
    }

    if !args.creates_only {
        service_requests(&args, &pg.insert, &mut report).await?;
        market_writes(&args, &pg.insert, &mut report).await?;
        identity_costs(&mut report).await?;
        market_search(&args, &mut report).await?;
        notify_inbox(&args, &ctx, &pg.insert_at_half, &mut report).await?;
    }

    if let Some(bin) = &args.terrace_bin {
        let dev = platform::terrace_dev(bin).await?;
        report.note(format!(
            "terrace dev: first start to SERVING (creates and migrates 5 databases): {:.0} ms",
            dev.first_ready.as_secs_f64() * 1e3
        ));
        report.note(format!(
            "terrace dev: restart to SERVING (already migrated): {:.0} ms",
            dev.ready.as_secs_f64() * 1e3
        ));
        report.note(format!(
            "terrace dev: idle resident memory after 5 s: {:.1} MB",
            dev.idle_rss_kb as f64 / 1024.0
        ));
    }

    report.print();
    Ok(())
}

/// Issue 12's target: an event to its inbox row, p99 at half of capacity, beside a raw JetStream
/// publish (awaiting its ack) and the raw insert at half its capacity.
async fn notify_inbox(
    args: &Args,
    ctx: &TestContext,
    insert_at_half: &measure::Measurement,
    report: &mut measure::Report,
) -> anyhow::Result<()> {
    let js = substrate::jetstream(ctx, args.notify_events * 5, 0).await?;
    report.add("jetstream: publish, await each ack", &js.sync);
    let inbox =
        notify::event_to_inbox(args.notify_events, args.concurrency, !args.notify_no_texts).await?;
    report.add(
        if args.notify_no_texts {
            "notify: OrderPlaced published → the seller's inbox row committed (no phone, no text)"
        } else {
            "notify: OrderPlaced published → the seller's inbox row committed (and a text queued)"
        },
        &inbox.capacity,
    );
    report.add(
        "notify: the same, open-loop at half that rate",
        &inbox.at_half,
    );
    if let (Some(p99), Some(insert)) = (
        inbox.at_half.percentile(0.99),
        insert_at_half.percentile(0.99),
    ) {
        report.note(format!(
            "notify: event to inbox p99 at half capacity {:.1} ms (target < 25 ms); raw insert p99 at half its capacity {:.2} ms",
            p99.as_secs_f64() * 1e3,
            insert.as_secs_f64() * 1e3
        ));
    }
    Ok(())
}

/// JetStream publishing against the relay, and a bare tonic call against the platform's.
async fn substrate_and_calls(
    args: &Args,
    ctx: &TestContext,
    report: &mut measure::Report,
) -> anyhow::Result<()> {
    // The raw publish rate and the relay's drain rate wander from run to run on a shared machine;
    // they are measured alternately, `rounds` times, and the medians compared.
    let mut raw = Vec::new();
    let mut drained = Vec::new();
    let mut sync = None;
    for round in 0..args.rounds {
        let js = substrate::jetstream(ctx, args.messages, round).await?;
        sync.get_or_insert(js.sync);
        raw.push(js.pipelined);
        drained.push(platform::relay(ctx, args.messages, round).await?);
    }
    let (Some(sync), Some(raw), Some(relay)) =
        (sync, measure::median(raw), measure::median(drained))
    else {
        anyhow::bail!("--rounds must be at least 1");
    };
    report.add("jetstream: publish, await each ack", &sync);
    report.add(
        "jetstream: publish async, 1024 acks in flight (median of rounds)",
        &raw,
    );

    let bare = substrate::bare_grpc(args.calls, args.concurrency).await?;
    report.add("tonic: no-op call (health check, bare server)", &bare);

    report.add(
        "platform: outbox relay drain, defaults (median of rounds)",
        &relay,
    );
    report.ratio("relay drain / raw async publish", relay.rate() / raw.rate());

    let through = platform::probe_calls(args.calls, args.concurrency).await?;
    report.add("platform: authenticated call, full server stack", &through);
    report.ratio(
        "platform call / bare tonic call",
        through.rate() / bare.rate(),
    );

    Ok(())
}

/// Issue 11's write targets: creating a listing against the raw insert at the same concurrency,
/// and order attempts from many buyers on one hot listing (nothing oversold) against a raw
/// hot-row update.
async fn market_writes(
    args: &Args,
    insert: &measure::Measurement,
    report: &mut measure::Report,
) -> anyhow::Result<()> {
    let creates = market::creates(args.db_ops / 4, args.concurrency).await?;
    report.add(
        "market: create a listing (gRPC, farmers of 余村, no photos: claim + row + snapshot + event in one statement)",
        &creates.grpc,
    );
    report.add(
        "market: the same create in process (`Listings::create`, no gRPC)",
        &creates.in_process,
    );
    report.add(
        "postgres: the listing's row alone (sqlx, one INSERT, the table's indexes)",
        &creates.row_alone,
    );
    report.ratio(
        "listing create / raw insert",
        creates.grpc.rate() / insert.rate(),
    );
    report.ratio(
        "listing create in process / raw insert",
        creates.in_process.rate() / insert.rate(),
    );
    report.ratio(
        "the listing's row alone / raw insert",
        creates.row_alone.rate() / insert.rate(),
    );
    let hot = market::hot_listing(args.hot_attempts, args.hot_buyers).await?;
    report.add(
        &format!(
            "market: PlaceOrder on one hot listing, {} buyers at once (gRPC)",
            hot.concurrency
        ),
        &hot.orders,
    );
    report.add(
        "postgres: the same number of conditional hot-row updates, raw (sqlx)",
        &hot.raw,
    );
    report.ratio(
        "hot-listing orders / raw hot-row update",
        hot.orders.rate() / hot.raw.rate(),
    );
    let oversold = (hot.reserved_milli - hot.stock_milli).max(0) / 1_000;
    report.note(format!(
        "market: {} order attempts on a stock of {} 斤: {} placed, {} refused, reserved {} 斤, \
         oversold {} 斤",
        hot.attempts,
        hot.stock_milli / 1_000,
        hot.placed,
        hot.refused,
        hot.reserved_milli / 1_000,
        oversold
    ));
    anyhow::ensure!(
        oversold == 0,
        "the hot listing was oversold by {oversold} 斤"
    );
    Ok(())
}

/// Issue 10's targets: filing a service request against the raw insert, and a township's list
/// over 100,000 requests at half of its capacity against the same query sent raw.
async fn service_requests(
    args: &Args,
    insert: &measure::Measurement,
    report: &mut measure::Report,
) -> anyhow::Result<()> {
    let creates = requests::creates(args.db_ops / 4, args.concurrency).await?;
    report.add(
        "governance: file a service request (gRPC, villagers of 余村, row + timeline + event)",
        &creates.grpc,
    );
    report.add(
        "governance: the same filing in process (`Requests::create`, no gRPC)",
        &creates.in_process,
    );
    report.add(
        "postgres: the request's row alone (sqlx, one INSERT, the table's indexes)",
        &creates.row_alone,
    );
    report.ratio(
        "service request create / raw insert",
        creates.grpc.rate() / insert.rate(),
    );
    report.ratio(
        "service request create in process / raw insert",
        creates.in_process.rate() / insert.rate(),
    );
    report.ratio(
        "the request's row alone / raw insert",
        creates.row_alone.rate() / insert.rate(),
    );

    let listings = requests::listings(args.list_calls, args.concurrency).await?;
    report.note(format!(
        "governance: {} service requests in the table, loaded by SQL and analyzed in {:.1} s",
        listings.rows,
        listings.load.as_secs_f64()
    ));
    for (what, listing) in [
        ("newest first", &listings.newest),
        ("open ones, overdue first", &listings.inbox),
    ] {
        report.add(
            &format!("governance: a township's requests, {what}, page of 50 (gRPC)"),
            &listing.capacity,
        );
        report.add(
            &format!("governance: a township's requests, {what}, open-loop at half that rate"),
            &listing.at_half,
        );
        report.add(
            &format!("governance: the same list in process (`Requests::list`, no gRPC), {what}"),
            &listing.in_process,
        );
        report.add(
            &format!("postgres: the same query, {what}, raw (sqlx)"),
            &listing.raw_capacity,
        );
        report.add(
            &format!("postgres: the same query, {what}, raw, open-loop at half that rate"),
            &listing.raw_at_half,
        );
        if let Some(p99) = listing.at_half.percentile(0.99) {
            report.note(format!(
                "a township's requests, {what}: p99 at half capacity {:.1} ms (target < 20 ms: {})",
                p99.as_secs_f64() * 1e3,
                if p99.as_secs_f64() < 0.020 {
                    "met"
                } else {
                    "not met"
                }
            ));
        }
        report.note(format!(
            "plan of the raw query, {what}:\n    {}",
            listing.plan.join("\n    ")
        ));
    }
    Ok(())
}

/// Issue 11's target: search over a million listings, p99 under 20 ms and at most 1.5 times the
/// same searches on a bare tantivy index.
async fn market_search(args: &Args, report: &mut measure::Report) -> anyhow::Result<()> {
    let search = search::market_search(
        args.search_listings,
        args.search_ops,
        args.search_workers,
        args.rounds,
    )
    .await?;
    for (what, built) in [
        ("market index", &search.ours),
        ("bare tantivy", &search.bare),
    ] {
        report.note(format!(
            "market search, {what}: {} listings written and committed in {:.1} s \
             ({:.0} per second), merges settled {:.1} s later; {} documents in {} segments, {:.0} MB",
            search.listings,
            built.build.as_secs_f64(),
            search.listings as f64 / built.build.as_secs_f64(),
            built.settle.as_secs_f64(),
            built.docs,
            built.segments,
            built.bytes as f64 / 1e6
        ));
    }
    report.note(format!(
        "market search mix: {} terms x 8 filter patterns x 3 orders = {} searches, six facet counts \
         each; mean hits per search {:.0} (market) and {:.0} (bare), same total on {} of {}",
        search.terms,
        search.mix,
        search.ours_hits,
        search.bare_hits,
        search.same_totals,
        search.mix
    ));
    if !search.differing.is_empty() {
        let terms: Vec<String> = search
            .differing
            .iter()
            .map(|(text, count)| format!("{text:?} ({count})"))
            .collect();
        report.note(format!(
            "market search: totals differ from bare for {}",
            terms.join(", ")
        ));
    }
    report.add(
        &format!(
            "market: search, {} listings, facets (SearchIndex, {} threads)",
            search.listings, search.workers
        ),
        &search.ours_search,
    );
    report.add(
        "tantivy: the same searches, bare index, areas by facet collector",
        &search.bare_facet_search,
    );
    report.add(
        "tantivy: the same searches, bare index, areas by code column (as the market counts them)",
        &search.bare_column_search,
    );
    let p99 = |m: &measure::Measurement| m.percentile(0.99).map(|d| d.as_secs_f64());
    if let (Some(ours), Some(facet), Some(column)) = (
        p99(&search.ours_search),
        p99(&search.bare_facet_search),
        p99(&search.bare_column_search),
    ) {
        // The verdict is taken against the faster baseline.
        let bare = facet.min(column);
        let ratio = ours / bare;
        report.note(format!(
            "market search: p99 {:.1} ms; bare {:.1} ms (facet collector), {:.1} ms (code column); \
             {:.2}x and {:.2}x; target < 20 ms and <= 1.5x the faster bare: {}",
            ours * 1e3,
            facet * 1e3,
            column * 1e3,
            ours / facet,
            ours / column,
            if ours < 0.020 && ratio <= 1.5 {
                "met"
            } else {
                "not met"
            }
        ));
    }
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    report.note(format!(
        "market search, the mix once, one search at a time: p50 / p99 {:.1} / {:.1} ms (market), \
         {:.1} / {:.1} ms (bare, facet collector), {:.1} / {:.1} ms (bare, code column)",
        ms(search.alone[0].0),
        ms(search.alone[0].1),
        ms(search.alone[1].0),
        ms(search.alone[1].1),
        ms(search.alone[2].0),
        ms(search.alone[2].1),
    ));
    let slowest: Vec<String> = search
        .slowest
        .iter()
        .map(|slow| {
            format!(
                "{}: {} hits, {:.1} ms (bare {:.1} / {:.1} ms)",
                slow.search,
                slow.hits,
                ms(slow.ours),
                ms(slow.bare_facet),
                ms(slow.bare_column)
            )
        })
        .collect();
    report.note(format!(
        "market search, the slowest searches of the mix, one at a time:\n    {}",
        slowest.join("\n    ")
    ));
    report.ratio(
        "market search throughput / bare, facet collector",
        search.ours_search.rate() / search.bare_facet_search.rate(),
    );
    report.ratio(
        "market search throughput / bare, code column",
        search.ours_search.rate() / search.bare_column_search.rate(),
    );
    Ok(())
}

/// What identity's token checks and password checks cost.
async fn identity_costs(report: &mut measure::Report) -> anyhow::Result<()> {
    let verification = identity::verification(5_000).await?;
    report.add(
        "identity: token verification, first sight (Ed25519), one core",
        &verification.first_sight,
    );
    report.add(
        "identity: token verification, token seen before (cache), one core",
        &verification.repeated,
    );
    let checks = identity::password_checks(20)?;
    report.add(
        "identity: argon2id password check (19 MiB, t=2), one core",
        &checks,
    );
    report.note(format!(
        "identity: password logins per core per second, argon2 alone: {:.0}",
        checks.rate()
    ));

    Ok(())
}
