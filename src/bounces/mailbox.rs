//! The bounce mailbox, polled over IMAP: how operators already collect
//! returned mail (a mailbox at their provider, or Dovecot beside the MTA).
//!
//! A message leaves the mailbox only after its outcome is stored: each is
//! read with `BODY.PEEK[]` (not marked seen), handed to the desk, and only
//! then moved to `done_folder` or deleted. If the database fails mid-poll,
//! the poll stops and the rest stays for the next one; a message read
//! twice (a crash between storing and deleting) is recognised by its
//! message and outcome. A message the desk cannot read stays where it is,
//! flagged `$AcademicHubUnreadable` so it is counted once and left for a
//! person.

use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{BounceDesk, Handled};
use crate::config::{ImapSettings, TlsMode};
use crate::domain::BounceOutcome;
use crate::store::StoreError;

/// The keyword on messages kept for a person.
const KEPT: &str = "$AcademicHubUnreadable";
/// Messages fetched per command.
const BATCH: usize = 25;

/// One poll's work.
#[derive(Debug, Default)]
pub struct PollReport {
    pub handled: Vec<Handled>,
    /// Unreadable messages left in the mailbox (flagged).
    pub kept: usize,
    /// Messages beyond `max_per_poll`, left for the next poll.
    pub waiting: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error(
        "cannot reach the bounce mailbox {server}: {message} (check bounces.imap.host, port and tls)"
    )]
    Connect { server: String, message: String },
    #[error(
        "the bounce mailbox {server} refused the login of {user:?}: {message} (check \
         bounces.imap.username and ACADEMICHUB_BOUNCES__IMAP__PASSWORD)"
    )]
    Login {
        server: String,
        user: String,
        message: String,
    },
    #[error(
        "bounce mailbox {server}: {message}; the messages not yet handled stay for the next poll"
    )]
    Imap { server: String, message: String },
    #[error(
        "cannot store a bounce's outcome: {0}; the message stays in the mailbox for the next poll"
    )]
    Store(#[from] StoreError),
}

/// The configured mailbox (`[bounces.imap]`).
pub struct BounceMailbox {
    settings: ImapSettings,
    server: String,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl BounceMailbox {
    pub fn new(settings: &ImapSettings) -> Result<Self, MailboxError> {
        let server = format!("{}:{}", settings.host, settings.port());
        let tls = match settings.tls {
            TlsMode::None => None,
            TlsMode::Starttls | TlsMode::Tls => Some(connector(settings, &server)?),
        };
        Ok(Self {
            settings: settings.clone(),
            server,
            tls,
        })
    }

    /// Reads what waits in the folder, up to `max_per_poll` messages.
    pub async fn poll(&self, desk: &BounceDesk, now: i64) -> Result<PollReport, MailboxError> {
        let timeout = Duration::from_secs(self.settings.timeout_secs);
        let connect_error = |message: String| MailboxError::Connect {
            server: self.server.clone(),
            message,
        };
        let tcp = tokio::time::timeout(
            timeout,
            TcpStream::connect((self.settings.host.as_str(), self.settings.port())),
        )
        .await
        .map_err(|_| connect_error(format!("no answer within {} s", timeout.as_secs())))?
        .map_err(|e| connect_error(e.to_string()))?;
        match (&self.settings.tls, &self.tls) {
            (TlsMode::Tls, Some(tls)) => {
                let stream = tls
                    .connect(self.server_name()?, tcp)
                    .await
                    .map_err(|e| connect_error(format!("TLS: {e}")))?;
                let mut client = Client::new(stream);
                self.greeting(&mut client).await?;
                self.session(client, desk, now).await
            }
            (TlsMode::Starttls, Some(tls)) => {
                let mut client = Client::new(tcp);
                self.greeting(&mut client).await?;
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| connect_error(format!("STARTTLS: {e}")))?;
                let stream = tls
                    .connect(self.server_name()?, client.into_inner())
                    .await
                    .map_err(|e| connect_error(format!("TLS: {e}")))?;
                // No greeting after STARTTLS.
                self.session(Client::new(stream), desk, now).await
            }
            _ => {
                let mut client = Client::new(tcp);
                self.greeting(&mut client).await?;
                self.session(client, desk, now).await
            }
        }
    }

