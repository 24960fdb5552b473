use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{DeliverySettings, TlsMode, TransportKind};

/// Where messages go. Built once and shared: the SMTP adapter keeps a pool
/// of open connections.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        server: String,
        /// Upper bound for one connection check or one message, whatever
        /// the server does (a stalled server must not stall delivery).
        deadline: Duration,
    },
    Folder {
        transport: AsyncFileTransport<Tokio1Executor>,
        folder: String,
    },
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
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                        .port(smtp.port)
                        .tls(tls)
                        .timeout(Some(Duration::from_secs(smtp.timeout_secs)))
                        .pool_config(PoolConfig::new().max_size(smtp.pool_size));
                if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
                    builder = builder
                        .credentials(Credentials::new(user.clone(), password.expose().to_owned()));
                }
                Ok(Mailer::Smtp {
                    transport: builder.build(),
                    server: format!("SMTP server {}:{}", smtp.host, smtp.port),
                    // Connect, greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA:
                    // each may take up to the timeout; together they may not take longer than this.
                    deadline: Duration::from_secs(smtp.timeout_secs.saturating_mul(3)),
                })
            }
        }
    }

    /// Opens (or reuses) a connection, with TLS and AUTH, before any message
    /// is risked on it: a wrong password or certificate must not look like a
    /// recipient's permanent rejection.
    pub async fn check(&self) -> Result<(), SendError> {
        match self {
            Mailer::Smtp {
                transport,
                server,
                deadline,
            } => match within(server, *deadline, transport.test_connection()).await? {
                Ok(true) => Ok(()),
                Ok(false) => Err(unavailable(server, "the server did not answer NOOP")),
                Err(e) => Err(unavailable(server, e)),
            },
            Mailer::Folder { .. } => Ok(()),
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp {
                transport,
                server,
                deadline,
            } => match within(server, *deadline, transport.send(message)).await? {
                Ok(_) => Ok(()),
                Err(e) => Err(classify(server, e)),
            },
            Mailer::Folder { transport, folder } => transport
                .send(message)
                .await
                .map(drop)
                .map_err(|e| unavailable(&format!("mail folder {folder}"), e)),
        }
    }

    /// The longest one message's exchange may take; a claim's lease must
    /// outlast it.
    pub fn deadline(&self) -> Duration {
        match self {
            Mailer::Smtp { deadline, .. } => *deadline,
            Mailer::Folder { .. } => Duration::from_secs(30),
        }
    }

    /// For logs and the CLI: where mail goes.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { server, .. } => server.clone(),
            Mailer::Folder { folder, .. } => format!("folder {folder}"),
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
