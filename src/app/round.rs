//! The round: for every active subscriber whose slot has come (local send
//! hour, weekday if weekly, not paused), match today's papers against their
//! radar and queue the briefing with its outbox message.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Utc};

use rayon::prelude::*;

use super::{Application, ReaderLink};
use crate::briefing::{BriefingLinks, Pick, Section, compose};
use crate::domain::{EmailAddress, Paper, Subscriber, Verdict};
use crate::radar::{MatchOptions, Profile, RadarIndex, RadarsBuilder, TopicPicks, describe};
use crate::store::{BriefingItem, NewBriefing, OutgoingMessage, StoredPaper};

/// The topic recorded for papers that resemble liked ones but match no topic.
const SIMILAR_TOPIC: &str = "(like papers you liked)";

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
}

/// A briefing composed and rendered for one subscriber, not yet stored.
struct Draft {
    items: Vec<BriefingItem>,
    message: OutgoingMessage,
}

/// A subscriber whose briefing is being made, with what matching needs.
pub(super) struct Due {
    pub(super) subscriber: Subscriber,
    pub(super) already_sent: HashSet<i64>,
    /// Verdicts with the papers' text, for the feedback profile.
    pub(super) feedback: Vec<(Verdict, StoredPaper)>,
}

/// Verdicts a profile is learned from: the latest ones weigh what the reader wants now.
const FEEDBACK_PAPERS: i64 = 50;

/// The index over `papers` for every due radar, in order, with each one's
/// feedback profile.
pub(super) fn index_due(
    papers: &[StoredPaper],
    due: &[Due],
    now: DateTime<Utc>,
) -> (RadarIndex, Vec<Option<Profile>>) {
    let pairs: Vec<(i64, &Paper)> = papers.iter().map(|p| (p.id, &p.paper)).collect();
    let mut builder = RadarsBuilder::new(&pairs, now);
    for d in due {
        builder.add(&d.subscriber.topics);
    }
    let index = builder.build();
    let profiles = due
        .iter()
        .map(|d| {
            let of = |verdict: Verdict| {
                d.feedback
                    .iter()
                    .filter(move |(v, _)| *v == verdict)
                    .map(|(_, p)| &p.paper)
            };
            (!d.feedback.is_empty()).then(|| index.profile(of(Verdict::More), of(Verdict::Less)))
        })
        .collect();
    (index, profiles)
}

/// Every due radar's picks, matched on rayon's pool: CPU work that must not
/// hold up the async runtime's threads.
fn match_due(
    papers: &[StoredPaper],
    due: &[Due],
    default_max_per_topic: usize,
    now: DateTime<Utc>,
) -> Vec<Vec<TopicPicks>> {
    let (index, profiles) = index_due(papers, due, now);
    let options: Vec<MatchOptions> = due
        .iter()
        .zip(&profiles)
        .map(|(d, profile)| MatchOptions {
            already_sent: Some(&d.already_sent),
            max_per_topic: d
                .subscriber
                .max_per_topic
                .map_or(default_max_per_topic, |n| n as usize),
            profile: profile.as_ref(),
        })
        .collect();
    index.match_all(options.into_par_iter())
}

impl Application {
    /// Builds and queues today's briefing for every subscriber who is due:
    /// their slot has come (or `force`, which ignores the send hour only),
    /// they have no briefing for their local date yet, and their radar
    /// picked something up.
    pub async fn prepare_briefings(
        &self,
        now: DateTime<Utc>,
        force: bool,
    ) -> anyhow::Result<PrepareReport> {
        let mut report = PrepareReport::default();
        let mut due = Vec::new();
        for subscriber in self.store.active_subscribers().await? {
            if !subscriber.is_due(now, force) {
                report.not_due += 1;
                continue;
            }
            let edition = subscriber.edition(now).to_string();
            if self.store.has_briefing(subscriber.id, &edition).await? {
                report.already_done += 1;
                continue;
            }
            due.push(self.due(subscriber, now).await?);
        }
        if due.is_empty() {
            return Ok(report);
        }
        let papers = self.store.recent_papers(self.news_since(now)).await?;
        let max = self.settings.briefing.max_per_topic;
        let (papers, due, picks) = tokio::task::spawn_blocking(move || {
            let picks = match_due(&papers, &due, max, now);
            (papers, due, picks)
        })
        .await
        .context("matching the radars failed")?;
        for (d, picks) in due.iter().zip(picks) {
            let subscriber = &d.subscriber;
            let Some(draft) = self.draft(subscriber, &papers, &picks, now)? else {
                report.nothing_new += 1;
                continue;
            };
            let briefing = NewBriefing {
                subscriber_id: subscriber.id,
                edition: subscriber.edition(now).to_string(),
                items: draft.items,
                message: draft.message,
            };
            if self
                .store
                .create_briefing(&briefing, now.timestamp())
                .await?
                .is_some()
            {
                report.queued += 1;
            } else {
                report.already_done += 1;
            }
        }
        Ok(report)
    }

