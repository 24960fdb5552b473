//! Readers' radar topics (`topics`): replaced as a whole when a reader saves
//! them, read for many subscribers in one query by the round and the
//! listing, and read as distinct queries by collection.

use std::collections::HashMap;

use sqlx::AssertSqlSafe;

use super::{Result, Store, StoreError, Tx};
use crate::domain::{Query, Topic, TopicError};

/// A row of `topics`.
#[derive(sqlx::FromRow)]
struct TopicRow {
    subscriber_id: i64,
    name: String,
    query: String,
}

impl TopicRow {
    fn topic(&self) -> std::result::Result<Topic, TopicError> {
        Topic::parse(&self.name, &self.query)
    }
}

impl Store {
    /// The distinct queries of active subscribers' topics, as stored (a
    /// query that no longer parses is left out: its subscriber's round
    /// reports it).
    pub async fn active_queries(&self) -> Result<Vec<Query>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT t.query FROM topics t
             JOIN subscribers s ON s.id = t.subscriber_id
             WHERE s.status = 'active'",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(|q| Query::parse(q).ok()).collect())
    }

    /// The topics of these subscribers, each list in the order they were
    /// added, or the first that cannot be read.
    pub(super) async fn topics_of(&self, ids: &[i64]) -> Result<HashMap<i64, Result<Vec<Topic>>>> {
        let mut out: HashMap<i64, Result<Vec<Topic>>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT subscriber_id, name, query FROM topics
             WHERE subscriber_id IN ({}) ORDER BY subscriber_id, id",
            super::placeholders(1, ids.len())
        );
        let mut query = sqlx::query_as::<_, TopicRow>(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        for row in query.fetch_all(&self.pool).await? {
            let (id, name) = (row.subscriber_id, &row.name);
            let topic = row
                .topic()
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
    pub(super) async fn all_topics(&self) -> Result<HashMap<i64, Vec<Topic>>> {
        let rows: Vec<TopicRow> = sqlx::query_as(
            "SELECT subscriber_id, name, query FROM topics ORDER BY subscriber_id, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: HashMap<i64, Vec<Topic>> = HashMap::new();
        for row in rows {
            let topic = row
                .topic()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.entry(row.subscriber_id).or_default().push(topic);
        }
        Ok(out)
    }
}

pub(super) async fn upsert_topic(
    tx: &mut Tx,
    subscriber_id: i64,
    topic: &Topic,
    now: i64,
) -> Result<()> {
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

pub(super) async fn replace_topics(
    tx: &mut Tx,
    subscriber_id: i64,
    topics: &[Topic],
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM topics WHERE subscriber_id = $1")
        .bind(subscriber_id)
        .execute(&mut **tx)
        .await?;
    for topic in topics {
        upsert_topic(tx, subscriber_id, topic, now).await?;
    }
    Ok(())
}
