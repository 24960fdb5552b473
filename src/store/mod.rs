//! Persistence. **All SQL lives here.**
//!
//! One `Store` speaks to SQLite (the zero-setup default: a file, WAL mode) or
//! PostgreSQL (for several daemon instances sharing the work) through sqlx's
//! `Any` driver. Queries are written once in the dialect both accept
//! (`$1` placeholders, `ON CONFLICT`, `RETURNING`); only claiming outbox work
//! differs per backend (see `outbox.rs`), and how a packed list is expanded
//! (`lists.rs`). Times are unix seconds, lists are JSON text, because `Any`
//! carries only plain scalars.
//!
//! Tables by file: `sources.rs` (feed fetch state), `papers.rs` (papers,
//! their categories and the acronyms they define), `subscribers.rs` (the
//! subscriber row: adding and reading subscribers), `subscriptions.rs`
//! (status changes with their events, the proof of consent, and subscribe
//! requests awaiting confirmation), `topics.rs` (radar topics),
//! `feedback.rs` (verdicts on papers), `suppressions.rs` (deleting a
//! subscriber, and the hashed addresses it leaves), `notices.rs` (mail that
//! is not a briefing, limited per mailbox), `briefings.rs` (who got which
//! papers on which day, and the outbox row made with it), `lists.rs` (a
//! briefing's lists of papers, packed in its row), `outbox.rs` (the
//! send queue), `writing.rs` (what an LLM wrote, and the tokens spent),
//! `settings.rs` (instance secrets), `stats.rs` (one day's counts across
//! tables, for `academichub stats`).

/// What a settled message (sent, failed, expired) no longer needs, cleared
/// in the statement that settles it: the lease is over and the one-click
/// URL went out in the message. The record of sending keeps the recipient,
/// subject, Message-ID, times and the last error.
macro_rules! settled_forgets {
    () => {
        "lease_until = NULL, lease_token = NULL, unsubscribe_url = NULL"
    };
}

mod bounces;
mod briefings;
mod events;
mod feedback;
mod lists;
mod notices;
mod outbox;
mod papers;
mod settings;
mod sources;
mod stats;
mod subscribers;
mod subscriptions;
mod suppressions;
mod topics;
mod writing;

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;

use crate::redact::redact_url;

pub use bounces::{BounceApplied, BounceCount, BounceRecord, ReturnTarget, SoftLimit};
pub use briefings::{BriefingItem, LeftOutItem, NewBriefing, NextLook};
pub use events::SubscriberEvent;
pub use feedback::FeedbackEntry;
pub use outbox::{ClaimedMessage, OutboxCounts, SweepCounts};
pub use papers::{Arrival, StoredPaper, UpsertCounts};
pub use sources::SourceState;
pub use stats::{MessageCounts, RoundBacklog};
pub use subscribers::SubscriberSummary;
pub use subscriptions::SubscriptionRequest;
pub use writing::NewTldr;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long to wait for a connection before saying the database is down.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {source} (check `database.url`)")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database.url {0} is neither sqlite://PATH nor postgres://… (postgresql:// works too)")]
    UnknownUrl(String),
    #[error("cannot create the folder for SQLite database {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The SQLite file (or one beside it) cannot be written: nothing a
    /// restart can fix.
    #[error(
        "SQLite database {path} cannot be written ({reason}): check that the user running \
         academichub may write it, its -wal and -shm files and its folder, and that the disk \
         is neither full nor mounted read-only"
    )]
    NotWritable { path: String, reason: String },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Refused(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// The database holds migration `version`, unknown to this binary.
    fn migrated_by_newer(version: i64) -> Self {
        Self::Refused(format!(
            "the database has migration {version}, which this academichub does not know: \
             a newer version migrated it; run that version (or newer)"
        ))
    }

    /// Whether starting again cannot help until someone changes the
    /// configuration, the files or the program (the daemon then exits with
    /// a status its unit does not restart on).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::UnknownUrl(_) | Self::CreateDir { .. } | Self::NotWritable { .. } => true,
            // A database migrated by a newer version.
            Self::Refused(_) => true,
            Self::Connect { .. } | Self::Migrate(_) | Self::Query(_) | Self::Corrupt(_) => false,
        }
    }
}

