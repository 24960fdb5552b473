//! What readers do through the links in their mail and the subscribe page.
//!
//! Every operation here takes a signed link token, checks it for the one
//! action it is for (and against the subscriber's nonce, so a link dies with
//! its subscription), then changes state in one store transaction with the
//! origin of the change recorded. Nothing here renders a page or knows HTTP:
//! the web module does, and maps [`ReaderError`] to a status.

use chrono::{DateTime, NaiveDate, Utc};

use super::Application;
use crate::briefing::Notice;
use crate::domain::{
    ConfirmOutcome, EventOrigin, Expansion, InputError, LinkAction, LinkClaims, LinkError,
    MAX_LOOKUPS_PER_SAVE, MessageBody, OutgoingMessage, PaperKey, Preferences, PreferencesInput,
    Subscriber, SubscriberInput, SubscriptionStatus, Topic, Verdict,
};
use crate::links::{ReaderLink, edition_of};
use crate::sources::LookupError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The reader's input cannot be used; the message says what to change.
    #[error(transparent)]
    Invalid(#[from] InputError),
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The link was genuine but its subscription no longer exists (deleted,
    /// expired) or was re-created since.
    #[error("this link belongs to a subscription that no longer exists")]
    Gone,
    /// The link was genuine but what it points to is not there.
    #[error("there is nothing to show for this link")]
    NotFound,
    /// Our fault (database, template): logged, shown as an apology.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ReaderError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl Application {
    /// Records a subscribe request and queues the mail that answers it: a
    /// confirmation link for a new, pending or former subscriber, a link to
    /// the preferences for an active one. The caller learns only whether the
    /// input was valid, never which case it was (no address enumeration).
    /// At most `subscriptions.confirmations_per_address_per_day` such mails
    /// go to one address.
    pub async fn request_subscription(
        &self,
        request: SubscriberInput,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<(), ReaderError> {
        let checked = request.check(&self.input_rules())?;
        let topics = checked.radar.topics();
        self.check_examples(topics, now).await?;
        let outcome = self
            .store
            .request_subscription(&checked.subscriber, topics, origin, now.timestamp())
            .await?;
        let subscriber = self
            .store
            .subscriber_by_id(outcome.subscriber_id)
            .await?
            .ok_or(ReaderError::Gone)?;
        let notice = if outcome.was == Some(SubscriptionStatus::Active) {
            Notice::AlreadySubscribed
        } else {
            Notice::Confirm
        };
        if !self
            .queue_notice(&subscriber, notice, outcome.request_id, now)
            .await?
        {
            tracing::info!(
                subscriber = subscriber.id,
                "subscribe request over the daily mail limit; no mail sent"
            );
        }
        Ok(())
    }

    /// Queues the mail that answers a subscribe request: a confirmation
    /// link (for the kept `request`, if any), or a link to the preferences
    /// of an active subscription. Returns `false` when the mailbox has had
    /// its share of such mail today and nothing was queued.
    pub(super) async fn queue_notice(
        &self,
        subscriber: &Subscriber,
        notice: Notice,
        request: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool, ReaderError> {
        let url = match notice {
            Notice::Confirm => self.link_url(subscriber, ReaderLink::Confirm(request), now),
            Notice::AlreadySubscribed => self.link_url(subscriber, ReaderLink::Preferences, now),
        };
        let mail = self
            .renderer
            .render_notice(notice, subscriber.locale, &url)
            .map_err(anyhow::Error::from)?;
        let message = OutgoingMessage {
            recipient: subscriber.email.clone(),
            subject: mail.subject,
            body: MessageBody::encode(&mail.html, &mail.text),
            message_id: self.links.message_id(),
            unsubscribe_url: None,
        };
        let queued = self
            .store
            .enqueue_notice(
                subscriber.id,
                &subscriber.email.mailbox(),
                notice.key(),
                &message,
                self.settings
                    .subscriptions
                    .confirmations_per_address_per_day,
                now.timestamp(),
            )
            .await?;
        if queued {
            self.wake_delivery();
        }
        Ok(queued)
    }

    /// Verifies `token` for `action` and returns the subscriber it was
    /// issued to, provided the subscription it was issued for still exists.
    pub async fn open_link(
        &self,
        token: &str,
        action: LinkAction,
        now: DateTime<Utc>,
    ) -> Result<(Subscriber, LinkClaims), ReaderError> {
        let claims = self.links.verify(token, action, now)?;
        match self.store.subscriber_by_id(claims.subscriber_id).await? {
            Some(s) if s.link_nonce == claims.nonce => Ok((s, claims)),
            _ => Err(ReaderError::Gone),
        }
    }

    /// A feedback link: either verdict.
    pub async fn open_feedback_link(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Subscriber, i64, Verdict), ReaderError> {
        let (subscriber, claims) = match self.open_link(token, LinkAction::FeedbackMore, now).await
        {
            Err(ReaderError::Link(LinkError::WrongAction)) => {
                self.open_link(token, LinkAction::FeedbackLess, now).await?
            }
            other => other?,
        };
        let verdict = match claims.action {
            LinkAction::FeedbackMore => Verdict::More,
            _ => Verdict::Less,
        };
        Ok((subscriber, claims.object, verdict))
    }

    /// A feedback link's page: the subscriber, the paper's title (if the
    /// paper is still stored) and the verdict the link gives.
    pub async fn open_feedback_page(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Subscriber, Option<String>, Verdict), ReaderError> {
        let (subscriber, paper_id, verdict) = self.open_feedback_link(token, now).await?;
        let title = self.store.paper_title(paper_id).await?;
        Ok((subscriber, title, verdict))
    }

    pub async fn confirm(
        &self,
        token: &str,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<(Subscriber, ConfirmOutcome), ReaderError> {
        let (subscriber, claims) = self.open_link(token, LinkAction::Confirm, now).await?;
        let outcome = self
            .store
            .confirm_subscription(
                subscriber.id,
                // Links from before requests were kept, and an import's, carry 0.
                (claims.object != 0).then_some(claims.object),
                claims.issued_at,
                origin,
                now.timestamp(),
            )
            .await?;
        Ok((subscriber, outcome))
    }

    pub async fn unsubscribe(
        &self,
        token: &str,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, ReaderError> {
        let (subscriber, _) = self.open_link(token, LinkAction::Unsubscribe, now).await?;
        self.store
            .unsubscribe(subscriber.id, origin, now.timestamp())
            .await?;
        Ok(subscriber)
    }

    pub async fn undo_unsubscribe(
        &self,
        token: &str,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, ReaderError> {
        let (subscriber, _) = self.open_link(token, LinkAction::Unsubscribe, now).await?;
        self.store
            .undo_unsubscribe(subscriber.id, origin, now.timestamp())
            .await?;
        Ok(subscriber)
    }

    pub async fn record_feedback(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Subscriber, Verdict), ReaderError> {
        let (subscriber, paper_id, verdict) = self.open_feedback_link(token, now).await?;
        if !self
            .store
            .record_feedback(subscriber.id, paper_id, verdict, now.timestamp())
            .await?
        {
            return Err(ReaderError::NotFound);
        }
        Ok((subscriber, verdict))
    }

    /// Takes back the answer a feedback link gave ("undo" on the page that
    /// thanks for it).
    pub async fn undo_feedback(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, ReaderError> {
        let (subscriber, paper_id, _) = self.open_feedback_link(token, now).await?;
        self.store.forget_feedback(subscriber.id, paper_id).await?;
        Ok(subscriber)
    }

    /// "Resubscribe" from the preferences page of a reader who
    /// unsubscribed: the same as "undo" on the unsubscribe page.
    pub async fn resubscribe(
        &self,
        token: &str,
        form_token: &str,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, ReaderError> {
        let (subscriber, _) = self.open_link(token, LinkAction::Preferences, now).await?;
        self.check_form_token(&subscriber, token, form_token, now)?;
        self.store
            .undo_unsubscribe(subscriber.id, origin, now.timestamp())
            .await?;
        self.store
            .subscriber_by_id(subscriber.id)
            .await?
            .ok_or(ReaderError::Gone)
    }

    /// A token for a form on a page opened with one of `subscriber`'s
    /// links (`page_token`): a POST without it (from another site) changes
    /// nothing. It is bound to that link and lives as long as it does, so a
    /// page left open for days still saves.
    pub fn form_token(
        &self,
        subscriber: &Subscriber,
        page_token: &str,
        now: DateTime<Utc>,
    ) -> String {
        self.links.form_token(subscriber, page_token, now)
    }

    /// A form token that is not this page's (another link, a subscription
    /// since re-created) is refused as input, so the page is shown again
    /// with what the reader typed and a fresh token, never an error page
    /// that loses it.
    fn check_form_token(
        &self,
        subscriber: &Subscriber,
        page_token: &str,
        form_token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ReaderError> {
        if !self
            .links
            .is_form_of(subscriber, page_token, form_token, now)
        {
            return Err(InputError::StaleForm.into());
        }
        Ok(())
    }

    pub async fn save_preferences(
        &self,
        token: &str,
        form_token: &str,
        input: PreferencesInput,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, ReaderError> {
        let (subscriber, _) = self.open_link(token, LinkAction::Preferences, now).await?;
        self.check_form_token(&subscriber, token, form_token, now)?;
        let preferences = input.check()?;
        self.check_examples(&preferences.topics, now).await?;
        self.keep_preferences(subscriber.id, &preferences, origin, now)
            .await
    }

    /// Saves a reader's preferences and reads them back as stored.
    async fn keep_preferences(
        &self,
        subscriber_id: i64,
        preferences: &Preferences,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, ReaderError> {
        self.store
            .save_preferences(subscriber_id, preferences, origin, now.timestamp())
            .await?;
        self.store
            .subscriber_by_id(subscriber_id)
            .await?
            .ok_or(ReaderError::Gone)
    }

    /// The learned expansions each of the subscriber's topics also matches
    /// ([`crate::domain::Glossary::expansions`]), as the preferences page lists them.
    pub async fn also_matching(
        &self,
        subscriber: &Subscriber,
    ) -> Result<Vec<Vec<Expansion>>, ReaderError> {
        let glossary = self.store.glossary().await?;
        Ok(subscriber
            .topics
            .iter()
            .map(|t| glossary.expansions(t.query()))
            .collect())
    }

    /// Turns off one learned expansion of one topic (the reader's click on
    /// it on the preferences page): the topic's query gains `-also:"…"`.
    pub async fn drop_expansion(
        &self,
        token: &str,
        form_token: &str,
        topic: usize,
        expansion: &str,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<Subscriber, ReaderError> {
        let (subscriber, _) = self.open_link(token, LinkAction::Preferences, now).await?;
        self.check_form_token(&subscriber, token, form_token, now)?;
        let mut preferences = subscriber.preferences();
        let Some(old) = preferences.topics.get(topic) else {
            return Err(InputError::TopicGone.into());
        };
        preferences.topics[topic] = old.without_expansion(expansion).map_err(InputError::from)?;
        self.keep_preferences(subscriber.id, &preferences, origin, now)
            .await
    }

    /// Every example paper the topics name (`like:`) must be a paper we
    /// have: its text is what new papers are compared with. One no feed
    /// brought is asked for at arXiv or Crossref and stored, up to
    /// [`MAX_LOOKUPS_PER_SAVE`] in one save.
    pub(super) async fn check_examples(
        &self,
        topics: &[Topic],
        now: DateTime<Utc>,
    ) -> Result<(), ReaderError> {
        let mut looked_up = 0;
        for topic in topics {
            for reference in topic.query().examples() {
                if self.store.find_paper(reference).await?.is_some() {
                    continue;
                }
                let example = || (topic.name().to_owned(), reference.clone());
                if looked_up == MAX_LOOKUPS_PER_SAVE {
                    let (topic, reference) = example();
                    return Err(InputError::TooManyLookups { topic, reference }.into());
                }
                looked_up += 1;
                let key = PaperKey::from_reference(reference)
                    .expect("like: keeps only arXiv ids and DOIs");
                match self.collector.look_up(&key, now.timestamp()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let (topic, reference) = example();
                        return Err(InputError::UnknownExample { topic, reference }.into());
                    }
                    Err(LookupError::Store(e)) => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(reference = %reference, error = %e, "example lookup failed");
                        let (topic, reference) = example();
                        return Err(InputError::ExampleUnreachable {
                            topic,
                            reference,
                            why: e.to_string(),
                        }
                        .into());
                    }
                }
            }
        }
        Ok(())
    }

    /// A briefing as it was sent, from a "view in browser" link.
    pub async fn sent_briefing(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<String, ReaderError> {
        let (subscriber, edition) = self.open_view_link(token, now).await?;
        if let Some(html) = self
            .store
            .briefing_html(subscriber.id, &edition.to_string())
            .await?
        {
            return Ok(html);
        }
        // The body went when the message was sent (or failed, or expired).
        self.round
            .render_again(&subscriber, edition, now)
            .await?
            .ok_or(ReaderError::NotFound)
    }

    /// The papers that briefing left out for its size ("N more on this
    /// topic"), opened with the same link as the briefing in the browser.
    pub async fn left_out_papers(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<String, ReaderError> {
        let (subscriber, edition) = self.open_view_link(token, now).await?;
        self.round
            .render_left_out(&subscriber, edition, now)
            .await?
            .ok_or(ReaderError::NotFound)
    }

    /// The subscriber and the edition a "view in browser" link is for.
    async fn open_view_link(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(Subscriber, NaiveDate), ReaderError> {
        let (subscriber, claims) = self.open_link(token, LinkAction::View, now).await?;
        let edition = edition_of(&claims).ok_or(ReaderError::NotFound)?;
        Ok((subscriber, edition))
    }

    /// Everything stored about the subscriber, for "download my data".
    pub async fn export_data(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, ReaderError> {
        let (s, _) = self.open_link(token, LinkAction::Preferences, now).await?;
        let topics: Vec<_> = s
            .topics
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name(),
                    "query": t.query().to_string(),
                })
            })
            .collect();
        let briefings: Vec<_> = self
            .store
            .briefings_of(s.id)
            .await?
            .into_iter()
            .map(|(edition, papers)| {
                let papers: Vec<_> = papers
                    .into_iter()
                    .map(|(key, title)| serde_json::json!({ "paper": key, "title": title }))
                    .collect();
                serde_json::json!({ "edition": edition, "papers": papers })
            })
            .collect();
        Ok(serde_json::json!({
            "email": s.email.as_str(),
            "status": s.status.as_str(),
            "locale": s.locale.as_str(),
            "timezone": s.timezone.name(),
            "send_hour": s.send_hour.get(),
            "cadence": s.cadence.to_string(),
            "papers_per_topic": s.max_per_topic,
            "paused_until": s.paused_until.map(|d| d.to_string()),
            "topics": topics,
            "history": self.store.subscriber_events(s.id).await?,
            "feedback": self.store.feedback_of(s.id).await?,
            "briefings": briefings,
        }))
    }

    /// "Delete all my data": only a keyed hash of the address stays behind.
    pub async fn delete_data(
        &self,
        token: &str,
        form_token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ReaderError> {
        let (subscriber, _) = self.open_link(token, LinkAction::Preferences, now).await?;
        self.check_form_token(&subscriber, token, form_token, now)?;
        self.store
            .delete_subscriber(subscriber.id, now.timestamp())
            .await?;
        Ok(())
    }

    /// Deletes subscriptions never confirmed within
    /// `subscriptions.pending_expiry_days`.
    pub async fn expire_pending(&self, now: DateTime<Utc>) -> anyhow::Result<u64> {
        let days = i64::from(self.settings.subscriptions.pending_expiry_days);
        Ok(self
            .store
            .expire_pending(now.timestamp() - days * 24 * 3600, now.timestamp())
            .await?)
    }
}
