//! What comes back: bounces and complaints, handed over one at a time by an
//! MTA (`academichub bounce`) or polled from the bounce mailbox, and the
//! operator's figures (`academichub stats`).

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::Application;
use crate::bounces::{Handled, PollReport};
use crate::domain::BounceOutcome;

/// Messages sent and reports read on one day (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DayStats {
    pub day: chrono::NaiveDate,
    pub sent: i64,
    /// Reports per outcome.
    pub reports: std::collections::BTreeMap<BounceOutcome, i64>,
}

impl Application {
    /// Reads one returned message (`envelope_to`: the address the MTA
    /// delivered it to). A message that cannot be read is kept as a file
    /// in `bounces.unreadable_folder` for a person. Fails only when the
    /// outcome cannot be stored (or the message kept): the MTA should offer
    /// it again later.
    pub async fn read_bounce(
        &self,
        raw: &[u8],
        envelope_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Handled> {
        let desk = self.bounce_desk.as_ref().context(
            "delivery.bounce_address is not set, so no message has a return address to read \
             bounces by; set it (and point its domain's MX or an alias at us) first",
        )?;
        let handled = desk.handle(raw, envelope_to, now.timestamp()).await?;
        if handled.outcome == BounceOutcome::Unreadable {
            let folder = &self.settings.bounces.unreadable_folder;
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
            let path = folder.join(format!(
                "{}-{}.eml",
                now.format("%Y%m%dT%H%M%S"),
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::write(&path, raw)
                .with_context(|| format!("cannot keep the message in {}", path.display()))?;
            tracing::warn!(path = %path.display(), "{}", handled.summary);
        }
        Ok(handled)
    }

    /// Reads what waits in the bounce mailbox (`[bounces.imap]`).
    pub async fn poll_bounces(&self, now: DateTime<Utc>) -> anyhow::Result<PollReport> {
        let (Some(desk), Some(mailbox)) = (&self.bounce_desk, &self.bounce_mailbox) else {
            anyhow::bail!(
                "no bounce mailbox is configured: set delivery.bounce_address and [bounces.imap]"
            );
        };
        Ok(mailbox.poll(desk, now.timestamp()).await?)
    }

    /// Whether the daemon polls a bounce mailbox, and how often.
    pub fn bounce_poll_interval(&self) -> Option<std::time::Duration> {
        self.bounce_mailbox.as_ref()?;
        let imap = self.settings.bounces.imap.as_ref()?;
        Some(std::time::Duration::from_secs(
            u64::from(imap.poll_minutes) * 60,
        ))
    }

    /// Messages sent and reports read per day, the last `days` days (UTC).
    pub async fn daily_stats(
        &self,
        days: u32,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<DayStats>> {
        let today = now.timestamp() - now.timestamp().rem_euclid(86_400);
        let since = today - i64::from(days.saturating_sub(1)) * 86_400;
        let mut out: std::collections::BTreeMap<i64, DayStats> = (0..i64::from(days))
            .map(|d| {
                let day = since + d * 86_400;
                let date = DateTime::from_timestamp(day, 0)
                    .expect("a day in range")
                    .date_naive();
                (
                    day,
                    DayStats {
                        day: date,
                        ..DayStats::default()
                    },
                )
            })
            .collect();
        for (day, count) in self.store.sent_counts(since).await? {
            if let Some(stats) = out.get_mut(&day) {
                stats.sent = count;
            }
        }
        for row in self.store.bounce_counts(since).await? {
            if let (Some(stats), Some(outcome)) =
                (out.get_mut(&row.day), BounceOutcome::parse(&row.outcome))
            {
                stats.reports.insert(outcome, row.count);
            }
        }
        Ok(out.into_values().collect())
    }
}
