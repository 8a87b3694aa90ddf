//! Idempotent mutations: a retried request gets the first answer instead of doing the work twice
//! (a second SMS, a second account, a second order).
//!
//! Every mutating RPC carries a client-made `request_id`. Its *apply* step opens a transaction,
//! [`claim`]s `(caller, request_id)` first, does its work only when the claim is new, and
//! [`Claimed::remember`]s its answer before committing. The claim is an
//! `INSERT ... ON CONFLICT DO NOTHING` on the primary key (zero-to-production's
//! `idempotency/persistence.rs`): a concurrent retry of the same id waits on the row until the
//! first transaction ends, then finds the committed answer (or, if the first rolled back, claims
//! the id itself). No lock outlives its transaction.
//!
//! - **Keyed by caller.** Request ids are the caller's own ([`Caller::idempotency_key`]): two
//!   callers never collide, and a helper acting for a villager has a key apart from the villager.
//!   An anonymous caller (asking for a login code) has no identity of its own, so its key is the
//!   request's fingerprint: the same request with the same id is one request, whoever sends it.
//! - **One id, one request.** The request's fingerprint is kept: the id reused for a different
//!   request is refused with `FAILED_PRECONDITION` `REQUEST_ID_REUSED`, never answered with
//!   someone else's result.
//! - **Secrets are not kept.** An answer that carries a secret (tokens, a client secret, a device
//!   credential) is recorded as done without the answer ([`Keep::Nothing`]); a retry then gets
//!   `FAILED_PRECONDITION` `ANSWER_NOT_KEPT` with what to do instead (log in again, rotate the
//!   secret), never a second secret.
//! - **Pruned after [`RETENTION`].** A create also records its request id on the row it creates
//!   (unique per caller), so a phone that syncs after the log was pruned still finds what it made.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait as _,
};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::auth::Caller;
use crate::db::SqlMigration;
use crate::error::{Error, Result, Violations};

/// How long answers are kept for replay.
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// The table of claimed request ids and their answers.
pub const MIGRATION: SqlMigration = SqlMigration {
    name: "m20261201_000001_platform_idempotency",
    up: r"
CREATE TABLE idempotency (
    -- Whose request ids these are: 'user:<id>', 'helper:<id>:for:<id>', 'agency:<id>', ...;
    -- for anonymous callers 'anonymous:<fingerprint>'.
    caller_key  text        NOT NULL,
    request_id  uuid        NOT NULL,
    rpc         text        NOT NULL,
    -- SHA-256 of the RPC name and the request's protobuf encoding.
    fingerprint bytea       NOT NULL,
    -- The encoded answer; NULL while the first request is in flight (never visible: the row is
    -- written in its transaction) and for answers that carried a secret.
    response    bytea,
    kept        boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (caller_key, request_id)
);
CREATE INDEX idempotency_created_at ON idempotency (created_at);
",
};

/// A mutating request as its *parse* step sees it: the client's `request_id` and the request's
/// fingerprint. With the caller it becomes a [`RequestKey`]; a command carries it to *apply*.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    request_id: Uuid,
    rpc: &'static str,
    fingerprint: Vec<u8>,
}

impl Mutation {
    /// Reads the request's `request_id` (every mutating request of the contracts names it so)
    /// and fingerprints the whole `request` for `rpc` (`"GrantRole"`); a missing or malformed
    /// id is a violation of `request_id`.
    pub fn parse<M: Message>(
        violations: &mut Violations,
        rpc: &'static str,
        request_id: &str,
        request: &M,
    ) -> Option<Self> {
        let request_id = crate::validate::request_id(violations, "request_id", request_id)?;
        Some(Self {
            request_id,
            rpc,
            fingerprint: fingerprint(rpc, request),
        })
    }

    pub fn request_id(&self) -> Uuid {
        self.request_id
    }

    /// The key of this request made by `caller`.
    pub fn key(&self, caller: &Caller) -> RequestKey {
        RequestKey::from_parts(caller, self.rpc, self.request_id, self.fingerprint.clone())
    }
}

fn fingerprint<M: Message>(rpc: &str, request: &M) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(rpc.as_bytes());
    hasher.update([0]);
    hasher.update(request.encode_to_vec());
    hasher.finalize().to_vec()
}

