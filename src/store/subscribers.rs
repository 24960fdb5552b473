//! The subscriber row (`subscribers`): adding subscribers as an operator
//! (one, or many in an import) and reading them back with their topics for
//! the round, the pages and the CLI. How a reader's own subscription
//! changes is `subscriptions.rs`.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::subscriptions::{EventOrigin, record_event};
use super::topics::upsert_topic;
use super::{Backend, Result, Store, StoreError, Tx};
use crate::domain::{Cadence, EmailAddress, NewSubscriber, Subscriber, SubscriptionStatus, Topic};

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
}

/// Returns the new subscriber's id and link nonce.
pub(super) async fn insert_subscriber(
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

pub(super) fn parse_status(id: i64, status: &str) -> Result<SubscriptionStatus> {
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
