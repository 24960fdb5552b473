//! Signed links: the only way a reader changes or stops their briefing.
//!
//! A token is `base64url(payload) "." base64url(tag)`, the tag being the
//! first 128 bits of HMAC-SHA256(key, payload) (links are in every mail,
//! several per paper: their length counts toward what mail clients clip),
//! where the payload is
//! `v2:<subscriber id>:<subscriber nonce>:<action>:<object>:<issued unix seconds>`.
//! Nothing secret is inside; the MAC makes it unforgeable, the action binds
//! it to one purpose, the object to one paper, edition or subscribe request, the issue time lets
//! each action have its own lifetime, and the subscriber's nonce (random,
//! stored with the subscriber) makes links die with the subscription they
//! were issued for: a deleted and re-created subscriber, even under a reused
//! id, honours none of the old links.
//!
//! Several keys may verify ([`LinkKeys`]): the first signs, so a key can be
//! rotated without breaking the links already in people's inboxes.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const DAY: i64 = 24 * 3600;
/// Bytes of the MAC a token carries (128 bits, as RFC 2104 allows).
const TAG_LEN: usize = 16;

/// What a signed link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkAction {
    /// Confirm a pending subscription (double opt-in).
    Confirm,
    Unsubscribe,
    /// Read and change the radar and schedule; download or delete one's data.
    Preferences,
    /// "More like this" for the paper in the object.
    FeedbackMore,
    /// "Less like this" for the paper in the object.
    FeedbackLess,
    /// Read a sent briefing in the browser; the object is its edition's day.
    View,
    /// Guards a form posted from a page reached by another link; the
    /// object binds it to that link.
    Form,
}

impl LinkAction {
    pub const ALL: [LinkAction; 7] = [
        Self::Confirm,
        Self::Unsubscribe,
        Self::Preferences,
        Self::FeedbackMore,
        Self::FeedbackLess,
        Self::View,
        Self::Form,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Unsubscribe => "unsubscribe",
            Self::Preferences => "preferences",
            Self::FeedbackMore => "more",
            Self::FeedbackLess => "less",
            Self::View => "view",
            Self::Form => "form",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// How long a link for this action is honoured. Unsubscribe links must
    /// keep working long after the mail that carried them (mailbox providers
    /// expect at least 60 days); a confirmation is for the days right after
    /// asking.
    pub fn max_age_secs(self) -> i64 {
        match self {
            Self::Confirm => 7 * DAY,
            // A form lives as long as the link of its page: a preferences
            // page left open for days must still save what was typed.
            Self::Unsubscribe | Self::Preferences | Self::View | Self::Form => 365 * DAY,
            Self::FeedbackMore | Self::FeedbackLess => 90 * DAY,
        }
    }
}

/// What a verified token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub subscriber_id: i64,
    /// The subscriber's link nonce when the link was issued.
    pub nonce: i64,
    pub action: LinkAction,
    /// A paper id (feedback), an edition's day number (view), a kept
    /// subscribe request (confirm; 0 for the stored pending subscription),
    /// else 0.
    pub object: i64,
    pub issued_at: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error(
        "this link is damaged or was not issued by us; use the newest link from your latest email"
    )]
    Invalid,
    #[error("this link was made for something else; use the matching link from your email")]
    WrongAction,
    #[error("this link has expired; use the link in your latest email")]
    Expired,
}

/// One HMAC key for links. At least 32 bytes; never printed.
///
/// Kept as the HMAC state with the key already absorbed: keying costs two
/// of the four SHA-256 blocks a link's MAC takes, and a briefing signs
/// some twenty links.
#[derive(Clone)]
pub struct LinkSecret(HmacSha256);

impl fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSecret(<redacted>)")
    }
}

impl LinkSecret {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(format!(
                "a link signing secret must be at least {} bytes long (one has {})",
                Self::MIN_LEN,
                bytes.len()
            ));
        }
        Ok(Self(
            HmacSha256::new_from_slice(&bytes).expect("HMAC takes keys of any length"),
        ))
    }

    pub(super) fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(payload);
        mac
    }
}

/// The keys links are signed and verified with: the first signs, every one
/// verifies.
#[derive(Debug, Clone)]
pub struct LinkKeys(Vec<LinkSecret>);

impl LinkKeys {
    /// `None` when `keys` is empty.
    pub fn new(keys: Vec<LinkSecret>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self(keys))
    }

    /// The key that signs (the first).
    pub(super) fn signing(&self) -> &LinkSecret {
        &self.0[0]
    }

    /// Every key that verifies.
    pub(super) fn verifying(&self) -> &[LinkSecret] {
        &self.0
    }

    pub fn sign(&self, claims: LinkClaims) -> String {
        let payload = format!(
            "v2:{}:{}:{}:{}:{}",
            claims.subscriber_id,
            claims.nonce,
            claims.action.as_str(),
            claims.object,
            claims.issued_at
        );
        let tag = self.0[0].mac(payload.as_bytes()).finalize().into_bytes();
        let b64_len = |n| base64::encoded_len(n, false).expect("a short payload");
        let mut token = String::with_capacity(b64_len(payload.len()) + 1 + b64_len(TAG_LEN));
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&tag[..TAG_LEN], &mut token);
        token
    }

    /// Checks the MAC against every key (each in constant time), then that
    /// the token was issued for `action` and is not older than the action
    /// allows. The caller still checks the nonce against the subscriber.
    pub fn verify(
        &self,
        token: &str,
        action: LinkAction,
        now: i64,
    ) -> Result<LinkClaims, LinkError> {
        let (payload_b64, tag_b64) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| LinkError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag_b64)
            .map_err(|_| LinkError::Invalid)?;
        // A shorter tag would be easier to guess: exactly TAG_LEN bytes.
        if tag.len() != TAG_LEN
            || !self
                .0
                .iter()
                .any(|key| key.mac(&payload).verify_truncated_left(&tag).is_ok())
        {
            return Err(LinkError::Invalid);
        }
        let payload = String::from_utf8(payload).map_err(|_| LinkError::Invalid)?;
        let claims = parse_payload(&payload).ok_or(LinkError::Invalid)?;
        if claims.action != action {
            return Err(LinkError::WrongAction);
        }
        if now.saturating_sub(claims.issued_at) > action.max_age_secs() {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }
}

