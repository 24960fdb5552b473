//! The return address of each message (its envelope sender, where bounces
//! go): `bounces+<message>-<subscriber>-<tag>@bounce.example.org` for a
//! configured `bounces@bounce.example.org` (VERP, variable envelope return
//! path).
//!
//! Why one address per message: a relay that accepts a message and fails to
//! deliver it later mails the failure to the envelope sender, and what it
//! quotes of our message varies from nothing to everything. The address
//! itself is the one part every MTA keeps, so the message and its
//! subscriber are named there, not searched for in returned headers.
//!
//! Why signed: anyone can mail a bounce to the bounce domain. The tag is the
//! first 80 bits of HMAC-SHA256 under the link keys over the message id, the
//! subscriber id and the subscriber's link nonce, so a stranger cannot make
//! an address that names someone else, and a deleted subscriber's addresses
//! name nobody even if their id is reused. The tag is lowercase hex: some
//! MTAs fold local parts to lower case, and `-` and hex digits are safe in
//! every MTA's local part. The whole address stays well under the 64
//! characters a local part may have.

use std::fmt;

use hmac::Mac;

use super::{EmailAddress, LinkKeys};

/// Bytes of the MAC an address carries (80 bits: a forger gets one guess per
/// bounce mailed to us).
const TAG_LEN: usize = 10;

/// The configured bounce mailbox (`delivery.bounce_address`), whose local
/// part gets `+<token>` for each message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceAddress {
    local: String,
    domain: String,
}

/// Who a return address names: an outbox message and its subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnIds {
    pub message: i64,
    pub subscriber: i64,
}

/// A return address read back from a bounce, not yet verified: the
/// subscriber's nonce is needed for that (see [`ReturnToken::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnToken {
    pub ids: ReturnIds,
    tag: [u8; TAG_LEN],
}

