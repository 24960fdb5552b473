//! The application: settings plus every long-lived resource (database pool,
//! HTTP client, mail transport, compiled templates, link keys), built once
//! and driven by the CLI, the scheduler, the web server and the tests alike.
//!
//! `round` is the daily round (who is due, their briefing, into the outbox);
//! `readers` is what readers do through the links in their mail (subscribe,
//! confirm, unsubscribe, preferences, feedback, their data). Both end in the
//! store and the outbox; delivery sends what the outbox holds.

mod bulk;
mod explain;
mod readers;
mod round;
mod writing;

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::analysis::Llm;
use crate::briefing::Renderer;
use crate::config::Settings;
use crate::delivery::{
    DeliveryError, DeliveryReport, Mailer, Outbox, Pace, RetryPolicy, Sender, drain_outbox,
};
use crate::domain::{LinkAction, LinkClaims, LinkKeys, Subscriber, Verdict};
use crate::sources::{CollectReport, Fetcher, collect};
use crate::store::Store;
use writing::LlmState;

pub use bulk::{ImportError, ImportReport, SubscriberLine, TopicLine};
pub use readers::{
    MAX_PAPERS_PER_TOPIC, PreferencesInput, ReaderError, SubscribeRequest, TopicInput,
};
pub use round::PrepareReport;
pub use writing::{SuggestReport, TldrReport};

/// A link in our mail, with what it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderLink {
    /// Confirm a subscription, applying the kept subscribe request if any.
    Confirm(Option<i64>),
    Unsubscribe,
    Preferences,
    /// "More / less like this" about a paper.
    Feedback(i64, Verdict),
    /// A briefing in the browser, by its edition.
    View(NaiveDate),
}

pub struct Application {
    pub settings: Settings,
    pub store: Store,
    fetcher: Fetcher,
    mailer: Mailer,
    renderer: Arc<Renderer>,
    /// The LLM that writes TL;DRs and analyses, when `[llm]` is set.
    llm: Option<Arc<LlmState>>,
    links: Arc<Links>,
    /// The From mailbox and the DKIM signature.
    sender: Arc<Sender>,
    pace: Arc<Pace>,
    /// Cancelled at shutdown: collection, the round and delivery finish
    /// what is in flight and stop.
    stopping: CancellationToken,
    /// Rung when mail that should not wait for the next tick (a
    /// confirmation) is queued; the daemon's delivery loop listens.
    delivery_wanted: Arc<Notify>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = Store::open(&settings.database.url, settings.database.max_connections).await?;
        let fetcher = Fetcher::new(
            &settings.collect.user_agent,
            std::time::Duration::from_secs(settings.collect.timeout_secs),
        )
        .context("cannot build the HTTP client for feeds")?;
        let mailer = Mailer::from_settings(&settings.delivery)?;
        let renderer = Renderer::new()?;
        let llm = Llm::from_settings(&settings.llm)?.map(|llm| Arc::new(LlmState::new(llm)));
        let mut keys = settings.link_secrets().map_err(anyhow::Error::msg)?;
        if keys.is_empty() {
            keys.push(store.link_secret().await?);
        }
        let links = Arc::new(Links {
            keys: LinkKeys::new(keys).expect("at least one key"),
            public_url: settings.web.public_url.trim_end_matches('/').to_owned(),
        });
        let sender = Sender::new(settings.from_mailbox(), settings.delivery.dkim.as_ref())?;
        let pace = Pace::new(
            settings.delivery.max_per_second,
            &settings.delivery.domain_max_per_second,
        );
        Ok(Self {
            settings,
            store,
            fetcher,
            mailer,
            renderer: Arc::new(renderer),
            llm,
            links,
            sender: Arc::new(sender),
            pace: Arc::new(pace),
            stopping: CancellationToken::new(),
            delivery_wanted: Arc::new(Notify::new()),
        })
    }

    /// An address as this instance's relay can deliver it: ASCII, or any
    /// script when `delivery.smtp.smtputf8` says the relay supports it.
    pub fn parse_address(
        &self,
        input: &str,
    ) -> Result<crate::domain::EmailAddress, crate::domain::EmailAddressError> {
        if self.settings.delivery.smtp.smtputf8 {
            crate::domain::EmailAddress::parse_international(input)
        } else {
            crate::domain::EmailAddress::parse(input)
        }
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub async fn collect(&self, now: DateTime<Utc>) -> anyhow::Result<CollectReport> {
        Ok(collect(
            &self.store,
            &self.fetcher,
            &self.settings.collect,
            now.timestamp(),
            &self.stopping,
        )
        .await?)
    }

    /// What to tell an operator when a daemon or a run starts while
    /// messages are claimed by a sender: after a crash they would otherwise
    /// sit unsent and unexplained until their claim runs out.
    pub async fn parked_notice(&self, now: DateTime<Utc>) -> anyhow::Result<Option<String>> {
        let (parked, until) = self.store.parked_messages(now.timestamp()).await?;
        let Some(until) = until.filter(|_| parked > 0) else {
            return Ok(None);
        };
        let resume = DateTime::from_timestamp(until, 0).unwrap_or(now);
        Ok(Some(format!(
            "{parked} message(s) are claimed by a sender that is at work or stopped without finishing \
             (another daemon, or a run before a crash); unless it finishes them, they are sent again \
             from {} UTC (in {} s), and those that were on the wire may arrive twice",
            resume.format("%H:%M:%S"),
            (until - now.timestamp()).max(0)
        )))
    }

    /// Sends what the outbox holds that is due. With `retry_waiting`, messages
    /// backing off after a failure are tried now too (an operator's run).
    pub async fn deliver(&self, retry_waiting: bool) -> Result<DeliveryReport, DeliveryError> {
        let delivery = &self.settings.delivery;
        if retry_waiting {
            self.store.release_retries(Utc::now().timestamp()).await?;
        }
        if delivery.keep_messages_days > 0 {
            let before = Utc::now().timestamp() - i64::from(delivery.keep_messages_days) * 86_400;
            let dropped = self.store.drop_old_bodies(before).await?;
            if dropped > 0 {
                tracing::info!(
                    dropped,
                    "dropped the bodies of old messages (delivery.keep_messages_days)"
                );
            }
        }
        let outbox = Outbox {
            store: self.store.clone(),
            mailer: self.mailer.clone(),
            sender: self.sender.clone(),
            policy: RetryPolicy {
                give_up_after_secs: i64::from(delivery.give_up_after_hours) * 3600,
                briefing_expires_after_secs: i64::from(delivery.briefing_expires_after_hours)
                    * 3600,
            },
            pace: self.pace.clone(),
            concurrency: delivery.concurrency as usize,
            clock: || Utc::now().timestamp(),
        };
        drain_outbox(&outbox, &self.stopping).await
    }

    /// Sends one short message to `to` straight away, through the
    /// configured transport, headers and sender as a briefing would have.
    pub async fn send_test(&self, to: &crate::domain::EmailAddress) -> anyhow::Result<()> {
        let base = &self.settings.web.public_url;
        let text = format!(
            "This is a test message from AcademicHub ({base}).\n\nIf you can read it, mail from {} reaches {to}.\n",
            self.sender.from()
        );
        let outgoing = crate::store::OutgoingMessage {
            recipient: to.to_string(),
            subject: "AcademicHub test message".into(),
            body: crate::domain::MessageBody::Plain {
                html: format!(
                    "<!doctype html><html><body><p>{}</p></body></html>",
                    html_escape::encode_text(&text).replace("\n\n", "</p><p>")
                ),
                text,
            },
            message_id: self.message_id(),
            unsubscribe_url: None,
        };
        let message = self.sender.message(outgoing).map_err(anyhow::Error::msg)?;
        self.mailer.check().await?;
        self.mailer.send(message).await?;
        Ok(())
    }

    /// Asks collection, the round and delivery to finish what is in flight
    /// and stop (SIGTERM).
    pub fn stop(&self) {
        self.stopping.cancel();
    }

    /// Resolves once [`Self::stop`] is called.
    pub async fn stopped(&self) {
        self.stopping.cancelled().await;
    }

    /// Whether [`Self::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Resolves when someone asked for mail to go out now (see
    /// `delivery_wanted`); a request made while nobody waits is kept.
    pub async fn delivery_requested(&self) {
        self.delivery_wanted.notified().await;
    }

    fn wake_delivery(&self) {
        self.delivery_wanted.notify_one();
    }

    /// A signed link for `subscriber` under `web.public_url`.
    pub fn link_url(
        &self,
        subscriber: &Subscriber,
        link: ReaderLink,
        now: DateTime<Utc>,
    ) -> String {
        self.links.url(subscriber, link, now)
    }
}

