//! `academichub serve`: the daemon delivers on its own and stops cleanly.

use std::time::{Duration, Instant};

use crate::helpers::{FeedServer, Hub, Route, SmtpServer, TestDb, config, fixture, terminate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sends_due_briefings_and_stops_on_sigterm() {
    const TEST: &str = "the_daemon_sends_due_briefings_and_stops_on_sigterm";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feeds = FeedServer::start([(
        "nature.rss",
        Route::Feed(fixture("nature-rss1-synthetic-shape.xml")),
    )])
    .await;
    let db = TestDb::sqlite();
    let hub = Hub::new(&config(&db.url, smtp.port, &[feeds.url("nature.rss")]));
    // Hour 0 in UTC: due at any time of day, so the daemon's first tick sends it.
    hub.ok(&[
        "subscribe",
        "nat@example.org",
        "--timezone",
        "UTC",
        "--hour",
        "0",
        "--topic",
        "GNN",
        "--keywords",
        "graph neural network",
    ])
    .await;

    let mut daemon = hub.spawn_daemon();

    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.messages().is_empty() {
        if let Ok(Some(status)) = daemon.try_wait() {
            panic!("the daemon exited early with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "no briefing from the daemon within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(smtp.messages()[0].to(), "nat@example.org");

    let out = terminate(daemon).await;
    let stderr = &out.stderr;
    assert!(out.success, "{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert_eq!(smtp.messages().len(), 1, "exactly one briefing");
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_during_a_tick_lets_the_tick_finish_then_stops() {
    let feeds = FeedServer::start([(
        "slow.rss",
        Route::Slow(
            Duration::from_secs(2),
            fixture("nature-rss1-synthetic-shape.xml"),
        ),
    )])
    .await;
    let db = TestDb::sqlite();
    let hub = Hub::new(&format!(
        "[database]\nurl = \"{}\"\n[web]\nlisten = \"127.0.0.1:0\"\n[[collect.feeds]]\nurl = \"{}\"\n",
        db.url,
        feeds.url("slow.rss")
    ));
    hub.ok(&["migrate"]).await;
    let daemon = hub.spawn_daemon();
    // The start-up collection tick is now waiting for the slow feed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while feeds.requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the daemon never asked for the feed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = terminate(daemon).await;
    let stderr = &out.stderr;
    assert!(out.success, "{stderr}");
    assert!(
        stderr.contains("feed collected") && stderr.contains("shutting down"),
        "the tick finished first: {stderr}"
    );
}
