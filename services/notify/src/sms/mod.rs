//! The SMS channel: texts through a provider, counted in segments, with delivery receipts.
//!
//! - [`segments`]: GSM-7 or UCS-2, and how many messages a text takes.
//! - [`gateway`]: the configurable HTTP-gateway provider (production).
//! - [`log`]: the development provider: each text appended to a file (`terrace dev`).
//! - [`receipts`]: the gateway's delivery receipts, an authenticated HTTP callback.
//!
//! Chinese carriers carry only texts of a registered template under a registered signature, so
//! a text goes to the provider with its template id, its values and the signature as well as
//! rendered (a provider that renders itself uses the first three; one that sends text, the last).

pub mod gateway;
pub mod log;
pub mod receipts;
pub mod segments;

use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::channels::{Accepted, Channel, Failure, Outgoing};
use crate::config::{SmsProviderKind, SmsSettings};

/// One text as a provider gets it.
#[derive(Debug, Clone)]
pub struct Sms<'a> {
    /// The idempotency key: the same on every attempt of one delivery.
    pub delivery_id: Uuid,
    /// E.164.
    pub to: &'a str,
    /// The registered signature, without brackets.
    pub signature: &'a str,
    /// The provider's template id; empty when the text has none.
    pub template_code: &'a str,
    /// The template's values.
    pub params: &'a serde_json::Value,
    /// The whole text as the phone shows it, signature first.
    pub text: &'a str,
}

/// A provider of SMS.
pub trait SmsProvider: Send + Sync + std::fmt::Debug {
    fn send<'a>(&'a self, sms: &'a Sms<'a>) -> BoxFuture<'a, Result<Accepted, Failure>>;
}

/// The text a phone shows: the signature in 【】 in front, as carriers in China require.
pub fn signed(signature: &str, body: &str) -> String {
    if signature.is_empty() {
        body.to_owned()
    } else {
        format!("【{signature}】{body}")
    }
}

/// The SMS channel of this replica.
#[derive(Debug, Clone)]
pub struct SmsChannel {
    /// `None` when no provider is configured: texts are suppressed, not sent.
    provider: Option<Arc<dyn SmsProvider>>,
    signature: String,
}

impl SmsChannel {
    pub fn new(provider: Option<Arc<dyn SmsProvider>>, signature: &str) -> Self {
        Self {
            provider,
            signature: signature.to_owned(),
        }
    }

    /// The channel the settings describe.
    pub fn from_settings(settings: &SmsSettings) -> anyhow::Result<Self> {
        let provider: Option<Arc<dyn SmsProvider>> = match settings.provider {
            SmsProviderKind::None => None,
            SmsProviderKind::Log => {
                Some(Arc::new(log::LogProvider::new(settings.log_file.clone())))
            }
            SmsProviderKind::Gateway => {
                Some(Arc::new(gateway::HttpGateway::new(&settings.gateway)?))
            }
        };
        Ok(Self::new(provider, &settings.signature))
    }

    pub fn signature(&self) -> &str {
        &self.signature
    }
}

impl Channel for SmsChannel {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, Failure>> {
        async move {
            let Some(provider) = &self.provider else {
                return Err(Failure::Suppress(
                    "no SMS provider is configured".to_owned(),
                ));
            };
            let signature = if message.signature.is_empty() {
                &self.signature
            } else {
                &message.signature
            };
            let text = signed(signature, &message.body);
            let sms = Sms {
                delivery_id: message.delivery_id,
                to: &message.address,
                signature,
                template_code: &message.template_code,
                params: &message.params,
                text: &text,
            };
            provider.send(&sms).await
        }
        .boxed()
    }
}
