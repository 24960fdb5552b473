use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::{EmailAddress, Locale, SendHour, Topic};

/// Who wants a briefing, when, in which language. Built by `subscribe`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscriber {
    pub email: EmailAddress,
    pub locale: Locale,
    pub timezone: Tz,
    /// Local hour from which today's briefing is due.
    pub send_hour: SendHour,
}

/// Where a subscription stands. Only `Active` subscribers get briefings.
///
/// `Pending` → (confirm) → `Active` → (unsubscribe) → `Unsubscribed`;
/// `Suppressed` is for addresses that bounce. Leaving `Unsubscribed` or
/// `Suppressed` takes a new confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    Pending,
    Active,
    Unsubscribed,
    Suppressed,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
            Self::Suppressed => "suppressed",
        }
    }
}

impl FromStr for SubscriptionStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Pending,
            Self::Active,
            Self::Unsubscribed,
            Self::Suppressed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| format!("unknown subscription status {s:?}"))
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often a briefing comes: every day, or once a week on a chosen day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cadence {
    #[default]
    Daily,
    Weekly(Weekday),
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Daily => f.write_str("daily"),
            Self::Weekly(day) => write!(f, "weekly:{}", day.to_string().to_ascii_lowercase()),
        }
    }
}

impl FromStr for Cadence {
    type Err = String;

    /// `daily`, or `weekly:mon` … `weekly:sun`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().split_once(':') {
            None if s.trim() == "daily" => Ok(Self::Daily),
            Some(("weekly", day)) => day
                .parse::<Weekday>()
                .map(Self::Weekly)
                .map_err(|_| format!("{day:?} is not a weekday (mon … sun)")),
            _ => Err(format!(
                "{s:?} is not a cadence: use daily or weekly:mon … weekly:sun"
            )),
        }
    }
}

/// "More like this" or "less like this" about one paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    More,
    Less,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::More => "more",
            Self::Less => "less",
        }
    }
}

impl FromStr for Verdict {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "more" => Ok(Self::More),
            "less" => Ok(Self::Less),
            other => Err(format!("unknown verdict {other:?} (more or less)")),
        }
    }
}

/// A subscriber with their radar: the topics briefings are built from, and
/// the schedule they arrive on.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    pub id: i64,
    pub email: EmailAddress,
    pub status: SubscriptionStatus,
    pub locale: Locale,
    pub timezone: Tz,
    pub send_hour: SendHour,
    pub cadence: Cadence,
    /// Papers per topic; `None`: the instance's default.
    pub max_per_topic: Option<u32>,
    /// No briefing before this local date.
    pub paused_until: Option<NaiveDate>,
    /// Mixed into every link issued to this subscriber.
    pub link_nonce: i64,
    pub topics: Vec<Topic>,
}

impl Subscriber {
    /// What the reader chose, as the preferences page saves it.
    pub fn preferences(&self) -> Preferences {
        Preferences {
            locale: self.locale,
            timezone: self.timezone,
            send_hour: self.send_hour,
            cadence: self.cadence,
            max_per_topic: self.max_per_topic,
            paused_until: self.paused_until,
            topics: self.topics.clone(),
        }
    }

