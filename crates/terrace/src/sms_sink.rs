//! The development SMS sink of `terrace dev`: codes meant for a phone shown on the console and
//! appended to `<data dir>/sms.log`, until the notify service delivers them by SMS.
//!
//! Two events carry such a code: identity's `OtpRequested` (logins, sign-ups, password resets,
//! on `secret.identity.otp.requested`) and governance's `ResidentClaimCodeRequested` (a villager
//! proving a claim to a resident record, the code going to the phone on the record, on
//! `secret.governance.resident_claim.code_requested`). Each becomes one line of the same shape,
//! `<phone> code <code> (<what it is for>, locale <locale>)`, so a test finds a phone's newest
//! code the same way whichever service sent it.
//!
//! It listens on the events' core NATS subjects (JetStream publishes are ordinary NATS messages
//! to any subscriber), so it needs no stream, consumer or database of its own; a code published
//! while it is not connected is simply not shown, which is fine for development.

use std::path::PathBuf;

use anyhow::Context as _;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use terrace_platform::bus::{Envelope, Event, Naming};
use terrace_platform::config::NatsSettings;
use terrace_proto::governance::v1::ResidentClaimCodeRequested;
use terrace_proto::identity::v1::OtpRequested;
use tokio::io::AsyncWriteExt as _;
use tokio_util::sync::CancellationToken;

/// One text message with a code, as the sink shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sms {
    /// E.164 destination.
    phone: String,
    code: String,
    /// What the code is for, in the line's brackets.
    about: String,
    locale: String,
}

impl Sms {
    /// The log line; tests read `<phone> code <6 digits>` from its start.
    fn line(&self) -> String {
        format!(
            "{} code {} ({}, locale {})\n",
            self.phone, self.code, self.about, self.locale
        )
    }
}

/// An event that asks for a code to be sent to a phone.
trait CodeEvent: Event + Send + 'static {
    fn sms(self) -> Sms;
}

impl CodeEvent for OtpRequested {
    fn sms(self) -> Sms {
        Sms {
            about: format!("purpose {}", self.purpose),
            phone: self.phone_number,
            code: self.code,
            locale: self.locale,
        }
    }
}

impl CodeEvent for ResidentClaimCodeRequested {
    fn sms(self) -> Sms {
        Sms {
            about: format!("resident claim {}", self.claim_id),
            phone: self.phone_number,
            code: self.code,
            locale: self.locale,
        }
    }
}

/// The text messages `E` asks for, from its subject: one function for every kind of code. An
/// undecodable message becomes an error item, which the sink reports and skips.
async fn messages<E: CodeEvent>(
    client: &async_nats::Client,
    naming: &Naming,
) -> anyhow::Result<BoxStream<'static, anyhow::Result<Sms>>> {
    let subscriber = client
        .subscribe(naming.subject(E::SUBJECT))
        .await
        .with_context(|| format!("subscribing the sms sink to {}", E::SUBJECT))?;
    let naming = naming.clone();
    Ok(subscriber
        .map(move |message| {
            let subject = naming.strip(message.subject.as_str());
            Envelope::from_message(subject, message.headers.as_ref(), message.payload)
                .and_then(|envelope| envelope.decode::<E>())
                .map(E::sms)
        })
        .boxed())
}

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
    let mut texts = futures::stream::select(
        messages::<OtpRequested>(&client, &naming).await?,
        messages::<ResidentClaimCodeRequested>(&client, &naming).await?,
    );
    if let Some(dir) = log.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    loop {
        let sms = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            sms = texts.next() => sms,
        };
        let Some(sms) = sms else {
            return Ok(());
        };
        let sms = match sms {
            Ok(sms) => sms,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "sms sink: not a code event");
                continue;
            }
        };
        tracing::info!(phone = %sms.phone, code = %sms.code, about = %sms.about, "development sms");
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .await?;
        file.write_all(sms.line().as_bytes()).await?;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use terrace_platform::bus::{Envelope, Event, Naming};
    use terrace_proto::governance::v1::ResidentClaimCodeRequested;
    use terrace_proto::identity::v1::OtpRequested;
    use terrace_testkit::{TestContext, eventually};
    use tokio_util::sync::CancellationToken;

    /// Publishes `event` as its service's relay would (a NATS publish with the envelope's
    /// headers), again at each look, until `log` has a line starting with `expected`: the sink
    /// subscribes asynchronously, and a code published before that is not shown, by design.
    async fn shown<E: Event>(
        client: &async_nats::Client,
        naming: &Naming,
        event: &E,
        log: &std::path::Path,
        expected: &str,
    ) -> String {
        let envelope = Envelope::new("test", event);
        eventually(expected, Duration::from_secs(10), || async {
            client
                .publish_with_headers(
                    naming.subject(E::SUBJECT),
                    envelope.headers(),
                    envelope.payload.clone(),
                )
                .await
                .unwrap();
            client.flush().await.unwrap();
            let text = tokio::fs::read_to_string(log).await.unwrap_or_default();
            text.lines()
                .find(|line| line.starts_with(expected))
                .map(str::to_owned)
        })
        .await
    }

    #[tokio::test]
    async fn login_codes_and_resident_claim_codes_are_logged_alike() {
        let ctx = TestContext::new();
        let dir = std::env::temp_dir().join(format!("terrace-sms-{}", ctx.id));
        let log = dir.join("sms.log");
        let stop = CancellationToken::new();
        let sink = tokio::spawn(super::run(
            ctx.settings.nats.clone(),
            log.clone(),
            stop.clone(),
        ));
        let client = async_nats::connect(ctx.settings.nats.url.as_str())
            .await
            .unwrap();
        let naming = Naming::new(&ctx.settings.nats.prefix);

        let otp = OtpRequested {
            phone_number: "+8613800000001".into(),
            code: "123456".into(),
            purpose: 1,
            locale: "zh-CN".into(),
            ..Default::default()
        };
        let line = shown(&client, &naming, &otp, &log, "+8613800000001 code 123456").await;
        assert_eq!(line, "+8613800000001 code 123456 (purpose 1, locale zh-CN)");

        let claim = ResidentClaimCodeRequested {
            claim_id: "0190c2d4-1234-7abc-8def-0123456789ab".into(),
            phone_number: "+8613900000201".into(),
            claimant_user_id: "0190c2d4-0000-7abc-8def-0123456789ab".into(),
            code: "654321".into(),
            locale: "en".into(),
            expire_time: None,
        };
        let line = shown(&client, &naming, &claim, &log, "+8613900000201 code 654321").await;
        assert_eq!(
            line,
            "+8613900000201 code 654321 (resident claim 0190c2d4-1234-7abc-8def-0123456789ab, locale en)"
        );

        stop.cancel();
        sink.await.unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
