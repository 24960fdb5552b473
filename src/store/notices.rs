//! Mail that is not a briefing (a confirmation, a pointer to one's
//! preferences), queued under a daily limit per mailbox counted in
//! `mailbox_notices`: anyone can type an address into the subscribe form,
//! and this keeps that from filling a stranger's inbox.

use super::events::record_event;
use super::{Result, Store};
use crate::domain::{EventOrigin, OutgoingMessage};

impl Store {
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
        let sent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) AS n FROM mailbox_notices WHERE mailbox = $1 AND at > $2",
        )
        .bind(mailbox)
        .bind(day_ago)
        .fetch_one(&mut *tx)
        .await?;
        if sent >= i64::from(daily_limit) {
            return Ok(false);
        }
        sqlx::query("INSERT INTO mailbox_notices (mailbox, at) VALUES ($1, $2)")
            .bind(mailbox)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let outbox_id: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (subscriber_id, kind, priority, recipient, subject,
                                 message_id, unsubscribe_url, status, next_attempt_at, created_at)
             VALUES ($1, $2, 10, $3, $4, $5, $6, 'queued', $7, $7)
             RETURNING id",
        )
        .bind(subscriber_id)
        .bind(kind)
        .bind(message.recipient.as_str())
        .bind(&message.subject)
        .bind(&message.message_id)
        .bind(message.unsubscribe_url.as_deref())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
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
}
