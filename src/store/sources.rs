use super::{Result, Store};

/// The columns of `SourceState`; a macro so queries stay literal strings.
macro_rules! select_state {
    () => {
        "SELECT id, name, url, last_fetched_at, etag, last_modified, next_check_at, error_count, last_error,
                last_notes, cursor
         FROM sources"
    };
}

/// What collection remembers about a feed between fetches.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SourceState {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub last_fetched_at: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_check_at: i64,
    pub error_count: i64,
    pub last_error: Option<String>,
    /// What the last fetched copy of the feed left out, and why.
    pub last_notes: Option<String>,
    /// Where a paged route goes on: the day its last window ended, or a
    /// backfill's saved position.
    pub cursor: Option<String>,
}

impl Store {
    /// Registers a configured feed (once) and returns its fetch state.
    pub async fn ensure_source(&self, url: &str, name: &str, now: i64) -> Result<SourceState> {
        sqlx::query(
            "INSERT INTO sources (url, name, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (url) DO UPDATE SET name = excluded.name",
        )
        .bind(url)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query_as(concat!(select_state!(), " WHERE url = $1"))
            .bind(url)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Every feed ever configured, by name.
    pub async fn source_states(&self) -> Result<Vec<SourceState>> {
        Ok(
            sqlx::query_as(concat!(select_state!(), " ORDER BY name, url"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Takes the feed for one fetch if it is due by `now` and no other
    /// daemon holds it: the lease lasts until `lease_until` or until the
    /// fetch is recorded. Returns `false` when the feed is not this
    /// daemon's to fetch now.
    pub async fn claim_source(&self, source_id: i64, now: i64, lease_until: i64) -> Result<bool> {
        Ok(sqlx::query(
            "UPDATE sources SET lease_until = $1
             WHERE id = $2 AND next_check_at <= $3 AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(lease_until)
        .bind(source_id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// A fetch succeeded (or the server said 304): keep the validators for the
    /// next conditional GET and clear the error streak.
    pub async fn record_fetch_success(
        &self,
        source_id: i64,
        etag: Option<&str>,
        last_modified: Option<&str>,
        cursor: Option<&str>,
        now: i64,
        next_check_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE sources SET etag = $1, last_modified = $2, last_fetched_at = $3,
                 next_check_at = $4, error_count = 0, last_error = NULL, lease_until = NULL,
                 cursor = COALESCE($6, cursor)
             WHERE id = $5",
        )
        .bind(etag)
        .bind(last_modified)
        .bind(now)
        .bind(next_check_at)
        .bind(source_id)
        .bind(cursor)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// What the feed as last fetched left out (`None`: nothing).
    pub async fn record_fetch_notes(&self, source_id: i64, notes: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE sources SET last_notes = $1 WHERE id = $2")
            .bind(notes)
            .bind(source_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Saves where a walk goes on (a backfill, after each stored page).
    pub async fn record_cursor(&self, source_id: i64, cursor: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sources SET cursor = $1, last_fetched_at = $2 WHERE id = $3")
            .bind(cursor)
            .bind(now)
            .bind(source_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A fetch or parse failed: keep the error visible and back off.
    pub async fn record_fetch_error(
        &self,
        source_id: i64,
        error: &str,
        next_check_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE sources SET error_count = error_count + 1, last_error = $1, next_check_at = $2,
                 lease_until = NULL
             WHERE id = $3",
        )
        .bind(error)
        .bind(next_check_at)
        .bind(source_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
