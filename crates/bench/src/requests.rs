//! Service requests against their baselines (issue 10's targets): villagers filing
//! `CreateServiceRequest` over gRPC against the raw single-row insert, with the same filing in
//! process (`Requests::create`, no gRPC) and the request's row inserted alone to say where the time
//! goes; and a township's `ListServiceRequests` over 100,000 requests, closed-loop and open-loop at
//! half that rate, against the same query sent raw.

use std::sync::Arc;

use terrace_governance::Governance;
use terrace_governance::requests::Requests;
use terrace_governance::requests::parse::{CreateServiceRequest, ListServiceRequests};
use terrace_platform::auth::{AdminScope, Caller, Principal, PrincipalKind, Role, RoleGrant};
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use terrace_testkit::TestApp;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::measure::{self, Measurement};

/// 余村, where the villagers file.
const VILLAGE: &str = "330523108204";
/// Its township, whose list is read.
const TOWNSHIP: &str = "330523108";
/// The demonstration county (安吉县).
const COUNTY: &str = "330523";
/// Villagers the filings are spread over, each with a token of their own.
const VILLAGERS: usize = 50;
/// Requests in the table when a township's list is read.
const LISTED_ROWS: i64 = 100_000;
/// The page an official's screen asks for.
const PAGE_SIZE: i32 = 50;

/// The creates of one service: over gRPC, in process, and the row alone.
#[derive(Debug)]
pub(crate) struct Creates {
    pub(crate) grpc: Measurement,
    pub(crate) in_process: Measurement,
    pub(crate) row_alone: Measurement,
}

/// One list variant: through gRPC closed-loop and at half that rate, and the raw query likewise.
#[derive(Debug)]
pub(crate) struct Listing {
    pub(crate) capacity: Measurement,
    pub(crate) at_half: Measurement,
    pub(crate) raw_capacity: Measurement,
    pub(crate) raw_at_half: Measurement,
    /// `Requests::list` in process (no gRPC), closed-loop: the three queries and the rows made
    /// into messages.
    pub(crate) in_process: Measurement,
    /// `EXPLAIN (ANALYZE, BUFFERS)` of the raw query, once, after the measurements.
    pub(crate) plan: Vec<String>,
}

/// The township's newest requests, and its officials' inbox (open ones, overdue first).
#[derive(Debug)]
pub(crate) struct Listings {
    pub(crate) rows: i64,
    pub(crate) load: std::time::Duration,
    pub(crate) newest: Listing,
    pub(crate) inbox: Listing,
}

pub(crate) fn header(token: &str) -> anyhow::Result<MetadataValue<Ascii>> {
    Ok(format!("Bearer {token}").parse()?)
}

pub(crate) fn authorized<T>(message: T, header: &MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", header.clone());
    request
}

/// Governance with the demonstration county, as the tests start it.
async fn governance() -> TestApp {
    TestApp::spawn_with(&[ServiceDef::of::<Governance>()], |settings| {
        settings.services.insert(
            "governance".into(),
            serde_json::json!({ "demo_divisions": true }),
        );
    })
    .await
}

/// A request type of the township (a broken well: 48 hours, one number field), created by one of
/// its officials over gRPC.
async fn well_type(app: &TestApp, channel: &Channel) -> anyhow::Result<String> {
    let official = header(&app.token(
        &uuid::Uuid::now_v7().to_string(),
        &[(Role::TownshipOfficial, TOWNSHIP)],
    ))?;
    let created = GovernanceServiceClient::new(channel.clone())
        .create_request_type(authorized(
            pb::CreateRequestTypeRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                request_type: Some(pb::RequestType {
                    area: Some(AdminScope::parse(TOWNSHIP)?.to_proto()),
                    code: "well".into(),
                    name: zh("水井损坏"),
                    group: "water".into(),
                    fields: vec![pb::RequestFieldDefinition {
                        key: "well_number".into(),
                        label: zh("水井编号"),
                        r#type: pb::RequestFieldType::Number as i32,
                        required: true,
                        min_value: "1".into(),
                        max_value: "99".into(),
                        ..Default::default()
                    }],
                    responsible_role: terrace_proto::identity::v1::Role::VillageOfficial as i32,
                    sla_hours: 48,
                    ..Default::default()
                }),
            },
            &official,
        ))
        .await?
        .into_inner()
        .request_type
        .ok_or_else(|| anyhow::anyhow!("no request type answered"))?;
    Ok(created.id)
}

fn zh(text: &str) -> Option<common::LocalizedText> {
    Some(common::LocalizedText {
        translations: [("zh-CN".to_owned(), text.to_owned())].into(),
    })
}

