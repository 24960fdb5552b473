//! Papers like these (`like:`): a topic names example papers, new papers
//! like them match with the example's title as the reason, through the real
//! binary on the real cs.CV day, on both backends.

use crate::helpers::{Hub, SmtpServer, TestDb, config, cv_day_feed, wait_for_mail};

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
        // An example the store does not have is refused, saying why.
        let refused = hub
            .run(&[
                "subscribe",
                "ada@example.org",
                "--topic",
                "COD",
                "--query",
                "like:2601.99999",
            ])
            .await;
        assert!(!refused.success, "[{label}]");
        let said = &refused.stderr;
        assert!(
            said.contains("like:2601.99999 is not a paper AcademicHub has collected"),
            "[{label}] {said}"
        );
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
