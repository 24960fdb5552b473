//! The round at scale, in its failure modes: who is due comes from an
//! index, one subscriber's failure stays theirs, and two daemons on one
//! PostgreSQL database share a round without doing anything twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use academichub::app::ReaderLink;
use academichub::domain::EventOrigin;
use academichub::domain::{
    Cadence, EmailAddress, Locale, NewSubscriber, SubscriptionStatus, Topic,
};
use academichub::store::Store;
use chrono::{Datelike, Utc};

use crate::helpers::{
    FIXTURES, Hub, SmtpServer, TestDb, app_on, config, cv_day_feed, sql_count, sql_exec, terminate,
};

/// `n` active subscribers `r{i}@example.org` at hour 0 UTC, each with one
/// topic on outlier detection.
async fn add_subscribers(store: &Store, n: usize, cadence: Cadence) {
    let rows: Vec<_> = (0..n)
        .map(|i| {
            (
                NewSubscriber {
                    email: EmailAddress::parse(&format!("r{i}@example.org")).unwrap(),
                    locale: Locale::En,
                    timezone: chrono_tz::UTC,
                    send_hour: academichub::domain::SendHour::new(0).unwrap(),
                },
                cadence,
                vec![Topic::parse("Outliers", "\"outlier detection\" OR anomaly").unwrap()],
            )
        })
        .collect();
    let origin = EventOrigin {
        source: "test",
        ip: None,
        user_agent: None,
    };
    store
        .import_subscribers(&rows, SubscriptionStatus::Active, &origin, 0)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_subscriber_whose_radar_or_row_fails_does_not_stop_the_others() {
    const TEST: &str = "a_subscriber_whose_radar_or_row_fails_does_not_stop_the_others";
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let mail = tempfile::tempdir().unwrap();
        let app = app_on(&db, mail.path()).await;
        let store = Store::open(&db.url, 2).await.unwrap();
        app.collect(Utc::now()).await.unwrap();
        add_subscribers(&store, 3, Cadence::Daily).await;
        // r1's stored query no longer parses; r2's time zone does not exist.
        sql_exec(
            &db.url,
            "UPDATE topics SET query = '\"never closed' WHERE subscriber_id =
                 (SELECT id FROM subscribers WHERE email = 'r1@example.org')",
        )
        .await;
        sql_exec(
            &db.url,
            "UPDATE subscribers SET timezone = 'Mars/Olympus_Mons' WHERE email = 'r2@example.org'",
        )
        .await;

        // Noon today: the half hour and the hour after it stay on this date,
        // so the subscriber who got a briefing is not due again (hour 0)
        // whenever the test runs (from 23:30 UTC it used to be).
        let now = Utc::now()
            .date_naive()
            .and_hms_opt(12, 0, 0)
            .expect("noon exists")
            .and_utc();
        let report = app.prepare_briefings(now, false).await.unwrap();
        assert_eq!(
            (report.queued, report.failed, report.examined),
            (1, 2, 3),
            "[{label}] {report:?}"
        );
        assert_eq!(
            sql_count(
                &db.url,
                "SELECT COUNT(*) FROM subscribers WHERE round_error LIKE '%never closed%'
                     OR round_error LIKE '%Mars/Olympus_Mons%'"
            )
            .await,
            2,
            "[{label}] each failure is recorded on its subscriber"
        );

        // Mended, r1 is tried again an hour later; r2 still fails, alone.
        sql_exec(
            &db.url,
            "UPDATE topics SET query = '\"outlier detection\"' WHERE subscriber_id =
                 (SELECT id FROM subscribers WHERE email = 'r1@example.org')",
        )
        .await;
        let soon = app
            .prepare_briefings(now + chrono::Duration::minutes(30), false)
            .await
            .unwrap();
        assert_eq!(soon.examined, 0, "[{label}] not before the hour: {soon:?}");
        let later = app
            .prepare_briefings(now + chrono::Duration::minutes(61), false)
            .await
            .unwrap();
        assert_eq!((later.queued, later.failed), (1, 1), "[{label}] {later:?}");
        assert_eq!(
            sql_count(
                &db.url,
                "SELECT COUNT(*) FROM subscribers WHERE round_error IS NOT NULL"
            )
            .await,
            1,
            "[{label}] a briefing made clears the error"
        );
        // The operator sees when the round looks at a subscriber next.
        let shown = Hub::new(&config(&db.url, 9, &[]))
            .ok(&["subscribers", "--show", "r1@example.org"])
            .await;
        assert!(
            shown.contains("next look: ") && !shown.contains("last round failed"),
            "[{label}] {shown}"
        );
        app.close().await;
        store.close().await;
        db.drop_db().await;
    }
}

/// Rows of `subscribers` PostgreSQL has read or written so far.
async fn subscriber_rows_touched(db_url: &str) -> i64 {
    sql_count(
        db_url,
        "SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) + n_tup_upd + n_tup_del
         FROM pg_stat_user_tables WHERE relname = 'subscribers'",
    )
    .await
}