    fn server_name(&self) -> Result<ServerName<'static>, MailboxError> {
        ServerName::try_from(self.settings.host.clone()).map_err(|e| MailboxError::Connect {
            server: self.server.clone(),
            message: format!("{:?} is not a host name for TLS: {e}", self.settings.host),
        })
    }

    async fn greeting<T>(&self, client: &mut Client<T>) -> Result<(), MailboxError>
    where
        T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        match client.read_response().await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(MailboxError::Connect {
                server: self.server.clone(),
                message: "the server closed the connection before its greeting".into(),
            }),
            Err(e) => Err(MailboxError::Connect {
                server: self.server.clone(),
                message: e.to_string(),
            }),
        }
    }

    async fn session<T>(
        &self,
        client: Client<T>,
        desk: &BounceDesk,
        now: i64,
    ) -> Result<PollReport, MailboxError>
    where
        T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        let password = self
            .settings
            .password
            .as_ref()
            .map(|p| p.expose())
            .unwrap_or_default();
        let mut session = client
            .login(&self.settings.username, password)
            .await
            .map_err(|(e, _)| MailboxError::Login {
                server: self.server.clone(),
                user: self.settings.username.clone(),
                message: e.to_string(),
            })?;
        let report = self.read_folder(&mut session, desk, now).await;
        let _ = tokio::time::timeout(
            Duration::from_secs(self.settings.timeout_secs),
            session.logout(),
        )
        .await;
        report
    }

    async fn read_folder<T>(
        &self,
        session: &mut Session<T>,
        desk: &BounceDesk,
        now: i64,
    ) -> Result<PollReport, MailboxError>
    where
        T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        let imap = |e: async_imap::error::Error| MailboxError::Imap {
            server: self.server.clone(),
            message: e.to_string(),
        };
        session
            .select(&self.settings.folder)
            .await
            .map_err(|e| MailboxError::Imap {
                server: self.server.clone(),
                message: format!("cannot open folder {:?}: {e}", self.settings.folder),
            })?;
        let capabilities = session.capabilities().await.map_err(imap)?;
        let can_move = capabilities.has_str("MOVE");
        let mut uids: Vec<u32> = session
            .uid_search(format!("UNKEYWORD {KEPT}"))
            .await
            .map_err(imap)?
            .into_iter()
            .collect();
        uids.sort_unstable();
        let mut report = PollReport {
            waiting: uids
                .len()
                .saturating_sub(self.settings.max_per_poll as usize),
            ..PollReport::default()
        };
        uids.truncate(self.settings.max_per_poll as usize);
        for batch in uids.chunks(BATCH) {
            let set = uid_set(batch);
            let fetched: Vec<(u32, Vec<u8>)> = session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await
                .map_err(imap)?
                .try_filter_map(|f| async move { Ok(f.uid.zip(f.body().map(<[u8]>::to_vec))) })
                .try_collect()
                .await
                .map_err(imap)?;
            let mut done = Vec::new();
            let mut kept = Vec::new();
            let mut failed = None;
            for (uid, raw) in fetched {
                match desk.handle(&raw, None, now).await {
                    Ok(handled) => {
                        tracing::info!(uid, outcome = %handled.outcome, "{}", handled.summary);
                        if handled.outcome == BounceOutcome::Unreadable {
                            kept.push(uid);
                        } else {
                            done.push(uid);
                        }
                        report.handled.push(handled);
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            // What is stored leaves the folder (or is flagged) even when a
            // later message of the batch could not be stored.
            if !kept.is_empty() {
                report.kept += kept.len();
                drain(
                    session
                        .uid_store(uid_set(&kept), format!("+FLAGS ({KEPT})"))
                        .await
                        .map_err(imap)?,
                )
                .await
                .map_err(imap)?;
            }
            if !done.is_empty() {
                self.clear(session, &uid_set(&done), can_move)
                    .await
                    .map_err(imap)?;
            }
            if let Some(e) = failed {
                return Err(e.into());
            }
        }
        Ok(report)
    }

    /// Moves handled messages to `done_folder`, or deletes them.
    async fn clear<T>(
        &self,
        session: &mut Session<T>,
        set: &str,
        can_move: bool,
    ) -> async_imap::error::Result<()>
    where
        T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        if let (Some(folder), true) = (&self.settings.done_folder, can_move) {
            return session.uid_mv(set, folder).await;
        }
        if let Some(folder) = &self.settings.done_folder {
            session.uid_copy(set, folder).await?;
        }
        drain(session.uid_store(set, "+FLAGS (\\Deleted)").await?).await?;
        drain(session.expunge().await?).await
    }
}

async fn drain<S, T>(stream: S) -> async_imap::error::Result<()>
where
    S: futures_util::Stream<Item = async_imap::error::Result<T>>,
{
    futures_util::pin_mut!(stream);
    while stream.try_next().await?.is_some() {}
    Ok(())
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Public CAs, plus `ca_file`'s.
fn connector(
    settings: &ImapSettings,
    server: &str,
) -> Result<tokio_rustls::TlsConnector, MailboxError> {
    crate::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &settings.ca_file {
        let bad = |message: String| MailboxError::Connect {
            server: server.to_owned(),
            message,
        };
        let certificates = rustls_pki_types::CertificateDer::pem_file_iter(path).map_err(|e| {
            bad(format!(
                "cannot read bounces.imap.ca_file {}: {e}",
                path.display()
            ))
        })?;
        for certificate in certificates {
            let certificate = certificate.map_err(|e| {
                bad(format!(
                    "bounces.imap.ca_file {} is not PEM: {e}",
                    path.display()
                ))
            })?;
            roots
                .add(certificate)
                .map_err(|e| bad(format!("bounces.imap.ca_file {}: {e}", path.display())))?;
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
