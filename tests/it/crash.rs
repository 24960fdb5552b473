//! `kill -9` in the middle of a round, then a restart: every subscriber gets
//! exactly one briefing, except at most the messages that were in flight at
//! the kill (one per sending worker), which the restart reports, with when
//! the rest of the killed run's claim goes out again. On SQLite and PostgreSQL.
//!
//! `CRASH_TEST_SUBSCRIBERS` sets the size (CI: 300; the acceptance run in
//! BENCHMARKS.md used 2,000).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use academichub::domain::{EmailAddress, Locale, NewSubscriber, Topic};
use academichub::store::Store;

use crate::helpers::{FeedServer, Hub, Route, SmtpServer, TestDb, config, fixture, sql_exec};

fn size() -> usize {
    std::env::var("CRASH_TEST_SUBSCRIBERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300)
}

async fn subscribe_many(db_url: &str, n: usize) {
    let store = Store::open(db_url, 4).await.unwrap();
    let topic = Topic::new(
        "Outliers",
        ["outlier detection"],
        [] as [&str; 0],
        [] as [&str; 0],
    )
    .unwrap();
    for i in 0..n {
        let reader = NewSubscriber {
            email: EmailAddress::parse(&format!("reader{i}@example.org")).unwrap(),
            locale: Locale::En,
            timezone: chrono_tz::UTC,
            send_hour: academichub::domain::SendHour::new(0).unwrap(),
        };
        store
            .save_subscriber(&reader, std::slice::from_ref(&topic), 0)
            .await
            .unwrap();
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_killed_mid_send_and_restarted_sends_everyone_one_briefing() {
    const TEST: &str = "a_round_killed_mid_send_and_restarted_sends_everyone_one_briefing";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feeds = FeedServer::start([(
        "arxiv.rss",
        Route::Feed(fixture(
            "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
        )),
    )])
    .await;
    let n = size();
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let before = smtp.messages().len();
        let hub = Hub::new(&config(&db.url, smtp.port, &[feeds.url("arxiv.rss")]));
        subscribe_many(&db.url, n).await;

        // Kill the round once a third of the briefings have gone out.
        let mut round = hub.spawn(&["run-once", "--force"]);
        let deadline = Instant::now() + Duration::from_secs(600);
        while smtp.messages().len() < before + n / 3 {
            assert!(
                round.try_wait().unwrap().is_none(),
                "[{label}] the round ended before the kill"
            );
            assert!(Instant::now() < deadline, "[{label}] too slow");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        round.start_kill().unwrap();
        round.wait().await.unwrap();
        let at_kill = smtp.messages().len() - before;

        // The restart says what the killed run left claimed, and when it
        // goes out again: within two exchanges' time (an exchange may take
        // 3 × the SMTP timeout of 5 s, plus a 30 s margin), not the time of
        // the whole batch of 16 the worker had claimed (12 minutes).
        let out = hub.run(&["run-once", "--force"]).await;
        assert!(out.success, "[{label}] {}", out.stderr);
        let notice = out
            .stderr
            .lines()
            .find(|l| l.contains("are claimed by a sender"))
            .unwrap_or_else(|| panic!("[{label}] no word of parked messages: {}", out.stderr));
        let resume_in: i64 = notice
            .split("(in ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("[{label}] {notice}"));
        eprintln!("[{label}] {notice}");
        assert!(resume_in <= 2 * (3 * 5 + 30), "[{label}] {notice}");

        // As if the killed worker's lease had run out.
        sql_exec(
            &db.url,
            "UPDATE outbox SET lease_until = 0 WHERE status = 'sending'",
        )
        .await;
        let out = hub.run(&["run-once", "--force"]).await;
        assert!(out.success, "[{label}] {}", out.stderr);
        let interrupted: usize = out
            .stderr
            .split_whitespace()
            .skip_while(|w| *w != "warning:")
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);

        let mut received: HashMap<String, usize> = HashMap::new();
        for mail in smtp.messages().iter().skip(before) {
            *received.entry(mail.to()).or_default() += 1;
        }
        let twice = received.values().filter(|c| **c == 2).count();
        eprintln!(
            "[{label}] {n} subscribers; killed after {at_kill} sent; {interrupted} in flight at the kill; {twice} received twice"
        );
        assert_eq!(received.len(), n, "[{label}] nobody is missed");
        assert!(
            received.values().all(|c| *c <= 2),
            "[{label}] nobody more than twice"
        );
        // Each sending worker has at most one message in flight; the rest
        // of its claimed batch was never on the wire.
        let workers = academichub::config::Settings::default()
            .delivery
            .concurrency as usize;
        assert!(
            twice <= interrupted && twice <= workers,
            "[{label}] only messages in flight (one per worker) may arrive twice ({twice} twice, {interrupted} reported)"
        );
        db.drop_db().await;
    }
    smtp.stop().await;
}
