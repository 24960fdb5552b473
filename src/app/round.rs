//! The round: for every active subscriber whose slot has come (local send
//! hour, weekday if weekly, not paused), match today's papers against their
//! radar and queue the briefing with its outbox message.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{Application, ReaderLink};
use crate::briefing::{BriefingLinks, compose};
use crate::domain::{EmailAddress, Subscriber, Verdict};
use crate::radar::{IndexedPaper, match_topics};
use crate::store::{BriefingItem, NewBriefing, OutgoingMessage, StoredPaper};

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
        let papers = self.store.recent_papers(self.news_since(now)).await?;
        let indexed: Vec<IndexedPaper> = papers.iter().map(IndexedPaper::new).collect();
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
            let Some(draft) = self.draft(&subscriber, &indexed, now).await? else {
                report.nothing_new += 1;
                continue;
            };
            let briefing = NewBriefing {
                subscriber_id: subscriber.id,
                edition,
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

    /// What `subscriber` would receive now, or `None` when nothing matches.
    async fn draft(
        &self,
        subscriber: &Subscriber,
        papers: &[IndexedPaper<'_>],
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Draft>> {
        let already_sent: HashSet<i64> = self
            .store
            .papers_already_sent(subscriber.id, self.news_since(now))
            .await?;
        let max_per_topic = subscriber
            .max_per_topic
            .map_or(self.settings.briefing.max_per_topic, |n| n as usize);
        let hits = match_topics(&subscriber.topics, papers, &already_sent, max_per_topic);
        if hits.is_empty() {
            return Ok(None);
        }
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
        let content = compose(&hits, &edition.to_string(), subscriber.locale, &links);
        let rendered = self
            .renderer
            .render(&content, subscriber.locale)
            .with_context(|| format!("cannot render the briefing for {}", subscriber.email))?;
        let items = hits
            .iter()
            .flat_map(|t| {
                t.hits.iter().map(|h| BriefingItem {
                    paper_id: h.paper.id,
                    topic: t.topic.to_owned(),
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

    /// The HTML a subscriber would receive if a briefing were made now.
    pub async fn preview(
        &self,
        email: &EmailAddress,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let subscriber = self.store.find_subscriber(email).await?.with_context(|| {
            format!("{email} is not subscribed (add them with `academichub subscribe`)")
        })?;
        let papers: Vec<StoredPaper> = self.store.recent_papers(self.news_since(now)).await?;
        let indexed: Vec<IndexedPaper> = papers.iter().map(IndexedPaper::new).collect();
        Ok(self
            .draft(&subscriber, &indexed, now)
            .await?
            .map(|d| d.message.html))
    }

    fn news_since(&self, now: DateTime<Utc>) -> i64 {
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
