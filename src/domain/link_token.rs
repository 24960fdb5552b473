//! Signed links: the only way a reader changes or stops their briefing.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`
//! where the payload is `v1:<subscriber id>:<action>:<issued unix seconds>`.
//! Nothing secret is inside; the MAC makes it unforgeable and the issue time
//! lets each endpoint choose how old a link it still honours.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a signed link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    Unsubscribe,
}

impl LinkAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribe => "unsubscribe",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "unsubscribe" => Some(Self::Unsubscribe),
            _ => None,
        }
    }
}

/// What a verified token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    pub subscriber_id: i64,
    pub action: LinkAction,
    pub issued_at: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error(
        "this link is damaged or was not issued by us; use the newest link from your latest briefing"
    )]
    Invalid,
    #[error("this link has expired; use the link in your latest briefing")]
    Expired,
}

/// The HMAC key for links. At least 32 bytes; never printed.
#[derive(Clone)]
pub struct LinkSecret(Vec<u8>);

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
                "the link signing secret must be at least {} bytes long (it has {})",
                Self::MIN_LEN,
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(payload);
        mac
    }

    pub fn sign(&self, claims: LinkClaims) -> String {
        let payload = format!(
            "v1:{}:{}:{}",
            claims.subscriber_id,
            claims.action.as_str(),
            claims.issued_at
        );
        let tag = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks the MAC in constant time, then the age against `max_age_secs`.
    pub fn verify(
        &self,
        token: &str,
        now: i64,
        max_age_secs: i64,
    ) -> Result<LinkClaims, LinkError> {
        let (payload_b64, tag_b64) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| LinkError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag_b64)
            .map_err(|_| LinkError::Invalid)?;
        self.mac(&payload)
            .verify_slice(&tag)
            .map_err(|_| LinkError::Invalid)?;

        let payload = String::from_utf8(payload).map_err(|_| LinkError::Invalid)?;
        let mut parts = payload.split(':');
        let claims = match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("v1"), Some(id), Some(action), Some(issued), None) => LinkClaims {
                subscriber_id: id.parse().map_err(|_| LinkError::Invalid)?,
                action: LinkAction::parse(action).ok_or(LinkError::Invalid)?,
                issued_at: issued.parse().map_err(|_| LinkError::Invalid)?,
            },
            _ => return Err(LinkError::Invalid),
        };
        if now.saturating_sub(claims.issued_at) > max_age_secs {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> LinkSecret {
        LinkSecret::new(vec![byte; 32]).unwrap()
    }

    const CLAIMS: LinkClaims = LinkClaims {
        subscriber_id: 42,
        action: LinkAction::Unsubscribe,
        issued_at: 1_000_000,
    };

    #[test]
    fn a_signed_link_verifies_and_says_what_it_was_issued_for() {
        let token = secret(7).sign(CLAIMS);
        assert_eq!(secret(7).verify(&token, 1_000_010, 60), Ok(CLAIMS));
    }

    #[test]
    fn forged_tampered_and_expired_links_are_refused() {
        let token = secret(7).sign(CLAIMS);
        assert_eq!(
            secret(8).verify(&token, 1_000_010, 60),
            Err(LinkError::Invalid)
        );

        let forged_payload = URL_SAFE_NO_PAD.encode("v1:43:unsubscribe:1000000");
        let tag = token.split_once('.').unwrap().1;
        let forged = format!("{forged_payload}.{tag}");
        assert_eq!(
            secret(7).verify(&forged, 1_000_010, 60),
            Err(LinkError::Invalid)
        );

        assert_eq!(secret(7).verify("garbage", 0, 60), Err(LinkError::Invalid));
        assert_eq!(
            secret(7).verify(&token, 1_000_061, 60),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn short_secrets_are_refused_and_secrets_never_print() {
        assert!(LinkSecret::new(b"short".to_vec()).is_err());
        assert_eq!(format!("{:?}", secret(1)), "LinkSecret(<redacted>)");
    }
}
