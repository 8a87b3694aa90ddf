//! The tables of the request-type catalogue: rows and SQL, no rules; "now" comes in as a
//! parameter from the service clock.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, ConnectionTrait, DbErr, EntityTrait as _,
    IntoActiveModel as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use terrace_platform::auth::AdminScope;
use uuid::Uuid;

use super::parse::{Offered, TypeCursor};
use crate::entity::request_types::{Column, Entity as RequestTypes, Model as TypeRow};

/// The catalogue's migration: request types, areas' settings, the working calendar.
pub const MIGRATION_SQL: &str = "
CREATE TABLE request_types (
    id               uuid        PRIMARY KEY,
    area             text        NOT NULL,
    code             text        NOT NULL,
    name             jsonb       NOT NULL,
    description      jsonb       NOT NULL,
    group_name       text        NOT NULL,
    fields           bytea       NOT NULL,
    responsible_role smallint    NOT NULL,
    sla_hours        integer     NOT NULL CHECK (sla_hours >= 0),
    sla_working_days integer     NOT NULL CHECK (sla_working_days >= 0),
    active           boolean     NOT NULL,
    version          bigint      NOT NULL,
    created_at       timestamptz NOT NULL,
    created_by       bytea       NOT NULL,
    updated_at       timestamptz NOT NULL,
    updated_by       bytea       NOT NULL,
    CHECK (sla_hours = 0 OR sla_working_days = 0),
    UNIQUE (area, code)
);
-- A village's offer is the types of its own area and the areas above it, listed by group.
CREATE INDEX request_types_by_area ON request_types (area, group_name, code, id);

CREATE TABLE request_area_settings (
    area                    text        PRIMARY KEY,
    reopen_window_days      integer,
    duplicate_radius_metres integer,
    duplicate_window_days   integer,
    updated_at              timestamptz NOT NULL,
    updated_by              bytea       NOT NULL
);

CREATE TABLE working_calendar_days (
    area       text        NOT NULL,
    day        date        NOT NULL,
    working    boolean     NOT NULL,
    name       jsonb       NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by bytea       NOT NULL,
    PRIMARY KEY (area, day)
);
";

/// A type's requests listed publicly or not: a column of its own, false (not listed) for every
/// type there was, so that nothing filed before is published by the upgrade.
pub const PUBLIC_LISTING_MIGRATION_SQL: &str =
    "ALTER TABLE request_types ADD COLUMN public_listing boolean NOT NULL DEFAULT false;";

/// The areas whose types a village is offered: the country, its province, city, county,
/// township and itself (the prefixes of its code at each level).
pub fn areas_above(village: &AdminScope) -> Vec<String> {
    [0, 2, 4, 6, 9, 12]
        .into_iter()
        .filter_map(|len| village.as_str().get(..len))
        .map(str::to_owned)
        .collect()
}

/// Inserts a new type; `false` when its code is taken in its area.
pub async fn insert<C: ConnectionTrait>(conn: &C, row: TypeRow) -> Result<bool, DbErr> {
    let inserted = RequestTypes::insert(row.into_active_model())
        .on_conflict(
            OnConflict::columns([Column::Area, Column::Code])
                .do_nothing()
                .to_owned(),
        )
        .exec(conn)
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(error) => Err(error),
    }
}

pub async fn find<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<TypeRow>, DbErr> {
    RequestTypes::find_by_id(id).one(conn).await
}

/// A type locked for an update until the transaction ends.
pub async fn find_for_update<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Option<TypeRow>, DbErr> {
    RequestTypes::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await
}

pub async fn update<C: ConnectionTrait>(conn: &C, row: TypeRow) -> Result<TypeRow, DbErr> {
    row.into_active_model().reset_all().update(conn).await
}

/// A page of types in `offered`, by group, code and id, from `after`; `limit` rows at most.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    offered: &Offered,
    include_inactive: bool,
    after: Option<&TypeCursor>,
    limit: u64,
) -> Result<Vec<TypeRow>, DbErr> {
    let mut query = RequestTypes::find();
    query = match offered {
        Offered::In(village) => query.filter(Column::Area.is_in(areas_above(village))),
        Offered::DefinedIn(area) => query.filter(Column::Area.starts_with(area.as_str())),
    };
    if !include_inactive {
        query = query.filter(Column::Active.eq(true));
    }
    if let Some(after) = after {
        query = query.filter(
            Condition::any()
                .add(Column::GroupName.gt(after.group.as_str()))
                .add(
                    Condition::all()
                        .add(Column::GroupName.eq(after.group.as_str()))
                        .add(Column::Code.gt(after.code.as_str())),
                )
                .add(
                    Condition::all()
                        .add(Column::GroupName.eq(after.group.as_str()))
                        .add(Column::Code.eq(after.code.as_str()))
                        .add(Column::Id.gt(after.id)),
                ),
        );
    }
    query
        .order_by_asc(Column::GroupName)
        .order_by_asc(Column::Code)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Active types relevant to `area` (those offered in it: defined at it or above; and those
/// defined inside it), or every active type; by group and code. For Open311's `services`.
pub async fn relevant_to<C: ConnectionTrait>(
    conn: &C,
    area: Option<&AdminScope>,
) -> Result<Vec<TypeRow>, DbErr> {
    let mut query = RequestTypes::find().filter(Column::Active.eq(true));
    if let Some(area) = area {
        query = query.filter(
            Condition::any()
                .add(Column::Area.is_in(areas_above(area)))
                .add(Column::Area.starts_with(area.as_str())),
        );
    }
    query
        .order_by_asc(Column::GroupName)
        .order_by_asc(Column::Code)
        .order_by_asc(Column::Id)
        .all(conn)
        .await
}

/// The types among `ids`.
pub async fn by_ids<C: ConnectionTrait>(conn: &C, ids: &[Uuid]) -> Result<Vec<TypeRow>, DbErr> {
    RequestTypes::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await
}
