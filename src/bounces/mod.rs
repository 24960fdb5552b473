//! Returned mail: what comes back to our return address after a briefing
//! has left us.
//!
//! A relay usually accepts every message and only later learns that a
//! mailbox is gone, full, or that its reader pressed "spam"; what it learns
//! reaches us as a mail to the envelope sender. [`report`] reads one such
//! mail into a [`report::Report`] (pure, no I/O): a delivery status report
//! (RFC 3464, or an older server's plain-text bounce), a complaint (RFC 5965
//! feedback report), or an automatic reply to ignore. Deciding what a
//! report does to a subscriber, and fetching the mail, live elsewhere.

pub mod report;
