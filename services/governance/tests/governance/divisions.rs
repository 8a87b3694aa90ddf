//! The division import: the committed county slice loads whole, a re-import changes nothing and
//! publishes nothing, a renamed or added division is written and published once.

use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
};
use terrace_governance::Governance;
use terrace_governance::divisions::{self, ImportReport};
use terrace_governance::entity::divisions::{Column, Entity as Divisions, Level};
use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;

/// The rows of each file of the fixture, header excluded.
fn rows_in(dir: &std::path::Path, name: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join(format!("{name}.csv"))).unwrap();
    text.lines().skip(1).filter(|line| !line.is_empty()).count() as u64
}

async fn import(db: &sea_orm::DatabaseConnection, dir: &std::path::Path) -> ImportReport {
    let mut last = (0, 0);
    let report = divisions::import(
        db,
        "terrace/governance",
        dir,
        terrace_platform::Clock::system_now(),
        |done, total| last = (done, total),
    )
    .await
    .unwrap();
    assert_eq!(last.0, last.1, "progress ends at the total");
    report
}

#[tokio::test]
async fn the_county_slice_imports_whole_and_a_reimport_changes_nothing() {
    let app = TestApp::spawn(&[ServiceDef::of::<Governance>()]).await;
    let db = app.ctx.database("governance").await;
    let dir = crate::anji();
    let files = ["provinces", "cities", "areas", "streets", "villages"];
    let expected: u64 = files.iter().map(|name| rows_in(&dir, name)).sum();

    let first = import(&db, &dir).await;
    assert_eq!(first.read, expected);
    // The planner has statistics at once (a fresh bulk load has none).
    let analyzed = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables \
             WHERE relname = 'divisions'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(analyzed.try_get::<bool>("", "analyzed").unwrap());
    assert_eq!(first.skipped, Vec::<String>::new());
    assert_eq!(first.added, expected);
    assert_eq!(first.changed, 0);
    assert_eq!(Divisions::find().count(&db).await.unwrap(), expected);
    assert_eq!(
        Divisions::find()
            .filter(Column::Level.eq(Level::Village))
            .count(&db)
            .await
            .unwrap(),
        rows_in(&dir, "villages")
    );
    let village = Divisions::find_by_id("330523108204")
        .one(&db)
        .await
        .unwrap()
        .expect("余村 imported");
    assert_eq!(village.parent_code.as_deref(), Some("330523108"));
    assert_eq!(village.level, Level::Village);
    assert!(
        village
            .full_name
            .starts_with("浙江省 湖州市 安吉县 天荒坪镇 "),
        "{}",
        village.full_name
    );
    assert!(village.full_name.ends_with(&village.name));
    assert!(village.initials.starts_with("yc"), "{}", village.initials);
    let events =
        terrace_testkit::events::published(&app, "governance", "governance.division.changed").await;
    assert_eq!(events as u64, first.events);
    // One event per level's batch of at most 1000 rows.
    assert_eq!(first.events, files.len() as u64);
    // And every division's state on the state stream, one subject each.
    assert_eq!(
        terrace_testkit::events::published(&app, "governance", "state.governance.division.>").await
            as u64,
        expected
    );
    assert_eq!(
        terrace_testkit::events::published(
            &app,
            "governance",
            "state.governance.division.330523108204"
        )
        .await,
        1
    );

    let again = import(&db, &dir).await;
    assert_eq!((again.added, again.changed, again.events), (0, 0, 0));
    assert_eq!(Divisions::find().count(&db).await.unwrap(), expected);
    assert_eq!(
        terrace_testkit::events::published(&app, "governance", "governance.division.changed").await,
        events,
        "a re-import of the same list publishes nothing"
    );
}

