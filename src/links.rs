//! What names our mail and the links in it: signed reader links, form
//! tokens and Message-IDs, minted in one place.
//!
//! The round signs a briefing's links on its worker threads, the reader
//! use-cases sign confirmation links and form tokens and verify whatever
//! comes back; both hold the same [`Links`], built once by the application
//! from the link keys, `web.public_url` and the From address's domain.
//! A link's token says who it is for, what it does and about what
//! ([`crate::domain::LinkClaims`]); the path only routes it.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::domain::{LinkAction, LinkClaims, LinkError, LinkKeys, Subscriber, Verdict};

/// A link in our mail, with what it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderLink {
    /// Confirm a subscription, applying the kept subscribe request if any.
    Confirm(Option<i64>),
    Unsubscribe,
    Preferences,
    /// "More / less like this" about a paper.
    Feedback(i64, Verdict),
    /// A briefing in the browser, by its edition.
    View(NaiveDate),
}

/// Signs and verifies the links in our mail and mints Message-IDs.
pub struct Links {
    keys: LinkKeys,
    /// `web.public_url` without a trailing slash.
    public_url: String,
    /// The From address's domain, which Message-IDs are minted under.
    message_domain: String,
}

impl Links {
    pub fn new(keys: LinkKeys, public_url: &str, message_domain: &str) -> Self {
        Self {
            keys,
            public_url: public_url.trim_end_matches('/').to_owned(),
            message_domain: message_domain.to_owned(),
        }
    }

    /// A signed link for `subscriber` under `web.public_url`.
    pub fn url(&self, subscriber: &Subscriber, link: ReaderLink, now: DateTime<Utc>) -> String {
        let (action, object, path) = match link {
            ReaderLink::Confirm(request) => (LinkAction::Confirm, request.unwrap_or(0), "confirm"),
            ReaderLink::Unsubscribe => (LinkAction::Unsubscribe, 0, "unsubscribe"),
            ReaderLink::Preferences => (LinkAction::Preferences, 0, "preferences"),
            ReaderLink::Feedback(paper_id, Verdict::More) => {
                (LinkAction::FeedbackMore, paper_id, "feedback")
            }
            ReaderLink::Feedback(paper_id, Verdict::Less) => {
                (LinkAction::FeedbackLess, paper_id, "feedback")
            }
            ReaderLink::View(edition) => {
                (LinkAction::View, i64::from(edition.num_days_from_ce()), "b")
            }
        };
        let token = self.sign(subscriber, action, object, now);
        format!("{}/{path}/{token}", self.public_url)
    }

    /// The claims of a genuine, unexpired `token` made for `action`.
    pub fn verify(
        &self,
        token: &str,
        action: LinkAction,
        now: DateTime<Utc>,
    ) -> Result<LinkClaims, LinkError> {
        self.keys.verify(token, action, now.timestamp())
    }

    /// A token for a form on a page opened with one of `subscriber`'s links
    /// (`page_token`): bound to that link, and living as long as it does.
    pub fn form_token(
        &self,
        subscriber: &Subscriber,
        page_token: &str,
        now: DateTime<Utc>,
    ) -> String {
        self.sign(subscriber, LinkAction::Form, page_object(page_token), now)
    }

    /// Whether `form_token` is one [`Self::form_token`] made for this page
    /// of this subscription.
    pub fn is_form_of(
        &self,
        subscriber: &Subscriber,
        page_token: &str,
        form_token: &str,
        now: DateTime<Utc>,
    ) -> bool {
        self.verify(form_token, LinkAction::Form, now)
            .is_ok_and(|claims| {
                claims.subscriber_id == subscriber.id
                    && claims.nonce == subscriber.link_nonce
                    && claims.object == page_object(page_token)
            })
    }

    /// A fresh Message-ID under the From address's domain.
    pub fn message_id(&self) -> String {
        format!("<{}@{}>", uuid::Uuid::new_v4(), self.message_domain)
    }

    fn sign(
        &self,
        subscriber: &Subscriber,
        action: LinkAction,
        object: i64,
        now: DateTime<Utc>,
    ) -> String {
        self.keys.sign(LinkClaims {
            subscriber_id: subscriber.id,
            nonce: subscriber.link_nonce,
            action,
            object,
            issued_at: now.timestamp(),
        })
    }
}

/// The edition a view link's object names (see [`ReaderLink::View`]).
pub fn edition_of(claims: &LinkClaims) -> Option<NaiveDate> {
    i32::try_from(claims.object)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// A link token as a form token's object: the first 63 bits of its SHA-256.
fn page_object(page_token: &str) -> i64 {
    let digest = Sha256::digest(page_token.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first) & i64::MAX
}
