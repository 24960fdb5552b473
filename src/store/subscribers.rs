//! The subscriber row (`subscribers`): adding subscribers as an operator
//! (one, or many in an import) and reading them back with their topics for
//! the round, the pages and the CLI. How a reader's own subscription
//! changes is `subscriptions.rs`.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, FromRow, Row};

use super::events::record_event;
use super::topics::upsert_topic;
use super::{Backend, Result, Store, StoreError, Tx};
use crate::domain::{
    Cadence, EmailAddress, EventOrigin, NewSubscriber, SendHour, Subscriber, SubscriptionStatus,
    Topic,
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

/// The columns of `SubscriberRow`.
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
        if let Some(reason) = self.suppression_reason(&mut tx, &subscriber.email).await? {
            let what = if reason == "complaint" {
                "marked our mail as spam"
            } else {
                "asked for their data to be deleted"
            };
            return Err(StoreError::Refused(format!(
                "{} {what}; only they can subscribe again, on the subscribe page",
                subscriber.email
            )));
        }
        let existing: Option<i64> =
            sqlx::query_scalar("SELECT id FROM subscribers WHERE email = $1")
                .bind(subscriber.email.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let id: i64 = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE subscribers SET locale = $1, timezone = $2, send_hour = $3, next_due_at = 0 WHERE id = $4",
                )
                .bind(subscriber.locale.as_str())
                .bind(subscriber.timezone.name())
                .bind(i64::from(subscriber.send_hour.get()))
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
        let rows: Vec<SummaryRow> = sqlx::query_as(
            "SELECT s.id, s.email, s.locale, s.timezone, s.send_hour, s.cadence, s.status,
                    (SELECT COUNT(*) FROM briefings b WHERE b.subscriber_id = s.id) AS briefings
             FROM subscribers s ORDER BY s.email",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut topics = self.all_topics().await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let topics = topics.remove(&row.id).unwrap_or_default();
                row.into_summary(&topics)
            })
            .collect())
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
            let mut query = sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql));
            for (s, cadence, _) in chunk {
                query = query
                    .bind(s.email.as_str())
                    .bind(s.locale.as_str())
                    .bind(s.timezone.name())
                    .bind(i64::from(s.send_hour.get()))
                    .bind(cadence.to_string())
                    .bind(status.as_str())
                    .bind(now)
                    .bind(now)
                    .bind(rand::random_range(1..=i64::from(i32::MAX)));
            }
            for (id, email) in query.fetch_all(&mut *tx).await? {
                ids.insert(email, id);
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
        Ok(
            sqlx::query_as("SELECT next_due_at, round_error FROM subscribers WHERE id = $1")
                .bind(subscriber_id)
                .fetch_one(&self.pool)
                .await?,
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

    /// Each row's subscriber with their topics. Rows are read one by one
    /// rather than fetched as `SubscriberRow`s, so that a row that cannot be
    /// read is its subscriber's error and not the whole batch's: only the id
    /// must read.
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
                let subscriber = SubscriberRow::from_row(row)
                    .map_err(StoreError::from)
                    .and_then(Subscriber::try_from)
                    .and_then(|mut s| {
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
    let id = sqlx::query_scalar(
        "INSERT INTO subscribers (email, locale, timezone, send_hour, status, created_at,
                                  status_changed_at, link_nonce)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
         RETURNING id",
    )
    .bind(subscriber.email.as_str())
    .bind(subscriber.locale.as_str())
    .bind(subscriber.timezone.name())
    .bind(i64::from(subscriber.send_hour.get()))
    .bind(status.as_str())
    .bind(now)
    .bind(nonce)
    .fetch_one(&mut **tx)
    .await?;
    Ok((id, nonce))
}

pub(super) fn parse_status(id: i64, status: &str) -> Result<SubscriptionStatus> {
    status
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("subscriber {id}: {e}")))
}

/// A row of `SUBSCRIBER_COLUMNS`; the subscriber without their topics.
#[derive(sqlx::FromRow)]
struct SubscriberRow {
    id: i64,
    email: String,
    status: String,
    locale: String,
    timezone: String,
    send_hour: i64,
    cadence: String,
    max_per_topic: Option<i64>,
    paused_until: Option<String>,
    link_nonce: i64,
}

impl TryFrom<SubscriberRow> for Subscriber {
    type Error = StoreError;

    fn try_from(row: SubscriberRow) -> Result<Self> {
        let id = row.id;
        let corrupt = |what: String| StoreError::Corrupt(format!("subscriber {id}: {what}"));
        Ok(Subscriber {
            id,
            // Checked against the policy of the day when it was stored.
            email: EmailAddress::parse_international(&row.email)
                .map_err(|e| corrupt(e.to_string()))?,
            status: parse_status(id, &row.status)?,
            locale: row
                .locale
                .parse()
                .map_err(|e: crate::domain::LocaleError| corrupt(e.to_string()))?,
            timezone: row
                .timezone
                .parse()
                .map_err(|_| corrupt(format!("time zone {:?}", row.timezone)))?,
            send_hour: u32::try_from(row.send_hour)
                .ok()
                .and_then(|h| SendHour::new(h).ok())
                .ok_or_else(|| corrupt(format!("send hour {}", row.send_hour)))?,
            cadence: row.cadence.parse().map_err(corrupt)?,
            max_per_topic: row
                .max_per_topic
                .map(|n| u32::try_from(n).map_err(|_| corrupt(format!("papers per topic {n}"))))
                .transpose()?,
            paused_until: row
                .paused_until
                .map(|d| {
                    d.parse()
                        .map_err(|_| corrupt(format!("paused until {d:?}")))
                })
                .transpose()?,
            link_nonce: row.link_nonce,
            topics: Vec::new(),
        })
    }
}

/// A line of the operator's listing, before its topics are added.
#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    email: String,
    locale: String,
    timezone: String,
    send_hour: i64,
    cadence: String,
    status: String,
    briefings: i64,
}

impl SummaryRow {
    fn into_summary(self, topics: &[Topic]) -> SubscriberSummary {
        SubscriberSummary {
            email: self.email,
            locale: self.locale,
            timezone: self.timezone,
            send_hour: self.send_hour,
            cadence: self.cadence,
            status: self.status,
            topics: topics.iter().map(|t| t.name().to_owned()).collect(),
            briefings: self.briefings,
        }
    }
}
