//! The application: settings plus every long-lived resource (database pool,
//! HTTP client, mail transport, compiled templates, link keys), built once
//! and driven by the CLI, the scheduler, the web server and the tests alike.
//!
//! It wires the stages ([`crate::round::Round`], [`crate::writing::Writing`],
//! collection and delivery) and offers the one way in to each use-case:
//! the two ticks ([`Application::collect_tick`], [`Application::deliver_tick`])
//! that the scheduler and `run-once` both call; `readers.rs`, what readers do
//! through the subscribe page and the links in their mail; `bulk.rs`, import
//! and export; `operator.rs`, what the CLI asks of the database. The store is
//! private to it, so every rule holds on every path.

mod bounces;
mod bulk;
mod monitor;
mod operator;
mod readers;

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::bounces::{BounceDesk, BounceMailbox};
use crate::briefing::Renderer;
use crate::config::Settings;
use crate::delivery::{
    DeliveryError, DeliveryReport, Mailer, Outbox, Pace, RetryPolicy, Sender, drain_outbox,
};
use crate::domain::{InputRules, LinkKeys};
use crate::links::Links;
use crate::round::{PrepareReport, Round};
use crate::sources::{CollectReport, Collector, Fetcher};
use crate::store::Store;
use crate::telemetry::metrics::{self, Scrape};
use crate::writing::{SuggestReport, TldrReport, Writing};

pub use crate::links::ReaderLink;
pub use bounces::DayStats;
pub use bulk::{ImportError, ImportReport};
pub use monitor::{SourceHealth, Today, TokensToday};
pub use operator::{SubscriberDetails, is_permanent};
pub use readers::ReaderError;

/// How long "N more on this topic" opens the papers a briefing left out:
/// a reader who wants more asks within days, and the lists were the
/// largest thing a reader's day left in the database.
const LEFT_OUT_KEPT_DAYS: i64 = 7;

