//! A message as it is queued: what goes on the wire, fixed when it is made.

use super::{EmailAddress, MessageBody};

/// What goes on the wire, fixed when the briefing is made so that a retry
/// sends exactly the same message (same Message-ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub recipient: EmailAddress,
    pub subject: String,
    pub body: MessageBody,
    pub message_id: String,
    /// `List-Unsubscribe` target; `None` for mail that is not a briefing
    /// (a confirmation request is not a list message).
    pub unsubscribe_url: Option<String>,
}
