//! The round: for every active subscriber whose slot has come (local send
//! hour, weekday if weekly, not paused), match today's papers against their
//! radar and queue the briefing with its outbox message.
//!
//! Who is due comes from SQL: each subscriber has a stored `next_due_at`
//! (their next slot), so a tick with nobody due is one indexed query, and
//! a subscriber with nothing new today is not looked at again before
//! tomorrow's slot. Due subscribers are claimed in batches (a lease on
//! `next_due_at`; on PostgreSQL rows another daemon holds are skipped), so
//! several daemons share a round and one that dies leaves its batch to the
//! others once the lease passes. A batch goes through the stages together:
//! its radars, already-sent papers and feedback in three queries; matching
//! on every core (rayon, off the async runtime); what the LLM wrote or
//! writes now for these briefings ([`crate::writing`]; nothing without `[llm]`);
//! rendering on every core; then one
//! transaction with multi-row inserts writes its briefings, their items and
//! outbox rows, and each subscriber's next slot. A subscriber whose row or
//! template fails gets the error recorded (`round_error`) and is tried again
//! in an hour; the rest of the batch goes on.
//!
//! Files: this one claims and loops; `matching.rs` matches a batch;
//! `drafter.rs` turns one subscriber's picks into their mail; `views.rs`
//! makes the same briefing again for the web (and a preview), and
//! `explain.rs` shows how a radar scores one paper.

mod drafter;
mod explain;
mod matching;
mod views;

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::briefing::Renderer;
use crate::config::{BriefingSettings, Settings};
use crate::domain::Subscriber;
use crate::links::Links;
use crate::radar::Examples;
use crate::store::{NewBriefing, NextLook, Store, StoredPaper};
use crate::telemetry::Reader;
use crate::writing::{BriefingPapers, Words, Writing};
use drafter::{Drafter, briefing_papers};

/// The round's papers, indexed once per window: the news of the last
/// `lookback_hours`, and the longer window of first briefings.
#[derive(Default)]
struct Windows {
    news: Option<Arc<RoundPapers>>,
    welcome: Option<Arc<RoundPapers>>,
}
use matching::{Due, Kept, RoundPapers, builder_for};

/// What building briefings did, subscriber by subscriber.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PrepareReport {
    /// Briefings made and queued in the outbox.
    pub queued: usize,
    /// Subscribers whose radar picked up nothing new: no email.
    pub nothing_new: usize,
    /// Subscribers whose slot has not come (send hour, weekday, pause).
    pub not_due: usize,
    /// Subscribers who already have today's briefing.
    pub already_done: usize,
    /// Subscribers whose briefing could not be made (their row or radar
    /// cannot be read, the template failed): recorded, tried again later.
    pub failed: usize,
    /// Subscriber rows the round read: the due, and in a forced round everyone.
    pub examined: usize,
}

/// Subscribers claimed and made at a time.
const BATCH: i64 = 500;
/// How long a claimed batch is this daemon's; past it, another takes it over.
const LEASE_SECS: i64 = 15 * 60;
/// When a subscriber's briefing failed, the next try.
const RETRY_FAILED_SECS: i64 = 3600;

/// Verdicts a profile is learned from: the latest ones weigh what the reader wants now.
const FEEDBACK_PAPERS: i64 = 50;

/// The daily round, built once by the application and run by the
/// scheduler's deliver tick and by `run-once` alike.
pub struct Round {
    store: Store,
    drafter: Drafter,
    writing: Writing,
    briefing: BriefingSettings,
    /// Cancelled at shutdown: the batch in flight is finished, no other begun.
    stopping: CancellationToken,
    /// Rung when briefings were queued, so that delivery need not wait
    /// for its next tick.
    delivery_wanted: Arc<Notify>,
}

