//! What readers do through the links in their mail and the subscribe page.
//!
//! Every operation here takes a signed link token, checks it for the one
//! action it is for (and against the subscriber's nonce, so a link dies with
//! its subscription), then changes state in one store transaction with the
//! origin of the change recorded. Nothing here renders a page or knows HTTP:
//! the web module does, and maps [`ReaderError`] to a status.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{Application, ReaderLink, edition_from_object};
use crate::briefing::Notice;
use crate::domain::{
    Cadence, Expansion, LinkAction, LinkClaims, LinkError, Locale, MessageBody, NewSubscriber,
    Preferences, Subscriber, SubscriptionStatus, Topic, Verdict,
};
use crate::store::{ConfirmOutcome, EventOrigin, OutgoingMessage, StoreError};

/// A subscribe request, as the JSON API and the subscribe form carry it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    pub email: String,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub send_hour: Option<u32>,
    pub topics: Vec<TopicInput>,
}

/// One topic as typed by a reader: either `query` in the text form
/// (`"a phrase" OR word -excluded cat:cs.LG`), or the simple lists, whose
/// terms may be lists or comma-separated.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicInput {
    pub name: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// What the preferences form sends, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct PreferencesInput {
    pub locale: String,
    pub timezone: String,
    pub send_hour: String,
    /// `daily` or `weekly`.
    pub cadence: String,
    /// `mon` … `sun`, for weekly.
    pub weekday: String,
    /// Empty: the default.
    pub max_per_topic: String,
    /// `YYYY-MM-DD` or empty.
    pub paused_until: String,
    pub topics: Vec<TopicInput>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The reader's input cannot be used; the message says what to change.
    #[error("{0}")]
    Invalid(String),
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

/// Most papers per topic a reader may ask for.
pub const MAX_PAPERS_PER_TOPIC: u32 = 50;

