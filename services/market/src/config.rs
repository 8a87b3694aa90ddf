//! The market service's own settings: `[services.market]` in the settings file, or
//! `TERRACE__SERVICES__MARKET__<KEY>` in the environment.

use serde::Deserialize;

/// Settings of the market service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MarketSettings {
    /// List the demonstration farmer's produce at start (`terrace dev --demo`; needs identity's
    /// demonstration accounts); see [`crate::demo`].
    pub demo_listings: bool,
}