/// SQLite's primary result codes that mean the file cannot be written.
const SQLITE_NOT_WRITABLE: [i64; 4] = [
    8,  // SQLITE_READONLY
    10, // SQLITE_IOERR
    13, // SQLITE_FULL
    14, // SQLITE_CANTOPEN
];

/// Why a SQLite error means the file cannot be written, if it does.
fn not_writable_reason(e: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    // Extended codes carry the primary code in their low byte.
    let primary = db.code()?.parse::<i64>().ok()? & 0xff;
    SQLITE_NOT_WRITABLE
        .contains(&primary)
        .then(|| db.message().to_owned())
}

/// A transaction that writes ([`Store::begin_write`]).
type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite file, to name in errors and to check in the health check.
    sqlite_file: Option<std::path::PathBuf>,
    /// Keys the hashes of suppressed addresses (`settings::suppression_key`).
    suppression_key: settings::SuppressionKey,
}

impl Store {
    /// Opens (creating a SQLite file and its folder if needed) and migrates.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let mut sqlite_file = None;
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or(path);
            sqlite_file = Some(std::path::PathBuf::from(file));
            if let Some(dir) = Path::new(file)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                    path: file.to_owned(),
                    source,
                })?;
            }
            let url = if url.contains("mode=") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::UnknownUrl(redact_url(url)));
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT);
        if backend == Backend::Sqlite {
            // `Any` URLs cannot carry the journal mode: readers never block the
            // writer in WAL, and NORMAL sync is safe with it.
            // Switching to WAL takes a lock SQLite will not wait for, so it is
            // only asked for when the file is not in WAL already (first run).
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                        .fetch_one(&mut *conn)
                        .await?;
                    if !mode.eq_ignore_ascii_case("wal") {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    // Message bodies are read through the page cache's map
                    // instead of one read call per 4 KB page.
                    sqlx::query("PRAGMA mmap_size = 268435456")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let connect_error = |source| StoreError::Connect {
            url: redact_url(&url),
            source,
        };
        // One connection first: a pool that cannot connect only says "pool
        // timed out"; a connection says why (refused, authentication,
        // unknown database).
        if backend == Backend::Postgres {
            use sqlx::Connection;
            let probe = tokio::time::timeout(ACQUIRE_TIMEOUT, sqlx::AnyConnection::connect(&url))
                .await
                .map_err(|_| connect_error(sqlx::Error::PoolTimedOut))?
                .map_err(connect_error)?;
            probe.close().await.map_err(connect_error)?;
        }
        let mut store = Self {
            pool: options.connect(&url).await.map_err(connect_error)?,
            backend,
            sqlite_file,
            suppression_key: settings::SuppressionKey::default(),
        };
        store.migrate().await.map_err(|e| store.name_the_file(e))?;
        store.suppression_key = store.load_suppression_key().await?;
        Ok(store)
    }

    /// Turns a SQLite error that means "cannot write" into one that names
    /// the file and says what to check.
    fn name_the_file(&self, e: StoreError) -> StoreError {
        let reason = match &e {
            StoreError::Query(q) => not_writable_reason(q),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(q)) => not_writable_reason(q),
            _ => None,
        };
        match (&self.sqlite_file, reason) {
            (Some(path), Some(reason)) => StoreError::NotWritable {
                path: path.display().to_string(),
                reason,
            },
            _ => e,
        }
    }

    /// Applies pending migrations. On PostgreSQL the migrator holds an
    /// advisory lock, so daemons starting together migrate once. A database
    /// migrated by a newer version is refused rather than used.
    pub async fn migrate(&self) -> Result<()> {
        let run = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await,
        };
        match run {
            Err(sqlx::migrate::MigrateError::VersionMissing(version)) => {
                return Err(StoreError::migrated_by_newer(version));
            }
            other => other?,
        }
        self.learn_glossary_of_stored_papers().await
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock up front (`BEGIN IMMEDIATE`): a transaction that reads first and
    /// writes later cannot wait for another writer and fails with "database
    /// is locked" instead.
    async fn begin_write(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Whether the database takes a write (the health check): a row of
    /// `settings` is written in a transaction, and a SQLite file and its
    /// `-wal` and `-shm` files are checked for write permission as a new
    /// connection would need it (connections already open keep writing to
    /// files whose permissions changed under them, so the write alone would
    /// not tell). The check is `access(2)`, never an open: closing another
    /// descriptor of a SQLite file drops the process's locks on it, which
    /// corrupts the database under concurrent writers.
    pub async fn check_writable(&self, now: i64) -> Result<()> {
        if let Some(file) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                let path = std::path::PathBuf::from(path);
                match rustix::fs::access(&path, rustix::fs::Access::WRITE_OK) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::NOENT) if !suffix.is_empty() => {}
                    Err(e) => {
                        return Err(StoreError::NotWritable {
                            path: path.display().to_string(),
                            reason: std::io::Error::from(e).to_string(),
                        });
                    }
                }
            }
        }
        let write = async {
            let mut tx = self.begin_write().await?;
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ('health_checked_at', $1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(now.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        };
        write.await.map_err(|e| self.name_the_file(e))
    }

    /// Whether the database holds exactly the migrations this binary
    /// carries, each applied whole (the readiness check): a database a
    /// newer version migrated, one not yet migrated, or a migration that
    /// failed halfway is named.
    pub async fn check_migrations(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        // `Any` reads no SQLite boolean: the flag comes as an integer.
        let applied: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT version, CAST(success AS INTEGER) AS success, checksum FROM _sqlx_migrations",
        )
        .fetch_all(&self.pool)
        .await?;
        let known: std::collections::HashMap<i64, &[u8]> = migrator
            .iter()
            .map(|m| (m.version, m.checksum.as_ref()))
            .collect();
        for (version, success, checksum) in &applied {
            match known.get(version) {
                None => return Err(StoreError::migrated_by_newer(*version)),
                Some(_) if *success == 0 => {
                    return Err(StoreError::Refused(format!(
                        "migration {version} failed partway; restore the database from a backup"
                    )));
                }
                Some(known) if *known != checksum.as_slice() => {
                    return Err(StoreError::Refused(format!(
                        "migration {version} in the database differs from this academichub's; \
                         it was migrated by another build"
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(missing) = known
            .keys()
            .filter(|v| !applied.iter().any(|(a, _, _)| a == *v))
            .min()
        {
            return Err(StoreError::Refused(format!(
                "migration {missing} is not applied yet; run `academichub migrate`"
            )));
        }
        Ok(())
    }

    /// The database's size in bytes: the SQLite file's pages, or the
    /// PostgreSQL database on disk.
    pub async fn size_bytes(&self) -> Result<i64> {
        Ok(match self.backend {
            Backend::Sqlite => {
                sqlx::query_scalar(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(&self.pool)
                .await?
            }
            Backend::Postgres => {
                sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(&self.pool)
                    .await?
            }
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Rows per multi-row statement: far below both backends' limits on bound
/// values (SQLite 32,766; PostgreSQL 65,535).
const ROWS_PER_INSERT: usize = 500;

/// `$start, $start+1, …` for `count` values, for an `IN (…)` list.
fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// `(…), (…)` for `rows` rows of `columns` values each, for a multi-row
    /// `VALUES` whose values are the statement's only ones. SQLite gets
    /// anonymous `?`: sqlx binds a numbered `$N` there by scanning the
    /// statement's parameter names, which grows with the square of the
    /// values in one statement.
    fn values(&self, rows: usize, columns: usize) -> String {
        let row = |r: usize| match self.backend {
            Backend::Sqlite => format!("({})", vec!["?"; columns].join(", ")),
            Backend::Postgres => format!("({})", placeholders(1 + r * columns, columns)),
        };
        (0..rows).map(row).collect::<Vec<_>>().join(", ")
    }
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings always serialises")
}

fn from_json(text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("list {text:?}: {e}")))
}
