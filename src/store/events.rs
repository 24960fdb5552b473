//! The proof of consent: every change of a subscription is an event row
//! (`subscriber_events`) saying when, how and from where, written in the
//! transaction that makes the change. Its own file because every job that
//! changes a subscription (confirming, unsubscribing, importing, a
//! bounce, deletion) records one.

use super::{Result, Store, Tx};
use crate::domain::EventOrigin;

/// One recorded change of a subscription.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct SubscriberEvent {
    pub kind: String,
    pub source: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: i64,
    /// Why, where the event has a reason of its own (a bounce's status).
    pub detail: Option<String>,
}

impl Store {
    /// Every change of this subscription, oldest first.
    pub async fn subscriber_events(&self, subscriber_id: i64) -> Result<Vec<SubscriberEvent>> {
        Ok(sqlx::query_as(
            "SELECT kind, source, ip, user_agent, at, detail FROM subscriber_events
             WHERE subscriber_id = $1 ORDER BY at, id",
        )
        .bind(subscriber_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The reason recorded with this subscriber's latest event of one of
/// `kinds`, if it has one.
pub(super) async fn last_reason(
    tx: &mut Tx,
    subscriber_id: i64,
    kinds: &[&str],
) -> Result<Option<String>> {
    let sql = format!(
        "SELECT detail FROM subscriber_events
         WHERE subscriber_id = $1 AND kind IN ({})
         ORDER BY at DESC, id DESC LIMIT 1",
        super::placeholders(2, kinds.len())
    );
    let mut query =
        sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql)).bind(subscriber_id);
    for kind in kinds {
        query = query.bind(*kind);
    }
    Ok(query.fetch_optional(&mut **tx).await?.flatten())
}

pub(super) async fn record_event(
    tx: &mut Tx,
    subscriber_id: i64,
    kind: &str,
    origin: &EventOrigin,
    now: i64,
) -> Result<()> {
    record_event_why(tx, subscriber_id, kind, origin, None, now).await
}

/// [`record_event`] with the reason for it.
pub(super) async fn record_event_why(
    tx: &mut Tx,
    subscriber_id: i64,
    kind: &str,
    origin: &EventOrigin,
    detail: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscriber_events (subscriber_id, kind, source, ip, user_agent, at, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(subscriber_id)
    .bind(kind)
    .bind(origin.source)
    .bind(origin.ip.as_deref())
    .bind(origin.user_agent.as_deref())
    .bind(now)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