/// A villager's report of a broken well in 余村, as the farmer app files it.
fn broken_well(type_id: &str, i: usize) -> pb::CreateServiceRequestRequest {
    pb::CreateServiceRequestRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        service_request: Some(pb::ServiceRequest {
            type_id: type_id.to_owned(),
            village_code: VILLAGE.to_owned(),
            description: "三组村口的水井抽不上水了".into(),
            location: Some(pb::RequestLocation {
                point: Some(common::GeoPoint {
                    latitude: 30.5231,
                    longitude: 119.6102,
                }),
                address: "三组 村口桥边".into(),
            }),
            field_values: [("well_number".to_owned(), (1 + i % 99).to_string())].into(),
            ..Default::default()
        }),
        on_behalf_of_user_id: String::new(),
    }
}

/// A villager of 余村 as the service sees them after verifying their token.
fn villager(id: uuid::Uuid) -> anyhow::Result<Caller> {
    Ok(Caller::User(Principal {
        subject: id.to_string(),
        kind: PrincipalKind::User,
        grants: vec![RoleGrant::new(Role::Resident, AdminScope::parse(VILLAGE)?)?],
        api_scopes: Vec::new(),
        actor: None,
        token_id: String::new(),
        expires_at: terrace_platform::Clock::system_now() + chrono::Duration::hours(1),
    }))
}

/// An official of the township as the service sees them after verifying their token.
fn official_caller() -> anyhow::Result<Caller> {
    Ok(Caller::User(Principal {
        subject: uuid::Uuid::now_v7().to_string(),
        kind: PrincipalKind::User,
        grants: vec![RoleGrant::new(
            Role::TownshipOfficial,
            AdminScope::parse(TOWNSHIP)?,
        )?],
        api_scopes: Vec::new(),
        actor: None,
        token_id: String::new(),
        expires_at: terrace_platform::Clock::system_now() + chrono::Duration::hours(1),
    }))
}

