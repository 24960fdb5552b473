//! Bounces and complaints: the loop back from the mailboxes we send to.
//!
//! A relay usually accepts everything and reports failures later, by mail,
//! to the message's envelope sender; mailbox providers report spam
//! complaints the same way (ARF). Each message goes out from its own signed
//! return address (`delivery.bounce_address`), so what comes back names the
//! message and the reader without trusting its text. `report` reads what
//! a returned message says (pure, fuzzed); `desk` decides what it means for
//! the reader it names and stores it; `mailbox` fetches returned messages
//! from an IMAP mailbox; `academichub bounce` hands one over from an MTA's
//! pipe.

mod desk;
mod mailbox;
pub mod report;

pub use desk::{BounceDesk, Handled};
pub use mailbox::{BounceMailbox, MailboxError, PollReport};
