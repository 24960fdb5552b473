//! Who a message is from, and its DKIM signature.
//!
//! Briefings are signed over the list headers too (`List-Unsubscribe`,
//! `List-Unsubscribe-Post`, `List-Id`): mailbox providers honour one-click
//! unsubscribe only when the signature covers it. Mail about a subscription
//! has no list headers, and gets a signature without them. Canonicalization
//! is relaxed/relaxed, which survives the rewrapping relays do.

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;

use super::build_message;
use crate::config::DkimSettings;
use crate::domain::OutgoingMessage;

/// Headers every message is signed over.
const SIGNED: [&str; 6] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
];
/// And a briefing over these too.
const SIGNED_LIST: [&str; 3] = ["List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"];

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("cannot read delivery.dkim.private_key_file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "delivery.dkim.private_key_file {0} is neither an RSA key in PKCS#1 PEM (-----BEGIN RSA PRIVATE KEY-----) nor an Ed25519 seed in base64"
    )]
    Key(String),
}

pub struct Sender {
    from: Mailbox,
    dkim: Option<Dkim>,
}

/// Two configurations of one key: lettre signs a fixed list of headers.
struct Dkim {
    list: DkimConfig,
    notice: DkimConfig,
}

impl Sender {
    pub fn new(from: Mailbox, dkim: Option<&DkimSettings>) -> Result<Self, DkimError> {
        let dkim = dkim
            .map(|settings| {
                Ok::<_, DkimError>(Dkim {
                    list: config(settings, SIGNED.iter().chain(&SIGNED_LIST))?,
                    notice: config(settings, SIGNED.iter())?,
                })
            })
            .transpose()?;
        Ok(Self { from, dkim })
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The message for an outbox row, signed when DKIM is configured.
    pub fn message(&self, outgoing: OutgoingMessage) -> Result<Message, String> {
        let list = outgoing.unsubscribe_url.is_some();
        let mut message = build_message(&self.from, outgoing)?;
        if let Some(dkim) = &self.dkim {
            message.sign(if list { &dkim.list } else { &dkim.notice });
        }
        Ok(message)
    }
}

fn config<'a>(
    settings: &DkimSettings,
    headers: impl Iterator<Item = &'a &'static str>,
) -> Result<DkimConfig, DkimError> {
    let path = settings.private_key_file.display().to_string();
    let text =
        std::fs::read_to_string(&settings.private_key_file).map_err(|source| DkimError::Read {
            path: path.clone(),
            source,
        })?;
    let algorithm = if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        DkimSigningAlgorithm::Rsa
    } else {
        DkimSigningAlgorithm::Ed25519
    };
    let key = DkimSigningKey::new(text.trim(), algorithm).map_err(|_| DkimError::Key(path))?;
    Ok(DkimConfig::new(
        settings.selector.clone(),
        settings.domain.clone(),
        key,
        headers.map(|h| HeaderName::new_from_ascii_str(h)).collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}
