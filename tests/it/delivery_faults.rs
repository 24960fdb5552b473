//! What the mail server says decides what happens to a message, and one
//! recipient's trouble never holds up the others: an SMTP server told, per
//! recipient or for everyone, to refuse (550, 553), defer (451), close the
//! channel (421), stall or drop the connection. On SQLite and PostgreSQL.

use crate::helpers::{
    Hub, Mail, SmtpServer, TestDb, config, outliers_feed, sql_count, sql_exec, status,
};

const EVERYONE: [&str; 3] = ["ada@example.org", "bob@example.org", "nat@example.org"];

/// A hub whose three subscribers (bob first in the queue) each have a
/// briefing due: the recorded feed has a paper on outlier detection.
async fn hub_with_three_due(db: &TestDb, smtp: &SmtpServer, feed: &str, delivery: &str) -> Hub {
    let hub = Hub::new(&with_delivery(
        config(&db.url, smtp.port, &[feed.to_owned()]),
        delivery,
    ));
    for who in ["bob@example.org", "ada@example.org", "nat@example.org"] {
        hub.ok(&[
            "subscribe",
            who,
            "--topic",
            "Outliers",
            "--keywords",
            "outlier detection",
        ])
        .await;
    }
    hub
}

/// `toml` with `lines` added to its `[delivery]` table.
fn with_delivery(toml: String, lines: &str) -> String {
    toml.replace(
        "from = \"AcademicHub <briefing@hub.test>\"\n",
        &format!("from = \"AcademicHub <briefing@hub.test>\"\n{lines}\n"),
    )
}

