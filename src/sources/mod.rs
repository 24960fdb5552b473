//! Collection: configured sources → stored papers.
//!
//! Consumes `collect.feeds` (preset names or URLs, see `domain::Source`)
//! and `[sources]`; owns the `sources` table (per source: `etag`,
//! `last_modified`, `cursor`, `next_check_at`, `error_count`, `last_error`)
//! and writes `papers`. A feed is one conditional GET; an API (bioRxiv,
//! Crossref, PubMed, OAI-PMH) is walked page by page over the days since its
//! last walk ended, each page stored before the next is asked for, at the
//! provider's pace ([`route::RULES`]). A source that fails (unreachable,
//! HTTP error, an answer that is not what its API documents) is recorded
//! with its error and backed off exponentially, honouring `Retry-After`; the
//! others carry on. A source is never given up on silently: its error stays
//! visible in `feeds`. Collection does not decide who sees a paper; that is
//! the radar's job.

pub mod biorxiv;
mod catalogue;
pub mod crossref;
mod fetch;
mod lookup;
pub mod markup;
pub mod oai;
mod page;
mod parse;
pub mod pubmed;
mod route;
mod walk;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

pub use catalogue::catalogue;
pub use fetch::{FetchError, FetchOutcome, Fetcher};
pub use lookup::LookupError;
pub use page::{ApiError, Page};
pub use parse::{MAX_ITEMS, ParseError, ParsedFeed, parse_feed};
pub use route::{Endpoints, Lookup, Politeness, RULES, Route, Rule};
pub use walk::{Credentials, WalkError, Walker, Window};

use crate::config::{CollectSettings, SourceSettings};
use crate::domain::{Paper, Source};
use crate::redact::redact_url;
use tokio_util::sync::CancellationToken;

