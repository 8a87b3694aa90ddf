//! Delivery receipts: the gateway tells which texts reached the phone, by an authenticated
//! callback on notify's HTTP port.
//!
//! ```text
//! POST /notify/sms/receipts
//! Authorization: Bearer <services.notify.sms.receipt_token>
//! {"message_id": "<the id the gateway answered the send with>",
//!  "status": "delivered" | "failed", "error": "<carrier's reason, for failed>"}
//! ```
//!
//! Answers: 204 applied (or already applied: a repeated receipt changes nothing); 400 a body that
//! does not parse; 401 a wrong or missing token (and every receipt while no token is
//! configured); 404 a message id no delivery carries.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sea_orm::{DatabaseConnection, TransactionTrait as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use terrace_platform::Clock;

use crate::deliveries::dispatch::publish_final;
use crate::deliveries::store::{self, Status};

/// The path of the callback.
pub const PATH: &str = "/notify/sms/receipts";

/// What the receipt route needs.
#[derive(Debug, Clone)]
pub struct Receipts {
    pub db: DatabaseConnection,
    pub clock: Clock,
    pub token: SecretString,
    pub source: String,
}

/// One receipt.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub message_id: String,
    pub status: ReceiptStatus,
    #[serde(default)]
    pub error: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Delivered,
    Failed,
}

/// The route, for the service's HTTP port.
pub fn router(receipts: Receipts) -> axum::Router {
    axum::Router::new()
        .route(PATH, post(receive))
        .with_state(receipts)
}

fn authorized(headers: &HeaderMap, token: &SecretString) -> bool {
    let token = token.expose_secret().as_bytes();
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .as_bytes();
    !token.is_empty() && bool::from(given.ct_eq(token))
}

async fn receive(
    State(receipts): State<Receipts>,
    headers: HeaderMap,
    body: Result<Json<Receipt>, axum::extract::rejection::JsonRejection>,
) -> (StatusCode, String) {
    if !authorized(&headers, &receipts.token) {
        return (
            StatusCode::UNAUTHORIZED,
            "a receipt needs the gateway's token".to_owned(),
        );
    }
    let Json(receipt) = match body {
        Ok(body) => body,
        Err(rejection) => return (StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    if receipt.message_id.is_empty() || receipt.message_id.len() > 200 {
        return (
            StatusCode::BAD_REQUEST,
            "message_id: required, at most 200 characters".to_owned(),
        );
    }
    match apply(&receipts, &receipt).await {
        Ok(true) => (StatusCode::NO_CONTENT, String::new()),
        Ok(false) => (
            StatusCode::NOT_FOUND,
            format!("no delivery was sent as {}", receipt.message_id),
        ),
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "applying an sms receipt failed"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the receipt could not be recorded; send it again".to_owned(),
            )
        }
    }
}

/// Applies `receipt`; `false` when no delivery carries its message id.
async fn apply(receipts: &Receipts, receipt: &Receipt) -> anyhow::Result<bool> {
    let (status, detail) = match receipt.status {
        ReceiptStatus::Delivered => (Status::Delivered, "delivery receipt".to_owned()),
        ReceiptStatus::Failed => (
            Status::Failed,
            format!(
                "the carrier reported a failure: {}",
                receipt.error.chars().take(200).collect::<String>()
            ),
        ),
    };
    let txn = receipts.db.begin().await?;
    let now = receipts.clock.now();
    let known = match store::receipt(&txn, &receipt.message_id, status, &detail, now).await? {
        Some(row) => {
            publish_final(&txn, &receipts.source, &row).await?;
            true
        }
        // Already final (a repeated receipt), or unknown.
        None => store::known_provider_id(&txn, &receipt.message_id).await?,
    };
    txn.commit().await?;
    Ok(known)
}
