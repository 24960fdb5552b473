//! Bounces and complaints as they are read (`bounces`), and what they do to
//! a subscription, in one transaction each: the report's row, the change
//! of status, its event with the reason, the mail still queued stopped.
//! A report read twice (a mailbox polled again after a crash, a DSN
//! replayed) finds its row and changes nothing.

use super::events::record_event_why;
use super::subscriptions::{set_status, status_of, stop_queued_mail, suppress};
use super::{Result, Store};
use crate::domain::{BounceOutcome, EventOrigin, ReturnIds, SubscriptionStatus};

/// One report, as the bounce desk classified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceRecord {
    pub outcome: BounceOutcome,
    /// The message and subscriber its return address names, verified;
    /// `None` when it named nobody (or could not be trusted).
    pub target: Option<ReturnIds>,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// What it said, for people: diagnostic, feedback type, or why it was
    /// ignored.
    pub detail: String,
    /// The report's own Message-ID.
    pub report_id: Option<String>,
}

/// Soft bounces that suppress: `limit` messages bounced softly since
/// `since` (the last `days` days).
#[derive(Debug, Clone, Copy)]
pub struct SoftLimit {
    pub limit: u32,
    pub days: u32,
    pub since: i64,
}

/// What recording a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BounceApplied {
    /// The subscriber is now suppressed; the reason as recorded.
    Suppressed { email: String, reason: String },
    /// A soft bounce below the limit: `count` in the window so far.
    Counted { email: String, count: i64 },
    /// A complaint: unsubscribed and suppressed.
    Unsubscribed { email: String, reason: String },
    /// The subscriber was not receiving mail anyway (already suppressed or
    /// unsubscribed): recorded, nothing changed.
    Unchanged {
        email: String,
        status: SubscriptionStatus,
    },
    /// This report was read before: nothing recorded again.
    AlreadyRecorded,
    /// Recorded for the figures; it names no subscriber we hold.
    Logged,
}

/// Who a return address names, for checking its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTarget {
    pub nonce: i64,
    pub email: String,
    /// The address the message was sent to, when the message is still in
    /// the outbox and is this subscriber's.
    pub recipient: Option<String>,
}

/// Reports per day and outcome, for `academichub stats`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BounceCount {
    /// Unix seconds of the day's start (UTC).
    pub day: i64,
    pub outcome: String,
    pub count: i64,
}