use crate::store::{Arrival, SourceState, Store, StoreError, UpsertCounts};
use crate::telemetry::metrics;

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
            .fold(UpsertCounts::default(), |mut acc, f| {
                if let FeedOutcome::Stored(c) = &f.outcome {
                    acc += *c;
                }
                acc
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
/// the 5000-item limit", plus what the API itself said, or `None` when
/// every item became a paper.
fn notes(skipped: &[&str], beyond_limit: usize, extra: &[String]) -> Option<String> {
    let mut parts = Vec::new();
    if !skipped.is_empty() {
        let mut reasons: Vec<(&str, usize)> = Vec::new();
        for reason in skipped {
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
            skipped.len(),
            reasons.join(", ")
        ));
    }
    if beyond_limit > 0 {
        parts.push(format!(
            "{beyond_limit} item(s) beyond the {MAX_ITEMS}-item limit not read"
        ));
    }
    parts.extend(extra.iter().cloned());
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// First retry after 5 minutes, doubling, at most a day apart.
fn backoff_secs(error_count: i64) -> i64 {
    let exponent = error_count.clamp(0, 10) as u32;
    (300_i64 << exponent).min(86_400)
}

/// The collection stage: the configured sources, resolved to their routes,
/// and what it needs to ask them and keep what they say.
pub struct Collector {
    store: Store,
    fetcher: Fetcher,
    /// Name for logs, key of its stored state, route.
    sources: Vec<(String, String, Route)>,
    endpoints: Endpoints,
    credentials: Credentials,
    interval_secs: i64,
    max_age_days: i64,
    max_pages: usize,
}

/// A first walk of an API asks for this many days back (today included).
const FIRST_WINDOW_DAYS: i64 = 2;

impl Collector {
    /// `contact` is the address the APIs are told (`sources.contact_email`
    /// or the sender's).
    pub fn new(
        store: Store,
        fetcher: Fetcher,
        collect: &CollectSettings,
        settings: &SourceSettings,
        contact: Option<String>,
    ) -> Self {
        let endpoints = Endpoints::new(settings);
        let sources = collect
            .feeds
            .iter()
            .map(|feed| {
                let name = feed.name.clone().unwrap_or_else(|| match &feed.source {
                    Source::Feed(url) => redact_url(url),
                    preset => preset.to_string(),
                });
                let route = Route::collect(&feed.source, &endpoints);
                (name, feed.source.to_string(), route)
            })
            .collect();
        Self {
            store,
            fetcher,
            sources,
            endpoints,
            credentials: Credentials {
                contact,
                ncbi_api_key: settings
                    .ncbi_api_key
                    .as_ref()
                    .map(|k| k.expose().to_owned()),
            },
            interval_secs: (collect.interval_minutes as i64) * 60,
            max_age_days: i64::from(settings.max_age_days),
            max_pages: settings.max_pages as usize,
        }
    }

    /// Fetches every due source once and stores what it holds, until
    /// `stop` (between sources and between pages). Only a database failure
    /// aborts the run.
    pub async fn collect(
        &self,
        now: i64,
        stop: &CancellationToken,
    ) -> Result<CollectReport, StoreError> {
        let mut report = CollectReport::default();
        for (name, key, route) in &self.sources {
            if stop.is_cancelled() {
                break;
            }
            let state = self.store.ensure_source(key, name, now).await?;
            // Several daemons may share the database: one fetches, the
            // others skip the source until its next check.
            let requests = match route {
                Route::Feed { .. } => 1,
                _ => self.max_pages as i64 + 1,
            };
            let lease_until = now + 2 * self.fetcher.timeout_secs() * requests + 60;
            if !self.store.claim_source(state.id, now, lease_until).await? {
                report.feeds.push(FeedReport {
                    name: name.clone(),
                    outcome: FeedOutcome::Skipped {
                        next_check_at: state.next_check_at,
                    },
                });
                continue;
            }
            let outcome = match route {
                Route::Feed { url } => self.fetch_feed(&state, url, now).await?,
                _ => self.walk_api(&state, route, now, stop).await?,
            };
            match &outcome {
                FeedOutcome::Failed(e) => {
                    metrics::feed_checked(name, "failed");
                    tracing::warn!(feed = %name, error = %e, "feed failed; will retry later")
                }
                FeedOutcome::Stored(c) => {
                    metrics::feed_checked(name, "stored");
                    metrics::papers_stored(name, c.new, c.updated, c.merged);
                    tracing::info!(feed = %name, new = c.new, updated = c.updated, merged = c.merged, "feed collected")
                }
                FeedOutcome::NotModified => {
                    metrics::feed_checked(name, "not_modified");
                    tracing::debug!(feed = %name, "feed not modified")
                }
                FeedOutcome::Skipped { .. } => {
                    tracing::debug!(feed = %name, ?outcome, "feed checked")
                }
            }
            report.feeds.push(FeedReport {
                name: name.clone(),
                outcome,
            });
        }
        Ok(report)
    }

    /// One conditional GET of a feed.
    async fn fetch_feed(
        &self,
        state: &SourceState,
        url: &str,
        now: i64,
    ) -> Result<FeedOutcome, StoreError> {
        let store = &self.store;
        let fetched = self
            .fetcher
            .fetch(
                url,
                state.etag.as_deref(),
                state.last_modified.as_deref(),
                &Politeness::for_url(url),
            )
            .await;
        let next_check_at = now + self.interval_secs;
        Ok(match fetched {
            Ok(FetchOutcome::NotModified) => {
                store
                    .record_fetch_success(
                        state.id,
                        state.etag.as_deref(),
                        state.last_modified.as_deref(),
                        None,
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
                    metrics::items_skipped(&state.name, parsed.skipped.len());
                    let notes = notes(&parsed.skipped, parsed.beyond_limit, &[]);
                    store.record_fetch_notes(state.id, notes.as_deref()).await?;
                    let counts = store
                        .upsert_papers(&parsed.papers, state.id, now, Arrival::Collected)
                        .await?;
                    store
                        .record_fetch_success(
                            state.id,
                            etag.as_deref(),
                            last_modified.as_deref(),
                            None,
                            now,
                            next_check_at,
                        )
                        .await?;
                    FeedOutcome::Stored(counts)
                }
                Err(e) => self.failed(state, e.to_string(), None, now).await?,
            },
            Err(e) => {
                let retry_after = e.retry_after();
                self.failed(state, e.to_string(), retry_after, now).await?
            }
        })
    }

    /// A failure, kept visible, and the source backed off (at least as
    /// long as the server asked).
    async fn failed(
        &self,
        state: &SourceState,
        message: String,
        retry_after: Option<Duration>,
        now: i64,
    ) -> Result<FeedOutcome, StoreError> {
        let wait = backoff_secs(state.error_count)
            .max(retry_after.map_or(0, |d| d.as_secs().min(7 * 86_400) as i64));
        self.store
            .record_fetch_error(state.id, &message, now + wait)
            .await?;
        Ok(FeedOutcome::Failed(message))
    }

    /// The days since the last walk ended (the last two on a first walk),
    /// page by page, each page stored before the next is asked for.
    async fn walk_api(
        &self,
        state: &SourceState,
        route: &Route,
        now: i64,
        stop: &CancellationToken,
    ) -> Result<FeedOutcome, StoreError> {
        let today = day_of(now);
        let from = state
            .cursor
            .as_deref()
            .and_then(|c| c.parse::<NaiveDate>().ok())
            .unwrap_or(today - chrono::Days::new(FIRST_WINDOW_DAYS as u64 - 1))
            .min(today);
        let window = Window { from, to: today };
        let mut walker = Walker::new(&self.fetcher, route, window, &self.credentials, None);
        let mut counts = UpsertCounts::default();
        let mut skipped = Vec::new();
        let mut pages = 0;
        while pages < self.max_pages {
            if stop.is_cancelled() {
                // Not advanced: the next run asks for the window again.
                return Ok(FeedOutcome::Stored(counts));
            }
            match walker.next_page().await {
                Ok(Some(mut page)) => {
                    pages += 1;
                    self.keep_news(&mut page, window.from, now);
                    counts += self
                        .store
                        .upsert_papers(&page.papers, state.id, now, Arrival::Collected)
                        .await?;
                    skipped.extend(page.skipped);
                }
                Ok(None) => break,
                Err(e) => {
                    let retry_after = e.retry_after();
                    return self.failed(state, e.to_string(), retry_after, now).await;
                }
            }
        }
        let mut extra = walker.warnings.clone();
        if !walker.is_done() {
            extra.push(format!(
                "stopped after {} pages (sources.max_pages); the rest is not read",
                self.max_pages
            ));
        }
        metrics::items_skipped(&state.name, skipped.len());
        let notes = notes(&skipped, 0, &extra);
        self.store
            .record_fetch_notes(state.id, notes.as_deref())
            .await?;
        self.store
            .record_fetch_success(
                state.id,
                None,
                None,
                Some(&today.to_string()),
                now,
                now + self.interval_secs,
            )
            .await?;
        Ok(FeedOutcome::Stored(counts))
    }

    /// Leaves out what an API returns that is not news: a work published
    /// long before the window (Crossref re-announces old works whose
    /// metadata changed), and dates in the future are clamped.
    fn keep_news(&self, page: &mut Page, from: NaiveDate, now: i64) {
        clamp_future_dates(&mut page.papers, now);
        let oldest = from - chrono::Days::new(self.max_age_days as u64);
        let before = page.papers.len();
        page.papers
            .retain(|p| p.published.is_none_or(|d| d.date_naive() >= oldest));
        page.skipped.extend(std::iter::repeat_n(
            "published long before the window (an update of an old work)",
            before - page.papers.len(),
        ));
    }
}

/// Where a backfill is, saved after every stored page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct BackfillCursor {
    from: NaiveDate,
    to: NaiveDate,
    next: Option<String>,
    done: bool,
}

/// What a backfill did.
#[derive(Debug, Default)]
pub struct BackfillReport {
    pub pages: usize,
    pub counts: UpsertCounts,
    /// Every page was read (not stopped before the end).
    pub complete: bool,
    /// It went on from a saved position rather than from the start.
    pub resumed: bool,
    /// It had been done before for the same start day: nothing asked.
    pub already_done: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("{0}")]
    NoPast(String),
    #[error(
        "backfill stopped by an error: {0}. What was stored is kept; run the same command again to go on from there"
    )]
    Walk(#[source] WalkError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Collector {
    /// Fills the store with what `source` published since `since`, through
    /// the same route the daily collection uses (arXiv through OAI-PMH).
    /// Resumable: the position is saved after every stored page, and the
    /// same command goes on from it. Backfilled papers are first seen when
    /// they were published, so they are not news for existing readers.
    pub async fn backfill(
        &self,
        source: &Source,
        since: NaiveDate,
        now: i64,
        progress: &indicatif::ProgressBar,
        stop: &CancellationToken,
    ) -> Result<BackfillReport, BackfillError> {
        let route = Route::backfill(source, &self.endpoints).map_err(BackfillError::NoPast)?;
        let key = format!("backfill:{source}");
        let state = self.store.ensure_source(&key, &key, now).await?;
        let saved: Option<BackfillCursor> = state
            .cursor
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .filter(|c: &BackfillCursor| c.from == since);
        let mut report = BackfillReport::default();
        let (window, position) = match saved {
            Some(saved) if saved.done => {
                report.already_done = true;
                report.complete = true;
                return Ok(report);
            }
            Some(saved) => {
                report.resumed = true;
                (
                    Window {
                        from: since,
                        to: saved.to,
                    },
                    saved.next,
                )
            }
            None => (
                Window {
                    from: since,
                    to: day_of(now),
                },
                None,
            ),
        };
        let mut walker = Walker::new(&self.fetcher, &route, window, &self.credentials, position);
        loop {
            if stop.is_cancelled() {
                return Ok(report);
            }
            let mut page = match walker.next_page().await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(e) => {
                    self.store
                        .record_fetch_error(state.id, &e.to_string(), now)
                        .await?;
                    return Err(BackfillError::Walk(e));
                }
            };
            report.pages += 1;
            if let Some(total) = page.total.filter(|t| *t > 0) {
                progress.set_length(total);
            }
            progress.inc((page.papers.len() + page.skipped.len()) as u64);
            self.keep_news(&mut page, since, now);
            report.counts += self
                .store
                .upsert_papers(&page.papers, state.id, now, Arrival::Backfilled)
                .await?;
            let cursor = BackfillCursor {
                from: since,
                to: window.to,
                next: walker.position().map(str::to_owned),
                done: walker.is_done(),
            };
            self.store
                .record_cursor(
                    state.id,
                    &serde_json::to_string(&cursor).expect("a cursor serialises"),
                    now,
                )
                .await?;
            if walker.is_done() {
                break;
            }
        }
        report.complete = true;
        Ok(report)
    }
}

/// A recorded API answer from `tests/fixtures/api/` (parser tests).
#[cfg(test)]
pub(crate) fn api_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/api/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn day_of(now: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(now, 0)
        .unwrap_or_default()
        .date_naive()
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
            notes(&parsed.skipped, parsed.beyond_limit, &[]).as_deref(),
            Some(
                "3 item(s) skipped (no title: 2, no http(s) link: 1); 12 item(s) beyond the 5000-item limit not read"
            )
        );
        assert_eq!(notes(&[], 0, &[]), None);
    }

    #[test]
    fn backoff_doubles_from_five_minutes_up_to_a_day() {
        assert_eq!(backoff_secs(0), 300);
        assert_eq!(backoff_secs(1), 600);
        assert_eq!(backoff_secs(3), 2400);
        assert_eq!(backoff_secs(50), 86_400);
    }
}
