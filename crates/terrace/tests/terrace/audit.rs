//! `terrace governance verify-audit`, run as an operator runs it: an intact chain passes, a
//! chain with an edited entry fails with a non-zero exit naming that entry.

use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
use terrace_governance::audit::{self, NewEntry};
use terrace_platform::auth::{AdminScope, Caller};
use terrace_testkit::TestContext;

async fn verify_audit(ctx: &TestContext, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_terrace"))
        .args(["governance", "verify-audit"])
        .args(args)
        .env(
            "TERRACE__DATABASE__DATABASE_PREFIX",
            &ctx.settings.database.database_prefix,
        )
        .env("TERRACE__TELEMETRY__LOG_FILTER", "warn")
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn verify_audit_names_the_first_broken_entry_and_exits_non_zero() {
    let ctx = TestContext::new();
    let db = ctx.database("governance").await;
    terrace_platform::db::migrate::<terrace_governance::migration::Migrator>(&db)
        .await
        .unwrap();
    // Any instant: the chain does not depend on when.
    let at = terrace_platform::clock::ManualClock::starting_now().now();
    for (area, target) in [
        ("330523108204", "r1"),
        ("330523108204", "r2"),
        ("330522001001", "r3"),
        ("330523108", "r4"),
    ] {
        let txn = db.begin().await.unwrap();
        audit::append(
            &txn,
            &Caller::operator("a test"),
            NewEntry {
                action: "resident.updated",
                target_type: "resident",
                target_id: target.to_owned(),
                area: &AdminScope::parse(area).unwrap(),
                details: serde_json::json!({ "changed": ["name"] }),
            },
            at,
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }

    let (ok, out) = verify_audit(&ctx, &["--county", "330523000000"]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("chain 330523000000: intact, 3 entries"),
        "{out}"
    );

    db.execute_unprepared(
        "UPDATE audit_entries SET details_json = '{}' WHERE chain = '330523' AND sequence = 2",
    )
    .await
    .unwrap();
    let (ok, out) = verify_audit(&ctx, &["--county", "330523"]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("chain 330523000000: BROKEN at entry 2: its contents do not match its hash"),
        "{out}"
    );
    // Every chain: the other county is intact, and the command still fails.
    let (ok, out) = verify_audit(&ctx, &[]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("chain 330522000000: intact, 1 entries"),
        "{out}"
    );
    assert!(
        out.contains("chain 330523000000: BROKEN at entry 2"),
        "{out}"
    );
}