impl Application {
    /// Records a subscribe request and queues the mail that answers it: a
    /// confirmation link for a new, pending or former subscriber, a link to
    /// the preferences for an active one. The caller learns only whether the
    /// input was valid, never which case it was (no address enumeration).
    /// At most `subscriptions.confirmations_per_address_per_day` such mails
    /// go to one address.
    pub async fn request_subscription(
        &self,
        request: SubscribeRequest,
        origin: &EventOrigin,
        now: DateTime<Utc>,
    ) -> Result<(), ReaderError> {
        let (new, topics) = self.new_subscription(request)?;
        self.check_examples(&topics).await?;
        let outcome = self
            .store
            .request_subscription(&new, &topics, origin, now.timestamp())
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
            recipient: subscriber.email.to_string(),
            subject: mail.subject,
            body: MessageBody::encode(&mail.html, &mail.text),
            message_id: self.message_id(),
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

    /// Checks a subscribe request: the address, the language, the time
    /// zone, the hour and each topic.
    pub fn new_subscription(
        &self,
        request: SubscribeRequest,
    ) -> Result<(NewSubscriber, Vec<Topic>), ReaderError> {
        let invalid = |e: &dyn std::fmt::Display| ReaderError::Invalid(e.to_string());
        let email = self
            .parse_address(&request.email)
            .map_err(|e| invalid(&e))?;
        if !email.domain().contains('.') {
            return Err(ReaderError::Invalid(format!(
                "{email} is not an address on the internet (its domain has no dot)"
            )));
        }
        let locale = match request.locale.as_deref().map(str::trim) {
            None | Some("") => Locale::En,
            Some(l) => l.parse().map_err(|e| invalid(&e))?,
        };
        let timezone = match request.timezone.as_deref().map(str::trim) {
            None | Some("") => self.settings.default_timezone(),
            Some(tz) => parse_timezone(tz)?,
        };
        let send_hour = request
            .send_hour
            .unwrap_or(self.settings.briefing.default_send_hour);
        if send_hour > 23 {
            return Err(ReaderError::Invalid(format!(
                "the send hour must be from 0 to 23, not {send_hour}"
            )));
        }
        let topics = topics_from_input(request.topics)?;
        if topics.is_empty() {
            return Err(ReaderError::Invalid(
                "add at least one topic with a name and a keyword".into(),
            ));
        }
        Ok((
            NewSubscriber {
                email,
                locale,
                timezone,
                send_hour,
            },
            topics,
        ))
    }

    /// Verifies `token` for `action` and returns the subscriber it was
    /// issued to, provided the subscription it was issued for still exists.
    pub async fn open_link(
        &self,
        token: &str,
        action: LinkAction,
        now: DateTime<Utc>,
    ) -> Result<(Subscriber, LinkClaims), ReaderError> {
        let claims = self.links.keys.verify(token, action, now.timestamp())?;
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
        self.links
            .sign(subscriber, LinkAction::Form, page_object(page_token), now)
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
        let stale = || {
            ReaderError::Invalid(
                "this form is older than your latest link or was not opened from it; \
                 check your changes below and press Save again"
                    .into(),
            )
        };
        let claims = self
            .links
            .keys
            .verify(form_token, LinkAction::Form, now.timestamp())
            .map_err(|_| stale())?;
        if claims.subscriber_id != subscriber.id
            || claims.nonce != subscriber.link_nonce
            || claims.object != page_object(page_token)
        {
            return Err(stale());
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
        let preferences = preferences_from_input(input)?;
        self.check_examples(&preferences.topics).await?;
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
            return Err(ReaderError::Invalid(
                "that topic is no longer there: reload the page".into(),
            ));
        };
        preferences.topics[topic] = old
            .without_expansion(expansion)
            .map_err(|e| ReaderError::Invalid(e.to_string()))?;
        self.keep_preferences(subscriber.id, &preferences, origin, now)
            .await
    }

    /// Every example paper the topics name (`like:`) must be a paper we
    /// have: its text is what new papers are compared with.
    pub async fn check_examples(&self, topics: &[Topic]) -> Result<(), ReaderError> {
        for topic in topics {
            for reference in topic.query().examples() {
                if self.store.find_paper(reference).await?.is_none() {
                    return Err(ReaderError::Invalid(format!(
                        "topic {:?}: like:{reference} is not a paper AcademicHub has collected; \
                         an example must be a paper from one of the feeds it follows (papers \
                         from elsewhere are not fetched yet)",
                        topic.name()
                    )));
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
        // The sent message's body is gone (delivery.keep_messages_days).
        self.render_again(&subscriber, edition, now)
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
        self.render_left_out(&subscriber, edition, now)
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
        let edition = edition_from_object(claims.object).ok_or(ReaderError::NotFound)?;
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
            "send_hour": s.send_hour,
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

fn parse_timezone(tz: &str) -> Result<chrono_tz::Tz, ReaderError> {
    tz.parse().map_err(|_| {
        ReaderError::Invalid(format!(
            "{tz:?} is not an IANA time zone such as Europe/Berlin"
        ))
    })
}

/// Topics as typed; rows without a name and terms (an empty row of a
/// form) are left out.
fn topics_from_input(input: Vec<TopicInput>) -> Result<Vec<Topic>, ReaderError> {
    for t in &input {
        let fields = [&t.name]
            .into_iter()
            .chain(&t.query)
            .chain(&t.keywords)
            .chain(&t.categories)
            .chain(&t.exclude);
        for field in fields {
            if let Some(c) = field.chars().find(|&c| is_invisible_control(c)) {
                return Err(ReaderError::Invalid(format!(
                    "topic {:?} holds an invisible control character (U+{:04X}); retype it without one",
                    t.name
                        .chars()
                        .filter(|&c| !is_invisible_control(c))
                        .collect::<String>(),
                    u32::from(c)
                )));
            }
        }
    }
    let blank = |t: &TopicInput| {
        t.name.trim().is_empty()
            && t.query.as_deref().is_none_or(|q| q.trim().is_empty())
            && t.keywords.iter().all(|k| k.trim().is_empty())
    };
    let topics: Vec<Topic> = input
        .into_iter()
        .filter(|t| !blank(t))
        .map(|t| {
            let lists = [&t.keywords, &t.categories, &t.exclude];
            let invalid = |e: String| ReaderError::Invalid(e);
            match &t.query {
                Some(_) if lists.iter().any(|l| l.iter().any(|k| !k.trim().is_empty())) => {
                    Err(invalid(format!(
                        "topic {:?}: give either a query or keywords, categories and exclude, not both",
                        t.name.trim()
                    )))
                }
                Some(query) => Topic::parse(&t.name, query).map_err(|e| invalid(e.to_string())),
                None => Topic::new(&t.name, &t.keywords, &t.categories, &t.exclude)
                    .map_err(|e| invalid(e.to_string())),
            }
        })
        .collect::<Result<_, _>>()?;
    if let Some((topic, words)) = topics
        .iter()
        .find_map(|t| Some((t, t.query().common_words_only()?)))
    {
        return Err(ReaderError::Invalid(format!(
            "topic {:?}: {words:?} has only words nearly every paper has, so it would match \
             everything; add a word of the topic's own",
            topic.name()
        )));
    }
    if topics.len() > Topic::MAX_PER_SUBSCRIBER {
        return Err(ReaderError::Invalid(format!(
            "at most {} topics, please (there are {})",
            Topic::MAX_PER_SUBSCRIBER,
            topics.len()
        )));
    }
    let mut names: Vec<String> = topics.iter().map(|t| t.name().to_lowercase()).collect();
    names.sort();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(ReaderError::Invalid(format!(
            "two topics are called {:?}; give each its own name",
            pair[0]
        )));
    }
    Ok(topics)
}

fn preferences_from_input(input: PreferencesInput) -> Result<Preferences, ReaderError> {
    let invalid = |m: String| ReaderError::Invalid(m);
    let locale: Locale = input
        .locale
        .parse()
        .map_err(|e: crate::domain::LocaleError| invalid(e.to_string()))?;
    let timezone = parse_timezone(input.timezone.trim())?;
    let send_hour: u32 = input
        .send_hour
        .trim()
        .parse()
        .ok()
        .filter(|h| *h <= 23)
        .ok_or_else(|| invalid(format!("{:?} is not an hour from 0 to 23", input.send_hour)))?;
    let cadence = match input.cadence.trim() {
        "weekly" => format!("weekly:{}", input.weekday.trim())
            .parse::<Cadence>()
            .map_err(invalid)?,
        _ => Cadence::Daily,
    };
    let max_per_topic = match input.max_per_topic.trim() {
        "" => None,
        n => Some(
            n.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAPERS_PER_TOPIC).contains(n))
                .ok_or_else(|| {
                    invalid(format!(
                        "papers per topic must be from 1 to {MAX_PAPERS_PER_TOPIC}, not {n:?}"
                    ))
                })?,
        ),
    };
    let paused_until = match input.paused_until.trim() {
        "" => None,
        d => Some(
            d.parse::<NaiveDate>()
                .map_err(|_| invalid(format!("{d:?} is not a date such as 2026-12-31")))?,
        ),
    };
    let topics = topics_from_input(input.topics)?;
    if topics.is_empty() {
        return Err(invalid(
            "keep at least one topic; to stop the briefings, unsubscribe instead".into(),
        ));
    }
    Ok(Preferences {
        locale,
        timezone,
        send_hour,
        cadence,
        max_per_topic,
        paused_until,
        topics,
    })
}

/// A link token as a form token's object: the first 63 bits of its SHA-256.
fn page_object(page_token: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(page_token.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first) & i64::MAX
}

/// Control characters (NUL, ESC, line breaks) and the bidirectional
/// overrides that reorder what follows (U+202E): refused in what readers
/// type, as they would reach mail headers and the database.
fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
