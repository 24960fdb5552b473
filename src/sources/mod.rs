//! Collection: configured feeds → stored papers.
//!
//! Consumes `collect.feeds` from the settings; owns the `sources` table
//! (per-feed `etag`, `last_modified`, `next_check_at`, `error_count`,
//! `last_error`) and writes `papers`. A feed that fails (unreachable, HTTP
//! error, not a feed) is recorded with its error and backed off
//! exponentially, honouring `Retry-After`; the other feeds carry on. A feed
//! is never given up on silently: its error stays visible in `sources`.
//! Collection does not decide who sees a paper; that is the radar's job.

mod fetch;
mod parse;

use std::time::Duration;

pub use fetch::{FetchError, FetchOutcome, Fetcher};
pub use parse::{ParseError, parse_feed};

use crate::config::CollectSettings;
use crate::redact::redact_url;
use crate::store::{Store, StoreError, UpsertCounts};

/// What happened to one feed in one collection run.
#[derive(Debug)]
pub enum FeedOutcome {
    /// Not due yet (backing off, or fetched recently).
    Skipped {
        next_check_at: i64,
    },
    NotModified,
    Stored(UpsertCounts),
    Failed(String),
}

#[derive(Debug)]
pub struct FeedReport {
    pub name: String,
    pub outcome: FeedOutcome,
}

#[derive(Debug, Default)]
pub struct CollectReport {
    pub feeds: Vec<FeedReport>,
}

impl CollectReport {
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.feeds.iter().filter_map(|f| match &f.outcome {
            FeedOutcome::Failed(e) => Some((f.name.as_str(), e.as_str())),
            _ => None,
        })
    }

    pub fn stored(&self) -> UpsertCounts {
        self.feeds
            .iter()
            .fold(UpsertCounts::default(), |acc, f| match &f.outcome {
                FeedOutcome::Stored(c) => UpsertCounts {
                    new: acc.new + c.new,
                    updated: acc.updated + c.updated,
                },
                _ => acc,
            })
    }
}

/// First retry after 5 minutes, doubling, at most a day apart.
fn backoff_secs(error_count: i64) -> i64 {
    let exponent = error_count.clamp(0, 10) as u32;
    (300_i64 << exponent).min(86_400)
}

/// Fetches every due feed once and stores what it holds.
/// Only a database failure aborts the run.
pub async fn collect(
    store: &Store,
    fetcher: &Fetcher,
    settings: &CollectSettings,
    now: i64,
) -> Result<CollectReport, StoreError> {
    let mut report = CollectReport::default();
    for feed in &settings.feeds {
        let name = feed.name.clone().unwrap_or_else(|| redact_url(&feed.url));
        let source = store.ensure_source(&feed.url, &name, now).await?;
        if source.next_check_at > now {
            report.feeds.push(FeedReport {
                name,
                outcome: FeedOutcome::Skipped {
                    next_check_at: source.next_check_at,
                },
            });
            continue;
        }
        let fetched = fetcher
            .fetch(
                &feed.url,
                source.etag.as_deref(),
                source.last_modified.as_deref(),
            )
            .await;
        let next_check_at = now + (settings.interval_minutes as i64) * 60;
        let outcome = match fetched {
            Ok(FetchOutcome::NotModified) => {
                store
                    .record_fetch_success(
                        source.id,
                        source.etag.as_deref(),
                        source.last_modified.as_deref(),
                        now,
                        next_check_at,
                    )
                    .await?;
                FeedOutcome::NotModified
            }
            Ok(FetchOutcome::Fetched {
                body,
                etag,
                last_modified,
            }) => match parse_feed(&body) {
                Ok(papers) => {
                    let counts = store.upsert_papers(&papers, source.id, now).await?;
                    store
                        .record_fetch_success(
                            source.id,
                            etag.as_deref(),
                            last_modified.as_deref(),
                            now,
                            next_check_at,
                        )
                        .await?;
                    FeedOutcome::Stored(counts)
                }
                Err(e) => {
                    let message = e.to_string();
                    store
                        .record_fetch_error(
                            source.id,
                            &message,
                            now + backoff_secs(source.error_count),
                        )
                        .await?;
                    FeedOutcome::Failed(message)
                }
            },
            Err(e) => {
                let wait = backoff_secs(source.error_count).max(
                    e.retry_after()
                        .map_or(0, |d: Duration| d.as_secs().min(7 * 86_400) as i64),
                );
                let message = e.to_string();
                store
                    .record_fetch_error(source.id, &message, now + wait)
                    .await?;
                FeedOutcome::Failed(message)
            }
        };
        match &outcome {
            FeedOutcome::Failed(e) => {
                tracing::warn!(feed = %name, error = %e, "feed failed; will retry later")
            }
            FeedOutcome::Stored(c) => {
                tracing::info!(feed = %name, new = c.new, updated = c.updated, "feed collected")
            }
            _ => tracing::debug!(feed = %name, ?outcome, "feed checked"),
        }
        report.feeds.push(FeedReport { name, outcome });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_minutes_up_to_a_day() {
        assert_eq!(backoff_secs(0), 300);
        assert_eq!(backoff_secs(1), 600);
        assert_eq!(backoff_secs(3), 2400);
        assert_eq!(backoff_secs(50), 86_400);
    }
}
