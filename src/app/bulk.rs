//! Subscribers in bulk: `academichub subscribers import FILE` and
//! `subscribers export`, one JSON object per line in the shape of the
//! subscribe API's body ([`SubscriberInput`]), checked as it is, so an
//! export imports again.
//!
//! An import is all or nothing: every line is checked first, and if any is
//! bad the report names each bad line by number and nothing is written.
//! Then all subscribers go in one transaction. Imported subscribers are
//! active (the operator vouches for their consent), or with `--pending`
//! wait for their own confirmation, which is mailed to them.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};

use super::Application;
use crate::briefing::Notice;
use crate::domain::{
    Cadence, EventOrigin, NewSubscriber, Subscriber, SubscriberInput, SubscriptionStatus, Topic,
    TopicInput,
};

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    /// Addresses already subscribed (in any state): left as they are.
    pub already_here: usize,
    /// Confirmation requests queued (`--pending`).
    pub confirmations: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} bad line(s); nothing was imported:\n{}", .0.len(), .0.iter().map(|(n, e)| format!("  line {n}: {e}")).collect::<Vec<_>>().join("\n"))]
    BadLines(Vec<(usize, String)>),
    #[error("cannot read the import file: {0}")]
    Read(#[from] std::io::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Bad lines reported in full before the report is cut short.
const MAX_REPORTED: usize = 100;

impl Application {
    /// Imports subscribers from JSON lines; `progress` is called with the
    /// number of lines checked so far.
    pub async fn import_subscribers(
        &self,
        input: impl BufRead,
        pending: bool,
        now: DateTime<Utc>,
        progress: impl Fn(usize),
    ) -> Result<ImportReport, ImportError> {
        let mut rows: Vec<(NewSubscriber, Cadence, Vec<Topic>)> = Vec::new();
        let mut line_of: HashMap<String, usize> = HashMap::new();
        let mut bad = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let number = i + 1;
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match self.check_line(&line) {
                Ok(row) => match line_of.insert(row.0.email.to_string(), number) {
                    Some(first) => {
                        bad.push((number, format!("{} is on line {first} too", row.0.email)))
                    }
                    None => rows.push(row),
                },
                Err(e) => bad.push((number, e)),
            }
            if number % 1000 == 0 {
                progress(number);
            }
        }
        let emails: Vec<_> = rows.iter().map(|(s, _, _)| &s.email).collect();
        for email in self
            .store
            .suppressed_among(&emails)
            .await
            .map_err(anyhow::Error::from)?
        {
            bad.push((
                line_of[&email],
                format!("{email} asked for their data to be deleted or marked our mail as spam; only they can subscribe again, on the subscribe page"),
            ));
        }
        if !bad.is_empty() {
            bad.sort();
            let more = bad.len().saturating_sub(MAX_REPORTED);
            bad.truncate(MAX_REPORTED);
            if more > 0 {
                bad.push((0, format!("… and {more} more")));
            }
            return Err(ImportError::BadLines(bad));
        }
        let status = if pending {
            SubscriptionStatus::Pending
        } else {
            SubscriptionStatus::Active
        };
        let origin = EventOrigin {
            source: "import",
            ip: None,
            user_agent: None,
        };
        let ids = self
            .store
            .import_subscribers(&rows, status, &origin, now.timestamp())
            .await
            .map_err(anyhow::Error::from)?;
        let mut report = ImportReport {
            imported: ids.iter().flatten().count(),
            already_here: ids.iter().filter(|id| id.is_none()).count(),
            confirmations: 0,
        };
        if pending {
            for id in ids.into_iter().flatten() {
                let subscriber = self
                    .store
                    .subscriber_by_id(id)
                    .await
                    .map_err(anyhow::Error::from)?
                    .ok_or_else(|| anyhow::anyhow!("subscriber {id} vanished during the import"))?;
                if self
                    .queue_notice(&subscriber, Notice::Confirm, None, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                {
                    report.confirmations += 1;
                }
            }
        }
        Ok(report)
    }

    fn check_line(&self, line: &str) -> Result<(NewSubscriber, Cadence, Vec<Topic>), String> {
        let line: SubscriberInput = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let checked = line.check(&self.input_rules()).map_err(|e| e.to_string())?;
        Ok((
            checked.subscriber,
            checked.cadence,
            checked.radar.into_topics(),
        ))
    }

    /// Writes every active subscriber as a JSON line; returns how many.
    pub async fn export_subscribers(&self, out: &mut impl Write) -> anyhow::Result<usize> {
        let mut after = 0;
        let mut written = 0;
        loop {
            let page = self.store.active_subscribers_after(after, 1000).await?;
            let Some(&(last, _)) = page.last() else {
                break;
            };
            after = last;
            for (_, subscriber) in page {
                let line = SubscriberInput::from(&subscriber?);
                serde_json::to_writer(&mut *out, &line)?;
                out.write_all(b"\n")?;
                written += 1;
            }
        }
        out.flush()?;
        Ok(written)
    }
}

impl From<&Subscriber> for SubscriberInput {
    fn from(s: &Subscriber) -> Self {
        Self {
            email: s.email.to_string(),
            locale: Some(s.locale.as_str().to_owned()),
            timezone: Some(s.timezone.name().to_owned()),
            send_hour: Some(s.send_hour.get()),
            cadence: (s.cadence != Cadence::Daily).then(|| s.cadence.to_string()),
            topics: s
                .topics
                .iter()
                .map(|t| TopicInput {
                    name: t.name().to_owned(),
                    query: Some(t.query().to_string()),
                    ..TopicInput::default()
                })
                .collect(),
        }
    }
}
