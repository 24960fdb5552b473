//! What an LLM wrote, kept so it is asked once: TL;DRs per (paper,
//! language), analyses per key, expansions suggested per topic wording, and
//! the tokens spent per UTC day (shared by every daemon on the database,
//! for `llm.daily_token_budget`).

use std::collections::HashMap;

use sqlx::AssertSqlSafe;

use super::{ROWS_PER_INSERT, Result, Store, placeholders};

/// A TL;DR to keep: (paper id, language, text).
pub type NewTldr<'a> = (i64, &'a str, &'a str);

impl Store {
    /// The stored TL;DRs of these papers, by (paper id, language).
    pub async fn tldrs_of(&self, papers: &[i64]) -> Result<HashMap<(i64, String), String>> {
        let mut out = HashMap::new();
        for chunk in papers.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "SELECT paper_id, locale, tldr FROM paper_tldrs WHERE paper_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<_, (i64, String, String)>(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id);
            }
            for (paper_id, locale, tldr) in query.fetch_all(&self.pool).await? {
                out.insert((paper_id, locale), tldr);
            }
        }
        Ok(out)
    }

    /// Keeps TL;DRs; one already kept for a (paper, language) stays.
    pub async fn save_tldrs(&self, tldrs: &[NewTldr<'_>], model: &str, now: i64) -> Result<()> {
        for chunk in tldrs.chunks(ROWS_PER_INSERT / 5) {
            let sql = format!(
                "INSERT INTO paper_tldrs (paper_id, locale, tldr, model, created_at) VALUES {}
                 ON CONFLICT (paper_id, locale) DO NOTHING",
                self.values(chunk.len(), 5)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (paper, locale, tldr) in chunk {
                query = query
                    .bind(paper)
                    .bind(*locale)
                    .bind(*tldr)
                    .bind(model)
                    .bind(now);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// The languages active subscribers read: the TL;DRs worth writing.
    pub async fn reader_locales(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT locale FROM subscribers WHERE status = 'active' ORDER BY locale",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stored analyses by key: (text with `[P<paper id>]` markers, model).
    pub async fn analyses(&self, keys: &[String]) -> Result<HashMap<String, (String, String)>> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "SELECT key, body, model FROM analyses WHERE key IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, String, String)>(AssertSqlSafe(sql));
            for key in chunk {
                query = query.bind(key);
            }
            for (key, body, model) in query.fetch_all(&self.pool).await? {
                out.insert(key, (body, model));
            }
        }
        Ok(out)
    }

    /// Keeps an analysis; one already kept under `key` stays.
    pub async fn save_analysis(&self, key: &str, body: &str, model: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO analyses (key, body, model, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(body)
        .bind(model)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets analyses kept before `before`: they were for papers that are
    /// no longer news. Returns how many.
    pub async fn drop_old_analyses(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM analyses WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Every topic wording's suggested expansions, by key
    /// ([`crate::domain::Query::words_key`]). A row whose terms do not read
    /// as a list of strings is left out (asked again).
    pub async fn suggestions(&self) -> Result<HashMap<String, Vec<String>>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT topic_key, terms FROM topic_suggestions")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, terms)| Some((key, serde_json::from_str(&terms).ok()?)))
            .collect())
    }

    /// Keeps what the LLM suggested for one topic wording (the last answer wins).
    pub async fn save_suggestions(
        &self,
        key: &str,
        terms: &[String],
        model: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO topic_suggestions (topic_key, terms, model, asked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (topic_key) DO UPDATE SET terms = excluded.terms, model = excluded.model,
                 asked_at = excluded.asked_at",
        )
        .bind(key)
        .bind(serde_json::to_string(terms).expect("strings serialise"))
        .bind(model)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Tokens spent on `day` (`YYYY-MM-DD`, UTC).
    pub async fn tokens_spent(&self, day: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT tokens FROM llm_usage WHERE day = $1")
                .bind(day)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }

    /// Adds `tokens` to `day`'s count, in one statement (daemons share it).
    pub async fn spend_tokens(&self, day: &str, tokens: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO llm_usage (day, tokens) VALUES ($1, $2)
             ON CONFLICT (day) DO UPDATE SET tokens = llm_usage.tokens + excluded.tokens",
        )
        .bind(day)
        .bind(tokens)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
