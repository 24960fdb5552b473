use sqlx::Row;

use super::{OutgoingMessage, Result, Store};

/// One paper in a briefing, under the topic that selected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BriefingItem {
    pub paper_id: i64,
    /// The paper's version (arXiv `vN`) as the briefing showed it.
    pub version: Option<u32>,
    pub topic: String,
}

/// A subscriber's briefing for one edition (their local date), with the
/// message that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBriefing {
    pub subscriber_id: i64,
    /// `YYYY-MM-DD` in the subscriber's time zone: one briefing per edition.
    pub edition: String,
    pub items: Vec<BriefingItem>,
    pub message: OutgoingMessage,
}

impl Store {
    pub async fn has_briefing(&self, subscriber_id: i64, edition: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM briefings WHERE subscriber_id = $1 AND edition = $2")
                .bind(subscriber_id)
                .bind(edition)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Records the briefing, its papers and its outbox message in one
    /// transaction, so a briefing is never recorded without its message nor
    /// queued twice. Returns `None` when this edition already exists (another
    /// run or instance got there first).
    pub async fn create_briefing(&self, briefing: &NewBriefing, now: i64) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query(
            "INSERT INTO briefings (subscriber_id, edition, paper_count, created_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (subscriber_id, edition) DO NOTHING
             RETURNING id",
        )
        .bind(briefing.subscriber_id)
        .bind(&briefing.edition)
        .bind(briefing.items.len() as i64)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?;
        let Some(id) = id else {
            return Ok(None);
        };
        for (position, item) in briefing.items.iter().enumerate() {
            sqlx::query(
                "INSERT INTO briefing_items (briefing_id, paper_id, version, topic, position)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(item.paper_id)
            .bind(item.version.map(i64::from))
            .bind(&item.topic)
            .bind(position as i64)
            .execute(&mut *tx)
            .await?;
        }
        let m = &briefing.message;
        sqlx::query(
            "INSERT INTO outbox (briefing_id, subscriber_id, kind, recipient, subject, html, text,
                                 message_id, unsubscribe_url, status, next_attempt_at, created_at)
             VALUES ($1, $2, 'briefing', $3, $4, $5, $6, $7, $8, 'queued', $9, $9)",
        )
        .bind(id)
        .bind(briefing.subscriber_id)
        .bind(&m.recipient)
        .bind(&m.subject)
        .bind(&m.html)
        .bind(&m.text)
        .bind(&m.message_id)
        .bind(m.unsubscribe_url.as_deref())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The HTML of this subscriber's briefing for `edition`, as it was made
    /// for the mail.
    pub async fn briefing_html(&self, subscriber_id: i64, edition: &str) -> Result<Option<String>> {
        sqlx::query(
            "SELECT o.html FROM briefings b JOIN outbox o ON o.briefing_id = b.id
             WHERE b.subscriber_id = $1 AND b.edition = $2",
        )
        .bind(subscriber_id)
        .bind(edition)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| Ok(r.try_get("html")?))
        .transpose()
    }

    /// Each briefing this subscriber received: edition, and the papers in it
    /// (key and title), oldest first. For "download my data".
    pub async fn briefings_of(
        &self,
        subscriber_id: i64,
    ) -> Result<Vec<(String, Vec<(String, String)>)>> {
        let rows = sqlx::query(
            "SELECT b.edition, p.paper_key, p.title FROM briefings b
             LEFT JOIN briefing_items bi ON bi.briefing_id = b.id
             LEFT JOIN papers p ON p.id = bi.paper_id
             WHERE b.subscriber_id = $1 ORDER BY b.edition, bi.position",
        )
        .bind(subscriber_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for row in rows {
            let edition: String = row.try_get("edition")?;
            if out.last().is_none_or(|(e, _)| *e != edition) {
                out.push((edition, Vec::new()));
            }
            if let (Some(key), Some(title)) = (
                row.try_get::<Option<String>, _>("paper_key")?,
                row.try_get::<Option<String>, _>("title")?,
            ) {
                out.last_mut().expect("pushed above").1.push((key, title));
            }
        }
        Ok(out)
    }
}
