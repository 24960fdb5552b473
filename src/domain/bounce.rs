//! What a returned message (a bounce or a complaint) comes to, as stored
//! and counted.

use std::fmt;

/// The outcome of one report we read, one row of `bounces`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BounceOutcome {
    /// A permanent failure (5.x.x): the address is suppressed at once.
    Hard,
    /// A temporary failure (4.x.x, or "delayed"): counted; enough of them
    /// within the window suppress the address.
    Soft,
    /// The reader marked our mail as spam (an ARF report): unsubscribed and
    /// suppressed for good.
    Complaint,
    /// Read, but nothing to act on: an auto-reply, a success notice, a
    /// report for an address we no longer hold.
    Ignored,
    /// It named one of our messages, but its signature does not hold, or it
    /// reports another address than the one we sent to.
    Forged,
    /// Neither a bounce, a complaint nor an auto-reply we can read: kept in
    /// the mailbox for a person.
    Unreadable,
}

impl BounceOutcome {
    pub const ALL: [Self; 6] = [
        Self::Hard,
        Self::Soft,
        Self::Complaint,
        Self::Ignored,
        Self::Forged,
        Self::Unreadable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Soft => "soft",
            Self::Complaint => "complaint",
            Self::Ignored => "ignored",
            Self::Forged => "forged",
            Self::Unreadable => "unreadable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for BounceOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
