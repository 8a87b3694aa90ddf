//! The people a service knows: its own projection of identity's users (id, name, phone), kept
//! from identity's state stream and events, so that a service names and reaches people without
//! calling identity (and without another service's database).
//!
//! A service adds [`MIGRATION`] (the `known_users` table) and [`LOCALE_MIGRATION`] to its
//! migrator and runs [`consumer`]:
//! it starts from `state.identity.user.>` (every user's latest snapshot, however old) and then
//! follows `identity.user.>` (created, updated, erased). Snapshots and events overlap at the
//! start, and replicas and retries reorder them, so a row changes only for a message newer than
//! the one it reflects (its `version`, the envelope's time). An erased user (a tombstone, or
//! `identity.user.erased`) is deleted, and the service's own [`PersonalData`] takes them out of
//! whatever else it holds, in the same transaction ([`PersonalData`], which also keeps what a
//! service needs beyond the row).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait as _,
    QueryFilter as _, QuerySelect as _,
};
use terrace_proto::identity::v1 as identity;
use uuid::Uuid;

use crate::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use crate::bus::{Envelope, Event as _};
use crate::error::Result;
use crate::service::ServiceContext;

pub use self::known_users::Model as KnownUser;
use self::known_users::{Column, Entity as KnownUsers};

/// The projection's table, for services that add it now (governance created the same table in
/// its own migration before this one existed).
pub const MIGRATION: crate::db::SqlMigration = crate::db::SqlMigration {
    name: "m20261204_210001_known_users",
    up: SQL,
};

/// The person's language and time zone, for what a service says to them (notify's texts, quiet
/// hours): added to `known_users` after the table; every service that has the table takes it.
/// Rows made before it read zh-CN and Asia/Shanghai until their person's next snapshot or event
/// (`terrace events resnapshot --service identity` brings every row up to date at once).
pub const LOCALE_MIGRATION: crate::db::SqlMigration = crate::db::SqlMigration {
    name: "m20261204_230001_known_users_locale",
    up: r"
ALTER TABLE known_users
    ADD COLUMN locale    text NOT NULL DEFAULT 'zh-CN',
    ADD COLUMN time_zone text NOT NULL DEFAULT 'Asia/Shanghai';
",
};

/// The language of a person who chose none.
pub const DEFAULT_LOCALE: &str = "zh-CN";
/// The time zone of a person who chose none.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// The table, as every service that knows people has it.
pub const SQL: &str = r"
CREATE TABLE known_users (
    id           uuid PRIMARY KEY,
    display_name text NOT NULL,
    phone_number text NOT NULL,
    version      timestamptz NOT NULL
);
";

/// `known_users`: a service's projection of identity's users.
pub mod known_users {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "known_users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub display_name: String,
        /// E.164.
        pub phone_number: String,
        /// The time of the snapshot or event this row reflects: an older one changes nothing.
        pub version: DateTimeUtc,
        /// BCP 47, e.g. "zh-CN", "en" ([`super::LOCALE_MIGRATION`]).
        pub locale: String,
        /// IANA, e.g. "Asia/Shanghai".
        pub time_zone: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What a service keeps of a person beyond `known_users`, and takes out when they are erased,
/// in the consumer's transaction.
pub trait PersonalData: Send + Sync + 'static {
    /// Keeps what the service needs of `person` beyond the row (notify: their e-mail address);
    /// called whenever the row takes a newer snapshot or event, never for an older one. Nothing,
    /// by default.
    fn remember(
        &self,
        _txn: &DatabaseTransaction,
        _user: Uuid,
        _person: &identity::User,
    ) -> impl Future<Output = std::result::Result<(), DbErr>> + Send {
        async { Ok(()) }
    }

    /// Takes the erased person out of what the service holds (beyond their row).
    fn forget(
        &self,
        txn: &DatabaseTransaction,
        user: Uuid,
    ) -> impl Future<Output = std::result::Result<(), DbErr>> + Send;
}

/// Nothing more to forget than the person's row.
#[derive(Debug, Clone, Copy)]
pub struct NothingElse;

impl PersonalData for NothingElse {
    async fn forget(&self, _: &DatabaseTransaction, _: Uuid) -> std::result::Result<(), DbErr> {
        Ok(())
    }
}

/// The consumer that keeps `known_users`, durable as `name` (`<service>-people`).
pub fn consumer<F: PersonalData>(
    ctx: &ServiceContext,
    name: &str,
    personal: F,
) -> Consumer<People<F>> {
    Consumer::new(
        ConsumerSpec {
            name: name.to_owned(),
            domain: "identity".to_owned(),
            subject: Some("identity.user.>".to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        People { personal },
    )
    .from_state("state.identity.user.>")
}

/// Keeps `known_users` from identity's user snapshots and events.
#[derive(Debug)]
pub struct People<F> {
    personal: F,
}

impl<F: PersonalData> Handler for People<F> {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> std::result::Result<(), HandlerError> {
        let reject = HandlerError::Reject;
        let retry = |e: DbErr| HandlerError::Retry(e.into());
        let erased = event.is_tombstone()
            || event.subject == crate::bus::envelope::erased_subject::<identity::User>();
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
                    .map_err(retry)?;
                self.personal.forget(txn, id).await.map_err(retry)?;
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
        if remember(txn, id, &user, event.time).await.map_err(retry)? {
            self.personal
                .remember(txn, id, &user)
                .await
                .map_err(retry)?;
        }
        Ok(())
    }
}

/// Writes `user` as of `version`, unless the row reflects a newer message already; whether it
/// did.
async fn remember(
    txn: &DatabaseTransaction,
    id: Uuid,
    user: &identity::User,
    version: DateTime<Utc>,
) -> std::result::Result<bool, DbErr> {
    let row = known_users::ActiveModel {
        id: sea_orm::Set(id),
        display_name: sea_orm::Set(user.display_name.clone()),
        phone_number: sea_orm::Set(user.phone_number.clone()),
        version: sea_orm::Set(version),
        locale: sea_orm::Set(or_default(&user.locale, DEFAULT_LOCALE)),
        time_zone: sea_orm::Set(or_default(&user.time_zone, DEFAULT_TIME_ZONE)),
    };
    KnownUsers::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([
                    Column::DisplayName,
                    Column::PhoneNumber,
                    Column::Version,
                    Column::Locale,
                    Column::TimeZone,
                ])
                .action_and_where(Expr::col((KnownUsers, Column::Version)).lt(Expr::col((
                    sea_orm::sea_query::Alias::new("excluded"),
                    Column::Version,
                ))))
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await
        .map(|written| written > 0)
}

fn or_default(value: &str, default: &str) -> String {
    if value.trim().is_empty() {
        default
    } else {
        value
    }
    .to_owned()
}

/// The display names of the users among `ids` the service knows.
pub async fn display_names<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> = KnownUsers::find()
        .select_only()
        .columns([Column::Id, Column::DisplayName])
        .filter(Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The users among `ids` the service knows (names and phones), by id.
pub async fn find_many<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, KnownUser>> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows = KnownUsers::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

/// The user `id`, if the service knows them.
pub async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<KnownUser>> {
    Ok(KnownUsers::find_by_id(id).one(conn).await?)
}