/// Does `work` once for `caller`'s `mutation`: in one transaction, claims the request, runs
/// `work` when the claim is new, remembers its answer as `keep` says and commits; a retry gets
/// the first answer (or, for an answer not kept, `ANSWER_NOT_KEPT`) without running `work`.
/// This is how every mutating RPC's *apply* step begins.
pub async fn once<R, F>(
    db: &DatabaseConnection,
    caller: &Caller,
    mutation: &Mutation,
    now: DateTime<Utc>,
    keep: Keep,
    work: F,
) -> Result<R>
where
    R: Message + Default,
    F: AsyncFnOnce(&DatabaseTransaction) -> Result<R>,
{
    let key = mutation.key(caller);
    let txn = db.begin().await?;
    let claimed = match claim::<R>(&txn, &key, now).await? {
        Claim::Replay(answer) => return Ok(answer),
        Claim::New(claimed) => claimed,
    };
    let answer = match work(&txn).await {
        Ok(answer) => answer,
        Err(refused) => {
            // Rolled back before answering, not when the pool next touches the connection: a
            // refused request must not keep its row locks (a job's `SKIP LOCKED` would pass the
            // row by) or its claim (a retry would wait on it) after the caller has its answer.
            txn.rollback().await?;
            return Err(refused);
        }
    };
    claimed.remember(&txn, &answer, keep).await?;
    txn.commit().await?;
    Ok(answer)
}

/// A row a [`create_once`] inserts: `columns` of `table` and their `values`, in order.
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    pub table: &'a str,
    pub columns: Vec<&'a str>,
    pub values: Vec<sea_orm::Value>,
}

impl NewRow<'static> {
    /// Every column of an entity's `model`, as its table takes it (generated columns are not in
    /// a model, so they are left to the database).
    pub fn of<M>(model: &M) -> Self
    where
        M: sea_orm::ModelTrait,
    {
        use sea_orm::{EntityName as _, IdenStatic as _, Iterable as _};
        let columns: Vec<_> = <M::Entity as sea_orm::EntityTrait>::Column::iter().collect();
        Self {
            table: M::Entity::default().table_name(),
            columns: columns.iter().map(|column| column.as_str()).collect(),
            values: columns.iter().map(|column| model.get(*column)).collect(),
        }
    }
}

