//! The development SMS provider: each text appended as one line, `<phone> <text>`, to a file
//! (`terrace dev`: `.terrace/sms.log`) and shown in the service log. A developer signs in with
//! the code it shows; tests read a phone's newest code from the file. Never for production: it
//! writes codes in clear.

use std::path::PathBuf;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::Mutex;

use super::{Sms, SmsProvider};
use crate::channels::{Accepted, Failure};

/// Appends texts to a file.
#[derive(Debug)]
pub struct LogProvider {
    file: Option<PathBuf>,
    /// One line at a time, whole.
    writing: Mutex<()>,
}

impl LogProvider {
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            file,
            writing: Mutex::new(()),
        }
    }

    async fn append(&self, line: &str) -> std::io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let _one_at_a_time = self.writing.lock().await;
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .await?;
        out.write_all(line.as_bytes()).await
    }
}

/// The line of one text: the phone, then the text on one line.
pub fn line(sms: &Sms<'_>) -> String {
    format!("{} {}\n", sms.to, sms.text.replace(['\n', '\r'], " "))
}

impl SmsProvider for LogProvider {
    fn send<'a>(&'a self, sms: &'a Sms<'a>) -> BoxFuture<'a, Result<Accepted, Failure>> {
        async move {
            tracing::info!(to = sms.to, text = sms.text, "development sms");
            self.append(&line(sms))
                .await
                .map_err(|error| Failure::Retry(format!("writing the sms log: {error}")))?;
            Ok(Accepted {
                provider_message_id: sms.delivery_id.to_string(),
            })
        }
        .boxed()
    }
}
