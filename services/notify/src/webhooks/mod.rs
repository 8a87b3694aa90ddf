//! Signed webhooks to agencies: `CreateWebhookEndpoint`, `GetWebhookEndpoint`, `ListWebhookEndpoints`, `UpdateWebhookEndpoint`, `DeleteWebhookEndpoint`, `RotateWebhookSecret`.
//!
//! Built so far: the two pieces every send needs — [`signing`] (Standard Webhooks signatures and
//! `whsec_` secrets, verified by an independent implementation in its tests) and [`target`]
//! (https only, public addresses only unless the operator allows private ones). The endpoints'
//! RPCs ([`parse`], [`store`]), the rule that queues events for them and the channel that posts
//! them are the rest of issue 12; until then the RPCs answer `UNIMPLEMENTED`.

pub mod parse;
pub mod signing;
pub mod store;
pub mod target;