/// Signs the links in our mail: what the round needs on its worker threads,
/// without the rest of the application.
pub(crate) struct Links {
    keys: LinkKeys,
    /// `web.public_url` without a trailing slash.
    public_url: String,
}

impl Links {
    fn url(&self, subscriber: &Subscriber, link: ReaderLink, now: DateTime<Utc>) -> String {
        let (action, object, path) = match link {
            ReaderLink::Confirm(request) => (LinkAction::Confirm, request.unwrap_or(0), "confirm"),
            ReaderLink::Unsubscribe => (LinkAction::Unsubscribe, 0, "unsubscribe"),
            ReaderLink::Preferences => (LinkAction::Preferences, 0, "preferences"),
            ReaderLink::Feedback(paper_id, Verdict::More) => {
                (LinkAction::FeedbackMore, paper_id, "feedback")
            }
            ReaderLink::Feedback(paper_id, Verdict::Less) => {
                (LinkAction::FeedbackLess, paper_id, "feedback")
            }
            ReaderLink::View(edition) => (LinkAction::View, edition_object(edition), "b"),
        };
        let token = self.sign(subscriber, action, object, now);
        format!("{}/{path}/{token}", self.public_url)
    }

    fn sign(
        &self,
        subscriber: &Subscriber,
        action: LinkAction,
        object: i64,
        now: DateTime<Utc>,
    ) -> String {
        self.keys.sign(LinkClaims {
            subscriber_id: subscriber.id,
            nonce: subscriber.link_nonce,
            action,
            object,
            issued_at: now.timestamp(),
        })
    }
}

/// A fresh Message-ID under the From address's domain.
fn message_id(domain: &str) -> String {
    format!("<{}@{domain}>", uuid::Uuid::new_v4())
}

/// An edition (local date) as a link's object: its day number.
fn edition_object(edition: NaiveDate) -> i64 {
    i64::from(edition.num_days_from_ce())
}

fn edition_from_object(object: i64) -> Option<NaiveDate> {
    i32::try_from(object)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}
