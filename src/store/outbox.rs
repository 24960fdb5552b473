//! The outbox: every message is a row before it is an SMTP transaction.
//!
//! States: `queued` → `sending` (claimed, with a lease) → `sent`, or
//! `retry` (a transient failure, due again at `next_attempt_at`) or `failed`
//! (permanent, or out of attempts). A worker that dies mid-send leaves a
//! `sending` row whose lease expires, so another worker picks it up: delivery
//! is at least once, and exactly once unless a process dies between the SMTP
//! server accepting a message and the row being marked sent.

use sqlx::Row;

use super::{Backend, Result, Store};

/// What goes on the wire, fixed when the briefing is made so that a retry
/// sends exactly the same message (same Message-ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub recipient: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub message_id: String,
    /// `List-Unsubscribe` target; `None` for mail that is not a briefing
    /// (a confirmation request is not a list message).
    pub unsubscribe_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMessage {
    pub id: i64,
    /// Including this one.
    pub attempts: i64,
    pub message: OutgoingMessage,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub queued: i64,
    pub retry: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

impl OutboxCounts {
    /// Messages that are still to go out.
    pub fn pending(&self) -> i64 {
        self.queued + self.retry + self.sending
    }
}

const CLAIM_SQLITE: &str = "
    UPDATE outbox SET status = 'sending', lease_until = $1, attempts = attempts + 1
    WHERE id = (
        SELECT id FROM outbox
        WHERE status = 'queued'
           OR (status = 'retry' AND next_attempt_at <= $2)
           OR (status = 'sending' AND lease_until < $3)
        ORDER BY priority DESC, id LIMIT 1)
    RETURNING id, attempts, recipient, subject, html, text, message_id, unsubscribe_url";

/// Same as SQLite's, but concurrent instances skip rows another holds.
const CLAIM_POSTGRES: &str = "
    UPDATE outbox SET status = 'sending', lease_until = $1, attempts = attempts + 1
    WHERE id = (
        SELECT id FROM outbox
        WHERE status = 'queued'
           OR (status = 'retry' AND next_attempt_at <= $2)
           OR (status = 'sending' AND lease_until < $3)
        ORDER BY priority DESC, id LIMIT 1
        FOR UPDATE SKIP LOCKED)
    RETURNING id, attempts, recipient, subject, html, text, message_id, unsubscribe_url";

impl Store {
    /// Claims the next message to send, marking it `sending` until
    /// `lease_until`. Messages waiting to be retried are due once
    /// `next_attempt_at <= retry_due_by`.
    pub async fn claim_message(
        &self,
        now: i64,
        lease_until: i64,
        retry_due_by: i64,
    ) -> Result<Option<ClaimedMessage>> {
        let sql = match self.backend {
            Backend::Sqlite => CLAIM_SQLITE,
            Backend::Postgres => CLAIM_POSTGRES,
        };
        let row = sqlx::query(sql)
            .bind(lease_until)
            .bind(retry_due_by)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(ClaimedMessage {
                id: row.try_get("id")?,
                attempts: row.try_get("attempts")?,
                message: OutgoingMessage {
                    recipient: row.try_get("recipient")?,
                    subject: row.try_get("subject")?,
                    html: row.try_get("html")?,
                    text: row.try_get("text")?,
                    message_id: row.try_get("message_id")?,
                    unsubscribe_url: row.try_get("unsubscribe_url")?,
                },
            })
        })
        .transpose()
    }

    pub async fn mark_sent(&self, id: i64, now: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn mark_retry(&self, id: i64, error: &str, next_attempt_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'retry', next_attempt_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3",
        )
        .bind(next_attempt_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn mark_failed(&self, id: i64, error: &str) -> Result<()> {
        sqlx::query("UPDATE outbox SET status = 'failed', lease_until = NULL, last_error = $1 WHERE id = $2")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
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

    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let n: i64 = row.try_get("n")?;
            match row.try_get::<String, _>("status")?.as_str() {
                "queued" => counts.queued = n,
                "retry" => counts.retry = n,
                "sending" => counts.sending = n,
                "sent" => counts.sent = n,
                "failed" => counts.failed = n,
                _ => {}
            }
        }
        Ok(counts)
    }
}
