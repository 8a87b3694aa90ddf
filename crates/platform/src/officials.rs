//! Who holds which role where: a service's projection of identity's role grants into
//! `known_grants`, so that it can tell whether someone is an official of an area (governance: a
//! request's assignee) and list an area's officials (notify: whom to tell of a new request)
//! without asking identity.
//!
//! A service adds [`SQL`] in a migration of its own and runs [`consumer`], which starts from
//! identity's state stream (`state.identity.grant.>`: every grant's latest snapshot, revoked ones
//! included) and then follows `identity.role.>` (`RoleGranted`, `RoleRevoked`; an expiry is a
//! `RoleRevoked` too). As with the users ([`crate::people`]), a row changes only for a message
//! newer than the one it reflects (`version`, the envelope's time), and a tombstone deletes the
//! grant. Every role is kept, not only officials': each grant stored as it is needs no filter to
//! keep right, the queries pick the officials.
//!
//! Erasure: a grant's own tombstone is read from the state stream; its event
//! (`identity.grant.erased`) is not under this consumer's one subject filter (NATS 2.9 takes one),
//! and identity erases no grant on its own today. An erased *user* takes their grants with them:
//! the service's people consumer calls [`forget_user`] in its `PersonalData::forget`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, OnConflict};
use sea_orm::{
    ColumnTrait as _, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait as _, JoinType,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, RelationTrait as _,
};
use terrace_proto::identity::v1 as identity;
use uuid::Uuid;

use crate::auth::{AdminScope, Role};
use crate::bus::consumer::{Consumer, ConsumerSpec, Handler, HandlerError};
use crate::bus::{Envelope, Event as _};
use crate::error::{Error, Result};
use crate::service::ServiceContext;
use crate::validate::{self, Violations};

pub use self::known_grants::GrantRole;
use self::known_grants::{Column, Entity as KnownGrants};

/// The projection's table, for a service's own migration.
pub const SQL: &str = r"
CREATE TABLE known_grants (
    id        uuid PRIMARY KEY,
    user_id   uuid        NOT NULL,
    -- terrace.identity.v1.Role's number.
    role      smallint    NOT NULL,
    -- The normalized division-code prefix ('' = the whole country).
    scope     text        NOT NULL,
    expire_at timestamptz,
    revoked   boolean     NOT NULL,
    version   timestamptz NOT NULL
);
-- The officials whose scope covers an area: scope IN (the area's prefixes), live grants only.
CREATE INDEX known_grants_covering ON known_grants (scope, role) WHERE NOT revoked;
-- One user's grants: whether they are an official somewhere, and their erasure.
CREATE INDEX known_grants_user ON known_grants (user_id);
";

/// `known_grants`: the projection's rows.
pub mod known_grants {
    use crate::auth::Role;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "known_grants")]
    pub struct Model {
        /// The grant's id in identity.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub role: GrantRole,
        /// The normalized division-code prefix (`AdminScope::as_str`; `''` = the whole country), so
        /// "covers area X" is an equality on each of X's prefixes.
        pub scope: String,
        pub expire_at: Option<DateTimeUtc>,
        /// Revoked by someone, or retired by identity's expiry job.
        pub revoked: bool,
        /// The time of the snapshot or event this row reflects: an older one changes nothing.
        pub version: DateTimeUtc,
    }

    /// A role as stored: the numbers are `terrace.identity.v1.Role`'s, so a stored value reads the
    /// same in the contract, and an unknown one is refused rather than read as some other role.
    /// (A plain `i16` would need that check at every read; this enum is the one place.)
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "i16", db_type = "SmallInteger")]
    pub enum GrantRole {
        #[sea_orm(num_value = 1)]
        Resident,
        #[sea_orm(num_value = 2)]
        Farmer,
        #[sea_orm(num_value = 3)]
        Buyer,
        #[sea_orm(num_value = 4)]
        VillageOfficial,
        #[sea_orm(num_value = 5)]
        TownshipOfficial,
        #[sea_orm(num_value = 6)]
        CountyAdmin,
        #[sea_orm(num_value = 7)]
        PlatformAdmin,
        #[sea_orm(num_value = 8)]
        DigitalHelper,
    }

    impl From<Role> for GrantRole {
        fn from(role: Role) -> Self {
            match role {
                Role::Resident => Self::Resident,
                Role::Farmer => Self::Farmer,
                Role::Buyer => Self::Buyer,
                Role::VillageOfficial => Self::VillageOfficial,
                Role::TownshipOfficial => Self::TownshipOfficial,
                Role::CountyAdmin => Self::CountyAdmin,
                Role::PlatformAdmin => Self::PlatformAdmin,
                Role::DigitalHelper => Self::DigitalHelper,
            }
        }
    }

    impl From<GrantRole> for Role {
        fn from(role: GrantRole) -> Self {
            match role {
                GrantRole::Resident => Self::Resident,
                GrantRole::Farmer => Self::Farmer,
                GrantRole::Buyer => Self::Buyer,
                GrantRole::VillageOfficial => Self::VillageOfficial,
                GrantRole::TownshipOfficial => Self::TownshipOfficial,
                GrantRole::CountyAdmin => Self::CountyAdmin,
                GrantRole::PlatformAdmin => Self::PlatformAdmin,
                GrantRole::DigitalHelper => Self::DigitalHelper,
            }
        }
    }

    /// The holder, as the service knows them: for their name (no foreign key: a grant may arrive
    /// before its user does).
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "crate::people::known_users::Entity",
            from = "Column::UserId",
            to = "crate::people::known_users::Column::Id"
        )]
        User,
    }

    impl ActiveModelBehavior for ActiveModel {}

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn stored_numbers_are_the_contracts() {
            for role in Role::ALL {
                let stored = GrantRole::from(role);
                assert_eq!(i32::from(stored.to_value()), role.to_proto() as i32);
                assert_eq!(Role::from(stored), role);
            }
        }
    }
}

