//! Readers' "more / less like this" (`feedback`): the latest verdict per
//! reader and paper. The papers behind the verdicts, which relevance learns
//! from, are read with the papers (`papers.rs`).

use super::{Result, Store};
use crate::domain::Verdict;

/// One "more / less like this", with the paper it is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct FeedbackEntry {
    pub paper_key: String,
    pub title: String,
    pub verdict: String,
    pub at: i64,
}

impl Store {
    /// Keeps the reader's latest verdict on a paper. Returns `false` when
    /// the paper is not (any longer) stored.
    pub async fn record_feedback(
        &self,
        subscriber_id: i64,
        paper_id: i64,
        verdict: Verdict,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let known = sqlx::query("SELECT 1 AS one FROM papers WHERE id = $1")
            .bind(paper_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if known {
            sqlx::query(
                "INSERT INTO feedback (subscriber_id, paper_id, verdict, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (subscriber_id, paper_id) DO UPDATE SET verdict = excluded.verdict, at = excluded.at",
            )
            .bind(subscriber_id)
            .bind(paper_id)
            .bind(verdict.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(known)
    }

    /// Forgets the reader's verdict on a paper (their "undo").
    pub async fn forget_feedback(&self, subscriber_id: i64, paper_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM feedback WHERE subscriber_id = $1 AND paper_id = $2")
            .bind(subscriber_id)
            .bind(paper_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The reader's verdicts, newest first.
    pub async fn feedback_of(&self, subscriber_id: i64) -> Result<Vec<FeedbackEntry>> {
        Ok(sqlx::query_as(
            "SELECT p.paper_key, p.title, f.verdict, f.at FROM feedback f
             JOIN papers p ON p.id = f.paper_id
             WHERE f.subscriber_id = $1 ORDER BY f.at DESC, p.id",
        )
        .bind(subscriber_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
