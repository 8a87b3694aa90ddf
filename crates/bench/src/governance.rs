//! Governance against its baselines: creating a resident over gRPC (GB 11643 check, AES-GCM seal,
//! keyed-hash duplicate lookup, row, state snapshot and event through the outbox) against the raw
//! single-row insert; with `--divisions <dir>`, the national import against a raw `COPY` of the
//! same rows into the same table and indexes, and division search over the national tree through
//! gRPC against the same query sent raw.

use std::time::Instant;

use futures::StreamExt as _;
use terrace_governance::Governance;
use terrace_governance::register::national_id::with_check_digit;
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use terrace_testkit::TestApp;

use crate::measure::{self, Measurement};

/// 余村, in the demonstration county every run imports.
const VILLAGE: &str = "330523108204";
/// Households the residents are spread over.
const HOUSEHOLDS: usize = 100;

/// A distinct valid national id for the `i`-th resident: a birth date per 900 residents.
fn national_id(i: usize) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default()
        + chrono::Duration::days((i / 900) as i64);
    let first17 = format!("330523{}{:03}", birth.format("%Y%m%d"), 100 + i % 900);
    with_check_digit(&first17).unwrap_or_default()
}

fn authorized<T>(
    message: T,
    header: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", header.clone());
    request
}

/// `CreateResident` over gRPC by a village official, closed-loop at `concurrency`, all in 余村
/// (one county: one audit chain).
pub(crate) async fn resident_creates(
    calls: usize,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    let app = TestApp::spawn_with(&[ServiceDef::of::<Governance>()], |settings| {
        settings.services.insert(
            "governance".into(),
            serde_json::json!({ "demo_divisions": true }),
        );
    })
    .await;
    create_residents(&app, &[VILLAGE.to_owned()], calls, concurrency).await
}

/// `CreateResident` over gRPC by an official of `villages`, closed-loop at `concurrency`, the
/// residents spread over households in each of them.
async fn create_residents(
    app: &TestApp,
    villages: &[String],
    calls: usize,
    concurrency: usize,
) -> anyhow::Result<Measurement> {
    let grants: Vec<(Role, &str)> = villages
        .iter()
        .map(|village| (Role::VillageOfficial, village.as_str()))
        .collect();
    let token = app.token(&uuid::Uuid::now_v7().to_string(), &grants);
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse()?;
    let channel = app.channel().await;
    let mut client = GovernanceServiceClient::new(channel.clone());
    let mut households = Vec::with_capacity(HOUSEHOLDS);
    for n in 0..HOUSEHOLDS {
        let household = client
            .create_household(authorized(
                pb::CreateHouseholdRequest {
                    request_id: uuid::Uuid::now_v7().to_string(),
                    household: Some(pb::Household {
                        village_code: villages[n % villages.len()].clone(),
                        household_number: format!("B-{n:04}"),
                        address: format!("{} 组", n % 12 + 1),
                        ..Default::default()
                    }),
                },
                &header,
            ))
            .await?
            .into_inner()
            .household
            .ok_or_else(|| anyhow::anyhow!("no household answered"))?;
        households.push(household.id);
    }
    let households = std::sync::Arc::new(households);
    measure::run(calls, concurrency, move |i| {
        let mut client = GovernanceServiceClient::new(channel.clone());
        let request = authorized(
            pb::CreateResidentRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                resident: Some(pb::Resident {
                    household_id: households[i % HOUSEHOLDS].clone(),
                    name: format!("村民{i}"),
                    phone_number: format!("139{:08}", i),
                    national_id: national_id(i),
                    ..Default::default()
                }),
            },
            &header,
        );
        async move {
            client.create_resident(request).await?;
            Ok(())
        }
    })
    .await
}

/// The national list imported, copied raw, and searched.
#[derive(Debug)]
pub(crate) struct NationalDivisions {
    pub(crate) rows: u64,
    pub(crate) import: std::time::Duration,
    pub(crate) copy: std::time::Duration,
    /// Reading the national list and building the search index from it, and its size.
    pub(crate) index_build: std::time::Duration,
    pub(crate) index_bytes: usize,
    /// `NameIndex::search` alone, in process, over the same queries.
    pub(crate) index_search: Measurement,
    pub(crate) search: Measurement,
    pub(crate) raw_search: Measurement,
    /// Resident creates spread over villages of eight counties (eight audit chains).
    pub(crate) creates_in_eight_counties: Measurement,
}

