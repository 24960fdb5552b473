//! Papers like these (`like:`): a topic names example papers, new papers
//! like them match with the example's title as the reason, through the real
//! binary on the real cs.CV day, on both backends; an example no feed
//! brought is looked up once at arXiv or Crossref (recorded answers on
//! loopback).

use axum::http::StatusCode;

use crate::helpers::{
    FIXTURES, FeedServer, Hub, Route, SmtpServer, TestDb, config, cv_day_feed, wait_for_mail,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn papers_like_a_readers_examples_come_with_the_example_as_the_reason() {
    const TEST: &str = "papers_like_a_readers_examples_come_with_the_example_as_the_reason";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feeds = cv_day_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let hub = Hub::new(&config(&db.url, smtp.port, &[feeds.url("cs.CV.rss")]));
        assert!(hub.ok(&["collect"]).await.contains("501 new"), "[{label}]");
        // A camouflaged-object-detection paper as the only thing to go by.
        hub.ok(&[
            "subscribe",
            "ada@example.org",
            "--topic",
            "Camouflage",
            "--query",
            "like:arXiv:2604.16854v1",
        ])
        .await;
        let explained = hub.ok(&["explain", "ada@example.org", "2604.17879"]).await;
        assert!(
            explained.contains("like the example \"≈ “CATP: Confidence-Aware Token Pruning"),
            "[{label}] {explained}"
        );
        let before = smtp.messages().len();
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains("1 queued"), "[{label}] {out}");
        let mail = wait_for_mail(&smtp, before + 1).await;
        let text = mail[before].parsed().body_text(0).unwrap().into_owned();
        assert!(
            text.contains(
                "Exploring Boundary-Aware Spatial-Frequency Fusion for Camouflaged Object Detection"
            ),
            "[{label}] another COD paper comes: {text}"
        );
        assert!(
            text.contains(
                "≈ “CATP: Confidence-Aware Token Pruning for Camouflaged Object Detection”"
            ),
            "[{label}] with the example as the reason: {text}"
        );
        assert!(
            !text.contains("\n* CATP: Confidence-Aware"),
            "[{label}] the example itself is not news: {text}"
        );
        db.drop_db().await;
    }
    smtp.stop().await;
}

fn api_answer(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/../api/{name}")).unwrap()
}

/// An example nobody collected is asked for once, at the service its
/// reference belongs to, and then known; one no service knows is refused
/// saying so; a save may look up only a few.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_example_no_feed_brought_is_looked_up_once_where_it_is_registered() {
    const TEST: &str = "an_example_no_feed_brought_is_looked_up_once_where_it_is_registered";
    let not_found: &'static str = String::from_utf8(api_answer(
        "crossref_error_404_journal_not_found_2026-06-16.txt",
    ))
    .unwrap()
    .leak();
    let services = FeedServer::start([
        (
            "api/query?id_list=1605.08386",
            Route::Feed(api_answer("arxiv_api_id_list_1605.08386_2026-04-12.xml")),
        ),
        (
            "api/query?id_list=1707.08567",
            Route::Feed(api_answer("arxiv_api_id_list_1707.08567_2026-04-12.xml")),
        ),
        (
            "api/query?id_list=2601.99999",
            Route::Feed(api_answer(
                "arxiv_api_id_list_0000.0000_none_2026-04-12.xml",
            )),
        ),
        (
            "works/10.1371/journal.pone.0033693",
            Route::Feed(api_answer(
                "crossref_work_10.1371_journal.pone.0033693_2026-06-16.json",
            )),
        ),
        (
            "works/10.1371/notarealdoi",
            Route::Status(StatusCode::NOT_FOUND, not_found),
        ),
    ])
    .await;
    let base = services.url("");
    let asked = |what: &str| {
        services
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(what))
            .count()
    };
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let hub = Hub::new(&format!(
            "{}\n[sources.base_urls]\narxiv = \"{base}\"\ncrossref = \"{base}\"\n",
            config(&db.url, 2525, &[])
        ));
        let subscribe = |email: &'static str, topic: &'static str, query: &'static str| {
            let hub = &hub;
            async move {
                hub.run(&["subscribe", email, "--topic", topic, "--query", query])
                    .await
            }
        };
        // Three lookups in one save at most: a fourth example nobody
        // collected is refused without asking; the three asked for are
        // kept, so saving again works.
        let count = |what: &[&str]| what.iter().map(|w| asked(w)).collect::<Vec<_>>();
        let examples = [
            "id_list=1605.08386",
            "id_list=1707.08567",
            "journal.pone.0033693",
        ];
        let before = count(&examples);
        let many = subscribe(
            "dan@example.org",
            "Many",
            "like:1605.08386 like:1707.08567 like:10.1371/journal.pone.0033693 like:2601.99996",
        )
        .await;
        assert!(
            many.stderr
                .contains("like:2601.99996 is one paper too many to look up at once"),
            "[{label}] {}",
            many.stderr
        );
        let once: Vec<usize> = before.iter().map(|n| n + 1).collect();
        assert_eq!(count(&examples), once, "[{label}] each asked for once");
        assert_eq!(asked("id_list=2601.99996"), 0, "[{label}]");

        // Known now: naming them asks nobody again.
        let ada = subscribe(
            "ada@example.org",
            "Walks",
            "like:arXiv:1605.08386v1 like:10.1371/journal.pone.0033693",
        )
        .await;
        assert!(ada.success, "[{label}] {}", ada.stderr);
        assert_eq!(count(&examples), once, "[{label}]");
        let explained = hub
            .ok(&["explain", "ada@example.org", "10.1371/journal.pone.0033693"])
            .await;
        assert!(
            explained.contains("Methylphenidate Exposure Induces Dopamine Neuron Loss"),
            "[{label}] the Crossref work is stored: {explained}"
        );

        // One no service knows is refused, saying so.
        for (reference, asked_for) in [
            ("2601.99999", "id_list=2601.99999"),
            ("10.1371/notarealdoi", "works/10.1371/notarealdoi"),
        ] {
            let before = asked(asked_for);
            let query = format!("like:{reference}");
            let refused = hub
                .run(&[
                    "subscribe",
                    "cy@example.org",
                    "--topic",
                    "T",
                    "--query",
                    &query,
                ])
                .await;
            assert!(!refused.success, "[{label}]");
            assert!(
                refused.stderr.contains(&format!(
                    "like:{reference} is neither a paper AcademicHub has collected nor one arXiv \
                     or Crossref knows"
                )),
                "[{label}] {}",
                refused.stderr
            );
            assert_eq!(asked(asked_for), before + 1, "[{label}] {reference}");
        }
        db.drop_db().await;
    }
}
