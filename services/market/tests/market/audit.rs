//! Market's audited actions reach governance's tamper-evident audit log through real NATS: an
//! official's hide and its lift, a helper's listing made for a farmer, an operator's exchange
//! rate; a farmer's own listing does not. The chains stay intact.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use terrace_governance::audit::{self, chain::Verdict};
use terrace_market::rates::{self, Rate};
use terrace_platform::auth::{AdminScope, Role};
use terrace_testkit::eventually;
use uuid::Uuid;

use crate::world::{Person, VILLAGE, World, apples};

/// How long an action may take to reach the log on a busy machine.
const REACHES_THE_LOG: Duration = Duration::from_secs(30);

/// 安吉县's chain (chains are named by their area's code prefix).
const COUNTY: &str = "330523";
/// The country's chain.
const COUNTRY: &str = "";

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    action: String,
    target_id: String,
    actor_user_id: String,
    on_behalf_of: String,
    details: serde_json::Value,
}

async fn entries(db: &DatabaseConnection, chain: &str) -> Vec<Entry> {
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT action, target_id, actor_user_id, actor_on_behalf_of, details_json
           FROM audit_entries
          WHERE chain = $1 AND (action LIKE 'listing.%' OR action LIKE 'exchange_rate.%')
          ORDER BY sequence",
        [chain.into()],
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| Entry {
        action: row.try_get("", "action").unwrap(),
        target_id: row.try_get("", "target_id").unwrap(),
        actor_user_id: row.try_get("", "actor_user_id").unwrap(),
        on_behalf_of: row.try_get("", "actor_on_behalf_of").unwrap(),
        details: serde_json::from_str(&row.try_get::<String>("", "details_json").unwrap()).unwrap(),
    })
    .collect()
}

async fn entries_when(db: &DatabaseConnection, chain: &str, count: usize) -> Vec<Entry> {
    eventually(
        &format!("{count} market entries in chain {chain}"),
        REACHES_THE_LOG,
        || async move {
            let found = entries(db, chain).await;
            (found.len() >= count).then_some(found)
        },
    )
    .await
}

#[tokio::test]
async fn officials_hides_helpers_and_operators_actions_join_governances_audit_chains() {
    let mut w = World::with_governance().await;
    let governance = w.app.ctx.database("governance").await;
    let farmer = w.farmer();
    let own = w.create(&farmer, apples(), true).await.unwrap();
    let official = w.person(&[(Role::VillageOfficial, VILLAGE)]);
    w.hide(&official, &own.id, "照片与实物不符").await.unwrap();
    w.unhide(&official, &own.id).await.unwrap();
    // A helper (the farmer's son, say) makes a listing for her: her listing, his action.
    let helper_id = Uuid::now_v7();
    let helper = Person {
        id: farmer.id,
        token: w
            .app
            .issuer
            .build(&farmer.id.to_string())
            .grants(&[(Role::Farmer, VILLAGE)])
            .actor(&helper_id.to_string())
            .sign(),
    };
    let for_her = w.create(&helper, apples(), true).await.unwrap();
    assert_eq!(for_her.seller_user_id, farmer.id.to_string());

    let found = entries_when(&governance, COUNTY, 3).await;
    let (hidden, unhidden, made) = (&found[0], &found[1], &found[2]);
    assert_eq!(
        (hidden.action.as_str(), hidden.target_id.as_str()),
        ("listing.hidden", own.id.as_str())
    );
    assert_eq!(hidden.actor_user_id, official.id.to_string());
    assert_eq!(hidden.details["reason"], "照片与实物不符");
    assert_eq!(unhidden.action, "listing.unhidden");
    assert_eq!(unhidden.details["lifted_reason"], "照片与实物不符");
    assert_eq!(
        (made.action.as_str(), made.target_id.as_str()),
        ("listing.created", for_her.id.as_str())
    );
    assert_eq!(
        made.actor_user_id,
        helper_id.to_string(),
        "the helper acted"
    );
    assert_eq!(made.on_behalf_of, farmer.id.to_string(), "for the farmer");
    assert_eq!(
        found.len(),
        3,
        "the farmer's own listing is not audited: {found:?}"
    );

    // An operator's exchange rate belongs to no area: the country's chain, with the source.
    let rate = Rate {
        currency: "USD".to_owned(),
        cny_micro_per_unit: 7_123_400,
        set_at: w.app.clock.now(),
        set_by: "PBOC central parity".to_owned(),
    };
    rates::set_by_operator(&w.db, "terrace/market", &rate)
        .await
        .unwrap();
    let country = entries_when(&governance, COUNTRY, 1).await;
    assert_eq!(country[0].action, "exchange_rate.set");
    assert_eq!(country[0].details["cny_per_unit"], "7.1234");
    assert_eq!(country[0].details["operator_reason"], "PBOC central parity");

    for chain in [
        AdminScope::parse("330523000000").unwrap(),
        AdminScope::country(),
    ] {
        let verdict = audit::verify_stored(&governance, &chain).await.unwrap();
        assert!(
            matches!(verdict, Verdict::Intact { .. }),
            "{chain}: {verdict:?}"
        );
    }
}
