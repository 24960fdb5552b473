//! Collection: configured feeds → stored papers.
//!
//! Consumes `collect.feeds` from the settings; owns the `sources` table
//! (per-feed `etag`, `last_modified`, `next_check_at`, `error_count`,
//! `last_error`) and writes `papers`. A feed that fails (unreachable, HTTP
//! error, not a feed) is recorded with its error and backed off
//! exponentially, honouring `Retry-After`; the other feeds carry on. A feed
//! is never given up on silently: its error stays visible in `sources`.
//! Collection does not decide who sees a paper; that is the radar's job.

pub mod biorxiv;
pub mod crossref;
mod fetch;
pub mod markup;
pub mod oai;
mod page;
mod parse;
pub mod pubmed;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use fetch::{FetchError, FetchOutcome, Fetcher};
pub use page::{ApiError, Page};
pub use parse::{MAX_ITEMS, ParseError, ParsedFeed, parse_feed};

use crate::config::CollectSettings;
use crate::domain::Paper;
use crate::redact::redact_url;
use tokio_util::sync::CancellationToken;

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

/// A date more than a day ahead is a mistake (a year 9999 would rank the
/// paper first for ever): such a paper counts as published when fetched.
fn clamp_future_dates(papers: &mut [Paper], now: i64) {
    let Some(fetched) = DateTime::<Utc>::from_timestamp(now, 0) else {
        return;
    };
    for paper in papers {
        if paper
            .published
            .is_some_and(|p| p > fetched + chrono::Duration::days(1))
        {
            paper.published = Some(fetched);
        }
    }
}

/// "2 item(s) skipped (no title: 1, no http(s) link: 1); 12 item(s) beyond
/// the 5000-item limit", or `None` when every item became a paper.
fn notes(parsed: &ParsedFeed) -> Option<String> {
    let mut parts = Vec::new();
    if !parsed.skipped.is_empty() {
        let mut reasons: Vec<(&str, usize)> = Vec::new();
        for reason in &parsed.skipped {
            match reasons.iter_mut().find(|(r, _)| r == reason) {
                Some((_, n)) => *n += 1,
                None => reasons.push((reason, 1)),
            }
        }
        let reasons: Vec<String> = reasons
            .iter()
            .map(|(reason, n)| format!("{reason}: {n}"))
            .collect();
        parts.push(format!(
            "{} item(s) skipped ({})",
            parsed.skipped.len(),
            reasons.join(", ")
        ));
    }
    if parsed.beyond_limit > 0 {
        parts.push(format!(
            "{} item(s) beyond the {MAX_ITEMS}-item limit not read",
            parsed.beyond_limit
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// First retry after 5 minutes, doubling, at most a day apart.
fn backoff_secs(error_count: i64) -> i64 {
    let exponent = error_count.clamp(0, 10) as u32;
    (300_i64 << exponent).min(86_400)
}

/// Fetches every due feed once and stores what it holds, until `stop`
/// (between feeds). Only a database failure aborts the run.
pub async fn collect(
    store: &Store,
    fetcher: &Fetcher,
    settings: &CollectSettings,
    now: i64,
    stop: &CancellationToken,
) -> Result<CollectReport, StoreError> {
    let mut report = CollectReport::default();
    for feed in &settings.feeds {
        if stop.is_cancelled() {
            break;
        }
        let name = feed.name.clone().unwrap_or_else(|| redact_url(&feed.url));
        let source = store.ensure_source(&feed.url, &name, now).await?;
        // Several daemons may share the database: one fetches, the others
        // skip the feed until its next check.
        let lease_until = now + 2 * fetcher.timeout_secs() + 60;
        if !store.claim_source(source.id, now, lease_until).await? {
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
                Ok(mut parsed) => {
                    clamp_future_dates(&mut parsed.papers, now);
                    let notes = notes(&parsed);
                    if let Some(notes) = &notes {
                        tracing::warn!(feed = %name, %notes, "feed items left out");
                    }
                    store
                        .record_fetch_notes(source.id, notes.as_deref())
                        .await?;
                    let counts = store.upsert_papers(&parsed.papers, source.id, now).await?;
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
    fn dates_far_in_the_future_become_the_fetch_time() {
        let paper = |published: &str| Paper {
            key: crate::domain::PaperKey::Url("https://j.test/1".into()),
            arxiv: None,
            doi: None,
            related: Vec::new(),
            title: "t".into(),
            abstract_text: String::new(),
            url: "https://j.test/1".into(),
            authors: Vec::new(),
            categories: Vec::new(),
            venue: "J".into(),
            announce_type: None,
            published: Some(published.parse().unwrap()),
        };
        let now: DateTime<Utc> = "2026-11-24T12:00:00Z".parse().unwrap();
        let mut papers = vec![
            paper("9999-01-01T00:00:00Z"),
            paper("2026-11-25T06:00:00Z"),
            paper("2026-11-20T00:00:00Z"),
        ];
        clamp_future_dates(&mut papers, now.timestamp());
        let dates: Vec<String> = papers
            .iter()
            .map(|p| p.published.unwrap().to_rfc3339())
            .collect();
        assert_eq!(
            dates,
            [
                "2026-11-24T12:00:00+00:00",
                "2026-11-25T06:00:00+00:00",
                "2026-11-20T00:00:00+00:00"
            ],
            "a timezone's worth ahead is fine; the year 9999 is not"
        );
    }

    #[test]
    fn what_a_feed_left_out_is_said_in_one_line() {
        let parsed = ParsedFeed {
            papers: Vec::new(),
            skipped: vec!["no title", "no http(s) link", "no title"],
            beyond_limit: 12,
        };
        assert_eq!(
            notes(&parsed).as_deref(),
            Some(
                "3 item(s) skipped (no title: 2, no http(s) link: 1); 12 item(s) beyond the 5000-item limit not read"
            )
        );
        assert_eq!(notes(&ParsedFeed::default()), None);
    }

    #[test]
    fn backoff_doubles_from_five_minutes_up_to_a_day() {
        assert_eq!(backoff_secs(0), 300);
        assert_eq!(backoff_secs(1), 600);
        assert_eq!(backoff_secs(3), 2400);
        assert_eq!(backoff_secs(50), 86_400);
    }
}
