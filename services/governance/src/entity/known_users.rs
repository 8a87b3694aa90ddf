//! `known_users` (`crate::people::MIGRATION`): governance's projection of identity's users, the
//! platform's ([`terrace_platform::people`]), kept from `state.identity.user` and the
//! `identity.user.*` events.

pub use terrace_platform::people::known_users::*;
