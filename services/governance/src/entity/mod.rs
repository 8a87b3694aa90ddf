//! One sea-orm entity per governance table: the one row type each store reads and writes.

pub mod audit_chain_heads;
pub mod audit_entries;
pub mod division_revision;
pub mod divisions;
pub mod households;
pub mod known_grants;
pub mod known_users;
pub mod request_area_settings;
pub mod request_types;
pub mod resident_access_log;
pub mod resident_claim_requests;
pub mod resident_claims;
pub mod residents;
pub mod service_request_followers;
pub mod service_request_timeline;
pub mod service_requests;
pub mod working_calendar_days;
