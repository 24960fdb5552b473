//! The application: settings plus every long-lived resource (database pool,
//! HTTP client, mail transport, compiled templates, link key), built once
//! and driven by the CLI, the scheduler and the tests alike.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Timelike, Utc};
use lettre::message::Mailbox;

use crate::briefing::{Renderer, compose};
use crate::config::Settings;
use crate::delivery::{DeliveryError, DeliveryReport, Mailer, RetryPolicy, drain_outbox};
use crate::domain::{EmailAddress, LinkAction, LinkClaims, LinkSecret, Subscriber};
use crate::radar::{IndexedPaper, match_topics};
use crate::sources::{CollectReport, Fetcher, collect};
use crate::store::{BriefingItem, NewBriefing, OutgoingMessage, Store, StoredPaper};

pub struct Application {
    pub settings: Settings,
    pub store: Store,
    fetcher: Fetcher,
    mailer: Mailer,
    renderer: Renderer,
    link_secret: LinkSecret,
    from: Mailbox,
}

/// What building briefings did, subscriber by subscriber.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PrepareReport {
    /// Briefings made and queued in the outbox.
    pub queued: usize,
    /// Subscribers whose radar picked up nothing new: no email.
    pub nothing_new: usize,
    /// Subscribers whose local send hour has not come yet.
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
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = Store::open(&settings.database.url, settings.database.max_connections).await?;
        let fetcher = Fetcher::new(
            &settings.collect.user_agent,
            std::time::Duration::from_secs(settings.collect.timeout_secs),
        )
        .context("cannot build the HTTP client for feeds")?;
        let mailer = Mailer::from_settings(&settings.delivery)?;
        let renderer = Renderer::new()?;
        let link_secret = match &settings.links.secret {
            Some(secret) => {
                LinkSecret::new(secret.expose().as_bytes().to_vec()).map_err(anyhow::Error::msg)?
            }
            None => store.link_secret().await?,
        };
        let from = settings.from_mailbox();
        Ok(Self {
            settings,
            store,
            fetcher,
            mailer,
            renderer,
            link_secret,
            from,
        })
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
        )
        .await?)
    }

    /// Builds and queues today's briefing for every subscriber who is due:
    /// their local hour has reached their send hour (or `force`), they have no
    /// briefing for their local date yet, and their radar picked something up.
    pub async fn prepare_briefings(
        &self,
        now: DateTime<Utc>,
        force: bool,
    ) -> anyhow::Result<PrepareReport> {
        let mut report = PrepareReport::default();
        let papers = self.store.recent_papers(self.news_since(now)).await?;
        let indexed: Vec<IndexedPaper> = papers.iter().map(IndexedPaper::new).collect();
        for subscriber in self.store.active_subscribers().await? {
            let local = now.with_timezone(&subscriber.timezone);
            let edition = local.format("%Y-%m-%d").to_string();
            if !force && local.hour() < subscriber.send_hour {
                report.not_due += 1;
                continue;
            }
            if self.store.has_briefing(subscriber.id, &edition).await? {
                report.already_done += 1;
                continue;
            }
            let Some(draft) = self.draft(&subscriber, &indexed, &edition, now).await? else {
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
        edition: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Draft>> {
        let already_sent: HashSet<i64> = self
            .store
            .papers_already_sent(subscriber.id, self.news_since(now))
            .await?;
        let hits = match_topics(
            &subscriber.topics,
            papers,
            &already_sent,
            self.settings.briefing.max_per_topic,
        );
        if hits.is_empty() {
            return Ok(None);
        }
        let unsubscribe_url = self.link_url(subscriber.id, LinkAction::Unsubscribe, now);
        let content = compose(&hits, edition, subscriber.locale, &unsubscribe_url);
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
            message_id: format!("<{}@{}>", uuid::Uuid::new_v4(), self.from.email.domain()),
            unsubscribe_url,
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
        let edition = now
            .with_timezone(&subscriber.timezone)
            .format("%Y-%m-%d")
            .to_string();
        Ok(self
            .draft(&subscriber, &indexed, &edition, now)
            .await?
            .map(|d| d.message.html))
    }

    /// Sends what the outbox holds that is due. With `retry_waiting`, messages
    /// backing off after a failure are tried now too (an operator's run).
    pub async fn deliver(&self, retry_waiting: bool) -> Result<DeliveryReport, DeliveryError> {
        if retry_waiting {
            self.store.release_retries(Utc::now().timestamp()).await?;
        }
        let policy = RetryPolicy {
            max_attempts: self.settings.delivery.max_attempts,
        };
        drain_outbox(&self.store, &self.mailer, &self.from, policy, || {
            Utc::now().timestamp()
        })
        .await
    }

    fn news_since(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp() - i64::from(self.settings.briefing.lookback_hours) * 3600
    }

    fn link_url(&self, subscriber_id: i64, action: LinkAction, now: DateTime<Utc>) -> String {
        let token = self.link_secret.sign(LinkClaims {
            subscriber_id,
            action,
            issued_at: now.timestamp(),
        });
        let base = self.settings.web.public_url.trim_end_matches('/');
        let path = match action {
            LinkAction::Unsubscribe => "unsubscribe",
        };
        format!("{base}/{path}/{token}")
    }
}
