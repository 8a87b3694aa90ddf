//! The SQL of resident claims.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    IntoActiveModel as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use terrace_platform::auth::AdminScope;
use terrace_platform::error::Result;
use uuid::Uuid;

use crate::entity::resident_claim_requests::{self as requests, Entity as Requests};
use crate::entity::resident_claims::{ClaimStatus, Column, Entity as Claims, Model as ClaimRow};
use crate::entity::residents::{self, Entity as Residents, Model as ResidentRow};
use crate::register::store::{current, in_area};

pub const MIGRATION_SQL: &str = r"
CREATE TABLE resident_claims (
    id               uuid PRIMARY KEY,
    -- An erased record takes its claims with it.
    resident_id      uuid NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    village_code     text NOT NULL,
    claimant_user_id uuid NOT NULL,
    status           smallint NOT NULL,
    phone_number     text NOT NULL,
    code_hash        bytea NOT NULL,
    attempts         integer NOT NULL,
    created_at       timestamptz NOT NULL,
    code_expires_at  timestamptz NOT NULL,
    verified_at      timestamptz,
    decided_at       timestamptz,
    decided_by       bytea,
    refusal_reason   text NOT NULL
);
CREATE INDEX resident_claims_claimant ON resident_claims (claimant_user_id, id DESC);
CREATE INDEX resident_claims_village ON resident_claims (village_code text_pattern_ops, id DESC);
CREATE INDEX resident_claims_resident ON resident_claims (resident_id, created_at);

-- Every claim request, found or not, for the daily limit; kept a day.
CREATE TABLE resident_claim_requests (
    id               uuid PRIMARY KEY,
    claimant_user_id uuid NOT NULL,
    requested_at     timestamptz NOT NULL
);
CREATE INDEX resident_claim_requests_claimant ON resident_claim_requests (claimant_user_id, requested_at);
";

pub async fn insert<C: ConnectionTrait>(conn: &C, claim: ClaimRow) -> Result<()> {
    claim.into_active_model().reset_all().insert(conn).await?;
    Ok(())
}

pub async fn update<C: ConnectionTrait>(conn: &C, claim: ClaimRow) -> Result<()> {
    claim.into_active_model().reset_all().update(conn).await?;
    Ok(())
}

/// The claim `id`, locked for the transaction when `lock`.
pub async fn find<C: ConnectionTrait>(conn: &C, id: Uuid, lock: bool) -> Result<Option<ClaimRow>> {
    let mut query = Claims::find_by_id(id);
    if lock {
        query = query.lock_exclusive();
    }
    Ok(query.one(conn).await?)
}

/// Records a claim request of `user` at `now` and answers how many they made since `since`, this
/// one included; older records are deleted. Its own statements, committed at once.
pub async fn count_request<C: ConnectionTrait>(
    conn: &C,
    user: Uuid,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Result<u64> {
    Requests::delete_many()
        .filter(requests::Column::ClaimantUserId.eq(user))
        .filter(requests::Column::RequestedAt.lt(since))
        .exec(conn)
        .await?;
    requests::ActiveModel {
        id: sea_orm::Set(Uuid::now_v7()),
        claimant_user_id: sea_orm::Set(user),
        requested_at: sea_orm::Set(now),
    }
    .insert(conn)
    .await?;
    Ok(Requests::find()
        .filter(requests::Column::ClaimantUserId.eq(user))
        .filter(requests::Column::RequestedAt.gte(since))
        .count(conn)
        .await?)
}

/// How many claims were made for the record `resident` since `since`.
pub async fn made_for_since<C: ConnectionTrait>(
    conn: &C,
    resident: Uuid,
    since: DateTime<Utc>,
) -> Result<u64> {
    Ok(Claims::find()
        .filter(Column::ResidentId.eq(resident))
        .filter(Column::CreatedAt.gte(since))
        .count(conn)
        .await?)
}

/// Closes `user`'s claims still waiting for their code (a newer claim replaces them).
pub async fn lapse_unproven<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<()> {
    Claims::update_many()
        .col_expr(Column::Status, Expr::value(ClaimStatus::Lapsed))
        .filter(Column::ClaimantUserId.eq(user))
        .filter(Column::Status.eq(ClaimStatus::AwaitingCode))
        .exec(conn)
        .await?;
    Ok(())
}

/// Closes the claim `id` if it still waits for its code.
pub async fn lapse<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<()> {
    Claims::update_many()
        .col_expr(Column::Status, Expr::value(ClaimStatus::Lapsed))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(ClaimStatus::AwaitingCode))
        .exec(conn)
        .await?;
    Ok(())
}

/// Counts a try of a code for `user`'s claim `id` while it waits for its code and has tries left, and returns the
/// claim as counted; `None` if it is not `user`'s or not waiting. Its own statement, committed
/// at once, so that a wrong code stays counted whatever the request does next.
pub async fn count_try<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    user: Uuid,
    max_tries: i32,
) -> Result<Option<ClaimRow>> {
    let counted = Claims::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.eq(id))
        .filter(Column::ClaimantUserId.eq(user))
        .filter(Column::Status.eq(ClaimStatus::AwaitingCode))
        // Tries beyond the last are not counted: they are refused, however many come at once.
        .filter(Column::Attempts.lt(max_tries))
        .exec_with_returning(conn)
        .await?;
    Ok(counted.into_iter().next())
}

/// The current resident of `village` whose number hashes to `hash`.
pub async fn current_in_village<C: ConnectionTrait>(
    conn: &C,
    village: &str,
    hash: &[u8],
) -> Result<Option<ResidentRow>> {
    Ok(Residents::find()
        .filter(residents::Column::VillageCode.eq(village))
        .filter(residents::Column::NationalIdHash.eq(hash.to_vec()))
        .filter(current())
        .one(conn)
        .await?)
}

/// A page of claims, newest first: those of villages under `area`, or those of `claimant`; in
/// `statuses` (any if empty), after the id `after`.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    area: Option<&AdminScope>,
    claimant: Option<Uuid>,
    statuses: &[ClaimStatus],
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<ClaimRow>> {
    let mut query = Claims::find();
    if let Some(area) = area {
        query = query.filter(in_area(Column::VillageCode, area));
    }
    if let Some(claimant) = claimant {
        query = query.filter(Column::ClaimantUserId.eq(claimant));
    }
    if !statuses.is_empty() {
        query = query.filter(Column::Status.is_in(statuses.iter().copied()));
    }
    if let Some(after) = after {
        query = query.filter(Column::Id.lt(after));
    }
    Ok(query
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The names of the residents `ids`.
pub async fn resident_names<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> = Residents::find()
        .select_only()
        .columns([residents::Column::Id, residents::Column::Name])
        .filter(residents::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}
