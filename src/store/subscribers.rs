//! Subscribers, their radar topics, and the life of a subscription:
//! `pending` → `active` → `unsubscribed` (or `suppressed`), each change
//! written together with an event row that says when, how and from where
//! (the proof of consent), in one transaction.

use std::collections::{HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Backend, OutgoingMessage, Result, Store, StoreError};
use crate::domain::{
    Cadence, EmailAddress, NewSubscriber, Preferences, Query, Subscriber, SubscriptionStatus,
    Topic, Verdict,
};

/// One line of `academichub subscribers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberSummary {
    pub email: String,
    pub locale: String,
    pub timezone: String,
    pub send_hour: i64,
    pub cadence: String,
    pub status: String,
    pub topics: Vec<String>,
    pub briefings: i64,
}

/// Where a change to a subscription came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOrigin {
    /// `web`, `api`, `one-click`, `cli`, `expiry`, …
    pub source: &'static str,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl EventOrigin {
    pub fn cli() -> Self {
        Self {
            source: "cli",
            ip: None,
            user_agent: None,
        }
    }
}

/// One recorded change of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubscriberEvent {
    pub kind: String,
    pub source: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: i64,
}

/// One "more / less like this", with the paper it is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedbackEntry {
    pub paper_key: String,
    pub title: String,
    pub verdict: String,
    pub at: i64,
}

/// What `request_subscription` found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionRequest {
    pub subscriber_id: i64,
    /// The request the confirmation link applies; `None` for an active
    /// subscriber.
    pub request_id: Option<i64>,
    /// The status before the request: `Active` means nothing was changed
    /// and the reader should be pointed to their preferences instead.
    pub was: Option<SubscriptionStatus>,
}

/// The outcome of a confirmation link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Confirmed,
    AlreadyActive,
    /// Unsubscribed or suppressed after the link was sent: it no longer
    /// confirms anything; a new request is needed.
    Stale,
}

/// The columns `subscriber_from_row` reads.
const SUBSCRIBER_COLUMNS: &str = "id, email, status, locale, timezone, send_hour, cadence, max_per_topic, paused_until, link_nonce";

