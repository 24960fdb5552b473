//! Revised papers through the real binary: a revised version of a paper the
//! reader never got is news to them, labelled "Revised"; `only:new` leaves
//! it out; a new version of a paper already sent comes again only to a
//! topic that says `with:updates`.

use crate::helpers::{FeedServer, Hub, Mail, Route, SmtpServer, TestDb, config, fixture, sql_exec};

/// The recorded day: "Random Polytope Descriptors" (2009.13987) is announced
/// there as `replace`, at v3.
const ARXIV_RSS: &str = "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml";
const POLYTOPES: &str = "Random Polytope Descriptors";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revised_paper_never_sent_arrives_labelled_and_a_new_version_only_with_updates() {
    const TEST: &str =
        "a_revised_paper_never_sent_arrives_labelled_and_a_new_version_only_with_updates";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    // The next day's mailing revises the paper once more: the same recorded
    // feed with its version moved from v3 to v4.
    let v4 = String::from_utf8(fixture(ARXIV_RSS))
        .unwrap()
        .replace("2009.13987v3", "2009.13987v4")
        .into_bytes();
    let feeds = FeedServer::start([
        ("day1.rss", Route::Feed(fixture(ARXIV_RSS))),
        ("day2.rss", Route::Feed(v4)),
    ])
    .await;
    for db in TestDb::all(TEST).await {
        let hub = Hub::new(&config(&db.url, smtp.port, &[feeds.url("day1.rss")]));
        for (email, locale, query) in [
            ("ada@example.org", "en", "\"random polytope\""),
            ("li@example.cn", "zh", "\"random polytope\""),
            ("olga@example.org", "en", "\"random polytope\" only:new"),
            ("uma@example.org", "en", "\"random polytope\" with:updates"),
        ] {
            hub.ok(&[
                "subscribe",
                email,
                "--locale",
                locale,
                "--topic",
                "Polytopes",
                "--query",
                query,
            ])
            .await;
        }
        let before = smtp.messages().len();
        let first = hub.ok(&["run-once", "--force"]).await;
        assert!(
            first.contains("3 queued, 1 with nothing new"),
            "[{}] olga's only:new leaves her nothing: {first}",
            db.label
        );
        let day1: Vec<Mail> = smtp.messages().into_iter().skip(before).collect();
        let body = |mail: &[Mail], who: &str| -> Option<String> {
            mail.iter()
                .find(|m| m.to() == who)
                .map(|m| m.parsed().body_html(0).unwrap().into_owned())
        };
        for who in ["ada@example.org", "uma@example.org"] {
            let html = body(&day1, who).unwrap_or_else(|| panic!("[{}] {who} got mail", db.label));
            assert!(html.contains(POLYTOPES), "[{}] {who}", db.label);
            assert!(
                html.contains("Revised · v3"),
                "[{}] {who}: {html}",
                db.label
            );
        }
        let li = body(&day1, "li@example.cn").expect("li got mail");
        assert!(li.contains(POLYTOPES) && li.contains("修订版 · v3"), "{li}");
        assert!(body(&day1, "olga@example.org").is_none());

        // A day later (yesterday's briefings moved back a day), v4 appears.
        sql_exec(&db.url, "UPDATE briefings SET edition = '2000-01-01'").await;
        hub.rewrite_config(&config(&db.url, smtp.port, &[feeds.url("day2.rss")]));
        let before = smtp.messages().len();
        let second = hub.ok(&["run-once", "--force"]).await;
        assert!(
            second.contains("1 queued, 3 with nothing new"),
            "[{}] {second}",
            db.label
        );
        let day2: Vec<Mail> = smtp.messages().into_iter().skip(before).collect();
        let uma = body(&day2, "uma@example.org").expect("uma asked for updates");
        assert!(
            uma.contains(POLYTOPES) && uma.contains("Revised · v4"),
            "{uma}"
        );
        db.drop_db().await;
    }
    smtp.stop().await;
}
