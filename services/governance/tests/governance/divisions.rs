//! The division import: the committed county slice loads whole, a re-import changes nothing and
//! publishes nothing, a renamed or added division is written and published once.

use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
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
    let dir = tempdir(&app.ctx.id);
    for name in ["provinces", "cities", "areas", "streets"] {
        std::fs::copy(
            source.join(format!("{name}.csv")),
            dir.join(format!("{name}.csv")),
        )
        .unwrap();
    }
    let villages = std::fs::read_to_string(source.join("villages.csv")).unwrap();
    let old_name = villages
        .lines()
        .find(|line| line.starts_with("330523108204,"))
        .and_then(|line| line.split(',').nth(1))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let villages = villages.replace(&format!("\"{old_name}\""), "\"余村（新）\"")
        + "330523108999,\"新设村\",330523108,33,3305,330523\n";
    std::fs::write(dir.join("villages.csv"), villages).unwrap();

    let report = import(&db, &dir).await;
    assert_eq!((report.added, report.changed, report.events), (1, 1, 1));
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

fn tempdir(id: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("terrace-divisions-{id}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
