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
}

impl Store {
    /// Every change of this subscription, oldest first.
    pub async fn subscriber_events(&self, subscriber_id: i64) -> Result<Vec<SubscriberEvent>> {
        Ok(sqlx::query_as(
            "SELECT kind, source, ip, user_agent, at FROM subscriber_events
             WHERE subscriber_id = $1 ORDER BY at, id",
        )
        .bind(subscriber_id)
        .fetch_all(&self.pool)
        .await?)
    }
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
