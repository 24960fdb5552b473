//! The reader's side under load: subscribe requests over HTTP (each one
//! checks its input, writes the pending subscriber and its event, renders
//! the confirmation mail and queues it) and link pages (verify the token,
//! load the subscriber, render the page), against the real router on
//! loopback with SQLite.
//!
//! `cargo bench --bench readers` runs the full measurement; `cargo test
//! --bench readers` (CI) a small smoke run of the same code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use academichub::app::Application;
use academichub::config::Settings;
use academichub::web;

const CONCURRENCY: usize = 16;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let requests = if full { 3_000 } else { 40 };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.database.url = format!("sqlite://{}", dir.path().join("hub.db").display());
    settings.delivery.folder = dir.path().join("mail");
    settings.web.subscribe_per_ip_per_hour = u32::MAX;
    // One loopback client stands for many readers: with the cap at exactly
    // CONCURRENCY, a connection the client opens before the server has let
    // go of the one it replaces was refused (429) on a loaded machine.
    settings.web.max_connections_per_client = 4 * CONCURRENCY;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    settings.web.public_url = base.clone();
    let app = Arc::new(Application::build(settings).await.unwrap());
    tokio::spawn(web::serve(app.clone(), listener, std::future::pending()));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    let elapsed = run(requests, |n| {
        let http = http.clone();
        let url = format!("{base}/api/subscriptions");
        async move {
            let body = serde_json::json!({
                "email": format!("reader{n}@example.org"),
                "timezone": "Europe/Berlin",
                "topics": [{"name": "Conformal prediction",
                            "keywords": ["conformal prediction", "coverage"],
                            "categories": ["stat.ML"]}]
            });
            let r = http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
        }
    })
    .await;
    report("POST /api/subscriptions (new address)", requests, elapsed);

    // Each subscriber's preferences link, as the confirmation pages use them.
    let mut links = Vec::new();
    let store = academichub::store::Store::open(&app.settings.database.url, 2)
        .await
        .unwrap();
    for n in 0..requests.min(200) {
        let email =
            academichub::domain::EmailAddress::parse(&format!("reader{n}@example.org")).unwrap();
        let s = store.find_subscriber(&email).await.unwrap().unwrap();
        links.push(app.link_url(
            &s,
            academichub::app::ReaderLink::Preferences,
            chrono::Utc::now(),
        ));
    }
    let links = Arc::new(links);
    let elapsed = run(requests, |n| {
        let http = http.clone();
        let links = links.clone();
        async move {
            let r = http.get(&links[n % links.len()]).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
    })
    .await;
    report(
        "GET /preferences/{token} (verify, load, render)",
        requests,
        elapsed,
    );
}

/// Runs `requests` calls of `call`, `CONCURRENCY` at a time.
async fn run<F, Fut>(requests: usize, call: F) -> Duration
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let started = Instant::now();
    let mut next = 0;
    let mut running = tokio::task::JoinSet::new();
    while next < requests || !running.is_empty() {
        while next < requests && running.len() < CONCURRENCY {
            running.spawn(call(next));
            next += 1;
        }
        if let Some(done) = running.join_next().await {
            done.unwrap();
        }
    }
    started.elapsed()
}

fn report(what: &str, requests: usize, elapsed: Duration) {
    println!(
        "{what}: {requests} requests, {CONCURRENCY} at a time, in {:.2} s = {:.0} per second",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64()
    );
}
