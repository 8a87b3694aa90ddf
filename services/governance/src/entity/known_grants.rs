//! `known_grants` (`crate::people::grants::MIGRATION`): governance's projection of identity's role
//! grants, the platform's ([`terrace_platform::officials`]), kept from `state.identity.grant` and
//! the `identity.role.*` events.

pub use terrace_platform::officials::known_grants::*;
