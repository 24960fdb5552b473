//! `academichub serve`: the daemon delivers on its own and stops cleanly.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::helpers::{FeedServer, Hub, Route, SmtpServer, TestDb, config, fixture};

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

    let mut daemon = Command::new(env!("CARGO_BIN_EXE_academichub"))
        .arg("--config")
        .arg(&hub.config)
        .arg("serve")
        .env_clear()
        .current_dir(hub.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

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

    let pid = daemon.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let out = tokio::time::timeout(Duration::from_secs(30), daemon.wait_with_output())
        .await
        .expect("the daemon stops within 30 s of SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
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
        "[database]\nurl = \"{}\"\n[[collect.feeds]]\nurl = \"{}\"\n",
        db.url,
        feeds.url("slow.rss")
    ));
    hub.ok(&["migrate"]).await;
    let daemon = Command::new(env!("CARGO_BIN_EXE_academichub"))
        .arg("--config")
        .arg(&hub.config)
        .arg("serve")
        .env_clear()
        .current_dir(hub.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The start-up collection tick is now waiting for the slow feed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while feeds.requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the daemon never asked for the feed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = daemon.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let out = tokio::time::timeout(Duration::from_secs(30), daemon.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(
        stderr.contains("feed collected") && stderr.contains("shutting down"),
        "the tick finished first: {stderr}"
    );
}
