//! The outbox: every message is a row before it is an SMTP transaction.
//!
//! States: `queued` → `sending` (claimed, with a lease and its token) →
//! `sent`; or `retry` (the server deferred this message: due again at
//! `next_attempt_at`); or `failed` (refused for good, or deferred for longer
//! than we keep trying); or `expired` (a briefing that waited longer than it
//! is useful). A server outage puts the message back to `queued` without
//! counting the attempt.
//!
//! Every outcome is recorded only for the row the worker still holds: the
//! update matches the lease token, so a worker whose lease ran out (it
//! stalled, the process was paused) cannot overwrite the row of the worker
//! that took over. A worker that dies mid-send leaves a `sending` row whose
//! lease expires, so another worker picks it up: delivery is at least once,
//! and exactly once unless a process dies between the SMTP server accepting
//! a message and the row being marked sent.

use std::collections::HashMap;

use sqlx::AssertSqlSafe;

use super::subscriptions::suppress;
use super::{Backend, Result, Store, StoreError};
use crate::domain::{EmailAddress, EventOrigin, MessageBody, OutgoingMessage, ReturnIds};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMessage {
    pub id: i64,
    /// Proves the claim when the outcome is recorded.
    pub lease: String,
    /// Including this one; an outage does not count.
    pub attempts: i64,
    pub created_at: i64,
    pub message: OutgoingMessage,
    /// Who the message's return address names, with the subscriber's link
    /// nonce that signs it; `None` for mail to no subscriber.
    pub returns: Option<(ReturnIds, i64)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub queued: i64,
    pub retry: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub expired: i64,
}

impl OutboxCounts {
    /// Messages that are still to go out.
    pub fn pending(&self) -> i64 {
        self.queued + self.retry + self.sending
    }
}

/// What the sweep before a drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Briefings that waited past their usefulness.
    pub expired: u64,
    /// Deferred messages tried for longer than we keep trying.
    pub given_up: u64,
    /// Messages a worker was sending when it stopped (its lease ran out):
    /// they are sent again, and may arrive twice.
    pub interrupted: u64,
}

/// SQLite is told to read the queue's index in order: without statistics it
/// would take the status index and sort every queued row for each claim.
const CLAIM_SQLITE: &str = "
    UPDATE outbox SET status = 'sending', lease_until = $1, lease_token = $2, attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM outbox INDEXED BY outbox_queue WHERE status = 'queued'
        ORDER BY priority DESC, id LIMIT $3)
    RETURNING id, attempts, created_at, recipient, subject, message_id, unsubscribe_url,
        subscriber_id, (SELECT link_nonce FROM subscribers WHERE subscribers.id = outbox.subscriber_id) AS link_nonce";

/// Same as SQLite's, but concurrent instances skip rows another holds.
const CLAIM_POSTGRES: &str = "
    UPDATE outbox SET status = 'sending', lease_until = $1, lease_token = $2, attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM outbox WHERE status = 'queued' ORDER BY priority DESC, id LIMIT $3
        FOR UPDATE SKIP LOCKED)
    RETURNING id, attempts, created_at, recipient, subject, message_id, unsubscribe_url,
        subscriber_id, (SELECT link_nonce FROM subscribers WHERE subscribers.id = outbox.subscriber_id) AS link_nonce";

