//! Numbers for a monitoring system, in Prometheus's text format: served at
//! `/metrics` on the web listener (see the README's "What to watch").
//!
//! Stages record through the `metrics` facade, one function here per
//! quantity, so every name and label is written once. The recorder
//! (metrics-exporter-prometheus) is installed once per process when
//! `metrics.enabled` (the default); without it each call is a no-op, which
//! is what the round bench compares against (BENCHMARKS.md).
//!
//! Counters live in the process: a restart starts them at zero, which
//! Prometheus's `rate()` and `increase()` expect. What describes the
//! database rather than this process (the outbox's depth and its oldest
//! message, today's LLM tokens left, the database's size) is read from it at
//! each scrape, so every daemon sharing a database reports the same truth.
//!
//! Labels are a source's configured name, an outcome, a route's template
//! (`/confirm/{token}`, never the token) and a status code: never a
//! reader's address or a link token.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const FEED_CHECKS: &str = "academichub_feed_checks_total";
const PAPERS_STORED: &str = "academichub_papers_stored_total";
const ITEMS_SKIPPED: &str = "academichub_feed_items_skipped_total";
const COLLECT_SECONDS: &str = "academichub_collect_duration_seconds";
const SUBSCRIBERS_CLAIMED: &str = "academichub_subscribers_claimed_total";
const SUBSCRIBERS_DUE: &str = "academichub_subscribers_due_total";
const SUBSCRIBERS_FAILED: &str = "academichub_subscribers_failed_total";
const BRIEFINGS_COMPOSED: &str = "academichub_briefings_composed_total";
const ROUND_SECONDS: &str = "academichub_round_duration_seconds";
const DELIVERY_SECONDS: &str = "academichub_delivery_duration_seconds";
const MESSAGES: &str = "academichub_messages_total";
const SMTP_SECONDS: &str = "academichub_smtp_send_duration_seconds";
const OUTBOX_DEPTH: &str = "academichub_outbox_depth";
const OUTBOX_OLDEST: &str = "academichub_outbox_oldest_queued_age_seconds";
const LLM_REQUESTS: &str = "academichub_llm_requests_total";
const LLM_TOKENS: &str = "academichub_llm_tokens_total";
const LLM_FALLBACKS: &str = "academichub_llm_fallbacks_total";
const LLM_BUDGET_LEFT: &str = "academichub_llm_budget_tokens_left";
const BOUNCES: &str = "academichub_bounce_reports_total";
const HTTP_REQUESTS: &str = "academichub_http_requests_total";
const HTTP_SECONDS: &str = "academichub_http_request_duration_seconds";
const DATABASE_UP: &str = "academichub_database_up";
const DATABASE_BYTES: &str = "academichub_database_size_bytes";

