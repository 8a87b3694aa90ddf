//! The people governance knows: a projection of identity's users (id, name, phone), so that a
//! record is linked only to an account that exists and the access log names who looked.
//!
//! The consumer `governance-people` starts from identity's state stream (`state.identity.user.>`:
//! every user's latest snapshot, however old) and then follows `identity.user.>` (created,
//! updated, erased). Snapshots and events overlap at the start, and replicas and retries reorder
//! them, so a row changes only for a message newer than the one it reflects (its `version`, the
//! envelope's time). An erased user (a tombstone, or `identity.user.erased`) is deleted, with
//! their grants.
//!
//! [`grants`]: who holds which role where (`known_grants`, the consumer `governance-officials`),
//! and the questions the rest of governance asks of it: `holds_official_role`, `officials_of`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseTransaction, EntityTrait as _, QueryFilter as _,
    QuerySelect as _,
};
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use terrace_platform::bus::{Envelope, Event as _};
use terrace_platform::error::Result;
use terrace_platform::service::ServiceContext;
use terrace_proto::identity::v1 as identity;
use uuid::Uuid;

use crate::entity::known_users::{self, Column, Entity as KnownUsers};

pub mod grants;

/// The projection's table.
pub const MIGRATION: terrace_platform::db::SqlMigration = terrace_platform::db::SqlMigration {
    name: "m20261215_200001_governance_known_users",
    up: r"
CREATE TABLE known_users (
    id           uuid PRIMARY KEY,
    display_name text NOT NULL,
    phone_number text NOT NULL,
    version      timestamptz NOT NULL
);
",
};

/// The durable consumer's name.
pub const CONSUMER: &str = "governance-people";

/// The consumer that keeps `known_users`, to be run by the service.
pub fn consumer(ctx: &ServiceContext) -> Consumer<People> {
    Consumer::new(
        ConsumerSpec {
            name: CONSUMER.to_owned(),
            domain: "identity".to_owned(),
            subject: Some("identity.user.>".to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        People,
    )
    .from_state("state.identity.user.>")
}

/// Keeps `known_users` from identity's user snapshots and events.
#[derive(Debug)]
pub struct People;

impl Handler for People {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let reject = HandlerError::Reject;
        let erased = event.is_tombstone()
            || event.subject == terrace_platform::bus::envelope::erased_subject::<identity::User>();
        if erased {
            let id = if event.is_state() {
                event.entity_id().to_owned()
            } else {
                String::from_utf8_lossy(&event.payload).into_owned()
            };
            if let Ok(id) = Uuid::parse_str(&id) {
                KnownUsers::delete_by_id(id)
                    .exec(txn)
                    .await
                    .map_err(|e| HandlerError::Retry(e.into()))?;
                // Identity tombstones the user, not their grants: an erased person leaves nothing.
                grants::forget_user(txn, id)
                    .await
                    .map_err(|e| HandlerError::Retry(e.into()))?;
                // Their requests stay (the matter, and what officials did about it, is the
                // village's record), but no longer say who filed or follows them, nor how to
                // reach them, nor what they filled in about themselves.
                crate::requests::store::forget_person(txn, id)
                    .await
                    .map_err(|e| HandlerError::Retry(e.into()))?;
            }
            return Ok(());
        }
        let user = if event.is_state() {
            Some(event.decode_snapshot::<identity::User>().map_err(reject)?)
        } else {
            match event.event_type.as_str() {
                identity::UserCreated::TYPE => {
                    event
                        .decode::<identity::UserCreated>()
                        .map_err(reject)?
                        .user
                }
                identity::UserUpdated::TYPE => {
                    event
                        .decode::<identity::UserUpdated>()
                        .map_err(reject)?
                        .user
                }
                _ => None,
            }
        };
        let Some(user) = user else {
            return Ok(());
        };
        let id = Uuid::parse_str(&user.id).map_err(|_| {
            reject(anyhow::anyhow!(
                "a user id that is not a UUID in {}",
                event.id
            ))
        })?;
        remember(txn, id, &user, event.time)
            .await
            .map_err(|e| HandlerError::Retry(e.into()))
    }
}

/// Writes `user` as of `version`, unless the row reflects a newer message already.
async fn remember(
    txn: &DatabaseTransaction,
    id: Uuid,
    user: &identity::User,
    version: DateTime<Utc>,
) -> std::result::Result<(), sea_orm::DbErr> {
    let row = known_users::ActiveModel {
        id: sea_orm::Set(id),
        display_name: sea_orm::Set(user.display_name.clone()),
        phone_number: sea_orm::Set(user.phone_number.clone()),
        version: sea_orm::Set(version),
    };
    KnownUsers::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([Column::DisplayName, Column::PhoneNumber, Column::Version])
                .action_and_where(Expr::col((KnownUsers, Column::Version)).lt(Expr::col((
                    sea_orm::sea_query::Alias::new("excluded"),
                    Column::Version,
                ))))
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The display names of the users among `ids` governance knows.
pub async fn display_names<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> = KnownUsers::find()
        .select_only()
        .columns([known_users::Column::Id, known_users::Column::DisplayName])
        .filter(known_users::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The user `id`, if governance knows them.
pub async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<known_users::Model>> {
    Ok(KnownUsers::find_by_id(id).one(conn).await?)
}