#[tokio::test]
async fn a_renamed_and_an_added_division_are_written_and_published_once() {
    let app = TestApp::spawn(&[ServiceDef::of::<Governance>()]).await;
    let db = app.ctx.database("governance").await;
    let source = crate::anji();
    import(&db, &source).await;
    let before =
        terrace_testkit::events::published(&app, "governance", "governance.division.changed").await;

    // The next list renames 余村 and adds a village to 天荒坪镇.
    let dir = next_list(&app.ctx.id, &source);
    let villages = std::fs::read_to_string(source.join("villages.csv")).unwrap();
    let old_name = village_name(&villages, "330523108204");
    let villages = villages.replace(&format!("\"{old_name}\""), "\"余村（新）\"")
        + "330523108999,\"新设村\",330523108,33,3305,330523\n";
    std::fs::write(dir.join("villages.csv"), villages).unwrap();

    // Searched once before, so that the search index is built at the old list.
    assert!(
        searched(&app, &old_name)
            .await
            .contains(&"330523108204".to_owned())
    );
    let report = import(&db, &dir).await;
    assert_eq!((report.added, report.changed, report.events), (1, 1, 1));
    // The next search sees the new list at once.
    assert_eq!(searched(&app, "余村（新）").await, ["330523108204"]);
    assert_eq!(searched(&app, "新设村").await, ["330523108999"]);
    assert!(
        !searched(&app, &old_name)
            .await
            .contains(&"330523108204".to_owned())
    );
    let renamed = Divisions::find_by_id("330523108204")
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "余村（新）");
    assert!(renamed.full_name.ends_with(" 余村（新）"));
    assert!(
        Divisions::find_by_id("330523108999")
            .one(&db)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        terrace_testkit::events::published(&app, "governance", "governance.division.changed").await,
        before + 1
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A complete list that no longer names a village retires it (inactive, published, out of
/// search); a later list naming it again brings it back.
#[tokio::test]
async fn a_complete_list_retires_what_it_no_longer_names() {
    let app = TestApp::spawn(&[ServiceDef::of::<Governance>()]).await;
    let db = app.ctx.database("governance").await;
    let source = crate::anji();
    import(&db, &source).await;
    let before =
        terrace_testkit::events::published(&app, "governance", "governance.division.changed").await;

    let dir = next_list(&app.ctx.id, &source);
    let villages = std::fs::read_to_string(source.join("villages.csv")).unwrap();
    let without: String = villages
        .lines()
        .filter(|line| !line.starts_with("330523108201,"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(dir.join("villages.csv"), without).unwrap();
    let complete = |dir: std::path::PathBuf| {
        let db = db.clone();
        async move {
            divisions::import_complete(
                &db,
                "terrace/governance",
                &dir,
                terrace_platform::Clock::system_now(),
                |_, _| {},
            )
            .await
            .unwrap()
        }
    };
    let retiring = village_name(&villages, "330523108201");
    assert!(
        searched(&app, &retiring)
            .await
            .contains(&"330523108201".to_owned())
    );
    let report = complete(dir.clone()).await;
    assert_eq!((report.added, report.changed, report.retired), (0, 0, 1));
    assert!(
        !searched(&app, &retiring)
            .await
            .contains(&"330523108201".to_owned())
    );
    let retired = Divisions::find_by_id("330523108201")
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(!retired.active);
    assert_eq!(
        terrace_testkit::events::published(&app, "governance", "governance.division.changed").await,
        before + 1
    );
    // Back in the next list: active again, and published.
    let report = complete(source.clone()).await;
    assert_eq!((report.changed, report.retired), (1, 0));
    assert!(
        Divisions::find_by_id("330523108201")
            .one(&db)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    assert_eq!(
        terrace_testkit::events::published(&app, "governance", "governance.division.changed").await,
        before + 2
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_directory_without_the_list_is_refused_and_changes_nothing() {
    let app = TestApp::spawn(&[ServiceDef::of::<Governance>()]).await;
    let db = app.ctx.database("governance").await;
    let dir = tempdir(&app.ctx.id);
    std::fs::copy(
        crate::anji().join("provinces.csv"),
        dir.join("provinces.csv"),
    )
    .unwrap();
    let error = divisions::import(
        &db,
        "terrace/governance",
        &dir,
        terrace_platform::Clock::system_now(),
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(format!("{error:#}").contains("cities.csv"), "{error:#}");
    assert_eq!(Divisions::find().count(&db).await.unwrap(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A directory for the next list: the levels above villages copied from `source`; the test
/// writes its own `villages.csv`.
fn next_list(id: &str, source: &std::path::Path) -> std::path::PathBuf {
    let dir = tempdir(id);
    for name in ["provinces", "cities", "areas", "streets"] {
        std::fs::copy(
            source.join(format!("{name}.csv")),
            dir.join(format!("{name}.csv")),
        )
        .unwrap();
    }
    dir
}

/// The name of the village `code` in the text of a `villages.csv`.
fn village_name(villages: &str, code: &str) -> String {
    villages
        .lines()
        .find(|line| line.starts_with(&format!("{code},")))
        .and_then(|line| line.split(',').nth(1))
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

/// The codes `SearchDivisions` finds for `query`, asked over gRPC as a farmer.
async fn searched(app: &TestApp, query: &str) -> Vec<String> {
    use terrace_proto::governance::v1 as pb;
    let token = app.token(
        "farmer-1",
        &[(terrace_platform::auth::Role::Farmer, "330523108204")],
    );
    let mut client =
        pb::governance_service_client::GovernanceServiceClient::new(app.channel().await);
    client
        .search_divisions(app.request(
            pb::SearchDivisionsRequest {
                query: query.to_owned(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .divisions
        .into_iter()
        .map(|d| d.code.unwrap().code)
        .collect()
}

fn tempdir(id: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("terrace-divisions-{id}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

mod rpc {
    use terrace_governance::Governance;
    use terrace_platform::auth::{AdminScope, Role};
    use terrace_platform::service::ServiceDef;
    use terrace_proto::common::v1::{AdminCode, PageRequest};
    use terrace_proto::governance::v1 as pb;
    use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
    use terrace_testkit::TestApp;
    use tonic::Code;
    use tonic::transport::Channel;
    use tonic_types::StatusExt as _;

    fn code(prefix: &str) -> Option<AdminCode> {
        Some(AdminScope::parse(prefix).unwrap().to_proto())
    }

    fn names(divisions: &[pb::Division]) -> Vec<&str> {
        divisions.iter().map(|d| d.name.as_str()).collect()
    }

    /// A governance service with the county slice imported, a client and a farmer's token.
    async fn county() -> (TestApp, GovernanceServiceClient<Channel>, String) {
        let app = TestApp::spawn(&[ServiceDef::of::<Governance>()]).await;
        let db = app.ctx.database("governance").await;
        super::import(&db, &crate::anji()).await;
        let token = app.token("farmer-1", &[(Role::Farmer, "330523108204")]);
        let client = GovernanceServiceClient::new(app.channel().await);
        (app, client, token)
    }

    fn violations(status: &tonic::Status) -> Vec<String> {
        status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_division_its_children_and_its_ancestors() {
        let (app, mut client, token) = county().await;
        let village = client
            .get_division(app.request(
                pb::GetDivisionRequest {
                    code: code("330523108204"),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .division
            .unwrap();
        assert_eq!(village.code.as_ref().unwrap().code, "330523108204");
        assert_eq!(village.parent_code.as_ref().unwrap().code, "330523108000");
        assert!(
            village
                .full_name
                .starts_with("浙江省 湖州市 安吉县 天荒坪镇 ")
        );
        assert_eq!(village.child_count, 0);
        assert!(village.active);

        let villages_of_township = std::fs::read_to_string(crate::anji().join("villages.csv"))
            .unwrap()
            .lines()
            .filter(|line| line.contains(",330523108,"))
            .count();
        let township = client
            .get_division(app.request(
                pb::GetDivisionRequest {
                    code: code("330523108"),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .division
            .unwrap();
        assert_eq!(township.child_count as usize, villages_of_township);

        let ancestors = client
            .get_division_ancestors(app.request(
                pb::GetDivisionAncestorsRequest {
                    code: code("330523108204"),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .ancestors;
        assert_eq!(
            names(&ancestors),
            ["浙江省", "湖州市", "安吉县", "天荒坪镇"]
        );

        // The country's children are the provinces; a county's are its townships, paged by code.
        let provinces = client
            .list_child_divisions(app.request(
                pb::ListChildDivisionsRequest {
                    parent_code: code(""),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(names(&provinces.divisions), ["浙江省"]);
        let mut seen = Vec::new();
        let mut token_of_page = String::new();
        loop {
            let page = client
                .list_child_divisions(app.request(
                    pb::ListChildDivisionsRequest {
                        parent_code: code("330523"),
                        page: Some(PageRequest {
                            page_size: 4,
                            page_token: token_of_page,
                        }),
                        include_inactive: false,
                    },
                    &token,
                ))
                .await
                .unwrap()
                .into_inner();
            assert!(page.divisions.len() <= 4);
            seen.extend(page.divisions.into_iter().map(|d| d.code.unwrap().code));
            token_of_page = page.page.unwrap().next_page_token;
            if token_of_page.is_empty() {
                break;
            }
        }
        let townships = std::fs::read_to_string(crate::anji().join("streets.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .count();
        assert_eq!(seen.len(), townships);
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "by code, no repeats: {seen:?}"
        );
    }

    #[tokio::test]
    async fn search_by_part_of_a_name_or_by_pinyin_initials() {
        let (app, mut client, token) = county().await;
        let search = |query: &str, within: &str, level: i32| {
            app.request(
                pb::SearchDivisionsRequest {
                    query: query.to_owned(),
                    within: (!within.is_empty()).then(|| code(within)).flatten(),
                    level,
                    page: None,
                },
                &token,
            )
        };
        let found = client
            .search_divisions(search("天荒坪", "", 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            found.divisions[0].name,
            "天荒坪镇",
            "{:?}",
            names(&found.divisions)
        );
        let found = client
            .search_divisions(search("THP", "", 0))
            .await
            .unwrap()
            .into_inner();
        assert!(
            names(&found.divisions).contains(&"天荒坪镇"),
            "{:?}",
            names(&found.divisions)
        );
        // Villages only, only inside the township.
        let village = terrace_proto::common::v1::AdminLevel::Village as i32;
        let found = client
            .search_divisions(search("村", "330523108", village))
            .await
            .unwrap()
            .into_inner();
        assert!(!found.divisions.is_empty());
        assert!(found.divisions.iter().all(|d| {
            let code = &d.code.as_ref().unwrap().code;
            code.starts_with("330523108") && code.len() == 12 && !code.ends_with("000")
        }));
        // LIKE's wildcards are text, not patterns.
        let found = client
            .search_divisions(search("%", "", 0))
            .await
            .unwrap()
            .into_inner();
        assert!(found.divisions.is_empty());
    }

    #[tokio::test]
    async fn bad_requests_are_refused_field_by_field() {
        let (app, mut client, token) = county().await;
        let status = client
            .get_division(app.request(
                pb::GetDivisionRequest {
                    code: Some(AdminCode {
                        code: "33052310820".into(),
                        level: 6,
                    }),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status), ["code.code"]);

        let status = client
            .search_divisions(app.request(
                pb::SearchDivisionsRequest {
                    query: "  ".into(),
                    level: terrace_proto::common::v1::AdminLevel::Country as i32,
                    page: Some(PageRequest {
                        page_size: -1,
                        page_token: "x".into(),
                    }),
                    within: None,
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            violations(&status),
            ["query", "level", "page.page_size", "page.page_token"]
        );

        let status = client
            .get_division(app.request(
                pb::GetDivisionRequest {
                    code: code("330523108999"),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound);

        let status = client
            .list_child_divisions(tonic::Request::new(pb::ListChildDivisionsRequest {
                parent_code: code("330523"),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
}

/// `terrace dev --demo`: the county is there at start, and a restart adds nothing.
#[tokio::test]
async fn the_demo_county_is_imported_at_start_once() {
    let app = TestApp::spawn_with(&[ServiceDef::of::<Governance>()], |settings| {
        settings.services.insert(
            "governance".into(),
            serde_json::json!({
                "demo_divisions": true,
                "demo_register": true,
                "demo_request_types": true,
            }),
        );
    })
    .await;
    let db = app.ctx.database("governance").await;
    let villages = rows_in(&crate::anji(), "villages");
    assert_eq!(
        Divisions::find()
            .filter(Column::Level.eq(Level::Village))
            .count(&db)
            .await
            .unwrap(),
        villages
    );
    let added = terrace_governance::demo::create_demo_divisions(
        &db,
        "terrace/governance",
        terrace_platform::Clock::system_now(),
    )
    .await
    .unwrap();
    assert_eq!(added, 0, "the county was there: nothing is added");
    // And 余村's demonstration register, once.
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            use sea_orm::ConnectionTrait as _;
            db.query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
        }
    };
    let households = "SELECT count(*) AS n FROM households WHERE village_code = '330523108204'";
    let residents = "SELECT count(*) AS n FROM residents WHERE national_id_hash IS NOT NULL";
    assert_eq!((count(households).await, count(residents).await), (3, 6));
    let register = terrace_governance::register::Register::new(
        db.clone(),
        "terrace/governance".into(),
        terrace_platform::Clock::system(),
        terrace_governance::register::sealing::Sealer::new(&Default::default()).unwrap(),
    );
    assert_eq!(
        terrace_governance::demo::create_demo_register(&register)
            .await
            .unwrap(),
        0,
        "the village had households: nothing is added"
    );
    assert_eq!(count(households).await, 3);
    // And the county's catalogue of request types, once: two of the county's, two of 天荒坪镇's.
    let types = "SELECT count(*) AS n FROM request_types";
    assert_eq!(count(types).await, 4);
    // Public works are listed publicly through Open311; the certificate, personal, is not.
    let listed = "SELECT count(*) AS n FROM request_types \
                  WHERE public_listing AND code IN ('road', 'streetlight', 'well')";
    assert_eq!(count(listed).await, 3);
    let certificate = "SELECT count(*) AS n FROM request_types \
                       WHERE code = 'certificate' AND NOT public_listing";
    assert_eq!(count(certificate).await, 1);
    let catalogue = terrace_governance::request_types::RequestTypes::new(
        db.clone(),
        "terrace/governance".into(),
        terrace_platform::Clock::system(),
    );
    assert_eq!(
        terrace_governance::demo::create_demo_request_types(&catalogue)
            .await
            .unwrap(),
        0,
        "the county had types: nothing is added"
    );
    assert_eq!(count(types).await, 4);
}
