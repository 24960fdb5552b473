//! Where messages go: an SMTP relay, or a folder of `.eml` files.
//!
//! Each delivery worker holds its own SMTP connection ([`Connection`]) and
//! sends message after message on it. lettre's pooled transport is not used:
//! it sends a NOOP on every checkout, and the lettre release we build on
//! never sets `TCP_NODELAY`, so with Nagle's algorithm and delayed ACKs a
//! message could stall ~40 ms on loopback. Connections here are opened by
//! us with `TCP_NODELAY` and handed to lettre's connection API (greeting,
//! EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA). Implicit TLS (port 465) goes
//! through lettre's own connect, without the flag.

use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{DeliverySettings, TlsMode, TransportKind};

/// Where messages go. Built once and shared; cheap to clone.
#[derive(Clone)]
pub enum Mailer {
    Smtp(Arc<SmtpServer>),
    Folder {
        transport: AsyncFileTransport<Tokio1Executor>,
        folder: String,
    },
}

/// An SMTP relay and how to talk to it.
pub struct SmtpServer {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// Per read, write or connect.
    timeout: Duration,
    /// For errors and logs: `SMTP server HOST:PORT`.
    server: String,
    /// Upper bound for one connection set-up or one message, whatever the
    /// server does (a stalled server must not stall delivery).
    deadline: Duration,
}

/// One worker's session with the mail server: a connection opened on first
/// use, kept for the messages that follow, and opened again after an error.
pub struct Connection<'m> {
    mailer: &'m Mailer,
    smtp: Option<AsyncSmtpConnection>,
}

/// Why a message did not go out, classified for the retry decision.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused this message for good (5xx): retrying will not help.
    #[error("rejected by the mail server: {0}")]
    Permanent(String),
    /// The server deferred this message (4xx): retry it later.
    #[error("deferred by the mail server: {0}")]
    Transient(String),
    /// The server could not be reached, refused our TLS or credentials, or
    /// the connection broke: every message would fail the same way, so stop
    /// and retry later. Never a reason to give a message up.
    #[error("{target} is unavailable: {message}")]
    Unavailable { target: String, message: String },
}

#[derive(Debug, thiserror::Error)]
#[error("invalid SMTP settings: {0} (check `delivery.smtp`)")]
pub struct MailerConfigError(String);

impl Mailer {
    pub fn from_settings(settings: &DeliverySettings) -> Result<Self, MailerConfigError> {
        match settings.transport {
            TransportKind::Folder => {
                std::fs::create_dir_all(&settings.folder).map_err(|e| {
                    MailerConfigError(format!(
                        "cannot create delivery.folder {}: {e}",
                        settings.folder.display()
                    ))
                })?;
                Ok(Mailer::Folder {
                    transport: AsyncFileTransport::new(&settings.folder),
                    folder: settings.folder.display().to_string(),
                })
            }
            TransportKind::Smtp => {
                crate::install_crypto_provider();
                let smtp = &settings.smtp;
                let tls_params = || {
                    let mut builder = TlsParameters::builder(smtp.host.clone());
                    if let Some(path) = &smtp.ca_file {
                        let pem = std::fs::read(path).map_err(|e| {
                            MailerConfigError(format!(
                                "cannot read delivery.smtp.ca_file {}: {e}",
                                path.display()
                            ))
                        })?;
                        let ca = Certificate::from_pem(&pem).map_err(|e| {
                            MailerConfigError(format!(
                                "delivery.smtp.ca_file {} is not a PEM certificate: {e}",
                                path.display()
                            ))
                        })?;
                        builder = builder.add_root_certificate(ca);
                    }
                    builder
                        .build_rustls()
                        .map_err(|e| MailerConfigError(e.to_string()))
                };
                let tls = match smtp.tls {
                    TlsMode::None => Tls::None,
                    TlsMode::Starttls => Tls::Required(tls_params()?),
                    TlsMode::Tls => Tls::Wrapper(tls_params()?),
                };
                let credentials = match (&smtp.username, &smtp.password) {
                    (Some(user), Some(password)) => {
                        Some(Credentials::new(user.clone(), password.expose().to_owned()))
                    }
                    _ => None,
                };
                Ok(Mailer::Smtp(Arc::new(SmtpServer {
                    host: smtp.host.clone(),
                    port: smtp.port,
                    tls,
                    credentials,
                    hello: ClientId::default(),
                    timeout: Duration::from_secs(smtp.timeout_secs),
                    server: format!("SMTP server {}:{}", smtp.host, smtp.port),
                    // Connect, greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA:
                    // each may take up to the timeout; together they may not take longer than this.
                    deadline: Duration::from_secs(smtp.timeout_secs.saturating_mul(3)),
                })))
            }
        }
    }

