//! The governance service's own settings: `[services.governance]` in the settings file, or
//! `TERRACE__SERVICES__GOVERNANCE__<KEY>` in the environment.

use serde::Deserialize;

/// Settings of the governance service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GovernanceSettings {
    /// Import the demonstration county at start (`terrace dev --demo`); see [`crate::demo`].
    pub demo_divisions: bool,
    /// Register the demonstration households of 余村 at start (`terrace dev --demo`; needs the
    /// county, so `demo_divisions` too); see [`crate::demo::create_demo_register`].
    pub demo_register: bool,
    /// Create the demonstration catalogue of request types (`terrace dev --demo`; needs the
    /// county); see [`crate::demo::create_demo_request_types`].
    pub demo_request_types: bool,
    /// The keys that seal national ids and hash them (`[services.governance.national_id]`).
    pub national_id: crate::register::sealing::NationalIdKeys,
    /// How long the register keeps records moved out or deceased, and access-log entries
    /// (`[services.governance.retention]`, e.g. `records = "5475d"`).
    pub retention: crate::register::Retention,
}
