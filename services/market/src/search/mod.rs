//! The search index of listings: `SearchListings`, `RebuildSearchIndex`.
//!
//! The place is laid out so that every service has the one rhythm (`docs/architecture.md`, "One
//! rhythm per RPC"). [`parse`] turns each request into a command, this module applies it over a
//! `Caller` (the rules), [`store`] holds the SQL, and `grpc.rs` answers. Identity's `grants`
//! module is the example to follow.
//!
//! # Layout
//!
//! - [`index`]: the tantivy index itself (schema, versioned writes, queries, facets), which the
//!   listing events feed and `SearchListings` reads; no gRPC, database or NATS in it.
//! - `tokenizer`: the Chinese (jieba) and English (stemmed) analyzers the index registers.
//! - `counts`: the collectors counting price and available-quantity ranges, and areas at a level.
//! - [`parse`], [`store`]: empty until the RPCs land.

mod counts;
pub mod index;
pub mod parse;
pub mod store;
mod tokenizer;