/// Waits until no other session is connected to the database: a backend's
/// statistics reach the shared counters as it exits.
async fn others_gone(db_url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sql_count(
        db_url,
        "SELECT COUNT(*) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await
        > 0
    {
        assert!(Instant::now() < deadline, "a session stayed connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_tick_with_nobody_due_touches_no_subscriber_rows() {
    const TEST: &str = "a_tick_with_nobody_due_touches_no_subscriber_rows";
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let hub = Hub::new(&config(&db.url, 9, &[]));
        hub.ok(&["migrate"]).await;
        let store = Store::open(&db.url, 2).await.unwrap();
        // Their day is tomorrow.
        let tomorrow = Utc::now().weekday().succ();
        add_subscribers(&store, 1000, Cadence::Weekly(tomorrow)).await;
        store.close().await;

        // The first tick learns when each is due next…
        let first = hub.ok(&["run-once"]).await;
        assert!(
            first.contains("looked at 1000 subscriber(s)") && first.contains("1000 not due yet"),
            "[{label}] {first}"
        );
        // …and the next reads none of them: one search of an index.
        let before = if db.label == "postgres" {
            others_gone(&db.url).await;
            Some(subscriber_rows_touched(&db.url).await)
        } else {
            None
        };
        let second = hub.ok(&["run-once"]).await;
        assert!(
            second.contains("looked at 0 subscriber(s)"),
            "[{label}] {second}"
        );
        if let Some(before) = before {
            others_gone(&db.url).await;
            assert_eq!(
                subscriber_rows_touched(&db.url).await,
                before,
                "[{label}] no subscriber row read or written"
            );
        }
        db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_postgres_share_a_round_of_two_thousand() {
    const TEST: &str = "two_daemons_on_one_postgres_share_a_round_of_two_thousand";
    let Some(db) = TestDb::postgres(TEST).await else {
        return;
    };
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feeds = cv_day_feed().await;
    const N: usize = 2000;
    let hub = Hub::new(&config(&db.url, smtp.port, &[feeds.url("cs.CV.rss")]));
    let lines: String = (0..N)
        .map(|i| {
            format!(
                "{{\"email\": \"reader{i}@example.org\", \"timezone\": \"UTC\", \"send_hour\": 0, \
                 \"topics\": [{{\"name\": \"Vision\", \"query\": \"segmentation OR detection OR diffusion\"}}]}}\n"
            )
        })
        .collect();
    let file = hub.dir.path().join("subscribers.jsonl");
    std::fs::write(&file, lines).unwrap();
    let imported = hub
        .ok(&["subscribers", "import", &file.to_string_lossy()])
        .await;
    assert!(
        imported.contains(&format!("imported {N} subscriber(s)")),
        "{imported}"
    );
    // Today's papers are in before the daemons start: both find the feed
    // fetched, and neither fetches it again within the interval.
    hub.ok(&["collect"]).await;

    // Their logs are read as they come: a full pipe would stall a daemon.
    let mut daemons = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut daemon = hub.spawn_daemon();
        let mut stderr = daemon.stderr.take().unwrap();
        readers.push(tokio::spawn(async move {
            let mut log = String::new();
            tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut log)
                .await
                .unwrap();
            log
        }));
        daemons.push(daemon);
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while smtp.messages().len() < N && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Stopping lets each daemon finish what it is sending: whatever it
    // sent, a second time too, has arrived once they are gone.
    for daemon in daemons {
        assert!(terminate(daemon).await.success);
    }
    let mut logs = String::new();
    for reader in readers {
        logs.push_str(&reader.await.unwrap());
    }
    assert!(logs.contains("shutting down"), "{logs}");
    let mut received: HashMap<String, usize> = HashMap::new();
    for mail in smtp.messages() {
        *received.entry(mail.to()).or_default() += 1;
    }
    assert_eq!(received.len(), N, "nobody missing (within 5 min):\n{logs}");
    assert!(received.values().all(|&n| n == 1), "nobody twice");
    assert_eq!(
        feeds.requests().len(),
        1,
        "the feed fetched once, by one daemon"
    );
    // Each daemon logs what its ticks made: together, every briefing once,
    // none made again and thrown away.
    let count = |field: &str| -> usize {
        logs.match_indices(field)
            .map(|(i, _)| {
                logs[i + field.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse::<usize>()
                    .unwrap()
            })
            .sum()
    };
    assert_eq!(count("queued: "), N, "{logs}");
    assert_eq!(count("already_done: "), 0, "{logs}");
    assert_eq!(
        sql_count(&db.url, "SELECT COUNT(*) FROM briefings").await,
        N as i64
    );
    assert_eq!(
        sql_count(
            &db.url,
            "SELECT COUNT(*) FROM outbox WHERE status <> 'sent'"
        )
        .await,
        0,
        "nothing left to send"
    );
    smtp.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_sent_messages_body_goes_at_once_and_its_record_after_the_retention() {
    const TEST: &str = "a_sent_messages_body_goes_at_once_and_its_record_after_the_retention";
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let mail = tempfile::tempdir().unwrap();
        let app = app_on(&db, mail.path()).await;
        let store = Store::open(&db.url, 2).await.unwrap();
        let now = Utc::now();
        app.collect(now).await.unwrap();
        add_subscribers(&store, 1, Cadence::Daily).await;
        assert_eq!(app.prepare_briefings(now, false).await.unwrap().queued, 1);
        assert_eq!(app.deliver(false).await.unwrap().sent, 1);
        let reader = store
            .find_subscriber(&EmailAddress::parse("r0@example.org").unwrap())
            .await
            .unwrap()
            .unwrap();
        let link = app.link_url(&reader, ReaderLink::View(reader.edition(now)), now);
        let token = link.rsplit('/').next().unwrap();
        let title = |html: &str| html.contains("outlier") || html.contains("Outlier");
        // Sent: the body is gone at once (it was most of the database); the
        // record of sending stays, and the web view renders the briefing
        // again from its papers.
        assert_eq!(
            sql_count(&db.url, "SELECT COUNT(*) FROM message_bodies").await,
            0,
            "[{label}]"
        );
        assert_eq!(
            sql_count(
                &db.url,
                "SELECT COUNT(*) FROM outbox WHERE status = 'sent'
                 AND unsubscribe_url IS NULL AND lease_token IS NULL AND recipient <> ''"
            )
            .await,
            1,
            "[{label}] the record of the message stays, without what only sending needed"
        );
        let sent = app.sent_briefing(token, now).await.unwrap();
        assert!(title(&sent), "[{label}] its papers");

        // A week on, a list of papers it left out ("N more") goes; the
        // briefing stays.
        sql_exec(
            &db.url,
            "INSERT INTO briefing_left_out (briefing_id, papers) SELECT id, papers FROM briefings",
        )
        .await;
        let left_out = "SELECT COUNT(*) FROM briefing_left_out";
        app.deliver_tick(now, false, false).await.unwrap();
        assert!(
            sql_count(&db.url, left_out).await > 0,
            "[{label}] kept a week"
        );
        sql_exec(
            &db.url,
            "UPDATE briefings SET created_at = created_at - 8 * 86400",
        )
        .await;
        app.deliver_tick(now, false, false).await.unwrap();
        assert_eq!(sql_count(&db.url, left_out).await, 0, "[{label}]");

        // Forty days on (delivery.keep_messages_days is 30 by default), the
        // record goes too; the briefing's papers stay.
        sql_exec(
            &db.url,
            "UPDATE outbox SET created_at = created_at - 40 * 86400",
        )
        .await;
        app.deliver_tick(now, false, false).await.unwrap();
        assert_eq!(
            sql_count(&db.url, "SELECT COUNT(*) FROM outbox").await,
            0,
            "[{label}] the record is forgotten"
        );
        let again = app.sent_briefing(token, now).await.unwrap();
        assert!(title(&again), "[{label}] the same papers");
        app.close().await;
        store.close().await;
        db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_sending_finishes_the_messages_in_flight_and_loses_none() {
    const TEST: &str = "sigterm_while_sending_finishes_the_messages_in_flight_and_loses_none";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let hub = Hub::new(&config(
        &db.url,
        smtp.port,
        &[format!(
            "file://{FIXTURES}/arxiv-rss2-cs.CV-2026-04-21-real-day.xml"
        )],
    ));
    hub.ok(&["migrate"]).await;
    let store = Store::open(&db.url, 2).await.unwrap();
    add_subscribers(&store, 1000, Cadence::Daily).await;
    sql_exec(
        &db.url,
        "UPDATE topics SET query = 'segmentation OR detection OR diffusion'",
    )
    .await;
    store.close().await;

    let mut daemon = hub.spawn_daemon();
    let mut stderr = daemon.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut log = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut log)
            .await
            .unwrap();
        log
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    while smtp.messages().len() < 100 {
        assert!(Instant::now() < deadline, "the daemon never got to sending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(terminate(daemon).await.success);
    let log = log.await.unwrap();
    assert!(log.contains("stop requested"), "{log}");
    let received = smtp.messages().len() as i64;
    assert!(received < 1000, "stopped before the end: {received}");
    assert_eq!(
        sql_count(
            &db.url,
            "SELECT COUNT(*) FROM outbox WHERE status = 'sending'"
        )
        .await,
        0,
        "nothing left half-sent"
    );
    assert_eq!(
        sql_count(&db.url, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'").await,
        received,
        "every message received is recorded as sent, and only those"
    );
    assert_eq!(
        sql_count(
            &db.url,
            "SELECT COUNT(*) FROM outbox WHERE status = 'queued'"
        )
        .await,
        1000 - received,
        "the rest wait in the queue for the next start"
    );
    smtp.stop().await;
}
