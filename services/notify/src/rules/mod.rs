//! Rules: which events become notifications, for whom, saying what. Each domain's rules are a
//! consumer of the platform's runner (exactly once per event id, in one transaction with what
//! they write) over the events notify cares about; recipients come from notify's own
//! projections (people: names, phones), never another service's database.
//!
//! - [`market`]: orders — the farmer whose listing was ordered, the buyer told of each answer.
//! - [`governance`]: service requests — the villager (and followers) told of each step, an
//!   escalation and a public reply.
//!
//! The texts come from [`crate::templates::defaults`]; the words a text needs in the
//! recipient's language (a quantity, a price) are made here by [`words`].

pub mod governance;
pub mod market;
pub mod words;

use terrace_platform::bus::consumer::{Consumer, ConsumerSpec, Handler};
use terrace_platform::service::ServiceContext;

/// A durable consumer `name` of `domain`'s events on `subject` (a NATS filter), handled by
/// `rules`: the frame every rule set shares.
pub fn consumer<H: Handler>(
    ctx: &ServiceContext,
    name: &str,
    domain: &str,
    subject: &str,
    rules: H,
) -> Consumer<H> {
    Consumer::new(
        ConsumerSpec {
            name: name.to_owned(),
            domain: domain.to_owned(),
            subject: Some(subject.to_owned()),
        },
        &ctx.db,
        &ctx.bus,
        &ctx.settings.consumer,
        rules,
    )
}