    /// The edition (local date) a briefing made at `now` belongs to.
    pub fn edition(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.timezone).date_naive()
    }

    /// Whether `now` falls in this subscriber's slot: their local send hour
    /// has come (unless `ignore_hour`), it is their weekday if weekly, and
    /// they are not paused.
    pub fn is_due(&self, now: DateTime<Utc>, ignore_hour: bool) -> bool {
        let local = now.with_timezone(&self.timezone);
        let date = local.date_naive();
        let hour_ok = ignore_hour || local.hour() >= self.send_hour.get();
        let day_ok = match self.cadence {
            Cadence::Daily => true,
            Cadence::Weekly(day) => local.weekday() == day,
        };
        let not_paused = self.paused_until.is_none_or(|until| date >= until);
        hour_ok && day_ok && not_paused
    }

    /// When the round should look at this subscriber again after looking
    /// at `now`: today's slot if it is still to come, else the next one
    /// (their send hour on their next day, after any pause). With
    /// `done_today`, today's edition is made and the next slot is on a
    /// later day.
    pub fn next_slot(&self, now: DateTime<Utc>, done_today: bool) -> DateTime<Utc> {
        let today = self.edition(now);
        let mut date = if done_today {
            today.succ_opt().unwrap_or(today)
        } else {
            today
        };
        if let Some(until) = self.paused_until {
            date = date.max(until);
        }
        if let Cadence::Weekly(day) = self.cadence {
            let ahead =
                (7 + day.num_days_from_monday() - date.weekday().num_days_from_monday()) % 7;
            date = date + chrono::Days::new(u64::from(ahead));
        }
        let slot = self.local_hour(date);
        if slot <= now && !done_today && date == today {
            // Today's hour has passed and yet the subscriber was not due:
            // only possible for a forced look; the next day's slot.
            return self.next_slot(now, true);
        }
        slot
    }

    /// The instant the send hour begins on `date` in the subscriber's zone.
    /// In a DST gap (the hour does not exist that day) the first instant
    /// after it.
    fn local_hour(&self, date: NaiveDate) -> DateTime<Utc> {
        use chrono::{LocalResult, TimeZone};
        let hour = date
            .and_hms_opt(self.send_hour.get(), 0, 0)
            .expect("hours below 24 exist");
        match self.timezone.from_local_datetime(&hour) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => (1..=3)
                .find_map(|h| {
                    self.timezone
                        .from_local_datetime(&(hour + chrono::Duration::hours(h)))
                        .earliest()
                })
                .map_or_else(|| hour.and_utc(), |t| t.with_timezone(&Utc)),
        }
    }
}

/// What a reader can change on their preferences page.
#[derive(Debug, Clone, PartialEq)]
pub struct Preferences {
    pub locale: Locale,
    pub timezone: Tz,
    pub send_hour: SendHour,
    pub cadence: Cadence,
    pub max_per_topic: Option<u32>,
    pub paused_until: Option<NaiveDate>,
    pub topics: Vec<Topic>,
}

/// Where a change to a subscription came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOrigin {
    /// `web`, `api`, `one-click`, `cli`, `expiry`, …
    pub source: &'static str,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl EventOrigin {
    pub fn cli() -> Self {
        Self {
            source: "cli",
            ip: None,
            user_agent: None,
        }
    }
}