    pub(super) async fn due(
        &self,
        subscriber: Subscriber,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Due> {
        Ok(Due {
            already_sent: self
                .store
                .papers_already_sent(subscriber.id, self.news_since(now))
                .await?,
            feedback: self
                .store
                .feedback_papers(subscriber.id, FEEDBACK_PAPERS)
                .await?,
            subscriber,
        })
    }

    /// What `subscriber` would receive for these picks, or `None` when there are none.
    fn draft(
        &self,
        subscriber: &Subscriber,
        papers: &[StoredPaper],
        picks: &[TopicPicks],
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Draft>> {
        if picks.is_empty() {
            return Ok(None);
        }
        let sections: Vec<Section> = picks
            .iter()
            .map(|t| {
                let topic = t.topic.map(|i| &subscriber.topics[i]);
                Section {
                    topic: topic.map(|t| t.name()),
                    picks: t
                        .hits
                        .iter()
                        .map(|h| Pick {
                            paper_id: papers[h.paper].id,
                            paper: &papers[h.paper].paper,
                            matched: topic
                                .map(|t| describe(t, h.matched.reasons()))
                                .unwrap_or_default(),
                        })
                        .collect(),
                }
            })
            .collect();
        let edition = subscriber.edition(now);
        let feedback = |paper_id: i64, verdict: Verdict| {
            self.link_url(subscriber, ReaderLink::Feedback(paper_id, verdict), now)
        };
        let links = BriefingLinks {
            unsubscribe: self.link_url(subscriber, ReaderLink::Unsubscribe, now),
            preferences: self.link_url(subscriber, ReaderLink::Preferences, now),
            view: self.link_url(subscriber, ReaderLink::View(edition), now),
            feedback: &feedback,
        };
        let content = compose(&sections, &edition.to_string(), subscriber.locale, &links);
        let rendered = self
            .renderer
            .render(&content, subscriber.locale)
            .with_context(|| format!("cannot render the briefing for {}", subscriber.email))?;
        let items = sections
            .iter()
            .flat_map(|s| {
                let topic = s.topic.unwrap_or(SIMILAR_TOPIC);
                s.picks.iter().map(move |p| BriefingItem {
                    paper_id: p.paper_id,
                    version: p.paper.arxiv.as_ref().and_then(|(_, v)| *v),
                    topic: topic.to_owned(),
                })
            })
            .collect();
        let message = OutgoingMessage {
            recipient: subscriber.email.to_string(),
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            message_id: self.message_id(),
            unsubscribe_url: Some(links.unsubscribe),
        };
        Ok(Some(Draft { items, message }))
    }

    /// The subscriber and today's papers, matched as the round would.
    async fn match_one(
        &self,
        email: &EmailAddress,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(Subscriber, Vec<StoredPaper>, Vec<TopicPicks>)> {
        let subscriber = self.subscriber(email).await?;
        let papers = self.store.recent_papers(self.news_since(now)).await?;
        let due = [self.due(subscriber, now).await?];
        let max = self.settings.briefing.max_per_topic;
        let picks = match_due(&papers, &due, max, now).pop().unwrap_or_default();
        let [Due { subscriber, .. }] = due;
        Ok((subscriber, papers, picks))
    }

    /// The HTML a subscriber would receive if a briefing were made now.
    pub async fn preview(
        &self,
        email: &EmailAddress,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let (subscriber, papers, picks) = self.match_one(email, now).await?;
        Ok(self
            .draft(&subscriber, &papers, &picks, now)?
            .map(|d| d.message.html))
    }

    pub(super) fn news_since(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp() - i64::from(self.settings.briefing.lookback_hours) * 3600
    }

    pub(super) fn message_id(&self) -> String {
        format!(
            "<{}@{}>",
            uuid::Uuid::new_v4(),
            self.sender.from().email.domain()
        )
    }
}
