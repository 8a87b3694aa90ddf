//! The demonstration world of `terrace dev --demo`: real standing in a real county, created once.

use terrace_identity::demo::{self, COUNTY, Created, DEMO_ACCOUNTS, TOWNSHIP, VILLAGE};
use terrace_platform::auth::Role;
use terrace_testkit::TestContext;

/// The codes of the committed fixture (`fixtures/admin-divisions/anji/`).
fn fixture_codes(file: &str) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/admin-divisions/anji/"
    );
    std::fs::read_to_string(format!("{path}{file}"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().to_owned())
        .collect()
}

#[test]
fn the_demo_areas_are_real_divisions_of_the_committed_county() {
    assert_eq!(fixture_codes("areas.csv"), vec![COUNTY.to_owned()]);
    assert!(fixture_codes("streets.csv").contains(&TOWNSHIP.to_owned()));
    assert!(fixture_codes("villages.csv").contains(&VILLAGE.to_owned()));
    let villages = fixture_codes("villages.csv");
    for account in DEMO_ACCOUNTS {
        for (_, code) in account.grants {
            assert!(
                villages.iter().any(|village| village.starts_with(code)),
                "{code} of {} is not in the county",
                account.display_name
            );
        }
    }
}

#[tokio::test]
async fn the_demo_world_is_created_once_with_every_role_in_place() {
    let ctx = TestContext::new();
    let db = crate::keys::migrated(&ctx).await;
    let first = demo::create_demo_world(&db).await.unwrap();
    let grants: usize = DEMO_ACCOUNTS.iter().map(|a| a.grants.len()).sum();
    assert_eq!(
        first,
        Created {
            accounts: DEMO_ACCOUNTS.len(),
            grants
        }
    );
    // A restart adds nothing.
    assert_eq!(
        demo::create_demo_world(&db).await.unwrap(),
        Created::default()
    );
    // Each official sits at their level: village, township, county.
    let live = terrace_identity::grants::store::live_of(
        &db,
        &users(&db).await,
        terrace_platform::Clock::system_now(),
    )
    .await
    .unwrap();
    let held = |role: Role| {
        live.iter()
            .filter(|grant| grant.grant.role == role)
            .map(|grant| grant.grant.scope.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(held(Role::VillageOfficial), vec![VILLAGE]);
    assert_eq!(held(Role::TownshipOfficial), vec![TOWNSHIP]);
    assert_eq!(held(Role::CountyAdmin), vec![COUNTY]);
    assert_eq!(held(Role::Farmer), vec![VILLAGE]);
    assert_eq!(live.len(), grants);
}

async fn users(db: &sea_orm::DatabaseConnection) -> Vec<uuid::Uuid> {
    use sea_orm::{ConnectionTrait, Statement};
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT id FROM users".to_owned(),
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.try_get("", "id").unwrap())
    .collect()
}