/// The most officials [`officials_of`] lists.
pub const MAX_OFFICIALS: u64 = 200;

/// The consumer that keeps `known_grants`, durable as `name` (`<service>-officials`).
pub fn consumer(ctx: &ServiceContext, name: &str) -> Consumer<Officials> {
    Consumer::new(
        ConsumerSpec {
            name: name.to_owned(),
            domain: "identity".to_owned(),
            subject: Some("identity.role.>".to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        Officials,
    )
    .from_state("state.identity.grant.>")
}

/// Keeps `known_grants` from identity's grant snapshots and events.
#[derive(Debug)]
pub struct Officials;

impl Handler for Officials {
    async fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        if event.is_tombstone() {
            if let Ok(id) = Uuid::parse_str(event.entity_id()) {
                KnownGrants::delete_by_id(id)
                    .exec(txn)
                    .await
                    .map_err(|e| HandlerError::Retry(e.into()))?;
            }
            return Ok(());
        }
        let reject = HandlerError::Reject;
        let grant = if event.is_state() {
            Some(
                event
                    .decode_snapshot::<identity::RoleGrant>()
                    .map_err(reject)?,
            )
        } else {
            match event.event_type.as_str() {
                identity::RoleGranted::TYPE => {
                    event
                        .decode::<identity::RoleGranted>()
                        .map_err(reject)?
                        .grant
                }
                identity::RoleRevoked::TYPE => {
                    event
                        .decode::<identity::RoleRevoked>()
                        .map_err(reject)?
                        .grant
                }
                _ => None,
            }
        };
        let Some(grant) = grant else {
            return Ok(());
        };
        let row = row(&grant, event.time).map_err(|why| {
            reject(anyhow::anyhow!(
                "a role grant that cannot be read in {}: {why}",
                event.id
            ))
        })?;
        remember(txn, row)
            .await
            .map_err(|e| HandlerError::Retry(e.into()))
    }
}

/// The row a grant becomes as of `version`, or what is wrong with it.
fn row(
    grant: &identity::RoleGrant,
    version: DateTime<Utc>,
) -> std::result::Result<known_grants::ActiveModel, &'static str> {
    let id = Uuid::parse_str(&grant.id).map_err(|_| "an id that is not a UUID")?;
    let user_id = Uuid::parse_str(&grant.user_id).map_err(|_| "a user id that is not a UUID")?;
    let role = identity::Role::try_from(grant.role)
        .ok()
        .and_then(Role::from_proto)
        .ok_or("an unknown role")?;
    let scope = grant
        .scope
        .as_ref()
        .and_then(|scope| AdminScope::from_proto(scope).ok())
        .ok_or("no valid scope")?;
    let expire_at = validate::timestamp(
        &mut Violations::new(),
        "expire_time",
        grant.expire_time.as_ref(),
    )
    .ok_or("an invalid expire time")?;
    Ok(known_grants::ActiveModel {
        id: sea_orm::Set(id),
        user_id: sea_orm::Set(user_id),
        role: sea_orm::Set(role.into()),
        scope: sea_orm::Set(scope.as_str().to_owned()),
        expire_at: sea_orm::Set(expire_at),
        // Revoked by someone or retired at its expiry: either way it has a revoke time.
        revoked: sea_orm::Set(grant.revoke_time.is_some()),
        version: sea_orm::Set(version),
    })
}

