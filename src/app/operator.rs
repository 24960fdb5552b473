//! What an operator asks of the database through the CLI: the feeds' state,
//! the subscribers and one subscriber's history, a verdict recorded as a
//! reader's link would, how a radar scores a paper, a preview. Read here,
//! printed by the CLI, so the CLI never reaches the store itself.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{Application, ReaderError};
use crate::domain::{EmailAddress, Subscriber, SubscriberInput, Subscription, TopicInput, Verdict};
use crate::store::{
    FeedbackEntry, SourceState, StoreError, StoredPaper, SubscriberEvent, SubscriberSummary,
};

/// One subscriber as `academichub subscribers --show` prints them.
pub struct SubscriberDetails {
    pub subscriber: Subscriber,
    /// When the round looks at them next (unix seconds; 0: at the next tick).
    pub next_look: i64,
    /// Why their last briefing could not be made, if it could not.
    pub round_error: Option<String>,
    pub events: Vec<SubscriberEvent>,
    pub feedback: Vec<FeedbackEntry>,
}

/// Whether `cause` is one a restart cannot fix (a database file that
/// cannot be written, a database migrated by a newer version).
pub fn is_permanent(cause: &(dyn std::error::Error + 'static)) -> bool {
    cause
        .downcast_ref::<StoreError>()
        .is_some_and(StoreError::is_permanent)
}

impl Application {
    async fn paper(&self, reference: &str) -> anyhow::Result<StoredPaper> {
        self.store.find_paper(reference).await?.with_context(|| {
            format!("no stored paper is {reference:?} (give an arXiv id such as 2604.12345, a DOI, its link or its id)")
        })
    }

    /// The subscriber with this address, or an error that says how to add one.
    async fn subscriber(&self, email: &EmailAddress) -> anyhow::Result<Subscriber> {
        self.store.find_subscriber(email).await?.with_context(|| {
            format!("{email} is not subscribed (add them with `academichub subscribe`)")
        })
    }

    /// Stores `verdict` on a paper for a subscriber; returns the paper's title.
    pub async fn record_feedback_for(
        &self,
        email: &EmailAddress,
        paper: &str,
        verdict: Verdict,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let subscriber = self.subscriber(email).await?;
        let paper = self.paper(paper).await?;
        self.store
            .record_feedback(subscriber.id, paper.id, verdict, now.timestamp())
            .await?;
        Ok(paper.paper.title)
    }

    /// A report of how `email`'s radar scores `paper` now: each topic's
    /// matched terms and their weights, filters, boosts and feedback.
    pub async fn explain(
        &self,
        email: &EmailAddress,
        paper: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let subscriber = self.subscriber(email).await?;
        let target = self.paper(paper).await?;
        self.round.explain(subscriber, target, now).await
    }

    /// The HTML `email` would receive if a briefing were made now.
    pub async fn preview(
        &self,
        email: &EmailAddress,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let subscriber = self.subscriber(email).await?;
        self.round.preview(subscriber, now).await
    }

    /// `academichub subscribe`: a new subscriber, active at once (the
    /// operator vouches for their consent); or, for one already here, what
    /// `input` gives changed and its topics added or replaced by name. The
    /// result is checked as the subscribe page checks a request. Returns
    /// what was saved and whether the subscriber is new.
    pub async fn subscribe_by_operator(
        &self,
        mut input: SubscriberInput,
        now: DateTime<Utc>,
    ) -> Result<(Subscription, bool), ReaderError> {
        let email = self
            .parse_address(&input.email)
            .map_err(crate::domain::InputError::from)?;
        if let Some(existing) = self.store.find_subscriber(&email).await? {
            input
                .locale
                .get_or_insert_with(|| existing.locale.to_string());
            input
                .timezone
                .get_or_insert_with(|| existing.timezone.name().to_owned());
            input.send_hour.get_or_insert(existing.send_hour.get());
            let kept = existing
                .topics
                .iter()
                .filter(|t| !input.topics.iter().any(|new| new.name.trim() == t.name()));
            let kept: Vec<TopicInput> = kept
                .map(|t| TopicInput {
                    name: t.name().to_owned(),
                    query: Some(t.query().to_string()),
                    ..TopicInput::default()
                })
                .collect();
            input.topics.splice(0..0, kept);
        }
        let checked = input.check(&self.input_rules())?;
        self.check_examples(checked.radar.topics(), now).await?;
        let (_, created) = self
            .store
            .save_subscriber(&checked.subscriber, checked.radar.topics(), now.timestamp())
            .await?;
        Ok((checked, created))
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        Ok(self.store.migrate().await?)
    }

    /// Closes the database's connections (a SQLite file is checkpointed).
    pub async fn close(&self) {
        self.store.close().await;
    }

    pub async fn feeds(&self) -> anyhow::Result<Vec<SourceState>> {
        Ok(self.store.source_states().await?)
    }

    pub async fn subscriber_summaries(&self) -> anyhow::Result<Vec<SubscriberSummary>> {
        Ok(self.store.subscriber_summaries().await?)
    }

    pub async fn subscriber_details(
        &self,
        email: &EmailAddress,
    ) -> anyhow::Result<SubscriberDetails> {
        let subscriber = self.subscriber(email).await?;
        let (next_look, round_error) = self.store.round_state(subscriber.id).await?;
        Ok(SubscriberDetails {
            events: self.store.subscriber_events(subscriber.id).await?,
            feedback: self.store.feedback_of(subscriber.id).await?,
            subscriber,
            next_look,
            round_error,
        })
    }
}