fn parse_payload(payload: &str) -> Option<LinkClaims> {
    let parts: Vec<&str> = payload.split(':').collect();
    let ["v2", id, nonce, action, object, issued] = parts[..] else {
        return None;
    };
    Some(LinkClaims {
        subscriber_id: id.parse().ok()?,
        nonce: nonce.parse().ok()?,
        action: LinkAction::parse(action)?,
        object: object.parse().ok()?,
        issued_at: issued.parse().ok()?,
    })
}

/// Keys for unit tests: one 32-byte secret of each byte, the first signing.
#[cfg(test)]
pub(crate) fn test_keys(bytes: &[u8]) -> LinkKeys {
    LinkKeys::new(
        bytes
            .iter()
            .map(|b| LinkSecret::new(vec![*b; 32]).unwrap())
            .collect(),
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::test_keys as keys;
    use super::*;

    const CLAIMS: LinkClaims = LinkClaims {
        subscriber_id: 42,
        nonce: 977,
        action: LinkAction::FeedbackMore,
        object: 7,
        issued_at: 1_000_000,
    };

    #[test]
    fn a_signed_link_verifies_and_says_what_it_was_issued_for() {
        let token = keys(&[7]).sign(CLAIMS);
        assert_eq!(
            keys(&[7]).verify(&token, LinkAction::FeedbackMore, 1_000_010),
            Ok(CLAIMS)
        );
    }

    #[test]
    fn a_link_for_one_action_does_not_open_another() {
        let token = keys(&[7]).sign(CLAIMS);
        for other in LinkAction::ALL
            .into_iter()
            .filter(|a| *a != LinkAction::FeedbackMore)
        {
            assert_eq!(
                keys(&[7]).verify(&token, other, 1_000_010),
                Err(LinkError::WrongAction),
                "{other:?}"
            );
        }
    }

    #[test]
    fn forged_and_tampered_links_are_refused() {
        let token = keys(&[7]).sign(CLAIMS);
        let verify = |t: &str| keys(&[7]).verify(t, LinkAction::FeedbackMore, 1_000_010);
        assert_eq!(
            keys(&[8]).verify(&token, LinkAction::FeedbackMore, 1_000_010),
            Err(LinkError::Invalid),
            "signed with another key"
        );
        let tag = token.split_once('.').unwrap().1;
        for payload in [
            "v2:43:977:more:7:1000000",
            "v2:42:977:more:8:1000000",
            "v2:42:977:less:7:1000000",
            "v2:42:977:more:7:2000000",
        ] {
            let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(payload));
            assert_eq!(verify(&forged), Err(LinkError::Invalid), "{payload}");
        }
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            verify(std::str::from_utf8(&flipped).unwrap()),
            Err(LinkError::Invalid)
        );
        for garbage in ["", "garbage", ".", "a.b", "%%.%%"] {
            assert_eq!(verify(garbage), Err(LinkError::Invalid), "{garbage:?}");
        }
        let (payload, tag) = token.split_once('.').unwrap();
        let short = URL_SAFE_NO_PAD.encode(&URL_SAFE_NO_PAD.decode(tag).unwrap()[..1]);
        assert_eq!(
            verify(&format!("{payload}.{short}")),
            Err(LinkError::Invalid),
            "a truncated tag is not a shorter valid tag"
        );
    }

    #[test]
    fn each_action_expires_after_its_own_lifetime() {
        for action in LinkAction::ALL {
            let claims = LinkClaims { action, ..CLAIMS };
            let token = keys(&[7]).sign(claims);
            let age = action.max_age_secs();
            assert_eq!(
                keys(&[7]).verify(&token, action, CLAIMS.issued_at + age),
                Ok(claims)
            );
            assert_eq!(
                keys(&[7]).verify(&token, action, CLAIMS.issued_at + age + 1),
                Err(LinkError::Expired),
                "{action:?}"
            );
        }
        assert!(LinkAction::Unsubscribe.max_age_secs() >= 60 * DAY);
        assert_eq!(LinkAction::Confirm.max_age_secs(), 7 * DAY);
    }

    #[test]
    fn after_a_key_rotation_old_links_still_verify_and_new_ones_use_the_new_key() {
        let old = keys(&[1]).sign(CLAIMS);
        let rotated = keys(&[2, 1]);
        assert_eq!(
            rotated.verify(&old, LinkAction::FeedbackMore, 1_000_010),
            Ok(CLAIMS)
        );
        let new = rotated.sign(CLAIMS);
        assert_eq!(
            keys(&[2]).verify(&new, LinkAction::FeedbackMore, 1_000_010),
            Ok(CLAIMS)
        );
        assert_eq!(
            keys(&[1]).verify(&new, LinkAction::FeedbackMore, 1_000_010),
            Err(LinkError::Invalid),
            "the retired key alone does not verify new links"
        );
    }

    #[test]
    fn short_secrets_are_refused_and_secrets_never_print() {
        assert!(LinkSecret::new(b"short".to_vec()).is_err());
        assert_eq!(
            format!("{:?}", LinkSecret::new(vec![1; 32]).unwrap()),
            "LinkSecret(<redacted>)"
        );
        assert!(LinkKeys::new(Vec::new()).is_none());
    }
}
