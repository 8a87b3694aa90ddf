//! The channels that leave the platform (SMS and e-mail now; webhooks as they land), behind one
//! trait the dispatcher sends through. The in-app inbox is not one of them: its row is written
//! in the transaction of the event that caused it (exactly once), not sent.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use terrace_proto::notify::v1 as pb;
use uuid::Uuid;

/// One message to send, as the dispatcher hands it to a channel.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The delivery: the idempotency key of the send, the same on every attempt, so that a send
    /// repeated after a crash is recognisable downstream.
    pub delivery_id: Uuid,
    /// Phone (E.164), e-mail address or URL.
    pub address: String,
    /// Title or subject (unused by SMS).
    pub subject: String,
    /// The rendered text.
    pub body: String,
    /// The provider's approved template id (SMS in China), if the text has one.
    pub template_code: String,
    /// The SMS signature the template names; empty: the channel's own.
    pub signature: String,
    /// The values the text was rendered with, for providers that render themselves.
    pub params: serde_json::Value,
}

/// What a provider said when it took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's id for it (receipts name it).
    pub provider_message_id: String,
}

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another attempt later: a timeout, a 5xx, a refused connection, throttling.
    Retry(String),
    /// Will never go through: a bad number, a refused template; the delivery fails now.
    Permanent(String),
    /// Not sent, by design (no provider configured): the delivery is suppressed.
    Suppress(String),
}

/// A channel to the outside.
pub trait Channel: Send + Sync + std::fmt::Debug {
    /// Hands `message` to the provider.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, Failure>>;
}

/// The channels this replica sends on, by the contract's channel.
#[derive(Debug, Clone, Default)]
pub struct Channels(HashMap<i32, Arc<dyn Channel>>);

impl Channels {
    pub fn with(mut self, channel: pb::Channel, sender: Arc<dyn Channel>) -> Self {
        self.0.insert(channel as i32, sender);
        self
    }

    pub fn get(&self, channel: pb::Channel) -> Option<&Arc<dyn Channel>> {
        self.0.get(&(channel as i32))
    }
}