/// A condition a [`create_if`] checks in its statement before it writes anything: that a row of
/// `table` whose columns equal the values exists, or that none does.
#[derive(Debug, Clone)]
pub enum Condition<'a> {
    Exists {
        table: &'a str,
        equal: Vec<(&'a str, sea_orm::Value)>,
    },
    Absent {
        table: &'a str,
        equal: Vec<(&'a str, sea_orm::Value)>,
    },
}

/// A create in **one round trip**: one autocommit statement claims `(caller, request_id)` with
/// its answer already recorded (a create's ids are made before the write, so its answer is
/// known), inserts `row` and enqueues `events` in the outbox — the two only when the claim is
/// new. A retry (the claim existed) reads the recorded answer: a second round trip only then.
/// PostgreSQL runs every data-modifying `WITH` part exactly once and the statement is atomic,
/// so a failing row insert (a unique violation) leaves no claim and no event. For creates whose
/// answer carries no secret; anything needing a rule checked against other rows first goes
/// through [`once`], or through [`create_if`] when the rule is that some rows exist.
pub async fn create_once<R: Message + Default>(
    db: &DatabaseConnection,
    caller: &Caller,
    mutation: &Mutation,
    now: DateTime<Utc>,
    answer: R,
    row: NewRow<'_>,
    events: &[crate::bus::Envelope],
) -> Result<R> {
    create_if(db, caller, mutation, now, answer, &[], vec![row], events)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a create without conditions was refused")))
}

/// [`create_once`] of several `rows` (in order), written only if every one of `conditions`
/// holds when the statement runs: `None` when one did not (nothing written, nothing claimed),
/// so the caller can take its careful path and say which. This is how a create checks what it
/// read from a cache (a row at the version it knew) without a transaction around the read.
#[allow(clippy::too_many_arguments)] // The create's parts, each needed; a struct would only rename them.
pub async fn create_if<R: Message + Default>(
    db: &DatabaseConnection,
    caller: &Caller,
    mutation: &Mutation,
    now: DateTime<Utc>,
    answer: R,
    conditions: &[Condition<'_>],
    rows: Vec<NewRow<'_>>,
    events: &[crate::bus::Envelope],
) -> Result<Option<R>> {
    let key = mutation.key(caller);
    let mut values: Vec<sea_orm::Value> = Vec::new();
    // `$n` for each of `added`, appended to the statement's values.
    let mut bind = |added: Vec<sea_orm::Value>| -> Vec<String> {
        added
            .into_iter()
            .map(|value| {
                values.push(value);
                format!("${}", values.len())
            })
            .collect()
    };
    let claim = bind(vec![
        key.caller_key.clone().into(),
        key.request_id.into(),
        key.rpc.into(),
        key.fingerprint.clone().into(),
        now.into(),
        answer.encode_to_vec().into(),
    ])
    .join(", ");
    let mut held = vec!["true".to_owned()];
    for condition in conditions {
        let (exists, table, equal) = match condition {
            Condition::Exists { table, equal } => ("EXISTS", table, equal),
            Condition::Absent { table, equal } => ("NOT EXISTS", table, equal),
        };
        let (columns, equal): (Vec<_>, Vec<_>) = equal.iter().cloned().unzip();
        let matches: Vec<String> = columns
            .iter()
            .zip(bind(equal))
            .map(|(column, param)| format!("{column} = {param}"))
            .collect();
        held.push(format!(
            "{exists} (SELECT 1 FROM {table} WHERE {})",
            matches.join(" AND ")
        ));
    }
    let held = held.join(" AND ");
    // Raw SQL: a statement of data-modifying CTEs is what makes it one round trip.
    let mut sql = format!(
        "WITH claim AS (INSERT INTO idempotency \
         (caller_key, request_id, rpc, fingerprint, created_at, response, kept) \
         SELECT {claim}, true WHERE {held} ON CONFLICT DO NOTHING RETURNING 1)"
    );
    for (i, row) in rows.into_iter().enumerate() {
        let params = bind(row.values).join(", ");
        sql.push_str(&format!(
            ", row_{i} AS (INSERT INTO {} ({}) SELECT {params} WHERE EXISTS (SELECT 1 FROM claim))",
            row.table,
            row.columns.join(", "),
        ));
    }
    for (i, envelope) in events.iter().enumerate() {
        let params = bind(vec![
            envelope.id.into(),
            envelope.subject.clone().into(),
            envelope.event_type.clone().into(),
            envelope.source.clone().into(),
            envelope.payload.to_vec().into(),
            envelope.traceparent.clone().into(),
            envelope.time.into(),
        ])
        .join(", ");
        sql.push_str(&format!(
            ", event_{i} AS (INSERT INTO outbox \
             (event_id, subject, event_type, source, payload, traceparent, occurred_at) \
             SELECT {params} WHERE EXISTS (SELECT 1 FROM claim))"
        ));
    }
    sql.push_str(&format!(
        " SELECT EXISTS (SELECT 1 FROM claim) AS claimed, {held} AS held"
    ));
    let outcome = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a create answered no row")))?;
    if outcome.try_get::<bool>("", "claimed")? {
        return Ok(Some(answer));
    }
    if !outcome.try_get::<bool>("", "held")? {
        return Ok(None);
    }
    answer_of(db, &key)
        .await?
        .map(Some)
        .ok_or_else(|| Error::Unavailable {
            message: "a request with this request_id was being processed; retry".to_owned(),
            retry_after: Some(Duration::from_millis(200)),
        })
}

/// One request as the idempotency log knows it.
#[derive(Debug, Clone)]
pub struct RequestKey {
    caller_key: String,
    request_id: Uuid,
    rpc: &'static str,
    fingerprint: Vec<u8>,
}

impl RequestKey {
    /// The key of `request` (the whole protobuf request, `request_id` included) made by
    /// `caller` to `rpc` (`"CreateUser"`).
    pub fn new<M: Message>(
        caller: &Caller,
        rpc: &'static str,
        request_id: Uuid,
        request: &M,
    ) -> Self {
        Self::from_parts(caller, rpc, request_id, fingerprint(rpc, request))
    }

    fn from_parts(
        caller: &Caller,
        rpc: &'static str,
        request_id: Uuid,
        fingerprint: Vec<u8>,
    ) -> Self {
        let caller_key = match caller {
            Caller::Anonymous { .. } => format!("anonymous:{}", hex(&fingerprint)),
            caller => caller.idempotency_key(),
        };
        Self {
            caller_key,
            request_id,
            rpc,
            fingerprint,
        }
    }

    pub fn request_id(&self) -> Uuid {
        self.request_id
    }

    /// The caller's key, as a created row records it beside the request id.
    pub fn caller_key(&self) -> &str {
        &self.caller_key
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What an RPC's answer leaves for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The whole answer, replayed as it was.
    Answer,
    /// Nothing: the answer carried a secret. The text says what a retry should do instead
    /// ("log in again", "rotate the secret to get a new one").
    Nothing { instead: &'static str },
}

/// The outcome of [`claim`].
#[derive(Debug)]
pub enum Claim<R> {
    /// The first time: do the work, then [`Claimed::remember`] the answer in the same transaction.
    New(Claimed),
    /// A retry of a request already done: its first answer.
    Replay(R),
}

/// A request id claimed in a transaction; the claim commits or rolls back with it.
#[derive(Debug)]
#[must_use = "remember the answer before committing"]
pub struct Claimed {
    key: RequestKey,
}

/// Claims `key` in `txn`, or finds the request it names already done.
pub async fn claim<R: Message + Default>(
    txn: &DatabaseTransaction,
    key: &RequestKey,
    now: DateTime<Utc>,
) -> Result<Claim<R>> {
    let backend = txn.get_database_backend();
    // Raw SQL: `ON CONFLICT DO NOTHING` with a check of the rows it affected is the claim itself.
    let inserted = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO idempotency (caller_key, request_id, rpc, fingerprint, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            [
                key.caller_key.clone().into(),
                key.request_id.into(),
                key.rpc.into(),
                key.fingerprint.clone().into(),
                now.into(),
            ],
        ))
        .await?
        .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New(Claimed { key: key.clone() }));
    }
    match answer_of::<R, _>(txn, key).await? {
        Some(answer) => Ok(Claim::Replay(answer)),
        // Claimed by a transaction that then rolled back between our insert and select.
        None => Err(Error::Unavailable {
            message: "a request with this request_id was being processed; retry".to_owned(),
            retry_after: Some(Duration::from_millis(200)),
        }),
    }
}

/// The first answer to `mutation` by `caller` if it was already done, without claiming it: for
/// the few steps that must run before [`once`]'s transaction (counting a guess of a code on a
/// connection of its own, so that it stays counted when the request fails), so that a retry is
/// answered before them, as [`once`] would answer it.
pub async fn previous<R: Message + Default>(
    db: &DatabaseConnection,
    caller: &Caller,
    mutation: &Mutation,
) -> Result<Option<R>> {
    answer_of(db, &mutation.key(caller)).await
}

/// The recorded answer of `key`: `None` when it is not recorded, the answer when it was kept,
/// `REQUEST_ID_REUSED` when the id was used for another request, `ANSWER_NOT_KEPT` when the
/// answer carried a secret.
async fn answer_of<R: Message + Default, C: ConnectionTrait>(
    conn: &C,
    key: &RequestKey,
) -> Result<Option<R>> {
    let Some(row) = conn
        .query_one_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT rpc, fingerprint, response, kept FROM idempotency \
             WHERE caller_key = $1 AND request_id = $2",
            [key.caller_key.clone().into(), key.request_id.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    let rpc: String = row.try_get("", "rpc")?;
    let fingerprint: Vec<u8> = row.try_get("", "fingerprint")?;
    if rpc != key.rpc || fingerprint != key.fingerprint {
        return Err(Error::failed_precondition(
            "REQUEST_ID_REUSED",
            "this request_id was already used for a different request; make a new one",
        ));
    }
    let kept: bool = row.try_get("", "kept")?;
    let response: Option<Vec<u8>> = row.try_get("", "response")?;
    match response {
        Some(bytes) if kept => R::decode(bytes.as_slice())
            .map(Some)
            .map_err(Error::internal),
        // Not kept: the column holds what a retry should do instead.
        instead => Err(answer_not_kept(
            &rpc,
            &String::from_utf8_lossy(&instead.unwrap_or_default()),
        )),
    }
}

/// What a retry of a request whose answer carried a secret gets: `FAILED_PRECONDITION`
/// `ANSWER_NOT_KEPT`, saying what to do `instead`. Also for a create found on its row after the
/// log forgot it, when its answer carried a secret.
pub fn answer_not_kept(rpc: &str, instead: &str) -> Error {
    Error::failed_precondition(
        "ANSWER_NOT_KEPT",
        format!(
            "this {rpc} request was already done and its answer carried a secret that is shown \
             only once: {instead}"
        ),
    )
}

impl Claimed {
    /// Records the answer (or, for [`Keep::Nothing`], that the request was done) in the
    /// transaction that did the work.
    pub async fn remember<R: Message>(
        self,
        txn: &DatabaseTransaction,
        answer: &R,
        keep: Keep,
    ) -> Result<()> {
        let (response, kept) = match keep {
            Keep::Answer => (Some(answer.encode_to_vec()), true),
            Keep::Nothing { instead } => (Some(instead.as_bytes().to_vec()), false),
        };
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "UPDATE idempotency SET response = $3, kept = $4 WHERE caller_key = $1 AND request_id = $2",
            [
                self.key.caller_key.into(),
                self.key.request_id.into(),
                response.into(),
                kept.into(),
            ],
        ))
        .await?;
        Ok(())
    }
}

/// Deletes answers older than `retention` before `now`; returns how many.
pub async fn prune<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<u64> {
    let before = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|retention| now.checked_sub_signed(retention))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let deleted = conn
        .execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "DELETE FROM idempotency WHERE created_at < $1",
            [before.into()],
        ))
        .await?
        .rows_affected();
    Ok(deleted)
}
