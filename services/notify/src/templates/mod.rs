//! Versioned message templates per locale: `CreateTemplate`, `GetTemplate`, `ListTemplates`, `UpdateTemplate`, `ListTemplateVersions`, `ActivateTemplateVersion`, `PreviewTemplate`.
//!
//! Empty until the notify issue that builds it: the place is laid out so that every service has
//! the one rhythm (`docs/architecture.md`, "One rhythm per RPC"). [`parse`] turns each request
//! into a command, this module applies it over a `Caller` (the rules), [`store`] holds the SQL,
//! and `grpc.rs` answers. Identity's `grants` module is the example to follow.

pub mod defaults;
pub mod parse;
pub mod store;
