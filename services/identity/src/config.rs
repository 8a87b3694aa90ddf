//! The identity service's own settings: `[services.identity]` in the settings file, or
//! `TERRACE__SERVICES__IDENTITY__<KEY>` in the environment.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use terrace_platform::config::humantime_secs;

/// A development-only key, used when none is configured (with a loud warning at start).
pub const DEVELOPMENT_SECRET: &str = "terrace-development-secret-do-not-use-in-production";

/// Settings of the identity service.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IdentitySettings {
    /// Encrypts signing keys at rest and keys the HMAC of one-time codes and refresh tokens. At
    /// least 32 bytes of entropy; rotate by re-encrypting (see docs/operations.md).
    pub secret: SecretString,
    /// Lifetime of an access token.
    #[serde(with = "humantime_secs")]
    pub access_token_ttl: Duration,
    /// Lifetime of a session's refresh token family since its last use.
    #[serde(with = "humantime_secs")]
    pub refresh_token_ttl: Duration,
    /// A new signing key is made after this long, and the old one stays published for
    /// `access_token_ttl` more so that tokens it signed stay valid until they expire.
    #[serde(with = "humantime_secs")]
    pub signing_key_rotation: Duration,
    /// Lifetime of a one-time code.
    #[serde(with = "humantime_secs")]
    pub otp_ttl: Duration,
    /// Wrong codes accepted for one challenge before it is void.
    pub otp_max_attempts: u32,
    /// Shortest time between two codes sent to one phone.
    #[serde(with = "humantime_secs")]
    pub otp_resend_interval: Duration,
    /// Create the demonstration accounts at start (`terrace dev --demo`); see [`crate::demo`].
    pub demo_users: bool,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            secret: SecretString::from(DEVELOPMENT_SECRET),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            signing_key_rotation: Duration::from_secs(30 * 24 * 3600),
            otp_ttl: Duration::from_secs(5 * 60),
            otp_max_attempts: 5,
            otp_resend_interval: Duration::from_secs(60),
            demo_users: false,
        }
    }
}