fn recipients(mail: &[Mail]) -> Vec<String> {
    let mut to: Vec<String> = mail.iter().map(Mail::to).collect();
    to.sort();
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_address_fails_alone_and_is_suppressed() {
    const TEST: &str = "a_refused_address_fails_alone_and_is_suppressed";
    let Some(smtp) = SmtpServer::ruled(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let before = smtp.messages().len();
        let hub = hub_with_three_due(&db, &smtp, &feed.url("ok.rss"), "").await;
        smtp.set_rules(&[
            ("bob@example.org", "550 5.1.1 No such user"),
            (
                "nat@example.org",
                "553 5.6.7 SMTPUTF8 is required for this address",
            ),
        ]);
        let out = hub.run(&["run-once", "--force"]).await;
        assert!(out.success, "[{label}] {}", out.stderr);
        assert!(
            out.stdout.contains("1 sent, 0 deferred, 2 failed"),
            "[{label}] {}",
            out.stdout
        );
        let mail: Vec<Mail> = smtp.messages().into_iter().skip(before).collect();
        assert_eq!(recipients(&mail), ["ada@example.org"], "[{label}]");
        for refused in ["bob@example.org", "nat@example.org"] {
            assert_eq!(status(&hub, refused).await, "suppressed", "[{label}]");
        }
        let shown = hub.ok(&["subscribers", "--show", "bob@example.org"]).await;
        assert!(
            shown.contains("suppressed\tvia delivery"),
            "[{label}] {shown}"
        );

        // Suppressed addresses are not mailed again, even when the server would take them.
        smtp.set_rules(&[]);
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains("0 sent"), "[{label}] {out}");
        assert_eq!(smtp.messages().len(), before + 1, "[{label}]");
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_address_waits_its_turn_without_holding_up_the_others() {
    const TEST: &str = "a_deferred_address_waits_its_turn_without_holding_up_the_others";
    let Some(smtp) = SmtpServer::ruled(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let before = smtp.messages().len();
        let hub = hub_with_three_due(&db, &smtp, &feed.url("ok.rss"), "").await;
        smtp.set_rules(&[("bob@example.org", "451 4.7.1 Greylisted, try again later")]);
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(
            out.contains("2 sent, 1 deferred, 0 failed"),
            "[{label}] {out}"
        );
        let mail: Vec<Mail> = smtp.messages().into_iter().skip(before).collect();
        assert_eq!(
            recipients(&mail),
            ["ada@example.org", "nat@example.org"],
            "[{label}] the others are not held up"
        );
        assert_eq!(status(&hub, "bob@example.org").await, "active");

        // A relay deferring everyone, run after run, for longer than the old
        // attempt limit (8) allowed: nothing is given up before its time.
        for run in 0..10 {
            smtp.set_rules(&[if run % 2 == 0 {
                ("*", "451 4.3.0 Try again later")
            } else {
                ("bob@example.org", "450 4.2.1 Mailbox busy")
            }]);
            let out = hub.ok(&["run-once", "--force"]).await;
            assert!(
                out.contains("0 sent, 1 deferred, 0 failed"),
                "[{label}] run {run}: {out}"
            );
        }

        smtp.set_rules(&[]);
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains("1 sent"), "[{label}] {out}");
        let mail: Vec<Mail> = smtp.messages().into_iter().skip(before).collect();
        assert_eq!(recipients(&mail), EVERYONE, "[{label}] each exactly once");
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_of_every_kind_count_no_attempt_and_lose_nothing() {
    const TEST: &str = "outages_of_every_kind_count_no_attempt_and_lose_nothing";
    let Some(smtp) = SmtpServer::ruled(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let before = smtp.messages().len();
        let hub = hub_with_three_due(&db, &smtp, &feed.url("ok.rss"), "").await;
        // A stalled server is given up on quickly.
        hub.rewrite_config(
            &std::fs::read_to_string(&hub.config)
                .unwrap()
                .replace("timeout_secs = 5", "timeout_secs = 1"),
        );
        // More outages than the old attempt limit (8) would have allowed.
        let outages = [
            "421 4.3.2 Service shutting down",
            "drop",
            "stall",
            "421 4.3.2 Service shutting down",
            "421 4.3.2 Service shutting down",
            "drop",
            "421 4.3.2 Service shutting down",
            "421 4.3.2 Service shutting down",
            "421 4.3.2 Service shutting down",
        ];
        for outage in outages {
            smtp.set_rules(&[("*", outage)]);
            let out = hub.run(&["run-once", "--force"]).await;
            assert!(!out.success, "[{label}] {outage}: an outage is an error");
            assert!(
                out.stderr.contains("is unavailable")
                    && out.stderr.contains("3 message(s) kept in the outbox"),
                "[{label}] {outage}: {}",
                out.stderr
            );
        }
        assert_eq!(smtp.messages().len(), before, "[{label}]");
        assert_eq!(
            sql_count(&db.url, "SELECT COUNT(*) FROM outbox WHERE attempts <> 0").await,
            0,
            "[{label}] no outage counts as an attempt"
        );

        smtp.set_rules(&[]);
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains("3 sent"), "[{label}] {out}");
        let mail: Vec<Mail> = smtp.messages().into_iter().skip(before).collect();
        assert_eq!(recipients(&mail), EVERYONE, "[{label}] each exactly once");
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_deferred_for_days_is_given_up_and_a_stale_briefing_expires() {
    const TEST: &str = "a_message_deferred_for_days_is_given_up_and_a_stale_briefing_expires";
    let Some(smtp) = SmtpServer::ruled(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let before = smtp.messages().len();
        // Briefings stay useful longer than deferrals are retried here.
        let hub = hub_with_three_due(
            &db,
            &smtp,
            &feed.url("ok.rss"),
            "give_up_after_hours = 72\nbriefing_expires_after_hours = 200",
        )
        .await;
        smtp.set_rules(&[("bob@example.org", "451 4.2.2 Mailbox full")]);
        hub.ok(&["run-once", "--force"]).await;
        age_outbox(&db.url, 4 * 24 * 3600).await;
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(
            out.contains("0 sent, 0 deferred, 1 failed"),
            "[{label}] {out}"
        );
        let error = sql_text(
            &db.url,
            "SELECT last_error FROM outbox WHERE recipient = 'bob@example.org'",
        )
        .await;
        assert!(
            error.starts_with("gave up") && error.contains("Mailbox full"),
            "[{label}] {error}"
        );

        // Default usefulness (36 h): a briefing held back by an outage for
        // two days is expired, not sent late.
        hub.rewrite_config(&with_delivery(
            config(&db.url, smtp.port, &[feed.url("ok.rss")]),
            "",
        ));
        let pending_before = smtp.messages().len();
        sql_exec(&db.url, "DELETE FROM briefings").await;
        smtp.set_rules(&[("*", "421 4.3.2 Try later")]);
        hub.run(&["run-once", "--force"]).await;
        age_outbox(&db.url, 2 * 24 * 3600).await;
        smtp.set_rules(&[]);
        let out = hub.ok(&["run-once"]).await;
        assert!(
            out.contains("0 sent") && out.contains("3 expired"),
            "[{label}] {out}"
        );
        assert_eq!(smtp.messages().len(), pending_before, "[{label}]");
        assert!(smtp.messages().len() >= before + 2);
        db.drop_db().await;
    }
    smtp.stop().await;
}

/// As if every outbox row had been made `secs` earlier.
async fn age_outbox(db_url: &str, secs: i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.unwrap();
    sqlx::query("UPDATE outbox SET created_at = created_at - $1")
        .bind(secs)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn sql_text(db_url: &str, sql: &'static str) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.unwrap();
    let text: String = sqlx::Row::get(&sqlx::query(sql).fetch_one(&pool).await.unwrap(), 0);
    pool.close().await;
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_checks_a_set_up_with_one_message() {
    const TEST: &str = "send_test_checks_a_set_up_with_one_message";
    let Some(smtp) = SmtpServer::ruled(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let hub = Hub::new(&config(&db.url, smtp.port, &[]));
    let out = hub.ok(&["send-test", "Ops@Example.org"]).await;
    assert!(
        out.contains(&format!(
            "test message to ops@example.org accepted by SMTP server 127.0.0.1:{}",
            smtp.port
        )),
        "{out}"
    );
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].parsed().subject(), Some("AcademicHub test message"));
    smtp.set_rules(&[("*", "550 5.7.1 Relaying denied")]);
    let out = hub.run(&["send-test", "ops@example.org"]).await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("rejected by the mail server") && out.stderr.contains("550"),
        "{}",
        out.stderr
    );
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_international_address_is_refused_unless_the_relay_takes_it_and_never_blocks_others() {
    const TEST: &str =
        "an_international_address_is_refused_unless_the_relay_takes_it_and_never_blocks_others";
    let Some(smtp) = SmtpServer::ruled(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    let db = TestDb::sqlite();
    let hub = hub_with_three_due(&db, &smtp, &feed.url("ok.rss"), "").await;
    let jöhn = [
        "subscribe",
        "jöhn@example.org",
        "--topic",
        "T",
        "--keywords",
        "outlier detection",
    ];
    let refused = hub.run(&jöhn).await;
    assert!(
        !refused.success && refused.stderr.contains("delivery.smtp.smtputf8 is off"),
        "{}",
        refused.stderr
    );
    // An operator says the relay takes them, but it refuses this one: that
    // address fails alone.
    smtp.set_rules(&[(
        "jöhn@example.org",
        "553 5.6.7 Non-ASCII addresses are not supported",
    )]);
    hub.rewrite_config(
        &std::fs::read_to_string(&hub.config)
            .unwrap()
            .replace("tls = \"none\"", "tls = \"none\"\nsmtputf8 = true"),
    );
    hub.ok(&jöhn).await;
    let out = hub.ok(&["run-once", "--force"]).await;
    assert!(out.contains("3 sent, 0 deferred, 1 failed"), "{out}");
    assert_eq!(status(&hub, "jöhn@example.org").await, "suppressed");
    smtp.stop().await;
}
