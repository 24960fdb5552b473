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
use crate::domain::{BounceAddress, LinkKeys, OutgoingMessage, ReturnIds};

/// Headers every message is signed over (Gmail attributes complaints by
/// `Feedback-ID` only when the signature covers it).
const SIGNED: [&str; 7] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Feedback-ID",
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
    /// Each message's own return address (`delivery.bounce_address`),
    /// signed with the link keys; unset: bounces go to the From address.
    returns: Option<(BounceAddress, LinkKeys)>,
}

/// Two configurations of one key: lettre signs a fixed list of headers.
struct Dkim {
    list: DkimConfig,
    notice: DkimConfig,
}

impl Sender {
    pub fn new(
        from: Mailbox,
        dkim: Option<&DkimSettings>,
        returns: Option<(BounceAddress, LinkKeys)>,
    ) -> Result<Self, DkimError> {
        let dkim = dkim
            .map(|settings| {
                Ok::<_, DkimError>(Dkim {
                    list: config(settings, SIGNED.iter().chain(&SIGNED_LIST))?,
                    notice: config(settings, SIGNED.iter())?,
                })
            })
            .transpose()?;
        Ok(Self {
            from,
            dkim,
            returns,
        })
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The message for an outbox row, signed when DKIM is configured, from
    /// its own return address when a bounce address is configured and the
    /// message is for a subscriber (`returns`: the ids and the
    /// subscriber's link nonce).
    pub fn message(
        &self,
        outgoing: OutgoingMessage,
        returns: Option<(ReturnIds, i64)>,
    ) -> Result<Message, String> {
        let list = outgoing.unsubscribe_url.is_some();
        let return_path = self
            .returns
            .as_ref()
            .zip(returns)
            .map(|((address, keys), (ids, nonce))| address.for_message(keys, ids, nonce));
        let mut message = build_message(&self.from, outgoing, return_path.as_ref())?;
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
