//! Delivery: the outbox → the reader's mailbox.
//!
//! `mailer` is the narrow port with two adapters (SMTP, one connection per
//! sending worker, or a folder of `.eml` files for a first run); `message`
//! builds the MIME message with the headers every briefing carries; `sender`
//! signs it (DKIM); `worker` drains the outbox with several workers at a
//! pace: claim a few rows (recorded as `sending`), send, record `sent` or a
//! retry — no database transaction is ever held across the network. Delivery does not
//! decide what is sent; briefings arrive here fully rendered.

mod mailer;
mod message;
mod sender;
mod worker;

pub use mailer::{Mailer, SendError};
pub use message::build_message;
pub use sender::{DkimError, Sender};
pub use worker::{DeliveryError, DeliveryReport, Outbox, Pace, RetryPolicy, drain_outbox};
