//! Demonstration accounts for `terrace dev --demo`: people to log in as while trying Terrace.
//!
//! Created at start when `services.identity.demo_users` is set, idempotently (an existing phone is
//! left alone), with their `identity.user.created` events like any other user. The passwords are
//! printed in the README; never enable this on a real site.

use sea_orm::DatabaseConnection;

use crate::admin::{self, NewAccount};

/// (phone, display name, password) of each demonstration account.
pub const DEMO_USERS: [(&str, &str, &str); 3] = [
    ("+8613800000001", "王秀英（农户）", "terrace-demo-farmer"),
    (
        "+8613800000002",
        "李建国（村干部）",
        "terrace-demo-official",
    ),
    ("+8613800000003", "张伟（采购商）", "terrace-demo-buyer"),
];

/// Creates the demonstration accounts that do not exist yet; returns how many were created.
pub async fn create_demo_users(db: &DatabaseConnection) -> anyhow::Result<usize> {
    let mut created = 0;
    for (phone, display_name, password) in DEMO_USERS {
        let account = NewAccount {
            phone,
            display_name,
            password: Some(password),
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
        };
        if admin::create_user(db, account, "terrace dev --demo")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .is_some()
        {
            created += 1;
        }
    }
    Ok(created)
}
