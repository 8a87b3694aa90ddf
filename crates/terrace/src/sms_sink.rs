//! The development SMS sink of `terrace dev`: one-time codes shown on the console and appended to
//! `<data dir>/sms.log`, until the notify service delivers them by SMS.
//!
//! It listens on the core NATS subject of `OtpRequested` (`secret.identity.otp.requested`; JetStream publishes are ordinary
//! NATS messages to any subscriber), so it needs no stream, consumer or database of its own; a code
//! published while it is not connected is simply not shown, which is fine for development.

use std::path::PathBuf;

use anyhow::Context as _;
use futures::StreamExt as _;
use terrace_platform::bus::{Envelope, Naming};
use terrace_platform::config::NatsSettings;
use terrace_proto::identity::v1::OtpRequested;
use tokio::io::AsyncWriteExt as _;
use tokio_util::sync::CancellationToken;

/// Subscribes and shows codes until `shutdown`.
pub(crate) async fn run(
    settings: NatsSettings,
    log: PathBuf,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let client = async_nats::connect(settings.url.as_str())
        .await
        .context("connecting the sms sink to nats")?;
    let naming = Naming::new(&settings.prefix);
    let mut messages = client
        .subscribe(naming.subject(<OtpRequested as terrace_proto::Event>::SUBJECT))
        .await?;
    if let Some(dir) = log.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            message = messages.next() => message,
        };
        let Some(message) = message else {
            return Ok(());
        };
        let subject = naming.strip(message.subject.as_str()).to_owned();
        let otp =
            Envelope::from_message(&subject, message.headers.as_ref(), message.payload.clone())
                .and_then(|envelope| envelope.decode::<OtpRequested>());
        let otp = match otp {
            Ok(otp) => otp,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "sms sink: not a one-time code event"
                );
                continue;
            }
        };
        let line = format!(
            "{} code {} (purpose {}, locale {})\n",
            otp.phone_number, otp.code, otp.purpose, otp.locale
        );
        tracing::info!(phone = %otp.phone_number, code = %otp.code, "development sms");
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .await?;
        file.write_all(line.as_bytes()).await?;
    }
}
