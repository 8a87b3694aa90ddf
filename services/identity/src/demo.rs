//! Demonstration accounts for `terrace dev --demo`: people to log in as while trying Terrace.
//!
//! Created at start when `services.identity.demo_users` is set, idempotently (an existing phone is
//! left alone), with their `identity.user.created` events like any other user. The passwords are
//! printed in the README; never enable this on a real site.

use sea_orm::TransactionTrait as _;
use terrace_platform::bus::outbox;
use terrace_proto::identity::v1 as pb;

use crate::accounts::Accounts;
use crate::domain::password;
use crate::domain::phone::PhoneNumber;
use crate::users::{self, NewUser};

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
pub async fn create_demo_users(accounts: &Accounts) -> anyhow::Result<usize> {
    let mut created = 0;
    for (phone, name, secret) in DEMO_USERS {
        let phone = PhoneNumber::parse(phone)?;
        let secret = secret.to_owned();
        let password_hash = tokio::task::spawn_blocking(move || password::hash(&secret)).await??;
        let txn = accounts.ctx.db.begin().await?;
        let new = NewUser {
            phone: &phone,
            display_name: name,
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
            password_hash: Some(password_hash),
            created_by: None,
        };
        if let Some(user) = users::insert(&txn, new).await? {
            let actor = terrace_proto::common::v1::Actor {
                kind: terrace_proto::common::v1::ActorKind::System as i32,
                system_component: "terrace dev --demo".to_owned(),
                ..Default::default()
            };
            let event = pb::UserCreated {
                user: Some(user.to_proto()),
                actor: Some(actor),
            };
            outbox::publish(&txn, &accounts.ctx.event_source(), &event).await?;
            created += 1;
        }
        txn.commit().await?;
    }
    Ok(created)
}
