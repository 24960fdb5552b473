use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::{Result, Store, StoreError, from_json, to_json};
use crate::domain::{
    AnnounceType, ArxivId, Definition, Glossary, Paper, PaperKey, SentPapers, Verdict, is_preprint,
    paper_definitions,
};

/// Every key a paper is known by: its own, its DOI, and the identities its
/// source says are the same work.
fn aliases(paper: &Paper) -> Vec<String> {
    let mut aliases = vec![paper.key.to_string()];
    let doi = paper.doi.as_ref().map(|d| PaperKey::Doi(d.clone()));
    for other in doi.iter().chain(&paper.related) {
        let alias = other.to_string();
        if !aliases.contains(&alias) {
            aliases.push(alias);
        }
    }
    aliases
}

async fn insert_aliases(tx: &mut super::Tx, aliases: &[String], paper_id: i64) -> Result<()> {
    for alias in aliases {
        sqlx::query(
            "INSERT INTO paper_aliases (alias, paper_id) VALUES ($1, $2) ON CONFLICT (alias) DO NOTHING",
        )
        .bind(alias)
        .bind(paper_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The columns of `PaperRow`, of `papers p`.
macro_rules! paper_columns {
    () => {
        "p.id, p.paper_key, p.arxiv_id, p.version, p.doi, p.title, p.abstract, p.url, p.authors, \
         p.venue, p.announce_type, p.published_at, p.first_seen_at, p.published_in"
    };
}

/// A row of `paper_columns!()`: a paper without its categories.
#[derive(sqlx::FromRow)]
struct PaperRow {
    id: i64,
    paper_key: String,
    arxiv_id: Option<String>,
    version: Option<i64>,
    doi: Option<String>,
    title: String,
    #[sqlx(rename = "abstract")]
    abstract_text: String,
    url: String,
    authors: String,
    venue: String,
    announce_type: Option<String>,
    published_at: Option<i64>,
    first_seen_at: i64,
    published_in: Option<String>,
}

impl TryFrom<PaperRow> for StoredPaper {
    type Error = StoreError;

    fn try_from(row: PaperRow) -> Result<Self> {
        let id = row.id;
        let corrupt = |what: String| StoreError::Corrupt(format!("paper {id}: {what}"));
        let arxiv = match row.arxiv_id {
            Some(text) => {
                let (arxiv_id, _) =
                    ArxivId::parse_with_version(&text).map_err(|e| corrupt(e.to_string()))?;
                Some((arxiv_id, row.version.and_then(|v| u32::try_from(v).ok())))
            }
            None => None,
        };
        let announce_type = row
            .announce_type
            .map(|t| t.parse::<AnnounceType>().map_err(corrupt))
            .transpose()?;
        Ok(StoredPaper {
            id,
            first_seen_at: row.first_seen_at,
            published_in: row.published_in,
            paper: Paper {
                key: row.paper_key.parse().map_err(corrupt)?,
                arxiv,
                doi: row.doi,
                related: Vec::new(),
                title: row.title,
                abstract_text: row.abstract_text,
                url: row.url,
                authors: from_json(&row.authors)?,
                categories: Vec::new(),
                venue: row.venue,
                announce_type,
                published: row
                    .published_at
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
            },
        })
    }
}

/// A paper in a briefing, under its topic.
#[derive(sqlx::FromRow)]
struct BriefingPaperRow {
    #[sqlx(flatten)]
    paper: PaperRow,
    topic: String,
}

/// A paper a briefing left out, with the words that matched (a JSON array).
#[derive(sqlx::FromRow)]
struct LeftOutRow {
    #[sqlx(flatten)]
    paper: PaperRow,
    topic: String,
    matched: String,
}

/// A paper a subscriber gave a verdict on.
#[derive(sqlx::FromRow)]
struct FeedbackPaperRow {
    #[sqlx(flatten)]
    paper: PaperRow,
    verdict: String,
    subscriber_id: i64,
}

/// A paper as stored, with the id briefings refer to it by.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPaper {
    pub id: i64,
    pub first_seen_at: i64,
    /// The journal a preprint has appeared in since, when a source said so.
    pub published_in: Option<String>,
    pub paper: Paper,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub new: usize,
    pub updated: usize,
    /// Appearances of a paper stored under another key (a preprint's
    /// journal version, a work two routes announce).
    pub merged: usize,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: Self) {
        self.new += other.new;
        self.updated += other.updated;
        self.merged += other.merged;
    }
}

/// How a paper reached the store, which decides when it counts as seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Collected as news: first seen now.
    Collected,
    /// Filled in by `backfill`: first seen when it was published (never
    /// later than now), so old papers are not news for existing readers.
    Backfilled,
}

