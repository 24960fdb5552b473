//! What a monitor asks of a running daemon: whether it is ready to work
//! (`/readyz`), and the numbers it scrapes (`/metrics`; the gauges that
//! describe the shared database are read from it at each scrape, see
//! [`crate::telemetry::metrics`]); and what an operator asks of the
//! database: how today went (`academichub stats`).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::Application;
use crate::store::{MessageCounts, RoundBacklog};
use crate::telemetry::metrics;

impl Application {
    /// Ready to work: the database takes a write and holds exactly the
    /// migrations this binary carries. The error says which and what to do.
    pub async fn readiness(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.store.check_writable(now.timestamp()).await?;
        self.store.check_migrations().await?;
        Ok(())
    }

    /// The metrics in Prometheus's text format, the database's gauges read
    /// now; `None` when `metrics.enabled` is off. A database that does not
    /// answer is reported (`academichub_database_up 0`), not an error: the
    /// scrape is how a monitor learns of it.
    pub async fn scrape(&self, now: DateTime<Utc>) -> Option<String> {
        let scrape = self.scrape.as_ref()?;
        let read = async {
            let (depth, oldest) = self.store.outbox_waiting().await?;
            metrics::outbox(depth, oldest.map_or(0, |at| (now.timestamp() - at).max(0)));
            if self.writing.has_llm() && self.settings.llm.daily_token_budget > 0 {
                let spent = self.writing.tokens_spent_today(now).await?;
                let budget =
                    i64::try_from(self.settings.llm.daily_token_budget).unwrap_or(i64::MAX);
                metrics::llm_budget_left((budget - spent).max(0));
            }
            Ok::<_, anyhow::Error>(self.store.size_bytes().await?)
        };
        match read.await {
            Ok(bytes) => metrics::database(true, Some(bytes)),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "metrics: the database did not answer"
                );
                metrics::database(false, None);
            }
        }
        Some(scrape.render())
    }
}

/// How today went, as `academichub stats` shows it.
#[derive(Debug, serde::Serialize)]
pub struct Today {
    /// The day, in `timezone`.
    pub date: chrono::NaiveDate,
    pub timezone: String,
    /// Briefings made today.
    pub briefings_made: i64,
    /// Active subscribers now: how many, how many are due and waiting, and
    /// whose last briefing failed.
    pub round: RoundBacklog,
    pub messages: MessageCounts,
    /// Subscription events today by kind (confirmed, unsubscribed,
    /// suppressed, complained, …).
    pub readers: BTreeMap<String, i64>,
    /// Returned reports read today, by outcome (hard, soft, complaint, …).
    pub reports: BTreeMap<String, i64>,
    /// Messages still to go out now, and how long the oldest has waited.
    pub outbox_waiting: i64,
    pub outbox_oldest_secs: Option<i64>,
    pub sources: Vec<SourceHealth>,
    /// Tokens the LLM spent today (its budget's day is UTC), when one is
    /// configured.
    pub llm: Option<TokensToday>,
    pub database_bytes: i64,
}

/// One source's health.
#[derive(Debug, serde::Serialize)]
pub struct SourceHealth {
    pub name: String,
    pub last_fetched_at: Option<DateTime<Utc>>,
    pub next_check_at: Option<DateTime<Utc>>,
    /// Failures in a row (0: the last check went fine).
    pub errors_in_a_row: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct TokensToday {
    pub spent: i64,
    /// `llm.daily_token_budget`; 0: none.
    pub budget: u64,
}

impl Application {
    /// Today in `timezone` (default: `briefing.default_timezone`).
    pub async fn today(&self, now: DateTime<Utc>, timezone: Option<&str>) -> anyhow::Result<Today> {
        let name = timezone.unwrap_or(&self.settings.briefing.default_timezone);
        let zone: Tz = name.parse().map_err(|_| {
            anyhow::anyhow!("{name:?} is not an IANA time zone (e.g. Europe/Berlin)")
        })?;
        let date = now.with_timezone(&zone).date_naive();
        let start = |date: chrono::NaiveDate| {
            let midnight = date.and_time(chrono::NaiveTime::MIN);
            zone.from_local_datetime(&midnight)
                .earliest()
                .map_or_else(|| midnight.and_utc().timestamp(), |t| t.timestamp())
        };
        let (from, until) = (start(date), start(date + chrono::Days::new(1)));
        let store = &self.store;
        let (waiting, oldest) = store.outbox_waiting().await?;
        let llm = if self.writing.has_llm() {
            Some(TokensToday {
                spent: self.writing.tokens_spent_today(now).await?,
                budget: self.settings.llm.daily_token_budget,
            })
        } else {
            None
        };
        let at = |t: i64| DateTime::from_timestamp(t, 0);
        Ok(Today {
            date,
            timezone: name.to_owned(),
            briefings_made: store.briefings_made(from, until).await?,
            round: store.round_backlog(now.timestamp()).await?,
            messages: store.message_counts(from, until).await?,
            readers: store.event_counts(from, until).await?.into_iter().collect(),
            reports: store
                .report_counts(from, until)
                .await?
                .into_iter()
                .collect(),
            outbox_waiting: waiting,
            outbox_oldest_secs: oldest.map(|t| (now.timestamp() - t).max(0)),
            sources: store
                .source_states()
                .await?
                .into_iter()
                .map(|s| SourceHealth {
                    name: s.name,
                    last_fetched_at: s.last_fetched_at.and_then(at),
                    next_check_at: at(s.next_check_at),
                    errors_in_a_row: s.error_count,
                    last_error: s.last_error,
                })
                .collect(),
            llm,
            database_bytes: store.size_bytes().await?,
        })
    }
}
