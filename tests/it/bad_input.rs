//! Bad input gets a clear error and loses nothing.
use std::time::Duration;

use axum::http::StatusCode;

use crate::helpers::{
    Daemon, FeedServer, Hub, Route, SmtpServer, TestDb, config, fixture, free_port, skip,
    web_config,
};

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
    let mut urls = ["html.rss", "error.rss", "ok.rss"]
        .map(|p| feeds.url(p))
        .to_vec();
    // An endless file is refused at the cap a feed over HTTP has.
    urls.push("file:///dev/zero".to_owned());
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
    assert!(
        out.stderr
            .contains("warning: feed file:///dev/zero: the feed is larger than 32 MiB"),
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
        out.stderr
            .contains("needs at least one word, phrase, author:\"…\" or like:…"),
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

/// Runs `args` with `config` (and `env`), expecting failure, and checks that
/// nothing printed shows the secret `hunter2` and that stderr says `says`.
async fn fails_without_the_secret(config: &str, env: &[(&str, &str)], args: &[&str], says: &str) {
    let hub = Hub::new(config);
    let out = hub.run_with_env(args, env).await;
    assert!(!out.success, "{config} {env:?}: {}", out.stdout);
    assert!(
        out.stderr.contains(says),
        "{config} {env:?}: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("hunter2") && !out.stdout.contains("hunter2"),
        "{config} {env:?}: the secret leaked: {}{}",
        out.stdout,
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_explained_without_showing_a_secret() {
    let db = TestDb::sqlite();
    let port = free_port();
    for (config, says) in [
        (
            "[database]\nurl = \"mysql://root:hunter2@db/hub\"\n".to_owned(),
            "`database.url` \"mysql://root:***@db/hub\" must start with sqlite:// or postgres://",
        ),
        (
            "[database]\nurl = \"postgress://app:hunter2@db/hub\"\n".to_owned(),
            "\"postgress://app:***@db/hub\" must start with",
        ),
        (
            "[database]\nurl = \"sqlite:c2.db\"\n".to_owned(),
            "needs two slashes: sqlite://PATH",
        ),
        (
            format!("[database]\nurl = \"postgres://127.0.0.1:{port}/hub?password=hunter2\"\n"),
            "password=***",
        ),
        (
            format!(
                "[database]\nurl = \"{}\"\n[schedule]\ndeliver = \"0 0 0 31 2 *\"\n",
                db.url
            ),
            "`schedule.deliver` \"0 0 0 31 2 *\" never fires",
        ),
        (
            format!(
                "[database]\nurl = \"{}\"\n[[collect.feeds]]\nurl = \"ftp://reader:hunter2@feeds.test/x\"\n",
                db.url
            ),
            "ftp:// URLs cannot be collected",
        ),
        (
            format!(
                "[database]\nurl = \"{}\"\n[collect]\nfeeds = [\"arxiv:cs.LG\", \"journal:natur\"]\n",
                db.url
            ),
            "\"journal:natur\" is not in the catalogue; nearest: journal:nature",
        ),
    ] {
        fails_without_the_secret(&config, &[], &["migrate"], says).await;
    }
    // figment reads an all-digit value from the environment as a number; a
    // password is a password all the same, and a type error must not echo it.
    let smtp = format!(
        "[database]\nurl = \"{}\"\n[delivery]\ntransport = \"smtp\"\n[delivery.smtp]\nusername = \"hub\"\n",
        db.url
    );
    let hub = Hub::new(&smtp);
    let out = hub
        .run_with_env(
            &["migrate"],
            &[("ACADEMICHUB_DELIVERY__SMTP__PASSWORD", "20261124")],
        )
        .await;
    assert!(out.success, "{}", out.stderr);
    fails_without_the_secret(
        &smtp,
        &[("ACADEMICHUB_DELIVERY__SMTP__PASSWORD", "[\"hunter2\"]")],
        &["migrate"],
        "expected a string for key \"DELIVERY.SMTP.PASSWORD\"",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_there_but_refuses_says_why() {
    let Ok(admin) = std::env::var("TEST_POSTGRES_URL") else {
        return skip(
            "a_database_that_is_there_but_refuses_says_why",
            "TEST_POSTGRES_URL is not set",
        );
    };
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path("no_such_database_here");
    let _ = url.set_password(Some("hunter2"));
    fails_without_the_secret(
        &format!("[database]\nurl = \"{url}\"\n"),
        &[],
        &["subscribers"],
        "database \"no_such_database_here\" does not exist",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_credentials_stay_hidden_and_a_stalled_feed_is_a_timeout() {
    let feeds = FeedServer::start([(
        "slow.rss",
        Route::Slow(
            Duration::from_secs(3),
            fixture("nature-rss1-synthetic-shape.xml"),
        ),
    )])
    .await;
    let db = TestDb::sqlite();
    let slow = feeds
        .url("slow.rss")
        .replace("http://", "http://reader:hunter2@");
    let dead = format!("http://reader:hunter2@127.0.0.1:{}/rss", free_port());
    let hub = Hub::new(&format!(
        "[database]\nurl = \"{}\"\n[collect]\ntimeout_secs = 1\n[[collect.feeds]]\nurl = \"{slow}\"\n[[collect.feeds]]\nurl = \"{dead}\"\n",
        db.url
    ));
    let out = hub.run(&["collect"]).await;
    assert!(
        out.stderr.contains("did not answer in full within 1 s"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("reader:***@"), "{}", out.stderr);
    let listed = hub.ok(&["feeds"]).await;
    for output in [&out.stdout, &out.stderr, &listed] {
        assert!(!output.contains("hunter2"), "{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_a_feed_cannot_give_us_are_counted_and_shown_by_feeds() {
    let feed = br#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Journal</title><link>https://j.test/</link><description>x</description>
<item><title>Caf\xe9 physics</title><link>https://j.test/1</link><pubDate>Fri, 01 Jan 9999 00:00:00 GMT</pubDate></item>
<item><link>https://j.test/2</link></item>
<item><title>Script</title><link>javascript:alert(1)</link></item>
</channel></rss>"#;
    let feeds = FeedServer::start([("j.rss", Route::Feed(feed.to_vec()))]).await;
    let db = TestDb::sqlite();
    let hub = Hub::new(&format!(
        "[database]\nurl = \"{}\"\n[[collect.feeds]]\nurl = \"{}\"\nname = \"Journal\"\n",
        db.url,
        feeds.url("j.rss")
    ));
    let out = hub.ok(&["collect"]).await;
    assert!(
        out.contains("1 new"),
        "a Latin-1 feed labelled UTF-8 is read: {out}"
    );
    let listed = hub.ok(&["feeds"]).await;
    assert!(
        listed.contains("ok, but 2 item(s) skipped (no title: 1, no http(s) link: 1)"),
        "{listed}"
    );
}

/// The subscribe API and the CLI's `subscribe` are two doors to one check:
/// what one refuses the other refuses, in the same words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_what_the_subscribe_api_refuses_in_the_same_words() {
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, free_port(), &[], port));
    let daemon = Daemon::start(&hub, port).await;
    let topic =
        |i: usize| serde_json::json!({"name": format!("t{i}"), "keywords": [format!("word{i}")]});
    let cases: [(&str, serde_json::Value, Vec<String>); 3] = [
        (
            "21 topics",
            serde_json::json!({"email": "ada@example.org", "topics": (0..21).map(topic).collect::<Vec<_>>()}),
            (0..21)
                .flat_map(|i| {
                    [
                        "--topic".into(),
                        format!("t{i}"),
                        "--keywords".into(),
                        format!("word{i}"),
                    ]
                })
                .collect(),
        ),
        (
            "hour 24",
            serde_json::json!({"email": "ada@example.org", "send_hour": 24, "topics": [topic(0)]}),
            ["--hour", "24", "--topic", "t0", "--keywords", "word0"]
                .map(String::from)
                .to_vec(),
        ),
        (
            "a zone that does not exist",
            serde_json::json!({"email": "ada@example.org", "timezone": "Mars/Olympus_Mons", "topics": [topic(0)]}),
            [
                "--timezone",
                "Mars/Olympus_Mons",
                "--topic",
                "t0",
                "--keywords",
                "word0",
            ]
            .map(String::from)
            .to_vec(),
        ),
    ];
    for (case, body, args) in cases {
        let (status, answer) = daemon.post_json("/api/subscriptions", &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {answer}");
        let said: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let said = said["error"].as_str().unwrap();
        let mut cli = vec!["subscribe", "ada@example.org"];
        cli.extend(args.iter().map(String::as_str));
        let out = hub.run(&cli).await;
        assert!(!out.success, "{case}: the CLI took it");
        assert_eq!(out.stderr.trim(), format!("error: {said}"), "{case}");
        println!("{case}: both say {said:?}");
    }
    assert_eq!(hub.ok(&["subscribers"]).await, "", "nothing was saved");
    daemon.stop().await;
}