/// Villagers of 余村 filing requests, closed-loop at `concurrency`: over gRPC, then the same
/// filing through `Requests::create` in process, then the request's row alone (one `INSERT` of
/// the same columns through sqlx).
pub(crate) async fn creates(calls: usize, concurrency: usize) -> anyhow::Result<Creates> {
    let app = governance().await;
    let channel = app.channel().await;
    let type_id = Arc::new(well_type(&app, &channel).await?);

    let headers: Arc<Vec<MetadataValue<Ascii>>> = Arc::new(
        (0..VILLAGERS)
            .map(|_| {
                header(&app.token(
                    &uuid::Uuid::now_v7().to_string(),
                    &[(Role::Resident, VILLAGE)],
                ))
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let grpc = {
        let (channel, type_id) = (channel.clone(), type_id.clone());
        measure::run(calls, concurrency, move |i| {
            let mut client = GovernanceServiceClient::new(channel.clone());
            let request = authorized(broken_well(&type_id, i), &headers[i % VILLAGERS]);
            async move {
                client.create_service_request(request).await?;
                Ok(())
            }
        })
        .await?
    };

    let db = app.ctx.database("governance").await;
    let clock = app.clock.clock();
    let photos = terrace_photos::Photos::new("governance", &app.settings.photos, clock.clone())?;
    let requests = Requests::new(db.clone(), "terrace/governance".to_owned(), clock, photos);
    let callers: Arc<Vec<Caller>> = Arc::new(
        (0..VILLAGERS)
            .map(|_| villager(uuid::Uuid::now_v7()))
            .collect::<anyhow::Result<_>>()?,
    );
    let in_process = {
        let type_id = type_id.clone();
        measure::run(calls, concurrency, move |i| {
            let (requests, callers) = (requests.clone(), callers.clone());
            let command = CreateServiceRequest::parse(broken_well(&type_id, i));
            async move {
                requests.create(&callers[i % VILLAGERS], command?).await?;
                Ok(())
            }
        })
        .await?
    };

    // The row as the create writes it, alone: what the table and its six indexes cost.
    let pool = db.get_postgres_connection_pool().clone();
    let type_uuid = uuid::Uuid::parse_str(&type_id)?;
    let row_alone = measure::run(calls, concurrency, move |i| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO service_requests (id, reference, type_id, village_code, description, \
                 latitude, longitude, address, field_values, requester_user_id, contact_name, \
                 contact_phone, filed_by, on_behalf_consent, channel, status, priority, due_at, \
                 escalation_level, responsible_area, rating, rating_comment, reopen_count, \
                 version, created_key, created_request_id, created_at, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, '三组村口的水井抽不上水了', 30.5231, 119.6102, \
                 '三组 村口桥边', $5, $6, '', '', '\\x0a00'::bytea, '', 1, 1, 2, \
                 now() + interval '48 hours', 0, $4, 0, '', 0, 1, $7, $8, now(), now(), \
                 '\\x0a00'::bytea)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(format!("B-{i:08}"))
            .bind(type_uuid)
            .bind(VILLAGE)
            .bind(serde_json::json!({ "well_number": 1 + i % 99 }))
            .bind(uuid::Uuid::now_v7())
            .bind(format!("bench-{}", i % VILLAGERS))
            .bind(uuid::Uuid::now_v7())
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await?;
    Ok(Creates {
        grpc,
        in_process,
        row_alone,
    })
}

/// 100,000 requests over the villages of the demonstration county, a year of them, loaded by
/// SQL; then a township's list read by its official over gRPC and the same query sent raw.
pub(crate) async fn listings(calls: usize, concurrency: usize) -> anyhow::Result<Listings> {
    let app = governance().await;
    let channel = app.channel().await;
    let type_id = uuid::Uuid::parse_str(&well_type(&app, &channel).await?)?;
    let db = app.ctx.database("governance").await;
    let pool = db.get_postgres_connection_pool().clone();
    let clock = app.clock.clock();
    let photos = terrace_photos::Photos::new("governance", &app.settings.photos, clock.clone())?;
    let requests = Requests::new(db.clone(), "terrace/governance".to_owned(), clock, photos);

    // Requests arrive in time order with the county's villages interleaved, one every 315 s (a
    // year for 100,000). The newest 1,000 are still open, and one in twenty older ones (the
    // backlog, overdue); the rest closed, resolved or rejected. Ids are random (PostgreSQL 15 has
    // no UUIDv7), which only costs the load.
    let started = std::time::Instant::now();
    sqlx::query(
        "WITH villages AS ( \
             SELECT array_agg(code ORDER BY code) AS codes FROM divisions \
             WHERE level = 6 AND left(code, 6) = $3), \
         generated AS ( \
             SELECT g, codes[1 + (g * 7919) % cardinality(codes)] AS village, \
                    $2::timestamptz - g * interval '315 seconds' AS at, \
                    CASE WHEN g <= 1000 OR g % 20 = 0 THEN (ARRAY[1, 2, 3, 7])[1 + g % 4] \
                         WHEN g % 7 = 0 THEN 4 WHEN g % 11 = 0 THEN 6 ELSE 5 END AS status \
             FROM villages, generate_series(1, $4) AS g) \
         INSERT INTO service_requests (id, reference, type_id, village_code, description, \
             latitude, longitude, address, field_values, requester_user_id, contact_name, \
             contact_phone, filed_by, on_behalf_consent, channel, status, priority, due_at, \
             escalation_level, responsible_area, rating, rating_comment, reopen_count, \
             resolved_at, closed_at, version, created_key, created_request_id, created_at, \
             updated_at, updated_by) \
         SELECT gen_random_uuid(), 'B-' || lpad(g::text, 8, '0'), $1, village, \
             '三组村口的水井抽不上水了', 30.5231, 119.6102, '三组 村口桥边', \
             jsonb_build_object('well_number', (1 + g % 99)::text), gen_random_uuid(), '', '', \
             '\\x0a00'::bytea, '', 1, status::smallint, 2, at + interval '48 hours', 0, village, \
             CASE WHEN status IN (4, 5) THEN 1 + g % 5 ELSE 0 END, '', 0, \
             CASE WHEN status IN (4, 5) THEN at + interval '30 hours' END, \
             CASE WHEN status = 5 THEN at + interval '10 days' END, \
             CASE WHEN status IN (1, 2, 3, 7) THEN 2 ELSE 4 END, 'bench', gen_random_uuid(), \
             at, at + interval '30 hours', '\\x0a00'::bytea \
         FROM generated",
    )
    .bind(type_id)
    .bind(app.clock.now())
    .bind(COUNTY)
    .bind(LISTED_ROWS)
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE service_requests")
        .execute(&pool)
        .await?;
    let load = started.elapsed();
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM service_requests")
        .fetch_one(&pool)
        .await?;

    let official = header(&app.token(
        &uuid::Uuid::now_v7().to_string(),
        &[(Role::TownshipOfficial, TOWNSHIP)],
    ))?;
    let newest = pb::ListServiceRequestsRequest {
        page: Some(common::PageRequest {
            page_size: PAGE_SIZE,
            page_token: String::new(),
        }),
        area: Some(AdminScope::parse(TOWNSHIP)?.to_proto()),
        ..Default::default()
    };
    let inbox = pb::ListServiceRequestsRequest {
        statuses: vec![
            pb::ServiceRequestStatus::Submitted as i32,
            pb::ServiceRequestStatus::Acknowledged as i32,
            pb::ServiceRequestStatus::InProgress as i32,
            pb::ServiceRequestStatus::Reopened as i32,
        ],
        order_by: pb::ServiceRequestOrder::DueTimeAsc as i32,
        ..newest.clone()
    };
    // The queries `store::list` sends for these two pages (sea-orm names every column; `*` here
    // adds the two generated codes).
    let newest_sql = "SELECT * FROM service_requests WHERE township_code = $1 \
                      ORDER BY created_at DESC, id DESC LIMIT 51";
    let inbox_sql = "SELECT * FROM service_requests WHERE township_code = $1 \
                     AND status IN (1, 2, 3, 7) \
                     ORDER BY due_at ASC NULLS LAST, id ASC LIMIT 51";
    let lists = Lists {
        channel: &channel,
        official: &official,
        pool: &pool,
        requests: &requests,
        calls,
        concurrency,
    };
    let newest = lists.measure(newest, newest_sql).await?;
    let inbox = lists.measure(inbox, inbox_sql).await?;
    Ok(Listings {
        rows,
        load,
        newest,
        inbox,
    })
}

/// What the list measurements share.
struct Lists<'a> {
    channel: &'a Channel,
    official: &'a MetadataValue<Ascii>,
    pool: &'a sqlx::PgPool,
    requests: &'a Requests,
    calls: usize,
    concurrency: usize,
}

impl Lists<'_> {
    /// One page of the township's list: over gRPC closed-loop, then open-loop at half that rate;
    /// the raw query the same two ways; in process; then the raw query's plan.
    async fn measure(
        &self,
        request: pb::ListServiceRequestsRequest,
        sql: &'static str,
    ) -> anyhow::Result<Listing> {
        let Self {
            channel,
            official,
            pool,
            calls,
            concurrency,
            ..
        } = *self;
        let in_process = {
            let requests = self.requests.clone();
            let caller = official_caller()?;
            let request = request.clone();
            move |_: usize| {
                let (requests, caller) = (requests.clone(), caller.clone());
                let query = ListServiceRequests::parse(request.clone());
                async move {
                    let page = requests.list(&caller, query?).await?;
                    anyhow::ensure!(page.service_requests.len() == PAGE_SIZE as usize);
                    Ok(())
                }
            }
        };
        let list = {
            let (channel, official) = (channel.clone(), official.clone());
            move |_: usize| {
                let mut client = GovernanceServiceClient::new(channel.clone());
                let request = authorized(request.clone(), &official);
                async move {
                    let page = client.list_service_requests(request).await?.into_inner();
                    anyhow::ensure!(
                        page.service_requests.len() == PAGE_SIZE as usize,
                        "a page of {} requests",
                        page.service_requests.len()
                    );
                    Ok(())
                }
            }
        };
        let raw = {
            let pool = pool.clone();
            move |_: usize| {
                let pool = pool.clone();
                async move {
                    let rows = sqlx::query(sql).bind(TOWNSHIP).fetch_all(&pool).await?;
                    anyhow::ensure!(rows.len() == 51, "{} rows", rows.len());
                    Ok(())
                }
            }
        };
        // Untimed: the first calls warm the connection, the token cache and the table's pages.
        measure::run(concurrency * 4, concurrency, list.clone()).await?;
        measure::run(concurrency * 4, concurrency, raw.clone()).await?;
        let capacity = measure::run(calls, concurrency, list.clone()).await?;
        let at_half = measure::open_loop(calls, capacity.rate() / 2.0, list).await?;
        let raw_capacity = measure::run(calls, concurrency, raw.clone()).await?;
        let raw_at_half = measure::open_loop(calls, raw_capacity.rate() / 2.0, raw).await?;
        let in_process = measure::run(calls, concurrency, in_process).await?;
        let plan: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN (ANALYZE, BUFFERS) {sql}"
        )))
        .bind(TOWNSHIP)
        .fetch_all(pool)
        .await?;
        Ok(Listing {
            capacity,
            at_half,
            raw_capacity,
            raw_at_half,
            in_process,
            plan: plan.into_iter().map(|(line,)| line).collect(),
        })
    }
}
