//! What an operator does from the command line (`terrace user ...`), with the database's
//! authority rather than a token's: creating users (the first platform admin among them), and
//! giving and taking role grants. The same rules as the RPCs apply to the data — valid phones,
//! the password policy, well-formed grants — and the same events and audit records are written.

use sea_orm::{DatabaseConnection, TransactionTrait as _};
use terrace_platform::Clock;
use terrace_platform::auth::{Caller, RoleGrant};
use terrace_platform::bus::outbox;
use terrace_platform::error::{Error, Result};
use terrace_proto::identity::v1 as pb;
use uuid::Uuid;

use crate::domain::password;
use crate::domain::phone::PhoneNumber;
use crate::grants::{self, GrantRow, Grants};
use crate::users::{self, NewUser, User};

/// The `ce-source` of events the command line causes.
pub const SOURCE: &str = "terrace/identity";

/// A user to create from the command line.
#[derive(Debug)]
pub struct NewAccount<'a> {
    pub phone: &'a str,
    pub display_name: &'a str,
    pub password: Option<&'a str>,
    pub locale: &'a str,
    pub time_zone: &'a str,
}

/// Creates a user; `Ok(None)` when the phone already has an account (nothing changes).
pub async fn create_user(
    db: &DatabaseConnection,
    account: NewAccount<'_>,
    component: &'static str,
) -> Result<Option<User>> {
    let phone = PhoneNumber::parse(account.phone)
        .map_err(|error| Error::invalid("phone", error.to_string()))?;
    let name = account.display_name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::invalid("name", "required, at most 64 characters"));
    }
    let password_hash = match account.password {
        Some(secret) => {
            password::check(secret, phone.as_str())
                .map_err(|error| Error::invalid("password", error.to_string()))?;
            let secret = secret.to_owned();
            Some(
                tokio::task::spawn_blocking(move || password::hash(&secret))
                    .await
                    .map_err(Error::internal)?
                    .map_err(Error::internal)?,
            )
        }
        None => None,
    };
    let txn = db.begin().await?;
    let new = NewUser {
        phone: &phone,
        display_name: name,
        locale: account.locale,
        time_zone: account.time_zone,
        password_hash,
        created_by: None,
        email: None,
        created_by_request: None,
        created_at: Clock::system().now(),
    };
    let Some(user) = users::insert(&txn, new).await? else {
        return Ok(None);
    };
    let event = pb::UserCreated {
        user: Some(user.to_proto()),
        actor: Some(Caller::System { job: component }.actor()),
    };
    outbox::publish_state(&txn, SOURCE, &user.to_proto(), &user.id.to_string()).await?;
    outbox::publish(&txn, SOURCE, &event).await?;
    txn.commit().await?;
    Ok(Some(user))
}

/// Gives a role in an area to the user with this phone.
pub async fn grant(
    db: &DatabaseConnection,
    phone: &str,
    grant: RoleGrant,
    reason: &str,
) -> Result<GrantRow> {
    let phone =
        PhoneNumber::parse(phone).map_err(|error| Error::invalid("phone", error.to_string()))?;
    let user = users::by_phone(db, &phone, false)
        .await?
        .ok_or_else(|| Error::not_found("user", phone.masked()))?;
    let give = grants::Give {
        user_id: user.id,
        grant: &grant,
        expires_at: None,
        reason,
        api_scope: None,
        request: None,
    };
    command_line(db)
        .give_now(&Caller::operator(reason), give)
        .await
}

/// Takes a grant back.
pub async fn revoke(db: &DatabaseConnection, grant_id: Uuid, reason: &str) -> Result<GrantRow> {
    command_line(db)
        .take_now(&Caller::operator(reason), grant_id, reason)
        .await
}

fn command_line(db: &DatabaseConnection) -> Grants {
    Grants::on(db.clone(), SOURCE.to_owned(), Clock::system())
}

/// How many snapshots [`resnapshot`] writes per transaction.
const RESNAPSHOT_BATCH: u64 = 500;

/// Republishes the current state of every user and every grant (revoked and expired ones too)
/// through the outbox (`terrace events resnapshot --service identity`): after a state stream was
/// lost, or to give snapshots a new shape. Each batch commits on its own; a projection holding a
/// version as new keeps it. Returns how many users and grants were written.
pub async fn resnapshot(db: &DatabaseConnection) -> Result<(u64, u64)> {
    let now = Clock::system().now();
    let search = crate::management::parse::Search::Anyone;
    let users_filter = crate::management::store::Filter {
        area: None,
        role: None,
        status: None,
        search: &search,
        now,
    };
    let mut users = 0;
    let mut after = None;
    loop {
        let page =
            crate::management::store::page(db, &users_filter, after.as_ref(), RESNAPSHOT_BATCH)
                .await?;
        let Some((_, last)) = page.last() else { break };
        after = Some(last.clone());
        let txn = db.begin().await?;
        for (id, _) in &page {
            if let Some(user) = crate::management::store::load(&txn, *id, now).await? {
                outbox::publish_state(&txn, SOURCE, &user.to_proto(), &id.to_string()).await?;
                users += 1;
            }
        }
        txn.commit().await?;
    }
    let grants_filter = grants::store::Filter {
        user_id: None,
        area: None,
        role: None,
        include_inactive: true,
        now,
    };
    let mut grants = 0;
    let mut after = None;
    loop {
        let page = grants::store::page(db, &grants_filter, after, RESNAPSHOT_BATCH).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let txn = db.begin().await?;
        for row in &page {
            outbox::publish_state(&txn, SOURCE, &row.to_proto(), &row.id.to_string()).await?;
            grants += 1;
        }
        txn.commit().await?;
    }
    Ok((users, grants))
}
