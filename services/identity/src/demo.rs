//! The demonstration world of `terrace dev --demo`: people to log in as, with real standing in a
//! real county — 安吉县 (Anji, Zhejiang), whose divisions are committed in
//! `fixtures/admin-divisions/anji/`.
//!
//! Created at start when `services.identity.demo_users` is set, and only what is missing: an
//! existing phone keeps its account, a live grant is not given twice, so a restart costs a few
//! lookups. Everything goes through the ordinary paths, events and state snapshots included. The
//! passwords are printed in the README; never enable this on a real site.

use sea_orm::DatabaseConnection;
use terrace_platform::Clock;
use terrace_platform::auth::{Role, RoleGrant};

use crate::admin::{self, NewAccount};
use crate::domain::phone::PhoneNumber;
use crate::grants::store as grant_store;
use crate::users;

/// 安吉县, the demonstration county.
pub const COUNTY: &str = "330523";
/// 天荒坪镇, a township of it.
pub const TOWNSHIP: &str = "330523108";
/// 余村, a village of that township.
pub const VILLAGE: &str = "330523108204";

/// One demonstration account and what it may do.
#[derive(Debug, Clone, Copy)]
pub struct DemoAccount {
    pub phone: &'static str,
    pub display_name: &'static str,
    pub password: &'static str,
    /// Roles and the division codes they are scoped to.
    pub grants: &'static [(Role, &'static str)],
}

/// The demonstration accounts (the README's table lists them).
pub const DEMO_ACCOUNTS: [DemoAccount; 6] = [
    DemoAccount {
        phone: "+8613800000001",
        display_name: "王秀英（农户）",
        password: "terrace-demo-farmer",
        grants: &[(Role::Resident, VILLAGE), (Role::Farmer, VILLAGE)],
    },
    DemoAccount {
        phone: "+8613800000002",
        display_name: "李建国（村干部）",
        password: "terrace-demo-official",
        grants: &[(Role::VillageOfficial, VILLAGE)],
    },
    DemoAccount {
        phone: "+8613800000003",
        display_name: "张伟（采购商）",
        password: "terrace-demo-buyer",
        grants: &[(Role::Buyer, "")],
    },
    DemoAccount {
        phone: "+8613800000004",
        display_name: "陈美华（镇干部）",
        password: "terrace-demo-township",
        grants: &[(Role::TownshipOfficial, TOWNSHIP)],
    },
    DemoAccount {
        phone: "+8613800000005",
        display_name: "周志强（县管理员）",
        password: "terrace-demo-county",
        grants: &[(Role::CountyAdmin, COUNTY)],
    },
    DemoAccount {
        phone: "+8613800000006",
        display_name: "吴海燕（平台管理员）",
        password: "terrace-demo-platform",
        grants: &[(Role::PlatformAdmin, "")],
    },
];

/// What [`create_demo_world`] added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    pub accounts: usize,
    pub grants: usize,
}

/// Creates the demonstration accounts and grants that do not exist yet.
pub async fn create_demo_world(db: &DatabaseConnection) -> anyhow::Result<Created> {
    let mut created = Created::default();
    for account in DEMO_ACCOUNTS {
        let new = NewAccount {
            phone: account.phone,
            display_name: account.display_name,
            password: Some(account.password),
            locale: "zh-CN",
            time_zone: "Asia/Shanghai",
        };
        let phone = PhoneNumber::parse(account.phone)?;
        let user = match users::by_phone(db, &phone, false).await? {
            Some(user) => user,
            None => {
                created.accounts += 1;
                admin::create_user(db, new, "terrace dev --demo")
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .ok_or_else(|| anyhow::anyhow!("{} was just taken", phone.masked()))?
            }
        };
        for (role, code) in account.grants {
            let grant = RoleGrant::parse(*role, code)?;
            if grant_store::live_one(db, user.id, &grant)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .is_some_and(|live| {
                    live.expires_at
                        .is_none_or(|end| end > Clock::system().now())
                })
            {
                continue;
            }
            admin::grant(db, account.phone, grant, "terrace dev --demo")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            created.grants += 1;
        }
    }
    Ok(created)
}