/// Imports the list in `dir` into a fresh governance database, copies the same rows raw into a
/// table of the same definition, then times searches by part of a name and by pinyin initials.
pub(crate) async fn national_divisions(
    dir: &std::path::Path,
    searches: usize,
    creates: usize,
    concurrency: usize,
) -> anyhow::Result<NationalDivisions> {
    let app = TestApp::spawn(&[ServiceDef::of::<Governance>()]).await;
    let db = app.ctx.database("governance").await;
    let started = Instant::now();
    let report = terrace_governance::divisions::import(
        &db,
        "terrace/governance",
        dir,
        terrace_platform::Clock::system_now(),
        |_, _| {},
    )
    .await?;
    let import = started.elapsed();

    // The same rows as the import wrote them, into the same columns and indexes, by COPY.
    let pool = db.get_postgres_connection_pool().clone();
    let mut conn = pool.acquire().await?;
    let mut rows = Vec::new();
    {
        let mut out = conn
            .copy_out_raw("COPY (SELECT * FROM divisions ORDER BY level, code) TO STDOUT")
            .await?;
        while let Some(chunk) = out.next().await {
            rows.extend_from_slice(&chunk?);
        }
    }
    sqlx::query("CREATE TABLE divisions_copy (LIKE divisions INCLUDING ALL)")
        .execute(&mut *conn)
        .await?;
    let started = Instant::now();
    let mut copy_in = conn.copy_in_raw("COPY divisions_copy FROM STDIN").await?;
    copy_in.send(rows.as_slice()).await?;
    copy_in.finish().await?;
    let copy = started.elapsed();
    drop(conn);

    // Queries as people type them: two characters of a township's or village's name, or the
    // first three pinyin initials of a township's.
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM divisions WHERE level >= 5 AND char_length(name) >= 3 \
         ORDER BY md5(code) LIMIT $1",
    )
    .bind(i64::try_from(searches * 3 / 4)?)
    .fetch_all(&pool)
    .await?;
    let initials: Vec<(String,)> = sqlx::query_as(
        "SELECT initials FROM divisions WHERE level = 5 AND char_length(initials) >= 3 \
         ORDER BY md5(code) LIMIT $1",
    )
    .bind(i64::try_from(searches / 4)?)
    .fetch_all(&pool)
    .await?;
    let queries: std::sync::Arc<Vec<String>> = std::sync::Arc::new(
        names
            .into_iter()
            .map(|(name,)| name.chars().skip(1).take(2).collect())
            .chain(
                initials
                    .into_iter()
                    .map(|(initials,)| initials.chars().take(3).collect()),
            )
            .collect(),
    );

    let started = Instant::now();
    let index =
        std::sync::Arc::new(terrace_governance::divisions::index::NameIndex::load(&db).await?);
    let index_build = started.elapsed();
    let index_bytes = index.heap_bytes();
    // The index alone, in process: what a search costs before the database and gRPC.
    let index_search = {
        let (index, queries) = (index.clone(), queries.clone());
        measure::run(queries.len(), 1, move |i| {
            use terrace_governance::divisions::index::{Matching, Query};
            let text = &queries[i];
            let lower = text.to_ascii_lowercase();
            let matching = if lower.chars().all(|c| c.is_ascii_alphanumeric()) {
                Matching::Initials(&lower)
            } else {
                Matching::Name(text)
            };
            let found = index.search(&Query {
                matching,
                within: None,
                level: None,
                offset: 0,
                limit: 51,
            });
            std::hint::black_box(found);
            async { Ok(()) }
        })
        .await?
    };
    drop(index);
    // The import's 665,000 snapshots are still being published: the searches below wait for the
    // relay to finish, so that they measure search and not the relay beside it.
    let drained = Instant::now();
    loop {
        let (pending,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM outbox WHERE parked_at IS NULL")
                .fetch_one(&pool)
                .await?;
        if pending == 0 || drained.elapsed() > std::time::Duration::from_secs(600) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    let token = app.token(
        &uuid::Uuid::now_v7().to_string(),
        &[(Role::Farmer, VILLAGE)],
    );
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse()?;
    let channel = app.channel().await;
    // Untimed: the first search after the import waits for the service's index to be rebuilt.
    GovernanceServiceClient::new(channel.clone())
        .search_divisions(authorized(
            pb::SearchDivisionsRequest {
                query: queries[0].clone(),
                ..Default::default()
            },
            &header,
        ))
        .await?;
    let search = {
        let queries = queries.clone();
        measure::run(queries.len(), 1, move |i| {
            let mut client = GovernanceServiceClient::new(channel.clone());
            let request = authorized(
                pb::SearchDivisionsRequest {
                    query: queries[i].clone(),
                    ..Default::default()
                },
                &header,
            );
            async move {
                client.search_divisions(request).await?;
                Ok(())
            }
        })
        .await?
    };
    let raw_search = {
        let (queries, pool) = (queries.clone(), pool.clone());
        measure::run(queries.len(), 1, move |i| {
            let (pool, text) = (pool.clone(), queries[i].clone());
            async move {
                let latin = text.chars().all(|c| c.is_ascii_alphabetic());
                let rows = if latin {
                    sqlx::query(
                        "SELECT * FROM divisions WHERE active AND initials LIKE $1 \
                         ORDER BY level, code LIMIT 51",
                    )
                    .bind(format!("{text}%"))
                    .fetch_all(&pool)
                    .await?
                } else {
                    sqlx::query(
                        "SELECT * FROM divisions WHERE active AND name LIKE $1 \
                         ORDER BY name = $2 DESC, name LIKE $3 DESC, level, code LIMIT 51",
                    )
                    .bind(format!("%{text}%"))
                    .bind(&text)
                    .bind(format!("{text}%"))
                    .fetch_all(&pool)
                    .await?
                };
                drop(rows);
                Ok(())
            }
        })
        .await?
    };
    // One village in each of eight counties of 浙江省, so that the creates append to eight chains.
    let villages: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT ON (left(code, 6)) code FROM divisions \
         WHERE level = 6 AND code LIKE '33%' ORDER BY left(code, 6), code LIMIT 8",
    )
    .fetch_all(&pool)
    .await?;
    let villages: Vec<String> = villages.into_iter().map(|(code,)| code).collect();
    let creates_in_eight_counties = create_residents(&app, &villages, creates, concurrency).await?;
    Ok(NationalDivisions {
        creates_in_eight_counties,
        rows: report.read,
        import,
        copy,
        index_build,
        index_bytes,
        index_search,
        search,
        raw_search,
    })
}