/// Seconds, for one SMTP exchange or one web request.
const SHORT: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Seconds, for a collection, a round or a delivery run.
const LONG: &[f64] = &[
    0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// What `/metrics` renders: the process's recorder.
#[derive(Clone)]
pub struct Scrape(PrometheusHandle);

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

impl Scrape {
    /// Installs the process's recorder on first use (a process has one:
    /// every application built in it shares it).
    pub fn install() -> Self {
        Self(
            RECORDER
                .get_or_init(|| {
                    let builder = [SMTP_SECONDS, HTTP_SECONDS].iter().fold(
                        PrometheusBuilder::new(),
                        |b, name| {
                            b.set_buckets_for_metric(Matcher::Full((*name).into()), SHORT)
                                .expect("buckets are not empty")
                        },
                    );
                    let builder = [COLLECT_SECONDS, ROUND_SECONDS, DELIVERY_SECONDS]
                        .iter()
                        .fold(builder, |b, name| {
                            b.set_buckets_for_metric(Matcher::Full((*name).into()), LONG)
                                .expect("buckets are not empty")
                        });
                    builder
                        .install_recorder()
                        .expect("no other metrics recorder is installed in this process")
                })
                .clone(),
        )
    }

    /// The text a Prometheus server scrapes.
    pub fn render(&self) -> String {
        self.0.render()
    }
}

/// One source checked: `outcome` is `stored`, `not_modified` or `failed`.
pub fn feed_checked(source: &str, outcome: &'static str) {
    counter!(FEED_CHECKS, "source" => source.to_owned(), "outcome" => outcome).increment(1);
}

/// Papers a source brought: new, updated (a new version or corrected
/// metadata) and merged (another appearance of a stored work).
pub fn papers_stored(source: &str, new: usize, updated: usize, merged: usize) {
    for (kind, n) in [("new", new), ("updated", updated), ("merged", merged)] {
        counter!(PAPERS_STORED, "source" => source.to_owned(), "kind" => kind).increment(n as u64);
    }
}

/// Items of a feed or an API page that were not papers we can use.
pub fn items_skipped(source: &str, n: usize) {
    counter!(ITEMS_SKIPPED, "source" => source.to_owned()).increment(n as u64);
}

pub fn collect_took(took: Duration) {
    histogram!(COLLECT_SECONDS).record(took.as_secs_f64());
}

/// What one round did with the subscribers it read.
#[derive(Debug, Clone, Copy)]
pub struct RoundCounts {
    /// Subscriber rows read and claimed.
    pub claimed: usize,
    /// Of those, whose briefing was due (their hour had come, none yet today).
    pub due: usize,
    /// Briefings made and queued.
    pub composed: usize,
    /// Subscribers whose briefing could not be made.
    pub failed: usize,
}

pub fn round_done(counts: RoundCounts, took: Duration) {
    counter!(SUBSCRIBERS_CLAIMED).increment(counts.claimed as u64);
    counter!(SUBSCRIBERS_DUE).increment(counts.due as u64);
    counter!(BRIEFINGS_COMPOSED).increment(counts.composed as u64);
    counter!(SUBSCRIBERS_FAILED).increment(counts.failed as u64);
    histogram!(ROUND_SECONDS).record(took.as_secs_f64());
}

pub fn delivery_took(took: Duration) {
    histogram!(DELIVERY_SECONDS).record(took.as_secs_f64());
}

/// Messages settled: `sent`, `deferred` (tried again later), `failed`
/// (refused for good, or deferred too long) or `expired` (a briefing that
/// waited past its day).
pub fn messages(outcome: &'static str, n: usize) {
    counter!(MESSAGES, "outcome" => outcome).increment(n as u64);
}

/// One message handed to the SMTP server (or the folder), and how long it
/// took: `outcome` is `accepted`, `refused`, `deferred` or `unavailable`.
pub fn smtp_send(outcome: &'static str, took: Duration) {
    histogram!(SMTP_SECONDS, "outcome" => outcome).record(took.as_secs_f64());
}

/// The outbox at scrape time: messages waiting (queued, backing off, being
/// sent), and how long the oldest of them has waited.
pub fn outbox(depth: i64, oldest_age_secs: i64) {
    gauge!(OUTBOX_DEPTH).set(depth as f64);
    gauge!(OUTBOX_OLDEST).set(oldest_age_secs as f64);
}

/// One request to the LLM for `purpose` (`tldr`, `expansions`,
/// `analysis`), answered or not, and the tokens it cost.
pub fn llm_asked(purpose: &'static str, answered: bool, tokens: u64) {
    let outcome = if answered { "answered" } else { "failed" };
    counter!(LLM_REQUESTS, "purpose" => purpose, "outcome" => outcome).increment(1);
    counter!(LLM_TOKENS, "purpose" => purpose).increment(tokens);
}

/// The built-in writer stood in for the LLM: `reason` is `failed`,
/// `resting` (after failures in a row) or `over_budget`.
pub fn llm_fallback(purpose: &'static str, reason: &'static str) {
    counter!(LLM_FALLBACKS, "purpose" => purpose, "reason" => reason).increment(1);
}

/// Today's tokens left under `llm.daily_token_budget`, at scrape time.
pub fn llm_budget_left(tokens: i64) {
    gauge!(LLM_BUDGET_LEFT).set(tokens as f64);
}

/// One returned message read: `hard`, `soft`, `complaint`, `ignored`,
/// `forged` or `unreadable`.
pub fn bounce_read(outcome: &'static str) {
    counter!(BOUNCES, "outcome" => outcome).increment(1);
}

/// One web request: its route's template and status.
pub fn http_request(route: &str, status: u16, took: Duration) {
    let route = route.to_owned();
    counter!(HTTP_REQUESTS, "route" => route.clone(), "status" => status.to_string()).increment(1);
    histogram!(HTTP_SECONDS, "route" => route).record(took.as_secs_f64());
}

/// Whether the database answered the scrape's questions, and its size.
pub fn database(up: bool, bytes: Option<i64>) {
    gauge!(DATABASE_UP).set(if up { 1.0 } else { 0.0 });
    if let Some(bytes) = bytes {
        gauge!(DATABASE_BYTES).set(bytes as f64);
    }
}
