use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, from_json, to_json};
use crate::domain::{EmailAddress, NewSubscriber, Subscriber, Topic};

/// One line of `academichub subscribers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberSummary {
    pub email: String,
    pub locale: String,
    pub timezone: String,
    pub send_hour: i64,
    pub status: String,
    pub topics: Vec<String>,
    pub briefings: i64,
}

const ACTIVE: &str = "active";

impl Store {
    /// Creates or updates a subscriber and adds (or replaces, by name) the
    /// given topics, in one transaction. Returns the id and whether the
    /// subscriber is new.
    pub async fn save_subscriber(
        &self,
        subscriber: &NewSubscriber,
        topics: &[Topic],
        now: i64,
    ) -> Result<(i64, bool)> {
        let mut tx = self.begin_write().await?;
        let existing: Option<i64> = sqlx::query("SELECT id FROM subscribers WHERE email = $1")
            .bind(subscriber.email.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("id"))
            .transpose()?;
        let id: i64 = sqlx::query(
            "INSERT INTO subscribers (email, locale, timezone, send_hour, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (email) DO UPDATE SET locale = excluded.locale, timezone = excluded.timezone,
                 send_hour = excluded.send_hour, status = excluded.status
             RETURNING id",
        )
        .bind(subscriber.email.as_str())
        .bind(subscriber.locale.as_str())
        .bind(subscriber.timezone.name())
        .bind(i64::from(subscriber.send_hour))
        .bind(ACTIVE)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for topic in topics {
            sqlx::query(
                "INSERT INTO topics (subscriber_id, name, keywords, categories, exclusions, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (subscriber_id, name) DO UPDATE SET keywords = excluded.keywords,
                     categories = excluded.categories, exclusions = excluded.exclusions",
            )
            .bind(id)
            .bind(topic.name())
            .bind(to_json(topic.keywords()))
            .bind(to_json(topic.categories()))
            .bind(to_json(topic.exclusions()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((id, existing.is_none()))
    }

    pub async fn find_subscriber(&self, email: &EmailAddress) -> Result<Option<Subscriber>> {
        let row = sqlx::query(
            "SELECT id, email, locale, timezone, send_hour FROM subscribers WHERE email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut subscriber = subscriber_from_row(&row)?;
        subscriber.topics = self
            .topics_by_subscriber(Some(subscriber.id))
            .await?
            .remove(&subscriber.id)
            .unwrap_or_default();
        Ok(Some(subscriber))
    }

    /// Everyone who should receive briefings, with their radar.
    pub async fn active_subscribers(&self) -> Result<Vec<Subscriber>> {
        let rows = sqlx::query(
            "SELECT id, email, locale, timezone, send_hour FROM subscribers WHERE status = $1 ORDER BY id",
        )
        .bind(ACTIVE)
        .fetch_all(&self.pool)
        .await?;
        let mut topics = self.topics_by_subscriber(None).await?;
        rows.iter()
            .map(|row| {
                let mut s = subscriber_from_row(row)?;
                s.topics = topics.remove(&s.id).unwrap_or_default();
                Ok(s)
            })
            .collect()
    }

    pub async fn subscriber_summaries(&self) -> Result<Vec<SubscriberSummary>> {
        let rows = sqlx::query(
            "SELECT s.id, s.email, s.locale, s.timezone, s.send_hour, s.status,
                    (SELECT COUNT(*) FROM briefings b WHERE b.subscriber_id = s.id) AS briefings
             FROM subscribers s ORDER BY s.email",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut topics = self.topics_by_subscriber(None).await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                Ok(SubscriberSummary {
                    email: row.try_get("email")?,
                    locale: row.try_get("locale")?,
                    timezone: row.try_get("timezone")?,
                    send_hour: row.try_get("send_hour")?,
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

    async fn topics_by_subscriber(&self, only: Option<i64>) -> Result<HashMap<i64, Vec<Topic>>> {
        let rows = sqlx::query(
            "SELECT subscriber_id, name, keywords, categories, exclusions FROM topics
             WHERE $1 < 0 OR subscriber_id = $1 ORDER BY subscriber_id, id",
        )
        .bind(only.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<i64, Vec<Topic>> = HashMap::new();
        for row in rows {
            let name: String = row.try_get("name")?;
            let topic = Topic::new(
                &name,
                from_json(&row.try_get::<String, _>("keywords")?)?,
                from_json(&row.try_get::<String, _>("categories")?)?,
                from_json(&row.try_get::<String, _>("exclusions")?)?,
            )
            .map_err(|e| StoreError::Corrupt(format!("topic {name:?}: {e}")))?;
            out.entry(row.try_get("subscriber_id")?)
                .or_default()
                .push(topic);
        }
        Ok(out)
    }
}

fn subscriber_from_row(row: &AnyRow) -> Result<Subscriber> {
    let id: i64 = row.try_get("id")?;
    let corrupt = |what: String| StoreError::Corrupt(format!("subscriber {id}: {what}"));
    let email: String = row.try_get("email")?;
    let locale: String = row.try_get("locale")?;
    let timezone: String = row.try_get("timezone")?;
    let send_hour: i64 = row.try_get("send_hour")?;
    Ok(Subscriber {
        id,
        email: EmailAddress::parse(&email).map_err(|e| corrupt(e.to_string()))?,
        locale: locale
            .parse()
            .map_err(|e: crate::domain::LocaleError| corrupt(e.to_string()))?,
        timezone: timezone
            .parse()
            .map_err(|_| corrupt(format!("time zone {timezone:?}")))?,
        send_hour: u32::try_from(send_hour)
            .map_err(|_| corrupt(format!("send hour {send_hour}")))?,
        topics: Vec::new(),
    })
}