/// Writes `row`, unless the stored one reflects a newer message already.
async fn remember(
    txn: &DatabaseTransaction,
    row: known_grants::ActiveModel,
) -> std::result::Result<(), sea_orm::DbErr> {
    KnownGrants::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([
                    Column::UserId,
                    Column::Role,
                    Column::Scope,
                    Column::ExpireAt,
                    Column::Revoked,
                    Column::Version,
                ])
                .action_and_where(
                    Expr::col((KnownGrants, Column::Version))
                        .lt(Expr::col((Alias::new("excluded"), Column::Version))),
                )
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Deletes every grant of `user`: what an erased user leaves behind (identity does not tombstone
/// their grants), called by the users' consumer in the transaction of the user's erasure.
pub async fn forget_user(
    txn: &DatabaseTransaction,
    user: Uuid,
) -> std::result::Result<(), sea_orm::DbErr> {
    KnownGrants::delete_many()
        .filter(Column::UserId.eq(user))
        .exec(txn)
        .await?;
    Ok(())
}

/// Grants in force at `now`: not revoked and not past their expiry. Identity's expiry job marks an
/// expired grant revoked only when it runs, so the expiry is checked here too.
fn live(now: DateTime<Utc>) -> Condition {
    Condition::all().add(Column::Revoked.eq(false)).add(
        Condition::any()
            .add(Column::ExpireAt.is_null())
            .add(Column::ExpireAt.gt(now)),
    )
}

/// Grants whose scope covers `area` (`AdminScope::covers_scope`): scope is one of its prefixes.
fn covering(area: &AdminScope) -> Condition {
    Condition::all().add(
        Column::Scope.is_in(
            area.covering()
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>(),
        ),
    )
}

/// The official roles of at least `min_rank` (any official for 0).
fn officials_from(min_rank: u8) -> Vec<GrantRole> {
    Role::OFFICIALS
        .into_iter()
        .filter(|role| role.rank() >= min_rank)
        .map(GrantRole::from)
        .collect()
}

/// Whether `user` holds, at `now`, an official role of at least `min_rank` ([`Role::rank`]; 0 or 1
/// for any official) whose scope covers `area`.
pub async fn holds_official_role<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    area: &AdminScope,
    min_rank: u8,
    now: DateTime<Utc>,
) -> Result<bool> {
    let found: Option<Uuid> = KnownGrants::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::UserId.eq(user))
        .filter(Column::Role.is_in(officials_from(min_rank)))
        .filter(covering(area))
        .filter(live(now))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// An official of an area, as [`officials_of`] lists them: one per grant, so someone who is both
/// the village's and the township's official is listed twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Official {
    pub user_id: Uuid,
    pub role: Role,
    pub scope: AdminScope,
    /// As the service knows them; empty while their account has not reached it.
    pub display_name: String,
}

/// The officials who govern `area` at `now` (their scope covers it): the village's officials first,
/// then the township's, the county's and the platform's, by name within a rank; at most
/// [`MAX_OFFICIALS`].
pub async fn officials_of<C: ConnectionTrait>(
    conn: &C,
    area: &AdminScope,
    now: DateTime<Utc>,
) -> Result<Vec<Official>> {
    let rows: Vec<(Uuid, GrantRole, String, Option<String>)> = KnownGrants::find()
        .select_only()
        .columns([Column::UserId, Column::Role, Column::Scope])
        .column(crate::people::known_users::Column::DisplayName)
        .join(JoinType::LeftJoin, known_grants::Relation::User.def())
        .filter(Column::Role.is_in(officials_from(0)))
        .filter(covering(area))
        .filter(live(now))
        // The contract numbers the official roles in rank order (4 village .. 7 platform).
        .order_by_asc(Column::Role)
        .order_by_asc(crate::people::known_users::Column::DisplayName)
        .order_by_asc(Column::UserId)
        .limit(MAX_OFFICIALS)
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|(user_id, role, scope, display_name)| {
            Ok(Official {
                user_id,
                role: role.into(),
                scope: AdminScope::parse(&scope).map_err(Error::internal)?,
                display_name: display_name.unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn officials_by_rank() {
        assert_eq!(officials_from(0).len(), 4);
        assert_eq!(officials_from(1), officials_from(0));
        assert_eq!(
            officials_from(3),
            [GrantRole::CountyAdmin, GrantRole::PlatformAdmin]
        );
        assert!(officials_from(5).is_empty());
    }
}
