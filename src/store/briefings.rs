use std::collections::{HashMap, HashSet};

use sqlx::AssertSqlSafe;

use super::outbox::BodyRow;
use super::{ROWS_PER_INSERT, Result, Store, lists, placeholders};
use crate::domain::{MessageBody, OutgoingMessage};

/// When the round should look at a subscriber next, and why their last
/// briefing could not be made (`None`: it went fine or there was nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextLook {
    pub subscriber_id: i64,
    pub at: i64,
    pub error: Option<String>,
}

/// One paper in a briefing, under the topic that selected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BriefingItem {
    pub paper_id: i64,
    /// The paper's version (arXiv `vN`) as the briefing showed it.
    pub version: Option<u32>,
    pub topic: String,
}

/// A paper a briefing left out for its size cap, under the topic that
/// picked it, with the reader's words that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOutItem {
    pub paper_id: i64,
    pub topic: String,
    pub matched: Vec<String>,
}

/// A subscriber's briefing for one edition (their local date), with the
/// message that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBriefing {
    pub subscriber_id: i64,
    /// `YYYY-MM-DD` in the subscriber's time zone: one briefing per edition.
    pub edition: String,
    pub items: Vec<BriefingItem>,
    /// What the cap left out, best first within each topic.
    pub left_out: Vec<LeftOutItem>,
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

    /// Records one briefing with its papers and outbox message (see
    /// [`Self::store_round`]). Returns `None` when this edition already
    /// exists (another run or instance got there first).
    pub async fn create_briefing(&self, briefing: &NewBriefing, now: i64) -> Result<Option<i64>> {
        let created = self
            .store_round(std::slice::from_ref(briefing), &[], now)
            .await?;
        Ok(created.into_iter().next().flatten())
    }

    /// Writes what the round made of a batch of subscribers in one
    /// transaction, with multi-row inserts: each briefing with its papers
    /// and outbox message (so a briefing is never recorded without its
    /// message, nor queued twice), and when to look at each subscriber
    /// next. Returns each briefing's id, or `None` where that edition
    /// already existed (another run or instance got there first).
    pub async fn store_round(
        &self,
        briefings: &[NewBriefing],
        next_looks: &[NextLook],
        now: i64,
    ) -> Result<Vec<Option<i64>>> {
        let mut tx = self.begin_write().await?;
        let mut ids: HashMap<i64, i64> = HashMap::new();
        for chunk in briefings.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO briefings (subscriber_id, edition, paper_count, created_at, papers)
                 VALUES {} ON CONFLICT (subscriber_id, edition) DO NOTHING
                 RETURNING id, subscriber_id",
                self.values(chunk.len(), 5)
            );
            let mut query = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql));
            for b in chunk {
                let papers = b
                    .items
                    .iter()
                    .map(|i| (i.topic.as_str(), (i.paper_id, i.version)));
                query = query
                    .bind(b.subscriber_id)
                    .bind(&b.edition)
                    .bind(b.items.len() as i64)
                    .bind(now)
                    .bind(lists::pack(papers));
            }
            for (id, subscriber_id) in query.fetch_all(&mut *tx).await? {
                ids.insert(subscriber_id, id);
            }
        }
        let created: Vec<(i64, &NewBriefing)> = briefings
            .iter()
            .filter_map(|b| ids.get(&b.subscriber_id).map(|&id| (id, b)))
            .collect();
        let left_out: Vec<(i64, &NewBriefing)> = created
            .iter()
            .copied()
            .filter(|(_, b)| !b.left_out.is_empty())
            .collect();
        for chunk in left_out.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO briefing_left_out (briefing_id, papers) VALUES {}",
                self.values(chunk.len(), 2)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for &(id, b) in chunk {
                let papers = b
                    .left_out
                    .iter()
                    .map(|i| (i.topic.as_str(), (i.paper_id, &i.matched)));
                query = query.bind(id).bind(lists::pack(papers));
            }
            query.execute(&mut *tx).await?;
        }
        let by_briefing: HashMap<i64, &NewBriefing> = created.iter().copied().collect();
        for chunk in created.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO outbox (briefing_id, subscriber_id, recipient, subject, message_id,
                                     unsubscribe_url, created_at, next_attempt_at, kind, status)
                 SELECT v.*, 'briefing', 'queued' FROM (VALUES {}) AS v
                 RETURNING id, briefing_id",
                self.values(chunk.len(), 8)
            );
            let mut query = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql));
            for &(id, b) in chunk {
                let m = &b.message;
                query = query
                    .bind(id)
                    .bind(b.subscriber_id)
                    .bind(m.recipient.as_str())
                    .bind(&m.subject)
                    .bind(&m.message_id)
                    .bind(m.unsubscribe_url.as_deref())
                    .bind(now)
                    .bind(now);
            }
            let outbox = query.fetch_all(&mut *tx).await?;
            // Bodies are large: fewer per statement.
            for bodies in outbox.chunks(ROWS_PER_INSERT / 10) {
                let sql = format!(
                    "INSERT INTO message_bodies (outbox_id, html, text, encoding) VALUES {}",
                    self.values(bodies.len(), 4)
                );
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for (outbox_id, briefing_id) in bodies {
                    let body = &by_briefing[briefing_id].message.body;
                    let (html, text) = body.parts();
                    query = query
                        .bind(outbox_id)
                        .bind(html)
                        .bind(text)
                        .bind(body.encoding());
                }
                query.execute(&mut *tx).await?;
            }
        }
        for chunk in next_looks.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "WITH v (id, next_due_at, round_error) AS (VALUES {})
                 UPDATE subscribers SET next_due_at = v.next_due_at, round_error = v.round_error
                 FROM v WHERE subscribers.id = v.id",
                self.values(chunk.len(), 3)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for look in chunk {
                query = query
                    .bind(look.subscriber_id)
                    .bind(look.at)
                    .bind(look.error.as_deref());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(briefings
            .iter()
            .map(|b| ids.get(&b.subscriber_id).copied())
            .collect())
    }

    /// Which of these subscribers already have a briefing made since
    /// `since`, by edition: the round skips an edition that exists.
    pub async fn editions_since(
        &self,
        subscribers: &[i64],
        since: i64,
    ) -> Result<HashSet<(i64, String)>> {
        let mut out = HashSet::new();
        if subscribers.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT subscriber_id, edition FROM briefings
             WHERE subscriber_id IN ({}) AND created_at >= $1",
            placeholders(2, subscribers.len())
        );
        let mut query = sqlx::query_as(AssertSqlSafe(sql)).bind(since);
        for id in subscribers {
            query = query.bind(id);
        }
        out.extend(query.fetch_all(&self.pool).await?);
        Ok(out)
    }

    /// Which of these subscribers have never had a briefing made.
    pub async fn never_briefed(&self, subscribers: &[i64]) -> Result<HashSet<i64>> {
        if subscribers.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT s.id FROM subscribers s WHERE s.id IN ({})
             AND NOT EXISTS (SELECT 1 FROM briefings b WHERE b.subscriber_id = s.id)",
            placeholders(1, subscribers.len())
        );
        let mut query = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql));
        for id in subscribers {
            query = query.bind(id);
        }
        Ok(query.fetch_all(&self.pool).await?.into_iter().collect())
    }

    /// The HTML of this subscriber's briefing for `edition`, as it was made
    /// for the mail.
    pub async fn briefing_html(&self, subscriber_id: i64, edition: &str) -> Result<Option<String>> {
        sqlx::query_as::<_, BodyRow>(
            "SELECT m.html, m.text, m.encoding FROM briefings b JOIN outbox o ON o.briefing_id = b.id
             JOIN message_bodies m ON m.outbox_id = o.id
             WHERE b.subscriber_id = $1 AND b.edition = $2",
        )
        .bind(subscriber_id)
        .bind(edition)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| Ok(MessageBody::try_from(row)?.html().into_owned()))
        .transpose()
    }

    /// Each briefing this subscriber received: edition, and the papers in it
    /// (key and title), oldest first. For "download my data".
    pub async fn briefings_of(
        &self,
        subscriber_id: i64,
    ) -> Result<Vec<(String, Vec<(String, String)>)>> {
        let editions: Vec<String> = sqlx::query_scalar(
            "SELECT edition FROM briefings WHERE subscriber_id = $1 ORDER BY edition",
        )
        .bind(subscriber_id)
        .fetch_all(&self.pool)
        .await?;
        let sql = format!(
            "SELECT b.edition, p.paper_key, p.title FROM briefings b, {}
             WHERE b.subscriber_id = $1 ORDER BY b.edition, t.key, e.key",
            self.list_papers("b.papers")
        );
        let papers: Vec<(String, String, String)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(subscriber_id)
            .fetch_all(&self.pool)
            .await?;
        let mut by_edition: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (edition, key, title) in papers {
            by_edition.entry(edition).or_default().push((key, title));
        }
        Ok(editions
            .into_iter()
            .map(|edition| {
                let papers = by_edition.remove(&edition).unwrap_or_default();
                (edition, papers)
            })
            .collect())
    }
}