impl Store {
    /// The subscriber a return address names, with what verifies it.
    pub async fn return_target(&self, ids: ReturnIds) -> Result<Option<ReturnTarget>> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT link_nonce, email FROM subscribers WHERE id = $1")
                .bind(ids.subscriber)
                .fetch_optional(&self.pool)
                .await?;
        let Some((nonce, email)) = row else {
            return Ok(None);
        };
        let recipient: Option<String> =
            sqlx::query_scalar("SELECT recipient FROM outbox WHERE id = $1 AND subscriber_id = $2")
                .bind(ids.message)
                .bind(ids.subscriber)
                .fetch_optional(&self.pool)
                .await?;
        Ok(Some(ReturnTarget {
            nonce,
            email,
            recipient,
        }))
    }

    /// Records one report and applies the policy to the subscriber it
    /// names: a hard bounce suppresses at once; a soft one suppresses when
    /// it makes `soft.limit` bounced messages since `soft.since`; a
    /// complaint unsubscribes, suppresses, and keeps the address's hash so
    /// that no import or operator adds it back (only the owner's own
    /// confirmed request does).
    pub async fn record_bounce(
        &self,
        record: &BounceRecord,
        soft: SoftLimit,
        now: i64,
    ) -> Result<BounceApplied> {
        let mut tx = self.begin_write().await?;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO bounces (at, outcome, subscriber_id, outbox_id, status, detail, report_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (outbox_id, outcome) WHERE outbox_id IS NOT NULL DO NOTHING
             RETURNING id",
        )
        .bind(now)
        .bind(record.outcome.as_str())
        .bind(record.target.map(|t| t.subscriber))
        .bind(record.target.map(|t| t.message))
        .bind(record.status.as_deref())
        .bind(&record.detail)
        .bind(record.report_id.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            return Ok(BounceApplied::AlreadyRecorded);
        }
        let target = match record.target {
            Some(t)
                if !matches!(
                    record.outcome,
                    BounceOutcome::Ignored | BounceOutcome::Forged | BounceOutcome::Unreadable
                ) =>
            {
                t
            }
            _ => {
                tx.commit().await?;
                return Ok(BounceApplied::Logged);
            }
        };
        let Some((status, _, email)) = status_of(&mut tx, target.subscriber).await? else {
            tx.commit().await?;
            return Ok(BounceApplied::Logged);
        };
        let receiving = matches!(
            status,
            SubscriptionStatus::Active | SubscriptionStatus::Pending
        );
        let code = record.status.as_deref().unwrap_or("no status");
        let applied = match record.outcome {
            BounceOutcome::Hard if receiving => {
                let reason = format!("bounced: {code} {}", record.detail);
                suppress(&mut tx, target.subscriber, &ORIGIN, &reason, BOUNCED, now).await?;
                BounceApplied::Suppressed { email, reason }
            }
            BounceOutcome::Soft if receiving => {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(DISTINCT outbox_id) FROM bounces
                     WHERE subscriber_id = $1 AND outcome = 'soft' AND at >= $2",
                )
                .bind(target.subscriber)
                .bind(soft.since)
                .fetch_one(&mut *tx)
                .await?;
                if count >= i64::from(soft.limit) {
                    let reason = format!(
                        "bounced: {count} soft bounces in {} days, the last {code} {}",
                        soft.days, record.detail
                    );
                    suppress(&mut tx, target.subscriber, &ORIGIN, &reason, BOUNCED, now).await?;
                    BounceApplied::Suppressed { email, reason }
                } else {
                    BounceApplied::Counted { email, count }
                }
            }
            BounceOutcome::Complaint => {
                let reason = format!("complaint: {}", record.detail);
                if status != SubscriptionStatus::Suppressed {
                    set_status(
                        &mut tx,
                        target.subscriber,
                        SubscriptionStatus::Suppressed,
                        now,
                    )
                    .await?;
                }
                record_event_why(
                    &mut tx,
                    target.subscriber,
                    "complained",
                    &ORIGIN,
                    Some(&reason),
                    now,
                )
                .await?;
                stop_queued_mail(
                    &mut tx,
                    target.subscriber,
                    "the reader marked our mail as spam",
                    now,
                )
                .await?;
                self.keep_complaint(&mut tx, &email, now).await?;
                BounceApplied::Unsubscribed { email, reason }
            }
            _ => BounceApplied::Unchanged { email, status },
        };
        tx.commit().await?;
        Ok(applied)
    }

    /// Reports per day (UTC) and outcome since `since`, oldest first.
    pub async fn bounce_counts(&self, since: i64) -> Result<Vec<BounceCount>> {
        Ok(sqlx::query_as(
            "SELECT at - at % 86400 AS day, outcome, COUNT(*) AS count FROM bounces
             WHERE at >= $1 GROUP BY at - at % 86400, outcome ORDER BY day, outcome",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Messages sent per day (UTC) since `since`, oldest first.
    pub async fn sent_counts(&self, since: i64) -> Result<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT sent_at - sent_at % 86400 AS day, COUNT(*) AS count FROM outbox
             WHERE status = 'sent' AND sent_at >= $1
             GROUP BY sent_at - sent_at % 86400 ORDER BY day",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Why a bounced address's queued mail is not sent.
const BOUNCED: &str = "the address bounced";

const ORIGIN: EventOrigin = EventOrigin {
    source: "bounce",
    ip: None,
    user_agent: None,
};
