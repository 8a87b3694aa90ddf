//! A small SMTP server on loopback, standing in for a mail server (outside the platform): it
//! speaks enough of RFC 5321 for a real client (greeting, EHLO/HELO, MAIL, RCPT, DATA with
//! dot-stuffing, RSET, NOOP, QUIT), keeps every message it accepted, and can be told to answer
//! the next transactions with a transient (4xx) or permanent (5xx) refusal. Messages are read
//! back with `mail-parser`, an implementation independent of the client that wrote them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `MAIL FROM` and `RCPT TO`, as the client gave them (without brackets).
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent, dot-stuffing undone.
    pub raw: Vec<u8>,
}

impl Mail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a message the server accepted parses")
    }

    /// The `Message-ID`, without brackets.
    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    /// The subject, decoded.
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The plain-text part, decoded.
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default()
    }

    /// The HTML part, decoded.
    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|html| html.into_owned())
            .unwrap_or_default()
    }
}

/// The server.
#[derive(Debug, Clone, Default)]
pub struct SmtpServer {
    mails: Arc<Mutex<Vec<Mail>>>,
    /// Replies to the next `MAIL FROM`s instead of 250 (`451 4.3.0 try again later`).
    refusals: Arc<Mutex<Vec<String>>>,
}

impl SmtpServer {
    /// Serves on a free loopback port; the URL notify's `services.notify.email.url` takes.
    pub async fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    // A client that goes away mid-session is no failure of the server.
                    let _ = server.session(stream).await;
                });
            }
        });
        format!("smtp://{addr}")
    }

    /// The next transactions are refused at `MAIL FROM` with `replies`, in order (`"451 4.3.0
    /// try again later"`, `"550 5.1.1 no such mailbox"`).
    pub fn refuse_next(&self, replies: &[&str]) {
        self.refusals
            .lock()
            .unwrap()
            .extend(replies.iter().map(|r| (*r).to_owned()));
    }

    /// Every message accepted so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits until the server accepted `count` messages (30 s at most, for a loaded machine).
    pub async fn when(&self, count: usize) -> Vec<Mail> {
        crate::eventually(
            &format!("{count} mails at the SMTP server"),
            Duration::from_secs(30),
            || async { Some(self.mails()).filter(|m| m.len() >= count) },
        )
        .await
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 terrace-test ESMTP\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            let verb = command
                .split([' ', ':'])
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply: String = match verb.as_str() {
                "EHLO" => "250-terrace-test\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned(),
                "HELO" | "NOOP" => "250 OK".to_owned(),
                "RSET" => {
                    (from, to) = (String::new(), Vec::new());
                    "250 OK".to_owned()
                }
                "MAIL" => {
                    let refusal = {
                        let mut refusals = self.refusals.lock().unwrap();
                        (!refusals.is_empty()).then(|| refusals.remove(0))
                    };
                    match refusal {
                        Some(refusal) => refusal,
                        None => {
                            from = address(&command);
                            "250 OK".to_owned()
                        }
                    }
                }
                "RCPT" => {
                    to.push(address(&command));
                    "250 OK".to_owned()
                }
                "DATA" => {
                    write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                    let mut raw = Vec::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" || line == ".\n" {
                            break;
                        }
                        let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                        raw.extend_from_slice(unstuffed.as_bytes());
                    }
                    self.mails.lock().unwrap().push(Mail {
                        from: std::mem::take(&mut from),
                        to: std::mem::take(&mut to),
                        raw,
                    });
                    "250 OK queued".to_owned()
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => "502 command not implemented".to_owned(),
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }
}

/// The address in `MAIL FROM:<a@b>` or `RCPT TO:<a@b>`.
fn address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}