impl Round {
    pub fn new(
        store: Store,
        writing: Writing,
        (renderer, links): (Arc<Renderer>, Arc<Links>),
        settings: &Settings,
        stopping: CancellationToken,
        delivery_wanted: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            drafter: Drafter::new(renderer, links, settings),
            writing,
            briefing: settings.briefing.clone(),
            stopping,
            delivery_wanted,
        }
    }

    /// Builds and queues today's briefing for every subscriber who is due:
    /// their slot has come (or `force`, which ignores the send hour and the
    /// stored slot: every active subscriber is looked at), they have no
    /// briefing for their local date yet, and their radar picked something
    /// up.
    pub async fn run(&self, now: DateTime<Utc>, force: bool) -> anyhow::Result<PrepareReport> {
        let mut report = PrepareReport::default();
        let mut papers = Windows::default();
        let mut after = 0;
        while !self.stopping.is_cancelled() {
            let batch = if force {
                self.store.active_subscribers_after(after, BATCH).await?
            } else {
                let t = now.timestamp();
                self.store
                    .claim_due_subscribers(t, t + LEASE_SECS, BATCH)
                    .await?
            };
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            after = last;
            report.examined += batch.len();
            self.prepare_batch(batch, now, force, &mut papers, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn prepare_batch(
        &self,
        batch: Vec<(i64, crate::store::Result<Subscriber>)>,
        now: DateTime<Utc>,
        force: bool,
        papers: &mut Windows,
        report: &mut PrepareReport,
    ) -> anyhow::Result<()> {
        let t = now.timestamp();
        let mut looks = Vec::with_capacity(batch.len());
        let mut look = |subscriber_id: i64, at: DateTime<Utc>, error: Option<String>| {
            looks.push(NextLook {
                subscriber_id,
                at: at.timestamp(),
                error,
            });
        };
        let retry_at = now + chrono::Duration::seconds(RETRY_FAILED_SECS);
        let mut candidates = Vec::with_capacity(batch.len());
        for (id, subscriber) in batch {
            match subscriber {
                Err(e) => {
                    tracing::error!(subscriber = id, error = %e, "cannot make this subscriber's briefing; trying again in an hour");
                    report.failed += 1;
                    look(id, retry_at, Some(e.to_string()));
                }
                Ok(s) if !s.is_due(now, force) => {
                    report.not_due += 1;
                    look(id, s.next_slot(now, false), None);
                }
                Ok(s) => candidates.push(s),
            }
        }
        let ids: Vec<i64> = candidates.iter().map(|s| s.id).collect();
        // Editions are local dates: anything made in the last three days
        // covers every time zone's today.
        let made = self.store.editions_since(&ids, t - 3 * 86_400).await?;
        let mut due = Vec::with_capacity(candidates.len());
        for s in candidates {
            if made.contains(&(s.id, s.edition(now).to_string())) {
                report.already_done += 1;
                look(s.id, s.next_slot(now, true), None);
            } else {
                due.push(s);
            }
        }
        // A reader's first briefing draws on the last `welcome_days`, so
        // nobody who subscribes on a quiet day waits for their first mail.
        let first_timers = if self.briefing.welcome_days > 0 {
            let ids: Vec<i64> = due.iter().map(|s| s.id).collect();
            self.store.never_briefed(&ids).await?
        } else {
            Default::default()
        };
        let (welcome, due): (Vec<_>, Vec<_>) =
            due.into_iter().partition(|s| first_timers.contains(&s.id));
        let mut drafts = Vec::new();
        for (group, window, since) in [
            (due, &mut papers.news, self.briefing.news_since(now)),
            (
                welcome,
                &mut papers.welcome,
                self.briefing.welcome_since(now),
            ),
        ] {
            if group.is_empty() {
                continue;
            }
            let papers = match window {
                Some(p) => p.clone(),
                None => window.insert(self.round_papers(since, now).await?).clone(),
            };
            drafts.extend(self.draft_group(group, papers, now).await?);
        }
        let mut briefings = Vec::with_capacity(drafts.len());
        for (subscriber, drafted) in drafts {
            match drafted {
                Ok(Some(draft)) => {
                    briefings.push(NewBriefing {
                        subscriber_id: subscriber.id,
                        edition: subscriber.edition(now).to_string(),
                        items: draft.items,
                        left_out: draft.left_out,
                        message: draft.message,
                    });
                    look(subscriber.id, subscriber.next_slot(now, true), None);
                }
                Ok(None) => {
                    report.nothing_new += 1;
                    look(subscriber.id, subscriber.next_slot(now, true), None);
                }
                Err(e) => {
                    let to = Reader::new(Some(subscriber.id), &subscriber.email);
                    tracing::error!(%to, error = format!("{e:#}"), "cannot make this briefing; trying again in an hour");
                    report.failed += 1;
                    look(subscriber.id, retry_at, Some(format!("{e:#}")));
                }
            }
        }
        let created = self.store.store_round(&briefings, &looks, t).await?;
        for id in created {
            if id.is_some() {
                report.queued += 1;
            } else {
                report.already_done += 1;
            }
        }
        if !briefings.is_empty() {
            self.delivery_wanted.notify_one();
        }
        Ok(())
    }

    /// The papers of a window (from `since`), indexed for matching: built
    /// once a round and shared by its batches.
    async fn round_papers(
        &self,
        since: i64,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Arc<RoundPapers>> {
        let recent = self.store.recent_papers(since).await?;
        let glossary = self.store.glossary().await?;
        let papers = tokio::task::spawn_blocking(move || RoundPapers {
            builder: builder_for(&recent, &glossary, now),
            papers: recent,
            glossary,
        })
        .await
        .context("tokenising today's papers failed")?;
        Ok(Arc::new(papers))
    }

    /// Matches and drafts a group of due subscribers against `papers`.
    async fn draft_group(
        &self,
        due: Vec<Subscriber>,
        papers: Arc<RoundPapers>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(Subscriber, drafter::Drafted)>> {
        let due = self.load_due(due, now).await?;
        let examples = Arc::new(self.examples_for(due.iter().map(|d| &d.subscriber)).await?);
        let drafter = self.drafter.clone();
        let (due, picks) = {
            let (drafter, papers, examples) = (drafter.clone(), papers.clone(), examples.clone());
            tokio::task::spawn_blocking(move || {
                let picks = drafter.match_batch(&papers, &examples, &due);
                (due, picks)
            })
            .await
            .context("matching the batch failed")?
        };
        let words = self
            .words_for_picks(&papers.papers, &due, &picks, now)
            .await;
        tokio::task::spawn_blocking(move || {
            drafter.draft_batch(&papers, &examples, due, &picks, &words, now)
        })
        .await
        .context("making the briefings failed")
    }

    /// The due subscribers with what matching needs: papers already sent
    /// and feedback, for the whole batch in two queries.
    async fn load_due(
        &self,
        subscribers: Vec<Subscriber>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Due>> {
        let ids: Vec<i64> = subscribers.iter().map(|s| s.id).collect();
        let mut sent = self
            .store
            .papers_already_sent_to(&ids, self.briefing.news_since(now))
            .await?;
        let mut feedback = self.store.feedback_papers_of(&ids, FEEDBACK_PAPERS).await?;
        Ok(subscribers
            .into_iter()
            .map(|subscriber| Due {
                already_sent: sent.remove(&subscriber.id).unwrap_or_default(),
                feedback: feedback.remove(&subscriber.id).unwrap_or_default(),
                subscriber,
            })
            .collect())
    }

    async fn due(&self, subscriber: Subscriber, now: DateTime<Utc>) -> anyhow::Result<Due> {
        Ok(self
            .load_due(vec![subscriber], now)
            .await?
            .pop()
            .expect("one in, one out"))
    }

    /// The example papers (`like:`) these subscribers' topics name, as
    /// stored; one the store no longer has is left out of its topic.
    async fn examples_for<'s>(
        &self,
        subscribers: impl IntoIterator<Item = &'s Subscriber>,
    ) -> anyhow::Result<Examples> {
        let mut out = Examples::new();
        for subscriber in subscribers {
            for reference in subscriber.topics.iter().flat_map(|t| t.query().examples()) {
                if out.contains_key(reference) {
                    continue;
                }
                if let Some(p) = self.store.find_paper(reference).await? {
                    out.insert(reference.clone(), (p.id, p.paper));
                }
            }
        }
        Ok(out)
    }

    /// What the LLM wrote, or writes now, for a matched batch.
    async fn words_for_picks(
        &self,
        papers: &[StoredPaper],
        due: &[Due],
        picks: &[Kept],
        now: DateTime<Utc>,
    ) -> Words {
        if !self.writing.has_llm() {
            return Words::default();
        }
        let briefings: Vec<BriefingPapers> = due
            .iter()
            .zip(picks)
            .filter(|(_, picks)| !picks.is_empty())
            .map(|(d, picks)| briefing_papers(&d.subscriber, papers, picks))
            .collect();
        self.writing.words_for(&briefings, now).await
    }
}
