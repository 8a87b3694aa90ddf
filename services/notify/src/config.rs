//! The notify service's own settings: `[services.notify]` in the settings file, or
//! `TERRACE__SERVICES__NOTIFY__<KEY>` in the environment (`__SMS__PROVIDER=gateway`).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use terrace_platform::config::humantime_secs;

/// Settings of the notify service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NotifySettings {
    /// The SMS channel (`[services.notify.sms]`).
    pub sms: SmsSettings,
    /// The e-mail channel (`[services.notify.email]`).
    pub email: EmailSettings,
    /// How deliveries to outside channels are sent and retried (`[services.notify.delivery]`).
    pub delivery: DeliverySettings,
}

/// Which SMS provider sends texts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsProviderKind {
    /// None configured: texts are recorded as suppressed ("no SMS provider"), never sent.
    #[default]
    None,
    /// The development sink: each text appended to `log_file` (and the service log).
    Log,
    /// An HTTP gateway (`[services.notify.sms.gateway]`).
    Gateway,
}

/// The SMS channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SmsSettings {
    pub provider: SmsProviderKind,
    /// The signature Chinese carriers require, registered with the provider (`Terrace`); sent
    /// to the gateway beside the text, and put in front of the text as 【Terrace】.
    pub signature: String,
    /// For `provider = "log"`: the file texts are appended to (`terrace dev`: `.terrace/sms.log`).
    pub log_file: Option<PathBuf>,
    pub gateway: GatewaySettings,
    /// The bearer token the gateway's delivery receipts must carry
    /// (`POST /notify/sms/receipts` on the HTTP port); receipts are refused while it is empty.
    pub receipt_token: SecretString,
}

impl Default for SmsSettings {
    fn default() -> Self {
        Self {
            provider: SmsProviderKind::None,
            signature: "Terrace".to_owned(),
            log_file: None,
            gateway: GatewaySettings::default(),
            receipt_token: SecretString::from(String::new()),
        }
    }
}

/// The e-mail channel: SMTP through `lettre`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EmailSettings {
    /// The SMTP server as lettre reads it: `smtps://user:password@mail.example.org` (TLS),
    /// `smtp://mail.example.org:587?tls=required` (STARTTLS), `smtp://127.0.0.1:2525` (plain, a
    /// relay on the same host). Empty: no e-mail; mails are recorded as suppressed.
    pub url: SecretString,
    /// The sender, `Terrace <noreply@terrace.example>`.
    pub from: String,
    /// How long one send may take before it counts as failed (and is retried).
    #[serde(with = "humantime_secs")]
    pub timeout: Duration,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from(String::new()),
            from: "Terrace <noreply@terrace.invalid>".to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// An HTTP SMS gateway: `POST <url>` with JSON (see [`crate::sms::gateway`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: SecretString,
    /// How long one send may take before it counts as failed (and is retried).
    #[serde(with = "humantime_secs")]
    pub timeout: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: SecretString::from(String::new()),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Sending and retrying.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DeliverySettings {
    /// Attempts before a delivery fails for good.
    pub max_attempts: u32,
    /// The wait after the first failed attempt (service clock); doubled after each next one.
    #[serde(with = "humantime_secs")]
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    #[serde(with = "humantime_secs")]
    pub max_retry: Duration,
    /// How long a replica may hold a delivery it is sending (service clock) before another
    /// replica presumes it dead and sends again, with the same delivery id.
    #[serde(with = "humantime_secs")]
    pub lease: Duration,
    /// How often each replica looks for deliveries due (tokio time; due-ness is read from the
    /// service clock).
    #[serde(with = "humantime_secs")]
    pub poll_interval: Duration,
    /// Deliveries taken per look, and sent at once.
    pub batch: u32,
    /// Texts one person may be sent in an hour, critical ones (codes) aside; more are recorded as
    /// suppressed.
    pub texts_per_hour: u32,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(3600),
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_millis(250),
            batch: 32,
            texts_per_hour: 10,
        }
    }
}