impl Store {
    /// Claims up to `limit` queued messages, most urgent first (a
    /// confirmation before briefings), marking them `sending` until
    /// `lease_until` under one fresh lease token. Messages due again after a
    /// deferral, and those whose sender stopped mid-send, are queued again
    /// by [`Self::sweep`]; the claim itself reads the queue's index in order.
    pub async fn claim_messages(
        &self,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedMessage>> {
        let sql = match self.backend {
            Backend::Sqlite => CLAIM_SQLITE,
            Backend::Postgres => CLAIM_POSTGRES,
        };
        let lease = uuid::Uuid::new_v4().simple().to_string();
        let rows: Vec<ClaimedRow> = sqlx::query_as(sql)
            .bind(lease_until)
            .bind(&lease)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut bodies = self.message_bodies(&ids).await?;
        let mut claimed =
            rows.into_iter()
                .map(|row| {
                    let body = bodies.remove(&row.id).ok_or_else(|| {
                        StoreError::Corrupt(format!("outbox message {} has no body", row.id))
                    })?;
                    Ok(ClaimedMessage {
                        id: row.id,
                        lease: lease.clone(),
                        attempts: row.attempts,
                        created_at: row.created_at,
                        message: OutgoingMessage {
                            recipient: EmailAddress::parse_international(&row.recipient).map_err(
                                |e| StoreError::Corrupt(format!("outbox message {}: {e}", row.id)),
                            )?,
                            subject: row.subject,
                            body,
                            message_id: row.message_id,
                            unsubscribe_url: row.unsubscribe_url,
                        },
                        returns: row.subscriber_id.zip(row.link_nonce).map(
                            |(subscriber, nonce)| {
                                (
                                    ReturnIds {
                                        message: row.id,
                                        subscriber,
                                    },
                                    nonce,
                                )
                            },
                        ),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        // RETURNING does not keep the subquery's order.
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn message_bodies(&self, ids: &[i64]) -> Result<HashMap<i64, MessageBody>> {
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT outbox_id, html, text, encoding FROM message_bodies WHERE outbox_id IN ({})",
            super::placeholders(1, ids.len())
        );
        let mut query = sqlx::query_as::<_, StoredBody>(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        for row in query.fetch_all(&self.pool).await? {
            out.insert(row.outbox_id, row.body.try_into()?);
        }
        Ok(out)
    }

    /// Deletes the records of messages made before `before` that are done
    /// with (sent, failed or expired; their bodies went when they were
    /// settled). The briefing and its list of papers stay. Returns how many
    /// were forgotten.
    pub async fn forget_old_messages(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM outbox WHERE created_at < $1 AND status IN ('sent', 'failed', 'expired')",
        )
        .bind(before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Deletes the lists of papers that briefings made before `before`
    /// left out ("N more on this topic"). Briefings are numbered in the
    /// order they are made, so the lists go by a range of the primary key
    /// below the first briefing kept: a few index pages, however many
    /// briefings the database holds.
    pub async fn forget_old_left_out(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM briefing_left_out WHERE briefing_id < COALESCE(
                 (SELECT MIN(id) FROM briefings WHERE created_at >= $1),
                 (SELECT MAX(id) + 1 FROM briefings), 0)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The server took the message. Returns `false` when the lease was lost
    /// (another worker holds the row now) and nothing was recorded.
    pub async fn mark_sent(&self, claim: &ClaimedMessage, now: i64) -> Result<bool> {
        self.settle(
            claim,
            concat!(
                "UPDATE outbox SET status = 'sent', sent_at = $3, last_error = NULL, ",
                settled_forgets!(),
                " WHERE id = $1 AND lease_token = $2 AND status = 'sending'"
            ),
            |q| q.bind(now),
        )
        .await
    }

    /// The server deferred this message at `now`: try again at `next_attempt_at`.
    pub async fn mark_retry(
        &self,
        claim: &ClaimedMessage,
        error: &str,
        now: i64,
        next_attempt_at: i64,
    ) -> Result<bool> {
        self.settle(
            claim,
            "UPDATE outbox SET status = 'retry', next_attempt_at = $3, lease_until = NULL, last_error = $4,
                 deferred_at = $5
             WHERE id = $1 AND lease_token = $2 AND status = 'sending'",
            |q| q.bind(next_attempt_at).bind(error).bind(now),
        )
        .await
    }

    /// The server could not be used at all (down, TLS, AUTH, 421, timeout):
    /// the message goes back to the queue and the attempt does not count.
    pub async fn release_after_outage(&self, claim: &ClaimedMessage, error: &str) -> Result<bool> {
        self.settle(
            claim,
            "UPDATE outbox SET status = 'queued', attempts = attempts - 1, lease_until = NULL,
                 last_error = $3
             WHERE id = $1 AND lease_token = $2 AND status = 'sending'",
            |q| q.bind(error),
        )
        .await
    }

    /// The message is given up (deferred for too long).
    pub async fn mark_failed(&self, claim: &ClaimedMessage, error: &str, now: i64) -> Result<bool> {
        self.settle(
            claim,
            concat!(
                "UPDATE outbox SET status = 'failed', last_error = $3, settled_at = $4, ",
                settled_forgets!(),
                " WHERE id = $1 AND lease_token = $2 AND status = 'sending'"
            ),
            |q| q.bind(error).bind(now),
        )
        .await
    }

    /// The server refused this recipient for good: the message fails, the
    /// subscriber is `suppressed` (not mailed again until they confirm
    /// anew), and their other queued mail is stopped, in one transaction.
    pub async fn mark_rejected(
        &self,
        claim: &ClaimedMessage,
        error: &str,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let subscriber: Option<Option<i64>> = sqlx::query_scalar(concat!(
            "UPDATE outbox SET status = 'failed', last_error = $3, settled_at = $4, ",
            settled_forgets!(),
            " WHERE id = $1 AND lease_token = $2 AND status = 'sending'
             RETURNING subscriber_id"
        ))
        .bind(claim.id)
        .bind(&claim.lease)
        .bind(error)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(subscriber) = subscriber else {
            return Ok(false);
        };
        if let Some(id) = subscriber {
            let origin = EventOrigin {
                source: "delivery",
                ip: None,
                user_agent: None,
            };
            suppress(
                &mut tx,
                id,
                &origin,
                &format!("refused: {error}"),
                "the address was refused by the mail server",
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn settle<'q>(
        &self,
        claim: &'q ClaimedMessage,
        sql: &'static str,
        bind: impl FnOnce(
            sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<bool> {
        let query = bind(sqlx::query(sql).bind(claim.id).bind(&claim.lease));
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }

    /// Before a drain: briefings queued before `expire_before` are expired
    /// (not sent late), messages still deferred that were made before
    /// `give_up_before` are given up, deferred messages due by `now` are
    /// queued again, and messages whose sender stopped mid-send (lease run
    /// out by `now`) are counted and queued again.
    pub async fn sweep(
        &self,
        now: i64,
        expire_before: i64,
        give_up_before: i64,
    ) -> Result<SweepCounts> {
        let expired = sqlx::query(concat!(
            "UPDATE outbox SET status = 'expired', last_error = 'waited longer than a briefing is useful',
                 settled_at = $2, ",
            settled_forgets!(),
            " WHERE kind = 'briefing' AND status IN ('queued', 'retry') AND created_at < $1"
        ))
        .bind(expire_before)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let given_up = sqlx::query(concat!(
            "UPDATE outbox SET status = 'failed',
                 last_error = 'gave up: deferred for too long; last: ' || COALESCE(last_error, ''),
                 settled_at = $2, ",
            settled_forgets!(),
            " WHERE status = 'retry' AND created_at < $1"
        ))
        .bind(give_up_before)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let interrupted: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sending' AND lease_until < $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        sqlx::query(
            "UPDATE outbox SET status = 'queued', lease_until = NULL
             WHERE (status = 'retry' AND next_attempt_at <= $1)
                OR (status = 'sending' AND lease_until < $1)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(SweepCounts {
            expired,
            given_up,
            interrupted: interrupted as u64,
        })
    }

    /// Keeps the claim of a batch (its lease token) until `lease_until`.
    /// Returns `false` when none of it is this claim's any longer (the lease
    /// ran out and another worker took the messages over).
    pub async fn renew_lease(&self, lease: &str, lease_until: i64) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE outbox SET lease_until = $1 WHERE lease_token = $2 AND status = 'sending'",
        )
        .bind(lease_until)
        .bind(lease)
        .execute(&self.pool)
        .await?
        .rows_affected()
            > 0)
    }

    /// Messages claimed by a sender whose lease has not run out: a sender
    /// at work (this daemon's, another's) or one that stopped without
    /// giving them back. Returns how many, and when the last lease runs out
    /// (from then on they are sent again).
    pub async fn parked_messages(&self, now: i64) -> Result<(i64, Option<i64>)> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*) AS n, MAX(lease_until) AS until FROM outbox
             WHERE status = 'sending' AND lease_until >= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Makes every message waiting for a retry due now: an operator's
    /// explicit run does not wait out the backoff.
    pub async fn release_retries(&self, now: i64) -> Result<u64> {
        Ok(sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE status = 'retry' AND next_attempt_at > $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Messages still to go out (queued, backing off, being sent), and when
    /// the oldest of them was queued: what a monitor watches. Read through
    /// the `(status, next_attempt_at)` index, so it stays cheap beside
    /// millions of sent rows.
    pub async fn outbox_waiting(&self) -> Result<(i64, Option<i64>)> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox
             WHERE status IN ('queued', 'retry', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = OutboxCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "queued" => counts.queued = n,
                "retry" => counts.retry = n,
                "sending" => counts.sending = n,
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                "expired" => counts.expired = n,
                _ => {}
            }
        }
        Ok(counts)
    }
}

/// What `claim_messages` reads back from the rows it claimed.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    attempts: i64,
    created_at: i64,
    recipient: String,
    subject: String,
    message_id: String,
    unsubscribe_url: Option<String>,
    subscriber_id: Option<i64>,
    link_nonce: Option<i64>,
}

/// A row of `message_bodies` (`html`, `text`, `encoding`).
#[derive(sqlx::FromRow)]
pub(super) struct BodyRow {
    html: String,
    text: String,
    encoding: String,
}

impl TryFrom<BodyRow> for MessageBody {
    type Error = StoreError;

    fn try_from(row: BodyRow) -> Result<Self> {
        MessageBody::stored(&row.encoding, row.html, row.text).map_err(StoreError::Corrupt)
    }
}

/// A body with the message it belongs to.
#[derive(sqlx::FromRow)]
struct StoredBody {
    outbox_id: i64,
    #[sqlx(flatten)]
    body: BodyRow,
}
