//! A small SMS gateway on loopback, speaking the protocol of notify's HTTP-gateway provider
//! (`services/notify/src/sms/gateway.rs`): it records every send and answers each with the next
//! planned status (200 once the plan is used up), naming its messages `gw-1`, `gw-2`, ...
//! The stand-in for the one thing outside the platform an SMS needs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// One send the gateway got.
#[derive(Debug, Clone)]
pub struct Received {
    pub idempotency_key: String,
    pub authorization: String,
    /// The JSON body: `id`, `to`, `sign_name`, `template_code`, `template_params`, `text`.
    pub body: serde_json::Value,
}

impl Received {
    pub fn to(&self) -> &str {
        self.body["to"].as_str().unwrap_or_default()
    }

    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }

    /// The six-digit code of a code text (`验证码 123456` / `code 123456`), if it is one.
    pub fn code(&self) -> Option<String> {
        let text = self.text();
        let (_, after) = text
            .split_once("验证码 ")
            .or_else(|| text.split_once("code "))?;
        let code = after.get(..6)?;
        code.chars()
            .all(|c| c.is_ascii_digit())
            .then(|| code.to_owned())
    }
}

/// The gateway.
#[derive(Debug, Clone, Default)]
pub struct SmsGateway {
    received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<Vec<u16>>>,
}

/// Notify's settings (`[services.notify]`) texting through a gateway at `url` with test
/// tokens: retries after 30 s, doubling to 10 min, three attempts; sends looked for every 20 ms.
pub fn notify_settings(url: &str) -> serde_json::Value {
    serde_json::json!({
        "sms": {
            "provider": "gateway",
            "signature": "Terrace",
            "gateway": { "url": url, "token": "gateway-token", "timeout": "5s" },
            "receipt_token": RECEIPT_TOKEN,
        },
        "delivery": {
            "first_retry": "30s",
            "max_retry": "10m",
            "max_attempts": 3,
            "poll_interval": "20ms",
        },
    })
}

/// The receipt token of [`notify_settings`].
pub const RECEIPT_TOKEN: &str = "receipt-token-of-the-test";

async fn take(
    State(gateway): State<SmsGateway>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let number = {
        let mut received = gateway.received.lock().unwrap();
        received.push(Received {
            idempotency_key: header("idempotency-key"),
            authorization: header("authorization"),
            body,
        });
        received.len()
    };
    let status = {
        let mut answers = gateway.answers.lock().unwrap();
        if answers.is_empty() {
            200
        } else {
            answers.remove(0)
        }
    };
    (
        StatusCode::from_u16(status).unwrap(),
        Json(serde_json::json!({ "message_id": format!("gw-{number}") })),
    )
}

impl SmsGateway {
    /// Serves on a free loopback port; its URL.
    pub async fn start(&self) -> String {
        let router = axum::Router::new()
            .route("/send", axum::routing::post(take))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}/send")
    }

    /// The next sends are answered with `statuses`, in order.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend_from_slice(statuses);
    }

    /// Every send so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until the gateway got `count` sends (30 s at most, for a loaded machine).
    pub async fn when(&self, count: usize) -> Vec<Received> {
        crate::eventually(
            &format!("{count} sends at the gateway"),
            Duration::from_secs(30),
            || async { Some(self.received()).filter(|r| r.len() >= count) },
        )
        .await
    }

    /// Waits for the newest code texted to `phone` after the first `after` sends.
    pub async fn code_for(&self, phone: &str, after: usize) -> String {
        crate::eventually(
            &format!("a code for {phone}"),
            Duration::from_secs(30),
            || async {
                self.received()
                    .iter()
                    .skip(after)
                    .filter(|r| r.to() == phone)
                    .filter_map(Received::code)
                    .next_back()
            },
        )
        .await
    }
}
