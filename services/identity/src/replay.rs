//! Idempotent mutations: the first answer to a `request_id` is kept, and a retry of the same
//! request gets it again instead of doing the work twice (a second SMS, a second account).
//!
//! The request's fingerprint (a hash of what it asked for) is kept with the answer, so that a
//! `request_id` reused for a different request is refused (`FAILED_PRECONDITION`,
//! `REQUEST_ID_REUSED`) rather than answered with someone else's result. Answers that carry
//! secrets (tokens) are not kept; those RPCs are safe to repeat by their nature.

use prost::Message;
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};
use sha2::{Digest as _, Sha256};
use terrace_platform::error::{Error, Result};
use uuid::Uuid;

/// A hash of the parts of a request that define it.
pub fn fingerprint(parts: &[&str]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().to_vec()
}

/// The kept answer to `request_id`, if this request was made before; locks the log row.
pub async fn previous<M: Message + Default>(
    txn: &DatabaseTransaction,
    request_id: Uuid,
    rpc: &str,
    fingerprint: &[u8],
) -> Result<Option<M>> {
    // Requests with one id take turns: a second one waits here until the first has committed and
    // then finds its answer (a missing row cannot be locked with FOR UPDATE).
    let key = i64::from_be_bytes(request_id.as_bytes()[..8].try_into().unwrap_or([0; 8]));
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "SELECT pg_advisory_xact_lock($1)",
        [key.into()],
    ))
    .await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT rpc, fingerprint, response FROM request_log WHERE request_id = $1 FOR UPDATE",
            [request_id.into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let stored_rpc: String = row.try_get("", "rpc")?;
    let stored_fingerprint: Vec<u8> = row.try_get("", "fingerprint")?;
    if stored_rpc != rpc || stored_fingerprint != fingerprint {
        return Err(Error::failed_precondition(
            "REQUEST_ID_REUSED",
            "this request_id was already used for a different request; make a new one",
        ));
    }
    let response: Vec<u8> = row.try_get("", "response")?;
    M::decode(response.as_slice())
        .map(Some)
        .map_err(Error::internal)
}

/// Keeps the answer to `request_id` in the caller's transaction.
pub async fn remember<M: Message>(
    txn: &DatabaseTransaction,
    request_id: Uuid,
    rpc: &str,
    fingerprint: &[u8],
    response: &M,
) -> Result<()> {
    let inserted = txn
        .execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO request_log (request_id, rpc, fingerprint, response) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (request_id) DO NOTHING",
            [
                request_id.into(),
                rpc.into(),
                fingerprint.to_vec().into(),
                response.encode_to_vec().into(),
            ],
        ))
        .await?
        .rows_affected();
    if inserted == 0 {
        // The same id raced this request and committed first: this attempt's work is rolled back
        // with the caller's transaction, and a retry gets the first answer.
        return Err(Error::Unavailable {
            message: "a request with this request_id is being processed; retry".to_owned(),
            retry_after: Some(std::time::Duration::from_millis(200)),
        });
    }
    Ok(())
}