/// The outcome of a confirmation link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Confirmed,
    AlreadyActive,
    /// Unsubscribed or suppressed after the link was sent: it no longer
    /// confirms anything; a new request is needed.
    Stale,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber(cadence: Cadence, paused_until: Option<NaiveDate>) -> Subscriber {
        Subscriber {
            id: 1,
            email: EmailAddress::parse("a@example.org").unwrap(),
            status: SubscriptionStatus::Active,
            locale: Locale::En,
            timezone: chrono_tz::Asia::Shanghai,
            send_hour: SendHour::new(8).unwrap(),
            cadence,
            max_per_topic: None,
            paused_until,
            link_nonce: 1,
            topics: Vec::new(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// The UTC instant of a local wall-clock time in `zone`.
    fn local(zone: Tz, wall: &str) -> DateTime<Utc> {
        use chrono::TimeZone;
        let naive: chrono::NaiveDateTime = wall.parse().unwrap();
        zone.from_local_datetime(&naive)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn seven_oclock_is_seven_oclock_on_both_sides_of_every_dst_change() {
        for (zone, changes) in [
            // Spring forward and fall back in 2026.
            (chrono_tz::Europe::Berlin, ["2026-03-29", "2026-10-25"]),
            (chrono_tz::America::New_York, ["2026-03-08", "2026-11-01"]),
        ] {
            let reader = Subscriber {
                timezone: zone,
                send_hour: SendHour::new(7).unwrap(),
                ..subscriber(Cadence::Daily, None)
            };
            for change in changes {
                let day: NaiveDate = change.parse().unwrap();
                for date in [day.pred_opt().unwrap(), day, day.succ_opt().unwrap()] {
                    let before = local(zone, &format!("{date}T06:59:00"));
                    let at = local(zone, &format!("{date}T07:00:00"));
                    assert!(!reader.is_due(before, false), "{zone} {date} 06:59");
                    assert!(reader.is_due(at, false), "{zone} {date} 07:00");
                    assert_eq!(reader.edition(at), date, "{zone} {date}");
                }
            }
        }
    }

    #[test]
    fn a_weekly_reader_is_due_only_on_their_day_across_a_dst_change() {
        let reader = Subscriber {
            timezone: chrono_tz::Europe::Berlin,
            send_hour: SendHour::new(7).unwrap(),
            ..subscriber(Cadence::Weekly(Weekday::Sun), None)
        };
        let due: Vec<NaiveDate> = (20..=31)
            .map(|d| format!("2026-03-{d}").parse::<NaiveDate>().unwrap())
            .filter(|date| {
                reader.is_due(
                    local(chrono_tz::Europe::Berlin, &format!("{date}T07:30:00")),
                    false,
                )
            })
            .collect();
        assert_eq!(
            due,
            ["2026-03-22", "2026-03-29"].map(|d| d.parse::<NaiveDate>().unwrap())
        );
    }

    #[test]
    fn the_next_slot_is_the_next_local_send_hour_on_a_day_the_reader_takes_mail() {
        // 2026-11-24 is a Tuesday; Shanghai is UTC+8, send hour 8.
        let daily = subscriber(Cadence::Daily, None);
        let before = at("2026-11-23T23:00:00Z"); // 07:00 local
        assert_eq!(daily.next_slot(before, false), at("2026-11-24T00:00:00Z"));
        let after = at("2026-11-24T01:00:00Z"); // 09:00 local, briefing made
        assert_eq!(daily.next_slot(after, true), at("2026-11-25T00:00:00Z"));
        assert!(daily.is_due(daily.next_slot(after, true), false));

        let weekly = subscriber(Cadence::Weekly(Weekday::Mon), None);
        assert_eq!(weekly.next_slot(after, false), at("2026-11-30T00:00:00Z"));
        let monday = weekly.next_slot(after, false);
        assert_eq!(weekly.next_slot(monday, true), at("2026-12-07T00:00:00Z"));

        let paused = subscriber(Cadence::Daily, "2026-12-01".parse().ok());
        assert_eq!(paused.next_slot(after, true), at("2026-12-01T00:00:00Z"));

        // 02:30 does not exist in Berlin on 2026-03-29: the slot is the
        // first instant after the gap, and the reader is due then.
        let gap = Subscriber {
            timezone: chrono_tz::Europe::Berlin,
            send_hour: SendHour::new(2).unwrap(),
            ..subscriber(Cadence::Daily, None)
        };
        let slot = gap.next_slot(
            local(chrono_tz::Europe::Berlin, "2026-03-28T12:00:00"),
            true,
        );
        assert_eq!(
            slot,
            local(chrono_tz::Europe::Berlin, "2026-03-29T03:00:00")
        );
        assert!(gap.is_due(slot, false));
    }

    #[test]
    fn cadences_round_trip_through_their_names() {
        for c in [Cadence::Daily, Cadence::Weekly(Weekday::Fri)] {
            assert_eq!(c.to_string().parse::<Cadence>(), Ok(c));
        }
        assert_eq!(Cadence::Weekly(Weekday::Mon).to_string(), "weekly:mon");
        assert!("hourly".parse::<Cadence>().is_err());
        assert!("weekly:someday".parse::<Cadence>().is_err());
    }

    #[test]
    fn a_subscriber_is_due_from_their_local_hour_on_their_day_unless_paused() {
        // 2026-11-24 is a Tuesday; 00:30 UTC is 08:30 in Shanghai.
        let daily = subscriber(Cadence::Daily, None);
        assert!(daily.is_due(at("2026-11-24T00:30:00Z"), false));
        assert!(
            !daily.is_due(at("2026-11-23T23:30:00Z"), false),
            "07:30 local"
        );
        assert!(daily.is_due(at("2026-11-23T23:30:00Z"), true));

        let weekly = subscriber(Cadence::Weekly(Weekday::Tue), None);
        assert!(weekly.is_due(at("2026-11-24T00:30:00Z"), false));
        assert!(
            !weekly.is_due(at("2026-11-25T00:30:00Z"), true),
            "Wednesday"
        );

        let paused = subscriber(Cadence::Daily, "2026-11-25".parse().ok());
        assert!(!paused.is_due(at("2026-11-24T00:30:00Z"), true));
        assert!(paused.is_due(at("2026-11-25T00:30:00Z"), false));
    }
}
