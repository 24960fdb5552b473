//! Deleting a subscriber's data, and the hashed addresses it (or a spam
//! complaint) leaves behind (`suppressions`) so that the address is not
//! mailed or added again without its owner's new confirmation. No address is kept in the clear
//! here: only hashes, keyed by `settings::SuppressionKey`.

use std::collections::{HashMap, HashSet};

use sqlx::AssertSqlSafe;

use super::subscriptions::status_of;
use super::{Result, Store, Tx};
use crate::domain::EmailAddress;

impl Store {
    /// Deletes everything stored about a subscriber (topics, events,
    /// feedback, briefings, queued mail) and keeps only a hash of the
    /// address, so it is not mailed again without a new confirmation.
    pub async fn delete_subscriber(&self, subscriber_id: i64, now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if let Some((_, _, email)) = status_of(&mut tx, subscriber_id).await? {
            sqlx::query(
                "INSERT INTO suppressions (email_hash, reason, at) VALUES ($1, 'deleted', $2)
                 ON CONFLICT (email_hash) DO NOTHING",
            )
            .bind(&self.suppression_key.hashes(&email)[0])
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM subscribers WHERE id = $1")
                .bind(subscriber_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Which of these addresses belong to people who had their data
    /// deleted: they are not added again without their own confirmation.
    pub async fn suppressed_among(&self, emails: &[&EmailAddress]) -> Result<HashSet<String>> {
        let hashes: HashMap<String, &EmailAddress> = emails
            .iter()
            .flat_map(|e| self.suppression_key.hashes(e.as_str()).map(|h| (h, *e)))
            .collect();
        let mut out = HashSet::new();
        let all: Vec<&String> = hashes.keys().collect();
        for chunk in all.chunks(1000) {
            let sql = format!(
                "SELECT email_hash FROM suppressions WHERE email_hash IN ({})",
                super::placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
            for hash in chunk {
                query = query.bind(hash.as_str());
            }
            for hash in query.fetch_all(&self.pool).await? {
                if let Some(email) = hashes.get(&hash) {
                    out.insert(email.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Why the address is kept as one not to mail (`deleted`: its owner
    /// deleted their data; `complaint`: they marked our mail as spam), under
    /// either of its hashes; `None` when it is not.
    pub(super) async fn suppression_reason(
        &self,
        tx: &mut Tx,
        email: &EmailAddress,
    ) -> Result<Option<String>> {
        let [keyed, unkeyed] = self.suppression_key.hashes(email.as_str());
        Ok(
            sqlx::query_scalar("SELECT reason FROM suppressions WHERE email_hash IN ($1, $2)")
                .bind(keyed)
                .bind(unkeyed)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }
    /// Keeps the hash of an address whose owner marked our mail as spam
    /// (reason `complaint`, over any earlier reason): no import or operator
    /// adds it back.
    pub(super) async fn keep_complaint(&self, tx: &mut Tx, email: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO suppressions (email_hash, reason, at) VALUES ($1, 'complaint', $2)
             ON CONFLICT (email_hash) DO UPDATE SET reason = 'complaint', at = $2",
        )
        .bind(&self.suppression_key.hashes(email)[0])
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Lifts the suppression of an address, under either of its hashes.
    pub(super) async fn lift_suppression(&self, tx: &mut Tx, email: &str) -> Result<()> {
        let [keyed, unkeyed] = self.suppression_key.hashes(email);
        sqlx::query("DELETE FROM suppressions WHERE email_hash IN ($1, $2)")
            .bind(keyed)
            .bind(unkeyed)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
