//! The life of a subscription: `pending` → `active` → `unsubscribed` (or
//! `suppressed`), each change of `subscribers.status` written together with
//! an event row (`subscriber_events`) that says when, how and from where
//! (the proof of consent), in one transaction. A subscribe request for an
//! address we hold waits in `subscription_requests` until its link is
//! confirmed, so whoever typed the address cannot change the subscription.

use super::events::{last_reason, record_event, record_event_why};
use super::subscribers::{insert_subscriber, parse_status};
use super::topics::replace_topics;
use super::{Result, Store, StoreError, Tx};
use crate::domain::{
    ConfirmOutcome, EventOrigin, NewSubscriber, Preferences, SubscriptionStatus, Topic,
};

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

impl Store {
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
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT id, status FROM subscribers WHERE email = $1")
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
            Some((id, status)) => (id, Some(parse_status(id, &status)?)),
        };
        let request_id = if was == Some(SubscriptionStatus::Active) {
            None
        } else {
            Some(insert_request(&mut tx, subscriber_id, subscriber, topics, now).await?)
        };
        // Asking again after a bounce or a spam complaint: the history says
        // why this request, unlike a first one, waits for the owner.
        let why = if was == Some(SubscriptionStatus::Suppressed) {
            let last = last_reason(&mut tx, subscriber_id, &["suppressed", "complained"]).await?;
            Some(format!(
                "suppressed before ({}); mailed again only once this request is confirmed",
                last.as_deref().unwrap_or("no reason recorded")
            ))
        } else {
            None
        };
        record_event_why(
            &mut tx,
            subscriber_id,
            "requested",
            origin,
            why.as_deref(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(SubscriptionRequest {
            subscriber_id,
            request_id,
            was,
        })
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
        self.lift_suppression(&mut tx, &email).await?;
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
                stop_queued_mail(&mut tx, subscriber_id, "unsubscribed before sending", now)
                    .await?;
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
        .bind(i64::from(preferences.send_hour.get()))
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
    Ok(sqlx::query_scalar(
        "INSERT INTO subscription_requests
             (subscriber_id, locale, timezone, send_hour, topics, requested_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id",
    )
    .bind(subscriber_id)
    .bind(subscriber.locale.as_str())
    .bind(subscriber.timezone.name())
    .bind(i64::from(subscriber.send_hour.get()))
    .bind(topics)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}

/// A kept request, as `apply_request` reads it: `topics` is JSON of
/// (name, query) pairs.
#[derive(sqlx::FromRow)]
struct RequestRow {
    locale: String,
    timezone: String,
    send_hour: i64,
    topics: String,
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
    let Some(request) = sqlx::query_as::<_, RequestRow>(
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
    let pairs: Vec<(String, String)> =
        serde_json::from_str(&request.topics).map_err(|e| corrupt(e.to_string()))?;
    let topics = pairs
        .iter()
        .map(|(name, query)| Topic::parse(name, query).map_err(|e| corrupt(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    sqlx::query(
        "UPDATE subscribers SET locale = $1, timezone = $2, send_hour = $3, next_due_at = 0
         WHERE id = $4",
    )
    .bind(request.locale)
    .bind(request.timezone)
    .bind(request.send_hour)
    .bind(subscriber_id)
    .execute(&mut **tx)
    .await?;
    replace_topics(tx, subscriber_id, &topics, now).await?;
    Ok(true)
}

pub(super) async fn status_of(
    tx: &mut Tx,
    subscriber_id: i64,
) -> Result<Option<(SubscriptionStatus, i64, String)>> {
    let row: Option<(String, i64, String)> =
        sqlx::query_as("SELECT status, status_changed_at, email FROM subscribers WHERE id = $1")
            .bind(subscriber_id)
            .fetch_optional(&mut **tx)
            .await?;
    row.map(|(status, changed_at, email)| {
        Ok((parse_status(subscriber_id, &status)?, changed_at, email))
    })
    .transpose()
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

/// The address is not mailed again until its owner confirms anew: the
/// status, the event with its reason, and the mail still queued stopped
/// (`stopped`: why, on those messages). Used by delivery (a refusal) and by
/// bounces alike.
pub(super) async fn suppress(
    tx: &mut Tx,
    subscriber_id: i64,
    origin: &EventOrigin,
    reason: &str,
    stopped: &str,
    now: i64,
) -> Result<()> {
    set_status(tx, subscriber_id, SubscriptionStatus::Suppressed, now).await?;
    record_event_why(tx, subscriber_id, "suppressed", origin, Some(reason), now).await?;
    stop_queued_mail(tx, subscriber_id, stopped, now).await
}

/// Mail still waiting for this subscriber is not sent after all.
pub(super) async fn stop_queued_mail(
    tx: &mut Tx,
    subscriber_id: i64,
    why: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(concat!(
        "UPDATE outbox SET status = 'failed', last_error = $2, settled_at = $3, ",
        settled_forgets!(),
        " WHERE subscriber_id = $1 AND status IN ('queued', 'retry')"
    ))
    .bind(subscriber_id)
    .bind(why)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