    /// A session for sending several messages one after another.
    pub fn connection(&self) -> Connection<'_> {
        Connection {
            mailer: self,
            smtp: None,
        }
    }

    /// Opens a connection, with TLS and AUTH, before any message is risked
    /// on it: a wrong password or certificate must not look like a
    /// recipient's permanent rejection.
    pub async fn check(&self) -> Result<(), SendError> {
        if let Mailer::Folder { .. } = self {
            return Ok(());
        }
        let mut connection = self.connection();
        connection.open().await?;
        connection.close().await;
        Ok(())
    }

    /// Sends one message on a connection of its own.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        let mut connection = self.connection();
        let sent = connection.send(&message).await;
        connection.close().await;
        sent
    }

    /// The longest one message's exchange may take; a claim's lease must
    /// outlast it.
    pub fn deadline(&self) -> Duration {
        match self {
            Mailer::Smtp(smtp) => smtp.deadline,
            Mailer::Folder { .. } => Duration::from_secs(30),
        }
    }

    /// For logs and the CLI: where mail goes.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(smtp) => smtp.server.clone(),
            Mailer::Folder { folder, .. } => format!("folder {folder}"),
        }
    }
}

impl SmtpServer {
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let fail = |e: lettre::transport::smtp::Error| unavailable(&self.server, e);
        let mut connection = match &self.tls {
            Tls::Wrapper(params) => AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(params.clone()),
                None,
            )
            .await
            .map_err(fail)?,
            tls => {
                let tcp = tokio::time::timeout(
                    self.timeout,
                    tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
                )
                .await
                .map_err(|_| unavailable(&self.server, "connection timed out"))?
                .map_err(|e| unavailable(&self.server, e))?;
                tcp.set_nodelay(true)
                    .map_err(|e| unavailable(&self.server, e))?;
                let mut connection =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                        .await
                        .map_err(fail)?;
                if let Tls::Required(params) | Tls::Opportunistic(params) = tls {
                    if connection.can_starttls() {
                        connection
                            .starttls(params.clone(), &self.hello)
                            .await
                            .map_err(fail)?;
                    } else if matches!(tls, Tls::Required(_)) {
                        return Err(unavailable(
                            &self.server,
                            "the server does not offer STARTTLS (set delivery.smtp.tls)",
                        ));
                    }
                }
                connection
            }
        };
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(fail)?;
        }
        Ok(connection)
    }
}

impl Connection<'_> {
    async fn open(&mut self) -> Result<&mut AsyncSmtpConnection, SendError> {
        let Mailer::Smtp(smtp) = self.mailer else {
            unreachable!("only SMTP mailers open connections")
        };
        if self.smtp.as_ref().is_some_and(|c| c.has_broken()) {
            self.smtp = None;
        }
        if self.smtp.is_none() {
            self.smtp = Some(within(&smtp.server, smtp.deadline, smtp.connect()).await??);
        }
        Ok(self.smtp.as_mut().expect("opened above"))
    }

    /// Sends one message. After an error the connection is dropped, and the
    /// next message opens a fresh one.
    pub async fn send(&mut self, message: &Message) -> Result<(), SendError> {
        match self.mailer {
            Mailer::Smtp(smtp) => {
                let body = message.formatted();
                let envelope = message.envelope();
                let result = async {
                    let connection = self.open().await?;
                    within(
                        &smtp.server,
                        smtp.deadline,
                        connection.send(envelope, &body),
                    )
                    .await?
                    .map_err(|e| classify(&smtp.server, e))
                }
                .await;
                if result.is_err() {
                    // Dropped, not closed politely: a stalled server would
                    // not answer QUIT either.
                    self.smtp = None;
                }
                result.map(drop)
            }
            Mailer::Folder { transport, folder } => transport
                .send(message.clone())
                .await
                .map(drop)
                .map_err(|e| unavailable(&format!("mail folder {folder}"), e)),
        }
    }

    /// Says goodbye to the server, if a connection is open.
    pub async fn close(mut self) {
        if let (Mailer::Smtp(smtp), Some(mut connection)) = (self.mailer, self.smtp.take()) {
            let _ = tokio::time::timeout(smtp.timeout, connection.quit()).await;
        }
    }
}

/// What an SMTP failure means for the rest of the queue. The reply code
/// decides: 5xx refuses this message (this recipient) for good, 4xx defers
/// it, except 421, with which the server closes the channel for everyone.
/// An error with no reply (connection refused or broken, TLS, timeout) is an
/// outage; one our side raises before talking (an envelope lettre cannot
/// put on the wire) concerns only this message.
fn classify(server: &str, e: lettre::transport::smtp::Error) -> SendError {
    match e.status().map(u16::from) {
        Some(421) => unavailable(server, e),
        Some(code) if code >= 500 => SendError::Permanent(e.to_string()),
        Some(code) if code >= 400 => SendError::Transient(e.to_string()),
        None if e.is_client() => SendError::Permanent(e.to_string()),
        _ => unavailable(server, e),
    }
}

fn unavailable(target: &str, message: impl ToString) -> SendError {
    SendError::Unavailable {
        target: target.to_owned(),
        message: message.to_string(),
    }
}

/// Runs one SMTP exchange under the overall deadline; running out of time is
/// an outage like any other.
async fn within<T>(
    target: &str,
    deadline: Duration,
    exchange: impl Future<Output = T>,
) -> Result<T, SendError> {
    tokio::time::timeout(deadline, exchange)
        .await
        .map_err(|_| unavailable(target, format!("no answer within {} s", deadline.as_secs())))
}
