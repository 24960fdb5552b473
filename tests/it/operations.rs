//! Running it as a service: what a monitor scrapes from the daemon
//! (`/metrics`), what an operator reads (`stats`, `stats --json`), a
//! configuration checked before a restart (`config check`), and log lines
//! a log shipper reads (`--log-format json`), all through the real binary.

use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::helpers::{
    Daemon, Hub, SmtpServer, TestDb, free_port, outliers_feed, wait_for_mail, web_config,
};

/// The value of the sample of `name` whose labels include `labels`, in a
/// Prometheus text scrape.
fn sample(scrape: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        (metric == name
            && labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
        .then(|| value.parse().ok())?
    })
}

/// Subscribes `who` to outlier detection, due at any hour (hour 0 in UTC).
async fn subscribe_due(hub: &Hub, who: &str) {
    hub.ok(&[
        "subscribe",
        who,
        "--timezone",
        "UTC",
        "--hour",
        "0",
        "--topic",
        "Outliers",
        "--keywords",
        "outlier detection",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_metrics_count_what_its_round_did_and_name_no_reader() {
    const TEST: &str = "the_daemons_metrics_count_what_its_round_did_and_name_no_reader";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    let feed_url = feed.url("ok.rss");
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(
        &db.url,
        smtp.port,
        std::slice::from_ref(&feed_url),
        port,
    ));
    for who in ["ada@example.org", "bob@example.org"] {
        subscribe_due(&hub, who).await;
    }

    // At start-up the daemon collects, makes the due briefings and sends them.
    let daemon = Daemon::start(&hub, port).await;
    wait_for_mail(&smtp, 2).await;
    let metrics = format!("{}/metrics", daemon.base);
    let deadline = Instant::now() + Duration::from_secs(20);
    let scrape = loop {
        let (code, body) = daemon.get(&metrics).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        if sample(&body, "academichub_messages_total", &[("outcome", "sent")]) == Some(2.0) {
            break body;
        }
        assert!(Instant::now() < deadline, "2 sent never counted:\n{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let value = |name, labels: &[(&str, &str)]| sample(&scrape, name, labels);
    assert_eq!(
        value(
            "academichub_feed_checks_total",
            &[("source", feed_url.as_str()), ("outcome", "stored")]
        ),
        Some(1.0),
        "{scrape}"
    );
    assert!(
        value(
            "academichub_papers_stored_total",
            &[("source", feed_url.as_str()), ("kind", "new")]
        )
        .is_some_and(|n| n > 0.0),
        "{scrape}"
    );
    assert_eq!(
        value("academichub_briefings_composed_total", &[]),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        value("academichub_subscribers_failed_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(
            "academichub_smtp_send_duration_seconds_count",
            &[("outcome", "accepted")]
        ),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        value("academichub_outbox_depth", &[]),
        Some(0.0),
        "{scrape}"
    );
    assert_eq!(
        value("academichub_outbox_oldest_queued_age_seconds", &[]),
        Some(0.0)
    );
    assert_eq!(value("academichub_database_up", &[]), Some(1.0));
    assert!(value("academichub_database_size_bytes", &[]).is_some_and(|b| b > 0.0));
    // The readiness polls before the scrape, by their route's template.
    assert!(
        value(
            "academichub_http_requests_total",
            &[("route", "/healthz"), ("status", "200")]
        )
        .is_some_and(|n| n >= 1.0),
        "{scrape}"
    );
    for private in ["@", "example.org", "ada", "bob"] {
        assert!(
            !scrape.contains(private),
            "the scrape names a reader ({private}):\n{scrape}"
        );
    }
    daemon.stop().await;

    // Turned off: nothing is served.
    hub.rewrite_config(&format!(
        "{}\n[metrics]\nenabled = false\n",
        web_config(&db.url, smtp.port, &[feed_url], port)
    ));
    let daemon = Daemon::start(&hub, port).await;
    assert_eq!(daemon.get(&metrics).await.0, StatusCode::NOT_FOUND);
    daemon.stop().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_report_todays_deferral_and_failure() {
    const TEST: &str = "stats_report_todays_deferral_and_failure";
    let Some(smtp) = SmtpServer::ruled(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let hub = Hub::new(&crate::helpers::config(
            &db.url,
            smtp.port,
            &[feed.url("ok.rss")],
        ));
        for who in ["ada@example.org", "later@example.org", "gone@example.org"] {
            subscribe_due(&hub, who).await;
        }
        smtp.set_rules(&[
            ("later@example.org", "451 4.2.1 Mailbox busy, try later"),
            ("gone@example.org", "550 5.1.1 No such user"),
        ]);
        let out = hub.run(&["run-once"]).await;
        assert!(out.success, "[{label}] {}", out.stderr);

        let out = hub.run(&["stats", "--json", "--timezone", "UTC"]).await;
        assert!(out.success, "[{label}] {}", out.stderr);
        let stats: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let today = &stats["today"];
        assert_eq!(today["timezone"], "UTC");
        assert_eq!(
            today["messages"],
            serde_json::json!({"sent": 1, "deferred": 1, "failed": 1, "expired": 0}),
            "[{label}] {}",
            out.stdout
        );
        assert_eq!(today["briefings_made"], 3, "[{label}]");
        assert_eq!(
            today["readers"]["suppressed"], 1,
            "[{label}] {}",
            out.stdout
        );
        assert_eq!(today["round"]["active"], 2, "[{label}] gone@ is suppressed");
        // The deferred message waits in the outbox for its retry.
        assert_eq!(today["outbox_waiting"], 1, "[{label}]");
        assert!(today["outbox_oldest_secs"].as_i64().is_some(), "[{label}]");
        assert_eq!(today["sources"][0]["errors_in_a_row"], 0, "[{label}]");
        assert!(today["database_bytes"].as_i64().unwrap() > 0);
        assert_eq!(stats["days"].as_array().unwrap().len(), 7);
        assert!(
            !out.stdout.contains("example.org"),
            "[{label}] stats name nobody"
        );

        // The screen says the same in words.
        let out = hub.run(&["stats", "--timezone", "Asia/Shanghai"]).await;
        assert!(out.success, "[{label}] {}", out.stderr);
        assert!(
            out.stdout
                .contains("1 sent, 1 deferred, 1 failed, 0 expired"),
            "[{label}] {}",
            out.stdout
        );
        assert!(out.stdout.contains("(Asia/Shanghai)"), "{}", out.stdout);
        assert!(
            out.stdout.contains("outbox     1 waiting"),
            "{}",
            out.stdout
        );
        let out = hub.run(&["stats", "--timezone", "Mars/Olympus"]).await;
        assert!(
            !out.success
                && out
                    .stderr
                    .contains("\"Mars/Olympus\" is not an IANA time zone"),
            "{}",
            out.stderr
        );
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_prints_the_effective_settings_masked_and_names_the_bad_key() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/academichub.example.toml"
    );
    let hub = Hub::new("");
    let out = hub.run(&["config", "check", example]).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stderr.contains("configuration ok"), "{}", out.stderr);
    let printed: toml::Table = toml::from_str(&out.stdout).expect("the settings as TOML");
    assert_eq!(printed["delivery"]["concurrency"].as_integer(), Some(8));
    assert_eq!(printed["metrics"]["enabled"].as_bool(), Some(true));
    assert_eq!(printed["log"]["format"].as_str(), Some("text"));

    // Secrets from the file and from the environment are masked.
    let secret_config = "[database]\nurl = \"postgres://hub:hunter2@db.internal/hub?sslpassword=hunter2\"\n\
         [delivery]\ntransport = \"smtp\"\n[delivery.smtp]\nusername = \"hub\"\npassword = \"hunter2\"\n\
         [links]\nsecret = \"hunter2-hunter2-hunter2-hunter2-hunter2\"\n\
         [llm]\nbase_url = \"http://llm.internal/v1\"\napi_key = \"hunter2\"\n\
         [[collect.feeds]]\nurl = \"https://reader:hunter2@feeds.test/x.rss?token=hunter2\"\n";
    let hub = Hub::new(secret_config);
    let out = hub
        .run_with_env(
            &["config", "check"],
            &[("ACADEMICHUB_SOURCES__NCBI_API_KEY", "hunter2")],
        )
        .await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        !out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"),
        "a secret was printed:\n{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("postgres://hub:***@db.internal/hub?sslpassword=***")
    );
    assert!(
        out.stdout
            .contains("https://reader:***@feeds.test/x.rss?token=***")
    );
    assert_eq!(
        out.stdout.matches("<redacted>").count(),
        4,
        "{}",
        out.stdout
    );

    // The first problem is named by its key, with the daemon's own words;
    // a value that is wrong in itself exits with the status systemd does
    // not restart on, as the daemon does.
    for (config, env, says, code) in [
        (
            "[delivery]\nconcurency = 4\n",
            None,
            "unknown field: found `concurency`",
            78,
        ),
        (
            "[web]\nmax_connections = 0\n",
            None,
            "`web.max_connections` must be at least 1",
            78,
        ),
        (
            "",
            Some(("ACADEMICHUB_DELIVERY__CONCURRENCY", "many")),
            "for key \"DELIVERY.CONCURRENCY\"",
            78,
        ),
        (
            "[delivery]\nbounce_address = \"bounces+x@hub.test\"\n",
            None,
            "`delivery.bounce_address`",
            78,
        ),
        // What only start-up found before: a DKIM key that is not there.
        (
            "[delivery.dkim]\ndomain = \"hub.test\"\nselector = \"s1\"\nprivate_key_file = \"no-such.pem\"\n",
            None,
            "cannot read delivery.dkim.private_key_file no-such.pem",
            1,
        ),
    ] {
        let hub = Hub::new(config);
        let out = hub.run_with_env(&["config", "check"], env.as_slice()).await;
        assert_eq!(out.code, Some(code), "{config}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{config}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "nothing printed on a bad config");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_a_reader_by_id_and_by_address_only_at_debug() {
    const TEST: &str = "json_logs_name_a_reader_by_id_and_by_address_only_at_debug";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    let db = TestDb::sqlite();
    let hub = Hub::new(&crate::helpers::config(
        &db.url,
        smtp.port,
        &[feed.url("ok.rss")],
    ));
    subscribe_due(&hub, "ada@example.org").await;
    let out = hub
        .run_with_env(
            &["run-once", "--log-format", "json"],
            &[("RUST_LOG", "academichub=info")],
        )
        .await;
    assert!(out.success, "{}", out.stderr);
    let lines: Vec<serde_json::Value> = out
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let sent = lines
        .iter()
        .find(|l| l["message"] == "mail sent")
        .unwrap_or_else(|| panic!("no \"mail sent\" line: {}", out.stderr));
    assert_eq!(sent["level"], "INFO");
    assert!(
        sent["to"].as_str().unwrap().starts_with("subscriber "),
        "{sent}"
    );
    assert!(!out.stderr.contains("ada@"), "{}", out.stderr);

    // At debug, the address is there for whoever is debugging.
    subscribe_due(&hub, "bob@example.org").await;
    let out = hub
        .run_with_env(
            &["run-once", "--log-format", "json"],
            &[("RUST_LOG", "academichub=debug")],
        )
        .await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr.contains("<bob@example.org>"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    // The config's `log.format` does the same as the flag.
    hub.rewrite_config(&format!(
        "{}\n[log]\nformat = \"json\"\n",
        crate::helpers::config(&db.url, smtp.port, &[feed.url("ok.rss")])
    ));
    subscribe_due(&hub, "carl@example.org").await;
    let out = hub
        .run_with_env(&["run-once"], &[("RUST_LOG", "academichub=info")])
        .await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stderr.contains("\"mail sent\"")
            && out
                .stderr
                .lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{}",
        out.stderr
    );
    smtp.stop().await;
}
