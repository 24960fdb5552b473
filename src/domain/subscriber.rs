use chrono_tz::Tz;

use super::{EmailAddress, Locale, Topic};

/// Who wants a briefing, when, in which language. Built by `subscribe`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscriber {
    pub email: EmailAddress,
    pub locale: Locale,
    pub timezone: Tz,
    /// Local hour (0–23) from which today's briefing is due.
    pub send_hour: u32,
}

/// An active subscriber with their radar: the topics briefings are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    pub id: i64,
    pub email: EmailAddress,
    pub locale: Locale,
    pub timezone: Tz,
    pub send_hour: u32,
    pub topics: Vec<Topic>,
}
