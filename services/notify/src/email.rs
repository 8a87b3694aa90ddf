//! The e-mail channel: SMTP through `lettre`, configured by one URL
//! (`services.notify.email.url`). Each mail is `multipart/alternative`: the rendered text as its
//! plain part and, since template bodies are Markdown, an HTML part rendered from it (raw HTML in
//! a template is shown as text, never passed through). Its `Message-ID` is made of the delivery
//! id, the same on every attempt, so that a mail repeated after a crash is recognisable
//! downstream (the idempotency key SMS gateways get as a header).
//!
//! SMTP's answers decide what happens next: a transient one (4xx), a refused or lost
//! connection, a timeout are retried; a permanent one (5xx: no such mailbox, refused) fails the
//! delivery now.

use futures::FutureExt as _;
use futures::future::BoxFuture;
use lettre::message::{Mailbox, MultiPart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::channels::{Accepted, Channel, Failure, Outgoing};
use crate::config::EmailSettings;

/// The domain of every Message-ID notify makes (`<delivery-id@notify.terrace>`).
const MESSAGE_ID_DOMAIN: &str = "notify.terrace";

/// The e-mail channel; without a server configured, every mail is suppressed.
#[derive(Clone)]
pub struct EmailChannel {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("configured", &self.transport.is_some())
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl EmailChannel {
    /// The channel as `settings` describe it; a URL or a sender lettre cannot read is an error
    /// at start, not at the first mail.
    pub fn from_settings(settings: &EmailSettings) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|error| anyhow::anyhow!("services.notify.email.from: {error}"))?;
        let url = settings.url.expose_secret();
        let transport = if url.is_empty() {
            None
        } else {
            Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|error| anyhow::anyhow!("services.notify.email.url: {error}"))?
                    .timeout(Some(settings.timeout))
                    .build(),
            )
        };
        Ok(Self { transport, from })
    }

    /// The mail of `message`.
    pub fn mail(&self, message: &Outgoing) -> Result<Message, Failure> {
        let to: Mailbox = message
            .address
            .parse()
            .map_err(|error| Failure::Permanent(format!("not an e-mail address: {error}")))?;
        let subject = if message.subject.is_empty() {
            // A digest has no title of its own: its first line is one.
            message.body.lines().next().unwrap_or("Terrace").to_owned()
        } else {
            message.subject.clone()
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id(message.delivery_id)))
            .header(header::MIME_VERSION_1_0)
            .multipart(MultiPart::alternative_plain_html(
                message.body.clone(),
                html(&message.body),
            ))
            .map_err(|error| Failure::Permanent(format!("the mail cannot be built: {error}")))
    }
}

/// `<delivery-id@notify.terrace>`.
pub fn message_id(delivery: uuid::Uuid) -> String {
    format!("<{delivery}@{MESSAGE_ID_DOMAIN}>")
}

/// The HTML part of a Markdown body; raw HTML in it becomes text.
fn html(markdown: &str) -> String {
    use pulldown_cmark::{Event, Parser};
    let events = Parser::new(markdown).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

impl Channel for EmailChannel {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, Failure>> {
        async move {
            let Some(transport) = &self.transport else {
                return Err(Failure::Suppress(
                    "no e-mail server is configured".to_owned(),
                ));
            };
            let mail = self.mail(message)?;
            match transport.send(mail).await {
                Ok(_) => Ok(Accepted {
                    provider_message_id: message_id(message.delivery_id),
                }),
                Err(error) if error.is_permanent() => Err(Failure::Permanent(format!(
                    "the mail server refused: {error}"
                ))),
                Err(error) => Err(Failure::Retry(format!("the mail server: {error}"))),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> EmailChannel {
        EmailChannel::from_settings(&EmailSettings::default()).unwrap()
    }

    fn outgoing(address: &str, body: &str) -> Outgoing {
        Outgoing {
            delivery_id: uuid::Uuid::now_v7(),
            address: address.to_owned(),
            subject: "新订单：红富士苹果".to_owned(),
            body: body.to_owned(),
            template_code: String::new(),
            signature: String::new(),
            params: serde_json::json!({}),
        }
    }

    #[test]
    fn a_mail_carries_its_delivery_id_and_both_parts() {
        let message = outgoing(
            "王秀英 <xiuying@example.org>",
            "**张伟** 要买 10 斤。<script>x</script>",
        );
        let mail = channel().mail(&message).unwrap();
        let raw = String::from_utf8(mail.formatted()).unwrap();
        assert!(
            raw.contains(&format!(
                "Message-ID: <{}@notify.terrace>",
                message.delivery_id
            )),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let html = html(&message.body);
        assert!(html.contains("<strong>张伟</strong>"), "{html}");
        assert!(!html.contains("<script>"), "raw HTML is text: {html}");
    }

    #[test]
    fn a_bad_address_fails_for_good_and_no_server_suppresses() {
        let refused = channel()
            .mail(&outgoing("not an address", "x"))
            .unwrap_err();
        assert!(matches!(refused, Failure::Permanent(_)), "{refused:?}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let sent = runtime.block_on(channel().send(&outgoing("a@example.org", "x")));
        assert!(matches!(sent, Err(Failure::Suppress(_))), "{sent:?}");
    }
}
