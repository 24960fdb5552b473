//! Polite collection is data: when each feed may be asked again.

use academichub::config::{CollectSettings, FeedSettings, SourceSettings};
use academichub::sources::{Collector, Fetcher};
use academichub::store::Store;
use axum::http::StatusCode;

use crate::helpers::{FeedServer, Route, TestDb, fixture};

#[tokio::test]
async fn feeds_are_asked_again_after_the_interval_a_backoff_or_their_retry_after() {
    let server = FeedServer::start([
        (
            "ok.rss",
            Route::Feed(fixture("arxiv-atom-cs.LG-2026-09-25.xml")),
        ),
        (
            "down.rss",
            Route::Status(StatusCode::BAD_GATEWAY, "bad gateway"),
        ),
        ("busy.rss", Route::RetryAfter(7_200)),
    ])
    .await;
    let db = TestDb::sqlite();
    let store = Store::open(&db.url, 2).await.unwrap();
    let fetcher = Fetcher::new("AcademicHub/test", std::time::Duration::from_secs(5)).unwrap();
    let settings = CollectSettings {
        interval_minutes: 30,
        feeds: ["ok.rss", "down.rss", "busy.rss"]
            .map(|p| FeedSettings::url(&server.url(p), Some(p)).unwrap())
            .to_vec(),
        ..CollectSettings::default()
    };
    let collector = Collector::new(
        store.clone(),
        fetcher,
        &settings,
        &SourceSettings::default(),
        None,
    );
    let next_check = |name: &'static str| {
        let (store, url) = (store.clone(), server.url(name));
        async move { store.ensure_source(&url, name, 0).await.unwrap() }
    };

    let t0 = 1_000_000;
    collector.collect(t0, &Default::default()).await.unwrap();
    assert_eq!(next_check("ok.rss").await.next_check_at, t0 + 30 * 60);
    assert_eq!(
        next_check("down.rss").await.next_check_at,
        t0 + 300,
        "first failure: 5 minutes"
    );
    assert_eq!(
        next_check("busy.rss").await.next_check_at,
        t0 + 7_200,
        "Retry-After wins over a shorter backoff"
    );

    // Before any is due, nothing is fetched.
    let requests = server.requests().len();
    let report = collector
        .collect(t0 + 299, &Default::default())
        .await
        .unwrap();
    assert_eq!(server.requests().len(), requests);
    assert_eq!(report.failures().count(), 0);

    // The failing feed is asked again and backs off twice as long.
    let t1 = t0 + 300;
    collector.collect(t1, &Default::default()).await.unwrap();
    let down = next_check("down.rss").await;
    assert_eq!((down.error_count, down.next_check_at), (2, t1 + 600));
    assert_eq!(
        down.last_error.as_deref(),
        Some("HTTP 502 Bad Gateway from the feed server")
    );
    store.close().await;
}
