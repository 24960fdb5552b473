//! Bad input gets a clear error and loses nothing.

use axum::http::StatusCode;

use crate::helpers::{FeedServer, Hub, Route, SmtpServer, TestDb, config, fixture, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_feeds_are_reported_and_the_good_ones_still_delivered() {
    const TEST: &str = "broken_feeds_are_reported_and_the_good_ones_still_delivered";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feeds = FeedServer::start([
        (
            "ok.rss",
            Route::Feed(fixture(
                "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
            )),
        ),
        (
            "html.rss",
            Route::Status(
                StatusCode::OK,
                "<html><body>Moved to our new site</body></html>",
            ),
        ),
        (
            "error.rss",
            Route::Status(StatusCode::INTERNAL_SERVER_ERROR, "oops"),
        ),
    ])
    .await;
    let db = TestDb::sqlite();
    let urls = ["html.rss", "error.rss", "ok.rss"]
        .map(|p| feeds.url(p))
        .to_vec();
    let hub = Hub::new(&config(&db.url, smtp.port, &urls));
    hub.subscribe_ada_to_outliers().await;

    let out = hub.run(&["run-once", "--force"]).await;
    assert!(
        out.success,
        "broken feeds do not stop delivery: {}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("warning: feed {}: not a feed", urls[0])),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("warning: feed {}: HTTP 500", urls[1])),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("4 new"), "{}", out.stdout);
    assert_eq!(smtp.messages().len(), 1);

    let state = hub.ok(&["feeds"]).await;
    let line = |url: &str| state.lines().find(|l| l.contains(url)).unwrap().to_owned();
    assert!(
        line(&urls[1]).contains("1 error(s) in a row, last: HTTP 500"),
        "{state}"
    );
    assert!(line(&urls[0]).contains("not a feed"), "{state}");
    assert!(line(&urls[2]).ends_with("ok"), "{state}");
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_smtp_server_keeps_the_briefing_for_the_next_run() {
    const TEST: &str = "an_unreachable_smtp_server_keeps_the_briefing_for_the_next_run";
    let feeds = FeedServer::start([(
        "ok.rss",
        Route::Feed(fixture(
            "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
        )),
    )])
    .await;
    for db in TestDb::all(TEST).await {
        let urls = vec![feeds.url("ok.rss")];
        let dead_port = free_port();
        let hub = Hub::new(&config(&db.url, dead_port, &urls));
        hub.subscribe_ada_to_outliers().await;

        let out = hub.run(&["run-once", "--force"]).await;
        assert!(!out.success, "[{}] an SMTP outage is an error", db.label);
        assert!(
            out.stdout.contains("1 queued"),
            "[{}] {}",
            db.label,
            out.stdout
        );
        assert!(
            out.stderr
                .contains(&format!("SMTP server 127.0.0.1:{dead_port} is unavailable"))
                && out
                    .stderr
                    .contains("1 message(s) kept in the outbox and retried on the next run"),
            "[{}] {}",
            db.label,
            out.stderr
        );

        let Some(smtp) = SmtpServer::start(TEST).await else {
            return;
        };
        hub.rewrite_config(&config(&db.url, smtp.port, &urls));
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(
            out.contains("0 queued") && out.contains("1 sent"),
            "[{}] {out}",
            db.label
        );
        let mail = smtp.messages();
        assert_eq!(mail.len(), 1, "[{}]", db.label);
        assert_eq!(mail[0].to(), "ada@example.org");
        assert!(
            mail[0]
                .parsed()
                .body_html(0)
                .unwrap()
                .contains("Outlier Detection for Multi-Network Data")
        );

        hub.ok(&["run-once", "--force"]).await;
        assert_eq!(smtp.messages().len(), 1, "[{}] sent once only", db.label);
        smtp.stop().await;
        db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_email_address_is_refused_and_nothing_is_stored() {
    let db = TestDb::sqlite();
    let hub = Hub::new(&format!("[database]\nurl = \"{}\"\n", db.url));
    for bad in [
        "not-an-email",
        "ada@",
        "ada@@example.org",
        "a b@example.org",
    ] {
        let out = hub
            .run(&["subscribe", bad, "--topic", "x", "--keywords", "y"])
            .await;
        assert!(!out.success);
        assert!(
            out.stderr.contains("is not a valid email address"),
            "{bad}: {}",
            out.stderr
        );
        assert_eq!(
            out.stderr.lines().count(),
            1,
            "one clear line: {}",
            out.stderr
        );
    }
    let out = hub
        .run(&[
            "subscribe",
            "ada@example.org",
            "--keywords",
            "y",
            "--topic",
            "x",
        ])
        .await;
    assert!(
        out.stderr
            .contains("--keywords must come after the --topic"),
        "{}",
        out.stderr
    );
    let out = hub
        .run(&["subscribe", "ada@example.org", "--topic", "x"])
        .await;
    assert!(
        out.stderr.contains("needs at least one keyword"),
        "{}",
        out.stderr
    );
    assert_eq!(hub.ok(&["subscribers"]).await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_invalid_settings_are_rejected_naming_the_key() {
    let hub = Hub::new("[database]\nurll = \"sqlite://x.db\"\n");
    let out = hub.run(&["migrate"]).await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("unknown field: found `urll`"),
        "{}",
        out.stderr
    );

    hub.rewrite_config("[delivery]\ntransport = \"pigeon\"\n");
    let out = hub.run(&["migrate"]).await;
    assert!(
        !out.success && out.stderr.contains("pigeon") && out.stderr.contains("delivery.transport"),
        "{}",
        out.stderr
    );

    hub.rewrite_config("[web]\npublic_url = \"hub.test\"\n");
    let out = hub.run(&["migrate"]).await;
    assert!(out.stderr.contains("`web.public_url`"), "{}", out.stderr);

    hub.rewrite_config("");
    let out = hub
        .run_with_env(&["migrate"], &[("ACADEMICHUB_DATABASE__NOPE", "1")])
        .await;
    assert!(
        !out.success && out.stderr.contains("nope"),
        "{}",
        out.stderr
    );

    let out = hub
        .run_with_env(
            &["migrate"],
            &[("ACADEMICHUB_SCHEDULE__DELIVER", "every minute")],
        )
        .await;
    assert!(
        !out.success && out.stderr.contains("`schedule.deliver`"),
        "{}",
        out.stderr
    );

    let out = hub
        .run_with_env(&["migrate"], &[("ACADEMICHUB_LINKS__SECRET", "short")])
        .await;
    assert!(
        !out.success && out.stderr.contains("`links.secret`") && !out.stderr.contains("short\""),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_clear_error_without_the_password() {
    let port = free_port();
    let hub = Hub::new(&format!(
        "[database]\nurl = \"postgres://hub:hunter2@127.0.0.1:{port}/hub\"\n"
    ));
    let out = hub.run(&["subscribers"]).await;
    assert!(!out.success);
    assert!(
        out.stderr.starts_with(&format!(
            "error: cannot open database postgres://hub:***@127.0.0.1:{port}/hub"
        )) && out.stderr.contains("check `database.url`"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}
