//! What `academichub stats` counts for one day, across tables: read-only
//! counts between two instants (a day in the operator's time zone), each
//! one statement that both backends run.

use super::{Result, Store};

/// Messages settled or deferred between two instants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct MessageCounts {
    pub sent: i64,
    /// Deferred by the server at least once (tried again later).
    pub deferred: i64,
    /// Refused for good, given up, or stopped (unsubscribed, suppressed).
    pub failed: i64,
    /// Briefings that waited past their usefulness.
    pub expired: i64,
}

/// The round's state now, over active subscribers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct RoundBacklog {
    pub active: i64,
    /// Due now and not yet looked at (their hour has come).
    pub waiting: i64,
    /// Whose last briefing could not be made (`subscribers --show` says why).
    pub failing: i64,
}

impl Store {
    pub async fn message_counts(&self, from: i64, until: i64) -> Result<MessageCounts> {
        Ok(sqlx::query_as(
            "SELECT
                 CAST(COALESCE(SUM(CASE WHEN status = 'sent' AND sent_at >= $1 AND sent_at < $2
                                        THEN 1 ELSE 0 END), 0) AS BIGINT) AS sent,
                 CAST(COALESCE(SUM(CASE WHEN deferred_at >= $1 AND deferred_at < $2
                                        THEN 1 ELSE 0 END), 0) AS BIGINT) AS deferred,
                 CAST(COALESCE(SUM(CASE WHEN status = 'failed' AND settled_at >= $1 AND settled_at < $2
                                        THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed,
                 CAST(COALESCE(SUM(CASE WHEN status = 'expired' AND settled_at >= $1 AND settled_at < $2
                                        THEN 1 ELSE 0 END), 0) AS BIGINT) AS expired
             FROM outbox
             WHERE (sent_at >= $1 AND sent_at < $2) OR (deferred_at >= $1 AND deferred_at < $2)
                OR (settled_at >= $1 AND settled_at < $2)",
        )
        .bind(from)
        .bind(until)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Briefings made between two instants.
    pub async fn briefings_made(&self, from: i64, until: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM briefings WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(until)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn round_backlog(&self, now: i64) -> Result<RoundBacklog> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*) AS active,
                 CAST(COALESCE(SUM(CASE WHEN next_due_at <= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS waiting,
                 CAST(COALESCE(SUM(CASE WHEN round_error IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS failing
             FROM subscribers WHERE status = 'active'",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Subscription events by kind (`confirmed`, `unsubscribed`,
    /// `suppressed`, `complained`, …) between two instants.
    pub async fn event_counts(&self, from: i64, until: i64) -> Result<Vec<(String, i64)>> {
        self.counts_between(
            "SELECT kind, COUNT(*) AS n FROM subscriber_events
             WHERE at >= $1 AND at < $2 GROUP BY kind ORDER BY kind",
            from,
            until,
        )
        .await
    }

    /// Returned reports by outcome between two instants.
    pub async fn report_counts(&self, from: i64, until: i64) -> Result<Vec<(String, i64)>> {
        self.counts_between(
            "SELECT outcome, COUNT(*) AS n FROM bounces
             WHERE at >= $1 AND at < $2 GROUP BY outcome ORDER BY outcome",
            from,
            until,
        )
        .await
    }

    /// `(name, count)` rows of `sql`, whose `$1` and `$2` are the instants.
    async fn counts_between(
        &self,
        sql: &'static str,
        from: i64,
        until: i64,
    ) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(sql)
            .bind(from)
            .bind(until)
            .fetch_all(&self.pool)
            .await?)
    }
}