impl BounceAddress {
    /// `bounces@bounce.example.org`: an ASCII address whose local part has
    /// no `+` (the separator of the per-message part).
    pub fn parse(input: &str) -> Result<Self, String> {
        let address = EmailAddress::parse(input.trim()).map_err(|e| e.to_string())?;
        let (local, domain) = address
            .as_str()
            .rsplit_once('@')
            .expect("a parsed address has an @");
        if local.contains('+') {
            return Err(format!(
                "{input:?} has a '+' in its local part; each message's return address adds \
                 +TOKEN to it, so give the bare mailbox such as bounces@bounce.example.org"
            ));
        }
        // `+`, two ids of up to 12 digits, two `-`, the tag: 64 at most.
        if local.len() + 1 + 2 * 12 + 2 + 2 * TAG_LEN > 64 {
            return Err(format!(
                "the local part of {input:?} is too long to carry each message's token \
                 (17 characters at most)"
            ));
        }
        Ok(Self {
            local: local.to_owned(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    /// The return address of one message.
    pub fn for_message(&self, keys: &LinkKeys, ids: ReturnIds, nonce: i64) -> lettre::Address {
        let tag = tag(keys.signing(), ids, nonce);
        let local = format!(
            "{}+{}-{}-{}",
            self.local,
            ids.message,
            ids.subscriber,
            hex::encode(tag)
        );
        lettre::Address::new(local, &self.domain).expect("digits, hex and a valid mailbox")
    }

    /// The token in `address` when it is one of our return addresses
    /// (local part `<local>+…`, our domain, case aside); `None` for any
    /// other address or a damaged token.
    pub fn token_in(&self, address: &str) -> Option<ReturnToken> {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = address.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        let (base, token) = local.split_once('+')?;
        if !base.eq_ignore_ascii_case(&self.local) {
            return None;
        }
        let mut parts = token.split('-');
        let (Some(message), Some(subscriber), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(message) || !digits(subscriber) {
            return None;
        }
        let mut bytes = [0; TAG_LEN];
        hex::decode_to_slice(tag.to_ascii_lowercase(), &mut bytes).ok()?;
        Some(ReturnToken {
            ids: ReturnIds {
                message: message.parse().ok()?,
                subscriber: subscriber.parse().ok()?,
            },
            tag: bytes,
        })
    }
}

impl fmt::Display for BounceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl ReturnToken {
    /// Whether one of `keys` signed this token for the subscriber whose
    /// link nonce is `nonce` (each key compared in constant time).
    pub fn verify(&self, keys: &LinkKeys, nonce: i64) -> bool {
        keys.verifying().iter().any(|key| {
            key.mac(&payload(self.ids, nonce))
                .verify_truncated_left(&self.tag)
                .is_ok()
        })
    }
}

fn payload(ids: ReturnIds, nonce: i64) -> Vec<u8> {
    format!("return:v1:{}:{}:{nonce}", ids.message, ids.subscriber).into_bytes()
}

fn tag(key: &super::LinkSecret, ids: ReturnIds, nonce: i64) -> [u8; TAG_LEN] {
    let full = key.mac(&payload(ids, nonce)).finalize().into_bytes();
    full[..TAG_LEN].try_into().expect("SHA-256 is longer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::link_token::test_keys as keys;

    const IDS: ReturnIds = ReturnIds {
        message: 123_456,
        subscriber: 42,
    };

    #[test]
    fn a_return_address_names_its_message_and_verifies_for_its_subscriber_only() {
        let bounces = BounceAddress::parse("bounces@Bounce.Example.org").unwrap();
        let address = bounces.for_message(&keys(&[7]), IDS, 977);
        let text = address.to_string();
        assert!(text.starts_with("bounces+123456-42-"), "{text}");
        assert!(text.ends_with("@bounce.example.org"), "{text}");
        assert!(address.user().len() <= 64);
        let token = bounces.token_in(&text).unwrap();
        assert_eq!(token.ids, IDS);
        assert!(token.verify(&keys(&[7]), 977));
        assert!(
            !token.verify(&keys(&[7]), 978),
            "another subscriber's nonce"
        );
        assert!(!token.verify(&keys(&[8]), 977), "another key");
        assert!(
            token.verify(&keys(&[8, 7]), 977),
            "a rotated-out key still verifies"
        );
        let upper = bounces.token_in(&text.to_ascii_uppercase()).unwrap();
        assert!(upper.verify(&keys(&[7]), 977), "an MTA that folds case");
    }

    #[test]
    fn a_token_moved_to_another_message_or_subscriber_does_not_verify() {
        let bounces = BounceAddress::parse("bounces@bounce.example.org").unwrap();
        let text = bounces.for_message(&keys(&[7]), IDS, 977).to_string();
        let tag = text.split('-').nth(2).unwrap().split('@').next().unwrap();
        for forged in [
            format!("bounces+123456-43-{tag}@bounce.example.org"),
            format!("bounces+123457-42-{tag}@bounce.example.org"),
        ] {
            let token = bounces.token_in(&forged).unwrap();
            assert!(!token.verify(&keys(&[7]), 977), "{forged}");
        }
    }

    #[test]
    fn other_addresses_and_damaged_tokens_are_not_ours() {
        let bounces = BounceAddress::parse("bounces@bounce.example.org").unwrap();
        for other in [
            "bounces@bounce.example.org",
            "ada@example.org",
            "bounces+1-2-00000000000000000000@other.example",
            "other+1-2-00000000000000000000@bounce.example.org",
            "bounces+1-2@bounce.example.org",
            "bounces+1-2-zz@bounce.example.org",
            "bounces+1-2-0000@bounce.example.org",
            "bounces+x-2-00000000000000000000@bounce.example.org",
            "bounces+1-2-00000000000000000000-9@bounce.example.org",
            "",
            "@",
        ] {
            assert_eq!(bounces.token_in(other), None, "{other}");
        }
        assert!(
            bounces
                .token_in("<bounces+1-2-00000000000000000000@bounce.example.org>")
                .is_some(),
            "angle brackets as in Return-Path"
        );
    }

    #[test]
    fn the_configured_mailbox_must_be_bare() {
        assert!(BounceAddress::parse("bounces+x@example.org").is_err());
        assert!(BounceAddress::parse("not an address").is_err());
        assert!(BounceAddress::parse(&format!("{}@example.org", "b".repeat(40))).is_err());
    }
}