impl Store {
    /// Stores papers idempotently, in one transaction: a paper already known
    /// (same arXiv id, DOI or URL) gains any new categories and version, so
    /// a paper announced by two category feeds is stored once. Its text and
    /// link belong to the feed that first announced it (`source_id`): another
    /// feed announcing the same key cannot rewrite its title, abstract,
    /// authors or link.
    pub async fn upsert_papers(
        &self,
        papers: &[Paper],
        source_id: i64,
        now: i64,
        arrival: Arrival,
    ) -> Result<UpsertCounts> {
        let mut counts = UpsertCounts::default();
        let mut tx = self.begin_write().await?;
        for paper in papers {
            let key = paper.key.to_string();
            let aliases = aliases(paper);
            // The stored work: id, key, arXiv id, venue.
            let mut known: Option<(i64, String, Option<String>, String)> = None;
            for alias in &aliases {
                known = sqlx::query_as(
                    "SELECT p.id, p.paper_key, p.arxiv_id, p.venue
                     FROM paper_aliases a JOIN papers p ON p.id = a.paper_id WHERE a.alias = $1",
                )
                .bind(alias)
                .fetch_optional(&mut *tx)
                .await?;
                if known.is_some() {
                    break;
                }
            }
            if let Some((id, stored_key, stored_arxiv, stored_venue)) = &known
                && *stored_key != key
            {
                // Another appearance of a stored work: it is not news again.
                // A preprint's journal version is remembered for the card.
                if is_preprint(stored_arxiv.is_some(), stored_venue) && !paper.is_preprint() {
                    // The first journal appearance counts as a new version:
                    // topics `with:updates` get the paper again, labelled.
                    sqlx::query(
                        "UPDATE papers SET published_in = $1, published_doi = $2,
                             version_seen_at = CASE WHEN published_in_at IS NULL
                                 THEN $3 ELSE version_seen_at END,
                             published_in_at = COALESCE(published_in_at, $3)
                         WHERE id = $4",
                    )
                    .bind(&paper.venue)
                    .bind(paper.doi.as_deref())
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                insert_aliases(&mut tx, &aliases, *id).await?;
                counts.merged += 1;
                continue;
            }
            let existed = known.is_some();
            let first_seen = match arrival {
                Arrival::Collected => now,
                Arrival::Backfilled => paper.published.map_or(now, |p| p.timestamp().min(now)),
            };
            let (arxiv_id, version) = match &paper.arxiv {
                Some((id, v)) => (Some(id.as_str().to_owned()), v.map(i64::from)),
                None => (None, None),
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO papers (paper_key, arxiv_id, version, doi, title, abstract, url, authors,
                                     venue, announce_type, published_at, first_seen_at, updated_at,
                                     version_seen_at, source_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, $12, $13)
                 ON CONFLICT (paper_key) DO UPDATE SET
                     announce_type = CASE
                         WHEN excluded.version > papers.version OR papers.announce_type IS NULL
                         THEN excluded.announce_type ELSE papers.announce_type END,
                     version_seen_at = CASE WHEN excluded.version > papers.version
                         THEN excluded.version_seen_at ELSE papers.version_seen_at END,
                     version = COALESCE(excluded.version, papers.version),
                     doi = COALESCE(papers.doi, excluded.doi),
                     title = CASE WHEN papers.source_id = excluded.source_id
                         THEN excluded.title ELSE papers.title END,
                     abstract = CASE WHEN papers.source_id = excluded.source_id
                         THEN excluded.abstract ELSE papers.abstract END,
                     url = CASE WHEN papers.source_id = excluded.source_id
                         THEN excluded.url ELSE papers.url END,
                     authors = CASE WHEN papers.source_id = excluded.source_id
                         THEN excluded.authors ELSE papers.authors END,
                     source_id = COALESCE(papers.source_id, excluded.source_id),
                     published_at = COALESCE(excluded.published_at, papers.published_at),
                     updated_at = excluded.updated_at
                 RETURNING id",
            )
            .bind(&key)
            .bind(arxiv_id)
            .bind(version)
            .bind(paper.doi.as_deref())
            .bind(&paper.title)
            .bind(&paper.abstract_text)
            .bind(&paper.url)
            .bind(to_json(&paper.authors))
            .bind(&paper.venue)
            .bind(paper.announce_type.map(|a| a.as_str()))
            .bind(paper.published.map(|p| p.timestamp()))
            .bind(first_seen)
            .bind(source_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            insert_aliases(&mut tx, &aliases, id).await?;
            for (position, category) in paper.categories.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO paper_categories (paper_id, position, category) VALUES ($1, $2, $3)
                     ON CONFLICT (paper_id, category) DO NOTHING",
                )
                .bind(id)
                .bind(position as i64)
                .bind(category)
                .execute(&mut *tx)
                .await?;
            }
            if existed {
                counts.updated += 1;
            } else {
                counts.new += 1;
                for d in paper_definitions(&paper.title, &paper.abstract_text) {
                    sqlx::query(
                        "INSERT INTO acronyms (acronym, long_form, papers) VALUES ($1, $2, 1)
                         ON CONFLICT (acronym, long_form) DO UPDATE SET papers = acronyms.papers + 1",
                    )
                    .bind(d.acronym())
                    .bind(d.long_form())
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// Counts the acronyms of the papers stored before the glossary existed,
    /// once per database: the first daemon to mark it done (`settings`,
    /// in the same transaction) does it; new papers are counted as they
    /// are stored.
    pub(super) async fn learn_glossary_of_stored_papers(&self) -> Result<()> {
        const PAGE: i64 = 2000;
        let mut tx = self.begin_write().await?;
        let first = sqlx::query(
            "INSERT INTO settings (name, value) VALUES ('glossary_learned', '1')
             ON CONFLICT (name) DO NOTHING",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first {
            return Ok(());
        }
        let mut counts: HashMap<(String, String), i64> = HashMap::new();
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT id, title, abstract FROM papers WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let Some(&(last, _, _)) = rows.last() else {
                break;
            };
            after = last;
            for (_, title, abstract_text) in &rows {
                for d in paper_definitions(title, abstract_text) {
                    *counts
                        .entry((d.acronym().to_owned(), d.long_form().to_owned()))
                        .or_default() += 1;
                }
            }
        }
        for ((acronym, long_form), n) in counts {
            sqlx::query(
                "INSERT INTO acronyms (acronym, long_form, papers) VALUES ($1, $2, $3)
                 ON CONFLICT (acronym, long_form) DO UPDATE SET papers = acronyms.papers + $3",
            )
            .bind(acronym)
            .bind(long_form)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What acronyms stand for, by every paper stored so far, and the
    /// expansions an LLM suggested per topic wording.
    pub async fn glossary(&self) -> Result<Glossary> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT acronym, long_form, papers FROM acronyms")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = Vec::with_capacity(rows.len());
        for (acronym, long, papers) in rows {
            // A row that no longer reads as a definition is left out.
            if let Some(d) = Definition::new(&acronym, &long) {
                counts.push((d, u32::try_from(papers).unwrap_or(u32::MAX)));
            }
        }
        Ok(Glossary::from_counts(counts).with_suggestions(self.suggestions().await?))
    }

    /// Papers first seen, or seen in a new version, at or after `since`,
    /// newest first.
    pub async fn recent_papers(&self, since: i64) -> Result<Vec<StoredPaper>> {
        let mut categories: HashMap<i64, Vec<String>> = HashMap::new();
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT c.paper_id, c.category FROM paper_categories c
             JOIN papers p ON p.id = c.paper_id
             WHERE p.version_seen_at >= $1
             ORDER BY c.paper_id, c.position, c.category",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        for (paper_id, category) in rows {
            categories.entry(paper_id).or_default().push(category);
        }
        let rows = sqlx::query_as::<_, PaperRow>(concat!(
            "SELECT ",
            paper_columns!(),
            " FROM papers p WHERE p.version_seen_at >= $1 ORDER BY p.version_seen_at DESC, p.id"
        ))
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let mut paper = StoredPaper::try_from(row)?;
                paper.paper.categories = categories.remove(&paper.id).unwrap_or_default();
                Ok(paper)
            })
            .collect()
    }

    /// The papers each subscriber said "more / less like this" about,
    /// newest verdict first, at most `limit` each: the text their profile is
    /// learned from. One query for all of them.
    pub async fn feedback_papers_of(
        &self,
        subscribers: &[i64],
        limit: i64,
    ) -> Result<HashMap<i64, Vec<(Verdict, StoredPaper)>>> {
        let mut out: HashMap<i64, Vec<(Verdict, StoredPaper)>> = HashMap::new();
        if subscribers.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            concat!(
                "SELECT ",
                paper_columns!(),
                ", f.verdict, f.subscriber_id FROM (
                   SELECT subscriber_id, paper_id, verdict, at, ROW_NUMBER() OVER (
                       PARTITION BY subscriber_id ORDER BY at DESC, paper_id) AS n
                   FROM feedback WHERE subscriber_id IN ({})) f
                 JOIN papers p ON p.id = f.paper_id
                 WHERE f.n <= $1 ORDER BY f.subscriber_id, f.at DESC, p.id"
            ),
            super::placeholders(2, subscribers.len())
        );
        let mut query = sqlx::query_as::<_, FeedbackPaperRow>(AssertSqlSafe(sql)).bind(limit);
        for id in subscribers {
            query = query.bind(id);
        }
        for row in query.fetch_all(&self.pool).await? {
            let verdict = row.verdict.parse().map_err(StoreError::Corrupt)?;
            out.entry(row.subscriber_id)
                .or_default()
                .push((verdict, row.paper.try_into()?));
        }
        Ok(out)
    }

    /// A stored paper by its arXiv id (`2604.12345`, any version), DOI,
    /// link, or stored id.
    pub async fn find_paper(&self, reference: &str) -> Result<Option<StoredPaper>> {
        let reference = reference.trim();
        let key = PaperKey::from_reference(reference)
            .map_or_else(|| reference.to_owned(), |key| key.to_string());
        let row = sqlx::query_as::<_, PaperRow>(concat!(
            "SELECT ",
            paper_columns!(),
            " FROM papers p WHERE p.paper_key = $1 OR p.url = $2 OR CAST(p.id AS TEXT) = $2
             ORDER BY p.id LIMIT 1"
        ))
        .bind(&key)
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut paper = StoredPaper::try_from(row)?;
        paper.paper.categories = sqlx::query_scalar(
            "SELECT category FROM paper_categories WHERE paper_id = $1 ORDER BY position, category",
        )
        .bind(paper.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(paper))
    }

    /// Which of the papers recent since `since` this subscriber has already
    /// received in a briefing, in their current version or an earlier one.
    pub async fn papers_already_sent(&self, subscriber_id: i64, since: i64) -> Result<SentPapers> {
        Ok(self
            .papers_already_sent_to(&[subscriber_id], since)
            .await?
            .remove(&subscriber_id)
            .unwrap_or_default())
    }

    /// [`Self::papers_already_sent`] for several subscribers in one query.
    pub async fn papers_already_sent_to(
        &self,
        subscribers: &[i64],
        since: i64,
    ) -> Result<HashMap<i64, SentPapers>> {
        let mut out: HashMap<i64, SentPapers> = HashMap::new();
        if subscribers.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT b.subscriber_id, p.id,
                    CAST(CASE WHEN (e.value ->> 1 IS NULL OR p.version IS NULL
                                    OR CAST(e.value ->> 1 AS BIGINT) >= p.version)
                                   AND (p.published_in_at IS NULL OR p.published_in_at <= b.created_at)
                              THEN 1 ELSE 0 END AS BIGINT) AS current
             FROM briefings b, {}
             WHERE b.subscriber_id IN ({}) AND p.version_seen_at >= $1",
            self.list_papers("b.papers"),
            super::placeholders(2, subscribers.len())
        );
        let mut query = sqlx::query_as::<_, (i64, i64, i64)>(AssertSqlSafe(sql)).bind(since);
        for id in subscribers {
            query = query.bind(id);
        }
        for (subscriber_id, paper_id, current) in query.fetch_all(&self.pool).await? {
            out.entry(subscriber_id)
                .or_default()
                .insert(paper_id, current == 1);
        }
        Ok(out)
    }

    /// The papers of a subscriber's briefing for `edition`, in order, each
    /// with the topic it was under (without categories).
    pub async fn briefing_papers(
        &self,
        subscriber_id: i64,
        edition: &str,
    ) -> Result<Vec<(String, StoredPaper)>> {
        let rows: Vec<BriefingPaperRow> = self
            .papers_of_list("", "briefings b", "b.papers", subscriber_id, edition)
            .await?;
        rows.into_iter()
            .map(|row| Ok((row.topic, row.paper.try_into()?)))
            .collect()
    }

    /// The papers a subscriber's briefing for `edition` left out for its
    /// size cap, best first within each topic: (topic, the words that
    /// matched, paper without categories).
    pub async fn briefing_left_out(
        &self,
        subscriber_id: i64,
        edition: &str,
    ) -> Result<Vec<(String, Vec<String>, StoredPaper)>> {
        let rows: Vec<LeftOutRow> = self
            .papers_of_list(
                ", CAST(e.value -> 1 AS TEXT) AS matched",
                "briefings b JOIN briefing_left_out l ON l.briefing_id = b.id",
                "l.papers",
                subscriber_id,
                edition,
            )
            .await?;
        rows.into_iter()
            .map(|row| Ok((row.topic, from_json(&row.matched)?, row.paper.try_into()?)))
            .collect()
    }

    /// The papers of one packed list of a subscriber's briefing for
    /// `edition`, in the list's order, each with its topic and the entry's
    /// `more` columns, read from `from` (holding `briefings b`) and its
    /// `column`.
    async fn papers_of_list<R>(
        &self,
        more: &str,
        from: &str,
        column: &str,
        subscriber_id: i64,
        edition: &str,
    ) -> Result<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let sql = format!(
            concat!(
                "SELECT ",
                paper_columns!(),
                ", t.value ->> 0 AS topic{} FROM {}, {}
                 WHERE b.subscriber_id = $1 AND b.edition = $2 ORDER BY t.key, e.key"
            ),
            more,
            from,
            self.list_papers(column)
        );
        Ok(sqlx::query_as::<_, R>(AssertSqlSafe(sql))
            .bind(subscriber_id)
            .bind(edition)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn paper_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM papers")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn paper_title(&self, id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT title FROM papers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }
}