pub struct Application {
    pub settings: Settings,
    store: Store,
    collector: Collector,
    mailer: Mailer,
    renderer: Arc<Renderer>,
    /// TL;DRs, expansions and analyses.
    writing: Writing,
    round: Round,
    links: Arc<Links>,
    /// The From mailbox and the DKIM signature.
    sender: Arc<Sender>,
    pace: Arc<Pace>,
    /// Reads bounces and complaints, when `delivery.bounce_address` is set.
    bounce_desk: Option<BounceDesk>,
    /// The bounce mailbox (`[bounces.imap]`), polled by the daemon.
    bounce_mailbox: Option<BounceMailbox>,
    /// Cancelled at shutdown: collection, the round and delivery finish
    /// what is in flight and stop.
    stopping: CancellationToken,
    /// Rung when mail that should not wait for the next tick (a
    /// confirmation) is queued; the daemon's delivery loop listens.
    delivery_wanted: Arc<Notify>,
    /// The process's metrics, when `metrics.enabled`.
    scrape: Option<Scrape>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // First, so that what building records is counted.
        let scrape = settings.metrics.enabled.then(Scrape::install);
        let store = Store::open(&settings.database.url, settings.database.max_connections).await?;
        let fetcher = Fetcher::new(
            &settings.user_agent(),
            std::time::Duration::from_secs(settings.collect.timeout_secs),
        )
        .context("cannot build the HTTP client for feeds")?;
        let collector = Collector::new(
            store.clone(),
            fetcher,
            &settings.collect,
            &settings.sources,
            Some(settings.contact_email()),
        );
        let mailer = Mailer::from_settings(&settings.delivery)?;
        let renderer = Arc::new(Renderer::new()?);
        let mut keys = settings.link_secrets().map_err(anyhow::Error::msg)?;
        if keys.is_empty() {
            keys.push(store.link_secret().await?);
        }
        let keys = LinkKeys::new(keys).expect("at least one key");
        let sender = Sender::new(
            settings.from_mailbox(),
            settings.delivery.dkim.as_ref(),
            settings.bounce_address().map(|a| (a, keys.clone())),
        )?;
        let bounce_desk = settings.bounce_address().map(|address| {
            BounceDesk::new(
                store.clone(),
                address,
                keys.clone(),
                settings.bounces.soft_limit,
                settings.bounces.soft_window_days,
            )
        });
        let bounce_mailbox = settings
            .bounces
            .imap
            .as_ref()
            .map(BounceMailbox::new)
            .transpose()?;
        let links = Arc::new(Links::new(
            keys,
            &settings.web.public_url,
            sender.from().email.domain(),
        ));
        let stopping = CancellationToken::new();
        let delivery_wanted = Arc::new(Notify::new());
        let writing = Writing::new(
            store.clone(),
            &settings.llm,
            &settings.briefing,
            stopping.clone(),
        )?;
        let round = Round::new(
            store.clone(),
            writing.clone(),
            (renderer.clone(), links.clone()),
            &settings,
            stopping.clone(),
            delivery_wanted.clone(),
        );
        let pace = Pace::new(
            settings.delivery.max_per_second,
            &settings.delivery.domain_max_per_second,
        );
        Ok(Self {
            settings,
            collector,
            store,
            mailer,
            renderer,
            writing,
            round,
            links,
            sender: Arc::new(sender),
            pace: Arc::new(pace),
            bounce_desk,
            bounce_mailbox,
            stopping,
            delivery_wanted,
            scrape,
        })
    }

    /// Checks what `build` would refuse in `settings` without opening the
    /// database or a connection (`academichub config check`): the SMTP
    /// relay's TLS settings, the From and return addresses, the DKIM key,
    /// the link keys, the bounce mailbox's settings. A folder for mail is
    /// not created.
    pub fn check_settings(settings: &Settings) -> anyhow::Result<()> {
        if settings.delivery.transport != crate::config::TransportKind::Folder {
            Mailer::from_settings(&settings.delivery)?;
        }
        let mut keys = settings.link_secrets().map_err(anyhow::Error::msg)?;
        if keys.is_empty() {
            // The daemon would make one and keep it in the database.
            keys.push(crate::domain::LinkSecret::new([7u8; 32]).map_err(anyhow::Error::msg)?);
        }
        let keys = LinkKeys::new(keys).expect("at least one key");
        Sender::new(
            settings.from_mailbox(),
            settings.delivery.dkim.as_ref(),
            settings.bounce_address().map(|a| (a, keys)),
        )?;
        if let Some(imap) = &settings.bounces.imap {
            BounceMailbox::new(imap)?;
        }
        Ok(())
    }

    /// What the input checks fill in and allow on this instance.
    fn input_rules(&self) -> InputRules {
        InputRules {
            smtputf8: self.settings.delivery.smtp.smtputf8,
            default_timezone: self.settings.default_timezone(),
            default_send_hour: self.settings.briefing.default_send_hour,
        }
    }

    /// An address as this instance's relay can deliver it (see
    /// [`InputRules::address`]).
    pub fn parse_address(
        &self,
        input: &str,
    ) -> Result<crate::domain::EmailAddress, crate::domain::EmailAddressError> {
        self.input_rules().address(input)
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub async fn collect(&self, now: DateTime<Utc>) -> anyhow::Result<CollectReport> {
        let started = std::time::Instant::now();
        let report = self
            .collector
            .collect(now.timestamp(), &self.stopping)
            .await?;
        metrics::collect_took(started.elapsed());
        Ok(report)
    }

    /// Fills the store with what `source` published since `since` (see
    /// [`Collector::backfill`]); stops between pages on [`Self::stop`].
    pub async fn backfill(
        &self,
        source: &crate::domain::Source,
        since: chrono::NaiveDate,
        progress: &indicatif::ProgressBar,
    ) -> Result<crate::sources::BackfillReport, crate::sources::BackfillError> {
        self.collector
            .backfill(
                source,
                since,
                Utc::now().timestamp(),
                progress,
                &self.stopping,
            )
            .await
    }

    /// The collect tick: feeds fetched, then what the LLM writes after
    /// collection (TL;DRs, topics' expansions; nothing without `[llm]`).
    pub async fn collect_tick(&self, now: DateTime<Utc>) -> anyhow::Result<CollectTick> {
        Ok(CollectTick {
            collected: self.collect(now).await?,
            tldrs: self.writing.write_tldrs(now).await?,
            suggested: self.writing.suggest_expansions(now).await?,
        })
    }

    /// The deliver tick: the round (`force`: every active subscriber,
    /// whatever their hour), unconfirmed subscriptions expired, old records
    /// forgotten, then the outbox sent (`retry_waiting`: messages backing
    /// off are tried too). Fails when the round, the expiry or the
    /// forgetting fails; a failed delivery is in the report, beside what
    /// the round queued.
    pub async fn deliver_tick(
        &self,
        now: DateTime<Utc>,
        force: bool,
        retry_waiting: bool,
    ) -> anyhow::Result<DeliverTick> {
        let started = std::time::Instant::now();
        let prepared = self.prepare_briefings(now, force).await?;
        let prepare_time = started.elapsed();
        metrics::round_done(
            metrics::RoundCounts {
                claimed: prepared.examined,
                due: prepared
                    .examined
                    .saturating_sub(prepared.not_due + prepared.already_done),
                composed: prepared.queued,
                failed: prepared.failed,
            },
            prepare_time,
        );
        let expired = self.expire_pending(now).await?;
        self.forget_old(now).await?;
        let started = std::time::Instant::now();
        let delivered = self.deliver(retry_waiting).await;
        Ok(DeliverTick {
            prepared,
            prepare_time,
            expired,
            delivered,
            delivery_time: started.elapsed(),
        })
    }

    /// Retention, once per deliver tick (not per confirmation sent now):
    /// left-out lists older than a week, and the records of settled
    /// messages older than `delivery.keep_messages_days`.
    async fn forget_old(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let now = now.timestamp();
        self.store
            .forget_old_left_out(now - LEFT_OUT_KEPT_DAYS * 86_400)
            .await?;
        let keep_days = self.settings.delivery.keep_messages_days;
        if keep_days > 0 {
            let before = now - i64::from(keep_days) * 86_400;
            let forgotten = self.store.forget_old_messages(before).await?;
            if forgotten > 0 {
                tracing::info!(
                    forgotten,
                    "deleted the records of old messages (delivery.keep_messages_days)"
                );
            }
        }
        Ok(())
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
            stop_after_refusals: delivery.stop_after_refusals as usize,
            clock: || Utc::now().timestamp(),
        };
        let started = std::time::Instant::now();
        let delivered = drain_outbox(&outbox, &self.stopping).await;
        metrics::delivery_took(started.elapsed());
        delivered
    }

    /// Sends one short message to `to` straight away, through the
    /// configured transport, headers and sender as a briefing would have.
    pub async fn send_test(&self, to: &crate::domain::EmailAddress) -> anyhow::Result<()> {
        let base = &self.settings.web.public_url;
        let text = format!(
            "This is a test message from AcademicHub ({base}).\n\nIf you can read it, mail from {} reaches {to}.\n",
            self.sender.from()
        );
        let outgoing = crate::domain::OutgoingMessage {
            recipient: to.clone(),
            subject: "AcademicHub test message".into(),
            body: crate::domain::MessageBody::Plain {
                html: format!(
                    "<!doctype html><html><body><p>{}</p></body></html>",
                    html_escape::encode_text(&text).replace("\n\n", "</p><p>")
                ),
                text,
            },
            message_id: self.links.message_id(),
            unsubscribe_url: None,
        };
        let message = self
            .sender
            .message(outgoing, None)
            .map_err(anyhow::Error::msg)?;
        self.mailer.check().await?;
        self.mailer.send(message).await?;
        Ok(())
    }

    /// Whether the database takes a write now (`/healthz`); the error says
    /// which file or server to check.
    pub async fn check_writable(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        Ok(self.store.check_writable(now.timestamp()).await?)
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

    /// Builds and queues the briefings that are due (see [`Round::run`]).
    pub async fn prepare_briefings(
        &self,
        now: DateTime<Utc>,
        force: bool,
    ) -> anyhow::Result<PrepareReport> {
        self.round.run(now, force).await
    }

    /// A signed link for `subscriber` under `web.public_url`.
    pub fn link_url(
        &self,
        subscriber: &crate::domain::Subscriber,
        link: ReaderLink,
        now: DateTime<Utc>,
    ) -> String {
        self.links.url(subscriber, link, now)
    }
}

/// What a collect tick did.
#[derive(Debug)]
pub struct CollectTick {
    pub collected: CollectReport,
    pub tldrs: TldrReport,
    pub suggested: SuggestReport,
}

/// What a deliver tick did, with how long its two halves took.
#[derive(Debug)]
pub struct DeliverTick {
    pub prepared: PrepareReport,
    pub prepare_time: std::time::Duration,
    /// Unconfirmed subscriptions expired and deleted.
    pub expired: u64,
    /// What was sent; an outage is kept here so that what the round made
    /// is still reported.
    pub delivered: Result<DeliveryReport, DeliveryError>,
    pub delivery_time: std::time::Duration,
}
