//! The HTTP SMS gateway: the provider a deployment configures (`provider = "gateway"`), spoken
//! to in a small JSON protocol that an operator's adapter in front of a carrier API (Aliyun,
//! Tencent Cloud, a county's own SMS cat) implements.
//!
//! ```text
//! POST <url>
//! Authorization: Bearer <token>
//! Idempotency-Key: <delivery id>
//! {"id": "<delivery id>", "to": "+8613800000001", "sign_name": "Terrace",
//!  "template_code": "SMS_OTP", "template_params": {"code": "123456", ...},
//!  "text": "【Terrace】验证码 123456，..."}
//! ```
//!
//! A 2xx answer takes the text; its JSON `message_id` (the delivery id when absent) is what
//! receipts name. The same `Idempotency-Key` on every attempt of one delivery lets the gateway
//! recognise a send repeated after a crash or a lost answer. 408, 429, 5xx, a timeout or a
//! refused connection are retried; any other answer fails the delivery for good.

use std::time::Duration;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::{Sms, SmsProvider};
use crate::channels::{Accepted, Failure};
use crate::config::GatewaySettings;

/// The gateway client.
#[derive(Debug)]
pub struct HttpGateway {
    client: reqwest::Client,
    url: reqwest::Url,
    token: SecretString,
}

#[derive(Debug, Serialize)]
struct SendRequest<'a> {
    id: String,
    to: &'a str,
    sign_name: &'a str,
    template_code: &'a str,
    template_params: &'a serde_json::Value,
    text: &'a str,
}

#[derive(Debug, Default, Deserialize)]
struct SendAnswer {
    #[serde(default)]
    message_id: String,
}

impl HttpGateway {
    pub fn new(settings: &GatewaySettings) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(&settings.url).map_err(|error| {
            anyhow::anyhow!(
                "services.notify.sms.gateway.url {:?} is not a URL: {error}",
                settings.url
            )
        })?;
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .build()?;
        Ok(Self {
            client,
            url,
            token: settings.token.clone(),
        })
    }
}

/// Whether an answer is worth another attempt.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

impl SmsProvider for HttpGateway {
    fn send<'a>(&'a self, sms: &'a Sms<'a>) -> BoxFuture<'a, Result<Accepted, Failure>> {
        async move {
            let id = sms.delivery_id.to_string();
            let mut request = self
                .client
                .post(self.url.clone())
                .header("Idempotency-Key", &id)
                .json(&SendRequest {
                    id: id.clone(),
                    to: sms.to,
                    sign_name: sms.signature,
                    template_code: sms.template_code,
                    template_params: sms.params,
                    text: sms.text,
                });
            let token = self.token.expose_secret();
            if !token.is_empty() {
                request = request.bearer_auth(token);
            }
            let answer = request.send().await.map_err(|error| {
                Failure::Retry(if error.is_timeout() {
                    "the gateway did not answer in time".to_owned()
                } else {
                    format!("the gateway could not be reached: {error}")
                })
            })?;
            let status = answer.status();
            if !status.is_success() {
                let detail = answer.text().await.unwrap_or_default();
                let detail: String = detail.chars().take(200).collect();
                let error = format!("the gateway answered {}: {detail}", status.as_u16());
                return Err(if retryable(status) {
                    Failure::Retry(error)
                } else {
                    Failure::Permanent(error)
                });
            }
            let body = answer.bytes().await.unwrap_or_default();
            let answer: SendAnswer = serde_json::from_slice(&body).unwrap_or_default();
            Ok(Accepted {
                provider_message_id: if answer.message_id.is_empty() {
                    id
                } else {
                    answer.message_id
                },
            })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_timeouts_and_server_errors_are_retried_other_refusals_are_not() {
        for status in [500, 502, 503, 408, 429] {
            assert!(retryable(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(
                !retryable(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }
}
