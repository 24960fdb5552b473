//! A database that stops taking writes is seen and said: the health check
//! answers 503 while it lasts (and the log names the file and what to
//! check), and a daemon started on a SQLite file it cannot write exits at
//! once with the status its systemd unit does not restart on.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::helpers::{Daemon, Hub, TestDb, free_port, open_to_all, sql_exec, web_config};

/// What `--config` runs into when the database cannot be written (sysexits'
/// EX_CONFIG; `RestartPreventExitStatus=78` in the unit).
const EXIT_PERMANENT: i32 = 78;

fn set_mode(files: &[PathBuf], mode: u32) {
    for file in files {
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

/// The SQLite file and the two beside it in WAL mode.
fn sqlite_files(db: &TestDb) -> Vec<PathBuf> {
    let file = PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", file.display())))
        .collect()
}

/// Asks `/healthz` until it answers `want` (a health answer stands for a
/// second), at most 30 s.
async fn health_becomes(daemon: &Daemon, want: StatusCode) -> String {
    answer_becomes(daemon, "/healthz", want).await
}

/// Asks `/readyz` until it answers `want`, at most 30 s.
async fn readiness_becomes(daemon: &Daemon, want: StatusCode) -> String {
    answer_becomes(daemon, "/readyz", want).await
}

async fn answer_becomes(daemon: &Daemon, path: &str, want: StatusCode) -> String {
    // A pool asked for a connection the server refuses gives up after 10 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = daemon.get(&format!("{}{path}", daemon.base)).await;
        if code == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_that_cannot_be_written_fails_health_and_start_up_naming_the_file() {
    let db = TestDb::sqlite();
    let files = sqlite_files(&db);
    open_to_all(files[0].parent().unwrap());
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, 9, &[], port));
    let daemon = Daemon::watch(
        hub.unprivileged(&["serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        port,
    )
    .await;

    // Under the running daemon, the files lose their write permission.
    set_mode(&files, 0o444);
    let body = health_becomes(&daemon, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(body.contains("cannot be written"), "{body}");
    // Not ready either, and the readiness check says why.
    let body = readiness_becomes(&daemon, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body.starts_with("not ready: SQLite database") && body.contains("cannot be written"),
        "{body}"
    );
    set_mode(&files, 0o644);
    health_becomes(&daemon, StatusCode::OK).await;
    readiness_becomes(&daemon, StatusCode::OK).await;
    let out = daemon.stop().await;
    let named = format!("SQLite database {} cannot be written", files[0].display());
    assert!(out.stderr.contains(&named), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("check that the user running academichub may write it")
    );

    // Started on files it cannot write, it says so once and exits 78.
    set_mode(&files, 0o444);
    let out = hub.unprivileged(&["serve"]).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_PERMANENT), "{stderr}");
    assert!(stderr.contains(&named), "{stderr}");
    assert_eq!(
        stderr
            .matches("attempt to write a readonly database")
            .count(),
        1,
        "the cause is said once: {stderr}"
    );
    // A mistake in the configuration is as permanent.
    std::fs::write(&hub.config, "[web]\nlisten = \"nowhere\"\n").unwrap();
    let out = hub.unprivileged(&["serve"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(EXIT_PERMANENT));
    set_mode(&files, 0o644);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_turned_read_only_fails_health_until_it_takes_writes_again() {
    const TEST: &str =
        "a_postgres_database_turned_read_only_fails_health_until_it_takes_writes_again";
    let Some(db) = TestDb::postgres(TEST).await else {
        return;
    };
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, 9, &[], port));
    let daemon = Daemon::start(&hub, port).await;
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = |sql: String| {
        let url = std::env::var("TEST_POSTGRES_URL").unwrap();
        async move {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap();
        }
    };
    // As a failed-over primary that came back as a replica would be.
    admin(format!(
        "ALTER DATABASE {name} SET default_transaction_read_only = on"
    ))
    .await;
    admin(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    health_becomes(&daemon, StatusCode::SERVICE_UNAVAILABLE).await;
    admin(format!(
        "ALTER DATABASE {name} SET default_transaction_read_only = off"
    ))
    .await;
    admin(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    health_becomes(&daemon, StatusCode::OK).await;
    readiness_becomes(&daemon, StatusCode::OK).await;

    // Down: the server takes no connection to this database.
    admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    admin(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let body = readiness_becomes(&daemon, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(body.starts_with("not ready: "), "{body}");
    admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    readiness_becomes(&daemon, StatusCode::OK).await;
    let out = daemon.stop().await;
    assert!(
        out.stderr.contains("read-only transaction"),
        "{}",
        out.stderr
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_with_the_reason_on_a_database_a_newer_version_migrated() {
    const TEST: &str = "readiness_fails_with_the_reason_on_a_database_a_newer_version_migrated";
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let port = free_port();
        let hub = Hub::new(&web_config(&db.url, 9, &[], port));
        let daemon = Daemon::start(&hub, port).await;
        assert_eq!(
            readiness_becomes(&daemon, StatusCode::OK).await,
            "ready\n",
            "[{label}]"
        );
        // A newer academichub, started beside this one, migrated the database.
        sql_exec(
            &db.url,
            if label == "sqlite" {
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES (29991231000001, 'from a newer version', 1, X'00', 0)"
            } else {
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES (29991231000001, 'from a newer version', true, '\\x00'::bytea, 0)"
            },
        )
        .await;
        let body = readiness_becomes(&daemon, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(
            body.contains(
                "the database has migration 29991231000001, which this academichub does not know"
            ) && body.contains("run that version (or newer)"),
            "[{label}] {body}"
        );
        // Alive all the same: liveness is not readiness.
        assert_eq!(
            daemon.get(&format!("{}/healthz", daemon.base)).await.0,
            StatusCode::OK
        );
        sql_exec(
            &db.url,
            "DELETE FROM _sqlx_migrations WHERE version = 29991231000001",
        )
        .await;
        readiness_becomes(&daemon, StatusCode::OK).await;
        daemon.stop().await;
        db.drop_db().await;
    }
}