impl Store {
    /// An operator adds a subscriber, or adds (or replaces, by name) topics
    /// of one, in one transaction. A new subscriber is active at once (the
    /// operator vouches for consent); an existing one keeps their status, so
    /// the CLI cannot resubscribe someone who left. Returns the id and
    /// whether the subscriber is new; refuses an address whose owner had
    /// their data deleted.
    pub async fn save_subscriber(
        &self,
        subscriber: &NewSubscriber,
        topics: &[Topic],
        now: i64,
    ) -> Result<(i64, bool)> {
        let mut tx = self.begin_write().await?;
        if self.is_suppressed(&mut tx, &subscriber.email).await? {
            return Err(StoreError::Refused(format!(
                "{} asked for their data to be deleted; they can subscribe again on the subscribe page",
                subscriber.email
            )));
        }
        let existing: Option<i64> = sqlx::query("SELECT id FROM subscribers WHERE email = $1")
            .bind(subscriber.email.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?;
        let id: i64 = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE subscribers SET locale = $1, timezone = $2, send_hour = $3, next_due_at = 0 WHERE id = $4",
                )
                .bind(subscriber.locale.as_str())
                .bind(subscriber.timezone.name())
                .bind(i64::from(subscriber.send_hour))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                let (id, _) =
                    insert_subscriber(&mut tx, subscriber, SubscriptionStatus::Active, now).await?;
                record_event(&mut tx, id, "subscribed", &EventOrigin::cli(), now).await?;
                id
            }
        };
        for topic in topics {
            upsert_topic(&mut tx, id, topic, now).await?;
        }
        tx.commit().await?;
        Ok((id, existing.is_none()))
    }

    /// A reader asks to subscribe (or to subscribe again), and the request
    /// is recorded with its origin. A new address becomes a `pending`
    /// subscriber with the radar and schedule asked for. For an address we
    /// hold that is not active, the request is kept beside the stored
    /// subscriber, which stays exactly as it was until the link mailed for
    /// this request is confirmed: whoever typed the address may not be its
    /// owner. An active subscriber is left as they are.
    pub async fn request_subscription(
        &self,
        subscriber: &NewSubscriber,
        topics: &[Topic],
        origin: &EventOrigin,
        now: i64,
    ) -> Result<SubscriptionRequest> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT id, status FROM subscribers WHERE email = $1")
            .bind(subscriber.email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let (subscriber_id, was) = match row {
            None => {
                let (id, _) =
                    insert_subscriber(&mut tx, subscriber, SubscriptionStatus::Pending, now)
                        .await?;
                replace_topics(&mut tx, id, topics, now).await?;
                (id, None)
            }
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                (
                    id,
                    Some(parse_status(id, &row.try_get::<String, _>("status")?)?),
                )
            }
        };
        let request_id = if was == Some(SubscriptionStatus::Active) {
            None
        } else {
            Some(insert_request(&mut tx, subscriber_id, subscriber, topics, now).await?)
        };
        record_event(&mut tx, subscriber_id, "requested", origin, now).await?;
        tx.commit().await?;
        Ok(SubscriptionRequest {
            subscriber_id,
            request_id,
            was,
        })
    }

    /// Queues a mail that is not a briefing (a confirmation, a pointer to
    /// one's preferences) unless its mailbox (`EmailAddress::mailbox`: all
    /// sub-addresses of one inbox together) already received `daily_limit`
    /// such mails in the last 24 hours, counted in the database so that a
    /// restart or a second daemon does not reset it. The count and the
    /// insert are one transaction holding a lock on the mailbox, so
    /// concurrent requests cannot both slip under the limit. Returns
    /// whether the mail was queued.
    pub async fn enqueue_notice(
        &self,
        subscriber_id: i64,
        mailbox: &str,
        kind: &'static str,
        message: &OutgoingMessage,
        daily_limit: u32,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if self.backend == super::Backend::Postgres {
            // SQLite's BEGIN IMMEDIATE already serialises writers.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(mailbox)
                .execute(&mut *tx)
                .await?;
        }
        let day_ago = now - 24 * 3600;
        let sent: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM mailbox_notices WHERE mailbox = $1 AND at > $2")
                .bind(mailbox)
                .bind(day_ago)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if sent >= i64::from(daily_limit) {
            return Ok(false);
        }
        sqlx::query("INSERT INTO mailbox_notices (mailbox, at) VALUES ($1, $2)")
            .bind(mailbox)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let outbox_id: i64 = sqlx::query(
            "INSERT INTO outbox (subscriber_id, kind, priority, recipient, subject,
                                 message_id, unsubscribe_url, status, next_attempt_at, created_at)
             VALUES ($1, $2, 10, $3, $4, $5, $6, 'queued', $7, $7)
             RETURNING id",
        )
        .bind(subscriber_id)
        .bind(kind)
        .bind(&message.recipient)
        .bind(&message.subject)
        .bind(&message.message_id)
        .bind(message.unsubscribe_url.as_deref())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let (html, text) = message.body.parts();
        sqlx::query(
            "INSERT INTO message_bodies (outbox_id, html, text, encoding) VALUES ($1, $2, $3, $4)",
        )
        .bind(outbox_id)
        .bind(html)
        .bind(text)
        .bind(message.body.encoding())
        .execute(&mut *tx)
        .await?;
        let origin = EventOrigin {
            source: "outbox",
            ip: None,
            user_agent: None,
        };
        record_event(
            &mut tx,
            subscriber_id,
            &format!("mailed:{kind}"),
            &origin,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A reader confirms their subscription (idempotent). With a request
    /// (links mailed since requests were kept), the request's radar,
    /// language and schedule become the subscriber's, provided nothing
    /// changed the subscription's status after the request was made;
    /// without one (a link from an import), only a pending subscription
    /// whose status has not changed since the link was issued is confirmed.
    /// The history of earlier consent and opt-out stays.
    pub async fn confirm_subscription(
        &self,
        subscriber_id: i64,
        request_id: Option<i64>,
        link_issued_at: i64,
        origin: &EventOrigin,
        now: i64,
    ) -> Result<ConfirmOutcome> {
        let mut tx = self.begin_write().await?;
        let Some((status, changed_at, email)) = status_of(&mut tx, subscriber_id).await? else {
            return Ok(ConfirmOutcome::Stale);
        };
        if status == SubscriptionStatus::Active {
            return Ok(ConfirmOutcome::AlreadyActive);
        }
        let confirmable = match request_id {
            Some(request_id) => {
                apply_request(&mut tx, subscriber_id, request_id, changed_at, now).await?
            }
            None => status == SubscriptionStatus::Pending && link_issued_at >= changed_at,
        };
        if !confirmable {
            return Ok(ConfirmOutcome::Stale);
        }
        set_status(&mut tx, subscriber_id, SubscriptionStatus::Active, now).await?;
        record_event(&mut tx, subscriber_id, "confirmed", origin, now).await?;
        sqlx::query("DELETE FROM subscription_requests WHERE subscriber_id = $1")
            .bind(subscriber_id)
            .execute(&mut *tx)
            .await?;
        // They asked again, so an earlier "delete my data" no longer holds.
        let [keyed, unkeyed] = self.suppression_key.hashes(&email);
        sqlx::query("DELETE FROM suppressions WHERE email_hash IN ($1, $2)")
            .bind(keyed)
            .bind(unkeyed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ConfirmOutcome::Confirmed)
    }

    /// Stops the briefings. Returns whether anything changed (a second
    /// click changes nothing).
    pub async fn unsubscribe(
        &self,
        subscriber_id: i64,
        origin: &EventOrigin,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = match status_of(&mut tx, subscriber_id).await? {
            Some((SubscriptionStatus::Active | SubscriptionStatus::Pending, _, _)) => {
                set_status(
                    &mut tx,
                    subscriber_id,
                    SubscriptionStatus::Unsubscribed,
                    now,
                )
                .await?;
                record_event(&mut tx, subscriber_id, "unsubscribed", origin, now).await?;
                // A queued briefing is not sent after the reader said stop.
                stop_queued_mail(&mut tx, subscriber_id, "unsubscribed before sending").await?;
                true
            }
            _ => false,
        };
        tx.commit().await?;
        Ok(changed)
    }

    /// "Undo" on the page that confirms an unsubscribe: the same reader,
    /// holding the same link, takes it back. Returns whether it changed
    /// anything.
    pub async fn undo_unsubscribe(
        &self,
        subscriber_id: i64,
        origin: &EventOrigin,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = match status_of(&mut tx, subscriber_id).await? {
            Some((SubscriptionStatus::Unsubscribed, _, _)) => {
                set_status(&mut tx, subscriber_id, SubscriptionStatus::Active, now).await?;
                record_event(&mut tx, subscriber_id, "resubscribed", origin, now).await?;
                true
            }
            _ => false,
        };
        tx.commit().await?;
        Ok(changed)
    }

    /// Saves what the reader set on their preferences page, replacing their
    /// topics, in one transaction.
    pub async fn save_preferences(
        &self,
        subscriber_id: i64,
        preferences: &Preferences,
        origin: &EventOrigin,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE subscribers SET locale = $1, timezone = $2, send_hour = $3, cadence = $4,
                 max_per_topic = $5, paused_until = $6, next_due_at = 0
             WHERE id = $7",
        )
        .bind(preferences.locale.as_str())
        .bind(preferences.timezone.name())
        .bind(i64::from(preferences.send_hour))
        .bind(preferences.cadence.to_string())
        .bind(preferences.max_per_topic.map(i64::from))
        .bind(preferences.paused_until.map(|d| d.to_string()))
        .bind(subscriber_id)
        .execute(&mut *tx)
        .await?;
        replace_topics(&mut tx, subscriber_id, &preferences.topics, now).await?;
        record_event(&mut tx, subscriber_id, "preferences", origin, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Keeps the reader's latest verdict on a paper. Returns `false` when
    /// the paper is not (any longer) stored.
    pub async fn record_feedback(
        &self,
        subscriber_id: i64,
        paper_id: i64,
        verdict: Verdict,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let known = sqlx::query("SELECT 1 AS one FROM papers WHERE id = $1")
            .bind(paper_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if known {
            sqlx::query(
                "INSERT INTO feedback (subscriber_id, paper_id, verdict, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET verdict = excluded.verdict, at = excluded.at",
            )
            .bind(subscriber_id)
            .bind(paper_id)
            .bind(verdict.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(known)
    }

    /// Forgets the reader's verdict on a paper (their "undo").
    pub async fn forget_feedback(&self, subscriber_id: i64, paper_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM feedback WHERE subscriber_id = $1 AND paper_id = $2")
            .bind(subscriber_id)
            .bind(paper_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes everything stored about a subscriber (topics, events,
    /// feedback, briefings, queued mail) and keeps only a hash of the
    /// address, so it is not mailed again without a new confirmation.
    pub async fn delete_subscriber(&self, subscriber_id: i64, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if let Some((_, _, email)) = status_of(&mut tx, subscriber_id).await? {
            sqlx::query(
                "INSERT INTO suppressions (email_hash, reason, at) VALUES ($1, 'deleted', $2)
                 ON CONFLICT (email_hash) DO NOTHING",
            )
            .bind(&self.suppression_key.hashes(&email)[0])
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM subscribers WHERE id = $1")
                .bind(subscriber_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes subscriptions left `pending` since before `cutoff` (addresses
    /// that were never confirmed: nothing else is ever made pending again)
    /// and requests made before it, which no link can confirm any longer;
    /// the per-mailbox counts of notices older than a day go too.
    pub async fn expire_pending(&self, cutoff: i64, now: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM mailbox_notices WHERE at <= $1")
            .bind(now - 24 * 3600)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM subscription_requests WHERE requested_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let expired =
            sqlx::query("DELETE FROM subscribers WHERE status = $1 AND status_changed_at < $2")
                .bind(SubscriptionStatus::Pending.as_str())
                .bind(cutoff)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(expired)
    }

    pub async fn find_subscriber(&self, email: &EmailAddress) -> Result<Option<Subscriber>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email = $1"
        )))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        self.with_topics(row).await
    }

    pub async fn subscriber_by_id(&self, id: i64) -> Result<Option<Subscriber>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        self.with_topics(row).await
    }

    async fn with_topics(&self, row: Option<AnyRow>) -> Result<Option<Subscriber>> {
        let Some(row) = row else { return Ok(None) };
        self.with_topics_each(vec![row])
            .await?
            .pop()
            .map(|(_, subscriber)| subscriber)
            .transpose()
    }

    pub async fn subscriber_summaries(&self) -> Result<Vec<SubscriberSummary>> {
        let rows = sqlx::query(
            "SELECT s.id, s.email, s.locale, s.timezone, s.send_hour, s.cadence, s.status,
                    (SELECT COUNT(*) FROM briefings b WHERE b.subscriber_id = s.id) AS briefings
             FROM subscribers s ORDER BY s.email",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut topics = self.all_topics().await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                Ok(SubscriberSummary {
                    email: row.try_get("email")?,
                    locale: row.try_get("locale")?,
                    timezone: row.try_get("timezone")?,
                    send_hour: row.try_get("send_hour")?,
                    cadence: row.try_get("cadence")?,
                    status: row.try_get("status")?,
                    topics: topics
                        .remove(&id)
                        .unwrap_or_default()
                        .iter()
                        .map(|t| t.name().to_owned())
                        .collect(),
                    briefings: row.try_get("briefings")?,
                })
            })
            .collect()
    }

    /// Every change of this subscription, oldest first.
    pub async fn subscriber_events(&self, subscriber_id: i64) -> Result<Vec<SubscriberEvent>> {
        let rows = sqlx::query(
            "SELECT kind, source, ip, user_agent, at FROM subscriber_events
             WHERE subscriber_id = $1 ORDER BY at, id",
        )
        .bind(subscriber_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SubscriberEvent {
                    kind: r.try_get("kind")?,
                    source: r.try_get("source")?,
                    ip: r.try_get("ip")?,
                    user_agent: r.try_get("user_agent")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// The reader's verdicts, newest first.
    pub async fn feedback_of(&self, subscriber_id: i64) -> Result<Vec<FeedbackEntry>> {
        let rows = sqlx::query(
            "SELECT p.paper_key, p.title, f.verdict, f.at FROM feedback f
             JOIN papers p ON p.id = f.paper_id
             WHERE f.subscriber_id = $1 ORDER BY f.at DESC, p.id",
        )
        .bind(subscriber_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FeedbackEntry {
                    paper_key: r.try_get("paper_key")?,
                    title: r.try_get("title")?,
                    verdict: r.try_get("verdict")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Adds many subscribers at once (an operator's import), in one
    /// transaction with multi-row inserts: each with their topics and an
    /// event saying they came by `origin`. An address already here is left
    /// as it is. Returns each new subscriber's id, `None` for those already
    /// here. Addresses whose owner had their data deleted must be filtered
    /// out first ([`Self::suppressed_among`]).
    pub async fn import_subscribers(
        &self,
        rows: &[(NewSubscriber, Cadence, Vec<Topic>)],
        status: SubscriptionStatus,
        origin: &EventOrigin,
        now: i64,
    ) -> Result<Vec<Option<i64>>> {
        let mut tx = self.begin_write().await?;
        let mut ids: HashMap<String, i64> = HashMap::new();
        for chunk in rows.chunks(super::ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO subscribers (email, locale, timezone, send_hour, cadence, status,
                                          created_at, status_changed_at, link_nonce)
                 VALUES {} ON CONFLICT (email) DO NOTHING RETURNING id, email",
                self.values(chunk.len(), 9)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (s, cadence, _) in chunk {
                query = query
                    .bind(s.email.as_str())
                    .bind(s.locale.as_str())
                    .bind(s.timezone.name())
                    .bind(i64::from(s.send_hour))
                    .bind(cadence.to_string())
                    .bind(status.as_str())
                    .bind(now)
                    .bind(now)
                    .bind(rand::random_range(1..=i64::from(i32::MAX)));
            }
            for row in query.fetch_all(&mut *tx).await? {
                ids.insert(row.try_get("email")?, row.try_get("id")?);
            }
        }
        let created: Vec<(i64, &Vec<Topic>)> = rows
            .iter()
            .filter_map(|(s, _, topics)| ids.get(s.email.as_str()).map(|&id| (id, topics)))
            .collect();
        let topics: Vec<(i64, &Topic)> = created
            .iter()
            .flat_map(|&(id, topics)| topics.iter().map(move |t| (id, t)))
            .collect();
        for chunk in topics.chunks(super::ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO topics (subscriber_id, name, query, created_at) VALUES {}
                 ON CONFLICT (subscriber_id, name) DO UPDATE SET query = excluded.query",
                self.values(chunk.len(), 4)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (id, topic) in chunk {
                query = query
                    .bind(id)
                    .bind(topic.name())
                    .bind(topic.query().to_string())
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        let kind = match status {
            SubscriptionStatus::Active => "subscribed",
            _ => "requested",
        };
        for chunk in created.chunks(super::ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO subscriber_events (subscriber_id, kind, source, ip, user_agent, at)
                 VALUES {}",
                self.values(chunk.len(), 6)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (id, _) in chunk {
                query = query
                    .bind(id)
                    .bind(kind)
                    .bind(origin.source)
                    .bind(origin.ip.as_deref())
                    .bind(origin.user_agent.as_deref())
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|(s, _, _)| ids.get(s.email.as_str()).copied())
            .collect())
    }

    /// When the round looks at this subscriber next, and why their last
    /// briefing could not be made, if it could not.
    pub async fn round_state(&self, subscriber_id: i64) -> Result<(i64, Option<String>)> {
        let row = sqlx::query("SELECT next_due_at, round_error FROM subscribers WHERE id = $1")
            .bind(subscriber_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("next_due_at")?, row.try_get("round_error")?))
    }

    /// Which of these addresses belong to people who had their data
    /// deleted: they are not added again without their own confirmation.
    pub async fn suppressed_among(&self, emails: &[&EmailAddress]) -> Result<HashSet<String>> {
        let hashes: HashMap<String, &EmailAddress> = emails
            .iter()
            .flat_map(|e| self.suppression_key.hashes(e.as_str()).map(|h| (h, *e)))
            .collect();
        let mut out = HashSet::new();
        let all: Vec<&String> = hashes.keys().collect();
        for chunk in all.chunks(1000) {
            let sql = format!(
                "SELECT email_hash FROM suppressions WHERE email_hash IN ({})",
                super::placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for hash in chunk {
                query = query.bind(hash.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                let hash: String = row.try_get("email_hash")?;
                if let Some(email) = hashes.get(&hash) {
                    out.insert(email.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Whether the address is kept as one not to mail (its owner deleted
    /// their data), under either of its hashes.
    async fn is_suppressed(&self, tx: &mut Tx, email: &EmailAddress) -> Result<bool> {
        let [keyed, unkeyed] = self.suppression_key.hashes(email.as_str());
        Ok(
            sqlx::query("SELECT 1 AS one FROM suppressions WHERE email_hash IN ($1, $2)")
                .bind(keyed)
                .bind(unkeyed)
                .fetch_optional(&mut **tx)
                .await?
                .is_some(),
        )
    }

    /// Claims up to `limit` active subscribers whose `next_due_at` has come,
    /// earliest first, by moving it to `lease_until`: another daemon skips
    /// them (on PostgreSQL rows another holds are skipped, not waited for),
    /// and if this one dies they are due again when the lease passes. Each
    /// comes with their topics, or why their row cannot be read.
    pub async fn claim_due_subscribers(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Result<Subscriber>)>> {
        // SQLite's planner, without statistics, prefers the status index
        // and sorts every active subscriber: it is told which index to use
        // (and the literal 'active' matches the partial index's condition).
        let (index, lock) = match self.backend {
            Backend::Sqlite => (" INDEXED BY subscribers_due", ""),
            Backend::Postgres => ("", " FOR UPDATE SKIP LOCKED"),
        };
        let sql = format!(
            "UPDATE subscribers SET next_due_at = $1 WHERE id IN (
                 SELECT id FROM subscribers{index} WHERE status = 'active' AND next_due_at <= $2
                 ORDER BY next_due_at, id LIMIT $3{lock})
             RETURNING {SUBSCRIBER_COLUMNS}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        self.with_topics_each(rows).await
    }

    /// Up to `limit` active subscribers with an id above `after`, in id
    /// order, whether due or not (a forced round).
    pub async fn active_subscribers_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, Result<Subscriber>)>> {
        // In id order, by the primary key (SQLite would sort the status index).
        let index = match self.backend {
            Backend::Sqlite => " NOT INDEXED",
            Backend::Postgres => "",
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers{index}
             WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.with_topics_each(rows).await
    }

    async fn with_topics_each(&self, rows: Vec<AnyRow>) -> Result<Vec<(i64, Result<Subscriber>)>> {
        let ids = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<Vec<i64>, _>>()?;
        let mut topics = self.topics_of(&ids).await?;
        Ok(ids
            .into_iter()
            .zip(&rows)
            .map(|(id, row)| {
                let subscriber = subscriber_from_row(row).and_then(|mut s| {
                    s.topics = topics.remove(&id).unwrap_or(Ok(Vec::new()))?;
                    Ok(s)
                });
                (id, subscriber)
            })
            .collect())
    }

    /// The distinct queries of active subscribers' topics, as stored (a
    /// query that no longer parses is left out: its subscriber's round
    /// reports it).
    pub async fn active_queries(&self) -> Result<Vec<Query>> {
        let rows = sqlx::query(
            "SELECT DISTINCT t.query FROM topics t
             JOIN subscribers s ON s.id = t.subscriber_id
             WHERE s.status = 'active'",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Ok(query) = Query::parse(&row.try_get::<String, _>("query")?) {
                out.push(query);
            }
        }
        Ok(out)
    }

    /// The topics of these subscribers, each list in the order they were
    /// added, or the first that cannot be read.
    async fn topics_of(&self, ids: &[i64]) -> Result<HashMap<i64, Result<Vec<Topic>>>> {
        let mut out: HashMap<i64, Result<Vec<Topic>>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT subscriber_id, name, query FROM topics
             WHERE subscriber_id IN ({}) ORDER BY subscriber_id, id",
            super::placeholders(1, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        for row in query.fetch_all(&self.pool).await? {
            let id: i64 = row.try_get("subscriber_id")?;
            let name: String = row.try_get("name")?;
            let topic = Topic::parse(&name, &row.try_get::<String, _>("query")?)
                .map_err(|e| StoreError::Corrupt(format!("subscriber {id}: topic {name:?}: {e}")));
            let entry = out.entry(id).or_insert_with(|| Ok(Vec::new()));
            if let Ok(list) = entry {
                match topic {
                    Ok(topic) => list.push(topic),
                    Err(e) => *entry = Err(e),
                }
            }
        }
        Ok(out)
    }

    /// Every subscriber's topics, for the operator's listing.
    async fn all_topics(&self) -> Result<HashMap<i64, Vec<Topic>>> {
        let rows =
            sqlx::query("SELECT subscriber_id, name, query FROM topics ORDER BY subscriber_id, id")
                .fetch_all(&self.pool)
                .await?;
        let mut out: HashMap<i64, Vec<Topic>> = HashMap::new();
        for row in rows {
            let name: String = row.try_get("name")?;
            let topic = Topic::parse(&name, &row.try_get::<String, _>("query")?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.entry(row.try_get("subscriber_id")?)
                .or_default()
                .push(topic);
        }
        Ok(out)
    }
}

pub(super) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Returns the new subscriber's id and link nonce.
async fn insert_subscriber(
    tx: &mut Tx,
    subscriber: &NewSubscriber,
    status: SubscriptionStatus,
    now: i64,
) -> Result<(i64, i64)> {
    let nonce = rand::random_range(1..=i64::from(i32::MAX));
    let id = sqlx::query(
        "INSERT INTO subscribers (email, locale, timezone, send_hour, status, created_at,
                                  status_changed_at, link_nonce)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
         RETURNING id",
    )
    .bind(subscriber.email.as_str())
    .bind(subscriber.locale.as_str())
    .bind(subscriber.timezone.name())
    .bind(i64::from(subscriber.send_hour))
    .bind(status.as_str())
    .bind(now)
    .bind(nonce)
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    Ok((id, nonce))
}

/// Keeps a subscribe request until its link is confirmed; returns its id.
async fn insert_request(
    tx: &mut Tx,
    subscriber_id: i64,
    subscriber: &NewSubscriber,
    topics: &[Topic],
    now: i64,
) -> Result<i64> {
    let topics: Vec<(&str, String)> = topics
        .iter()
        .map(|t| (t.name(), t.query().to_string()))
        .collect();
    let topics = serde_json::to_string(&topics).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(sqlx::query(
        "INSERT INTO subscription_requests
             (subscriber_id, locale, timezone, send_hour, topics, requested_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id",
    )
    .bind(subscriber_id)
    .bind(subscriber.locale.as_str())
    .bind(subscriber.timezone.name())
    .bind(i64::from(subscriber.send_hour))
    .bind(topics)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?)
}

/// Makes a kept request the subscriber's radar, language and schedule.
/// Returns `false` (and changes nothing) when the request is not this
/// subscriber's, is gone, or is older than the subscription's last change
/// of status (they unsubscribed after asking: the link confirms nothing).
async fn apply_request(
    tx: &mut Tx,
    subscriber_id: i64,
    request_id: i64,
    status_changed_at: i64,
    now: i64,
) -> Result<bool> {
    let Some(row) = sqlx::query(
        "SELECT locale, timezone, send_hour, topics FROM subscription_requests
         WHERE id = $1 AND subscriber_id = $2 AND requested_at >= $3",
    )
    .bind(request_id)
    .bind(subscriber_id)
    .bind(status_changed_at)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(false);
    };
    let corrupt =
        |what: String| StoreError::Corrupt(format!("subscription request {request_id}: {what}"));
    let pairs: Vec<(String, String)> = serde_json::from_str(&row.try_get::<String, _>("topics")?)
        .map_err(|e| corrupt(e.to_string()))?;
    let topics = pairs
        .iter()
        .map(|(name, query)| Topic::parse(name, query).map_err(|e| corrupt(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    sqlx::query(
        "UPDATE subscribers SET locale = $1, timezone = $2, send_hour = $3, next_due_at = 0
         WHERE id = $4",
    )
    .bind(row.try_get::<String, _>("locale")?)
    .bind(row.try_get::<String, _>("timezone")?)
    .bind(row.try_get::<i64, _>("send_hour")?)
    .bind(subscriber_id)
    .execute(&mut **tx)
    .await?;
    replace_topics(tx, subscriber_id, &topics, now).await?;
    Ok(true)
}

async fn upsert_topic(tx: &mut Tx, subscriber_id: i64, topic: &Topic, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO topics (subscriber_id, name, query, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (subscriber_id, name) DO UPDATE SET query = excluded.query",
    )
    .bind(subscriber_id)
    .bind(topic.name())
    .bind(topic.query().to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn replace_topics(tx: &mut Tx, subscriber_id: i64, topics: &[Topic], now: i64) -> Result<()> {
    sqlx::query("DELETE FROM topics WHERE subscriber_id = $1")
        .bind(subscriber_id)
        .execute(&mut **tx)
        .await?;
    for topic in topics {
        upsert_topic(tx, subscriber_id, topic, now).await?;
    }
    Ok(())
}

pub(super) async fn record_event(
    tx: &mut Tx,
    subscriber_id: i64,
    kind: &str,
    origin: &EventOrigin,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscriber_events (subscriber_id, kind, source, ip, user_agent, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(subscriber_id)
    .bind(kind)
    .bind(origin.source)
    .bind(origin.ip.as_deref())
    .bind(origin.user_agent.as_deref())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn status_of(
    tx: &mut Tx,
    subscriber_id: i64,
) -> Result<Option<(SubscriptionStatus, i64, String)>> {
    let Some(row) =
        sqlx::query("SELECT status, status_changed_at, email FROM subscribers WHERE id = $1")
            .bind(subscriber_id)
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        parse_status(subscriber_id, &row.try_get::<String, _>("status")?)?,
        row.try_get("status_changed_at")?,
        row.try_get("email")?,
    )))
}

pub(super) async fn set_status(
    tx: &mut Tx,
    subscriber_id: i64,
    status: SubscriptionStatus,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE subscribers SET status = $1, status_changed_at = $2, next_due_at = 0 WHERE id = $3",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(subscriber_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Mail still waiting for this subscriber is not sent after all.
pub(super) async fn stop_queued_mail(tx: &mut Tx, subscriber_id: i64, why: &str) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'failed', last_error = $2
         WHERE subscriber_id = $1 AND status IN ('queued', 'retry')",
    )
    .bind(subscriber_id)
    .bind(why)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn parse_status(id: i64, status: &str) -> Result<SubscriptionStatus> {
    status
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("subscriber {id}: {e}")))
}

fn subscriber_from_row(row: &AnyRow) -> Result<Subscriber> {
    let id: i64 = row.try_get("id")?;
    let corrupt = |what: String| StoreError::Corrupt(format!("subscriber {id}: {what}"));
    let email: String = row.try_get("email")?;
    let locale: String = row.try_get("locale")?;
    let timezone: String = row.try_get("timezone")?;
    let send_hour: i64 = row.try_get("send_hour")?;
    let cadence: String = row.try_get("cadence")?;
    let max_per_topic: Option<i64> = row.try_get("max_per_topic")?;
    let paused_until: Option<String> = row.try_get("paused_until")?;
    Ok(Subscriber {
        id,
        // Checked against the policy of the day when it was stored.
        email: EmailAddress::parse_international(&email).map_err(|e| corrupt(e.to_string()))?,
        status: parse_status(id, &row.try_get::<String, _>("status")?)?,
        locale: locale
            .parse()
            .map_err(|e: crate::domain::LocaleError| corrupt(e.to_string()))?,
        timezone: timezone
            .parse()
            .map_err(|_| corrupt(format!("time zone {timezone:?}")))?,
        send_hour: u32::try_from(send_hour)
            .map_err(|_| corrupt(format!("send hour {send_hour}")))?,
        cadence: cadence.parse().map_err(corrupt)?,
        max_per_topic: max_per_topic
            .map(|n| u32::try_from(n).map_err(|_| corrupt(format!("papers per topic {n}"))))
            .transpose()?,
        paused_until: paused_until
            .map(|d| {
                d.parse()
                    .map_err(|_| corrupt(format!("paused until {d:?}")))
            })
            .transpose()?,
        link_nonce: row.try_get("link_nonce")?,
        topics: Vec::new(),
    })
}
