//! The whole path through the real binary: recorded feeds over HTTP →
//! stored papers → each subscriber's radar → MJML briefing → real SMTP.

use crate::helpers::{FeedServer, Hub, Mail, Route, SmtpServer, TestDb, config, fixture};

const ARXIV_RSS: &str = "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml";
const ARXIV_ATOM: &str = "arxiv-atom-cs.LG-2026-09-25.xml";
const NATURE: &str = "nature-rss1-synthetic-shape.xml";

async fn arxiv_and_nature_feeds() -> (FeedServer, Vec<String>) {
    let server = FeedServer::start([
        // The same mailing served as two category feeds: its papers must be stored once.
        ("rss/cs.LG", Route::Feed(fixture(ARXIV_RSS))),
        ("rss/stat.ML", Route::Feed(fixture(ARXIV_RSS))),
        ("atom/cs.LG", Route::Feed(fixture(ARXIV_ATOM))),
        ("nature.rss", Route::Feed(fixture(NATURE))),
    ])
    .await;
    let urls = ["rss/cs.LG", "rss/stat.ML", "atom/cs.LG", "nature.rss"]
        .map(|p| server.url(p))
        .to_vec();
    (server, urls)
}

async fn subscribe_everyone(hub: &Hub) {
    hub.ok(&[
        "subscribe",
        "ada@example.org",
        "--topic",
        "Anomalies",
        "--keywords",
        "anomaly detection, outlier detection",
    ])
    .await;
    hub.ok(&[
        "subscribe",
        "li@example.cn",
        "--locale",
        "zh",
        "--timezone",
        "Asia/Shanghai",
        "--topic",
        "可解释性",
        "--keywords",
        "interpretable",
        "--category",
        "cs.LG",
    ])
    .await;
    hub.ok(&[
        "subscribe",
        "nat@example.org",
        "--topic",
        "GNNs",
        "--keywords",
        "graph neural network",
    ])
    .await;
    hub.ok(&[
        "subscribe",
        "bob@example.org",
        "--topic",
        "Gravity",
        "--keywords",
        "quantum gravity",
    ])
    .await;
}

/// One message each for the three subscribers whose radar matched; none for
/// bob, whose topic nothing in the feeds is about.
fn assert_everyone_but_bob_got_mail(mail: &[Mail], label: &str) {
    let mut recipients: Vec<String> = mail.iter().map(Mail::to).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["ada@example.org", "li@example.cn", "nat@example.org"],
        "[{label}]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_sends_each_subscriber_their_papers_exactly_once() {
    const TEST: &str = "run_once_sends_each_subscriber_their_papers_exactly_once";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    for db in TestDb::all(TEST).await {
        let (feeds, urls) = arxiv_and_nature_feeds().await;
        let hub = Hub::new(&config(&db.url, smtp.port, &urls));
        let before = smtp.messages().len();
        subscribe_everyone(&hub).await;

        let first = hub.ok(&["run-once", "--force"]).await;
        // 4 arXiv RSS papers (announced by two feeds) + 3 Atom + 2 Nature.
        assert!(
            first.contains("collected: 9 new and 4 updated papers"),
            "[{}] {first}",
            db.label
        );
        assert!(
            first.contains("3 queued, 1 with nothing new"),
            "[{}] {first}",
            db.label
        );

        let mail: Vec<_> = smtp.messages().into_iter().skip(before).collect();
        assert_everyone_but_bob_got_mail(&mail, db.label);

        for m in &mail {
            let parsed = m.parsed();
            let unsubscribe = parsed
                .header_raw("List-Unsubscribe")
                .expect("List-Unsubscribe header");
            assert!(
                unsubscribe
                    .trim()
                    .starts_with("<https://hub.test/unsubscribe/"),
                "{unsubscribe}"
            );
            assert_eq!(
                parsed.header_raw("List-Unsubscribe-Post").map(str::trim),
                Some("List-Unsubscribe=One-Click")
            );
            assert!(
                parsed
                    .message_id()
                    .is_some_and(|id| id.ends_with("@hub.test"))
            );
            assert!(m.raw.contains("multipart/alternative"));
            assert!(
                m.raw.contains("Content-Type: text/plain")
                    && m.raw.contains("Content-Type: text/html")
            );
        }
        let to = |who: &str| mail.iter().find(|m| m.to() == who).unwrap();

        let ada = to("ada@example.org").parsed();
        let html = ada.body_html(0).unwrap();
        assert!(html.contains("Outlier Detection for Multi-Network Data"));
        assert!(html.contains("Signal2Symbol"));
        assert!(html.contains(r#"href="https:&#x2f;&#x2f;arxiv.org&#x2f;abs&#x2f;2205.06398""#));
        assert!(
            !html.contains("Announce Type"),
            "the arXiv preamble must not reach the reader"
        );
        assert_eq!(ada.subject().unwrap(), "2 new on Anomalies");
        let text = ada.body_text(0).unwrap();
        assert!(text.contains("P. Dey, Z. Zhang, D. B. Dunson"), "{text}");

        let li = to("li@example.cn").parsed();
        assert!(
            li.subject().unwrap().contains("篇新论文"),
            "{:?}",
            li.subject()
        );
        let li_html = li.body_html(0).unwrap();
        assert!(li_html.contains("您的科研简报") && li_html.contains("lang=\"zh\""));
        assert!(
            li_html.contains("SMILESGNN"),
            "cs.LG papers matching 'interpretable'"
        );
        assert!(
            !li_html.contains("Outlier Detection"),
            "stat.ME paper is outside the cs.LG topic"
        );

        let nat_html = to("nat@example.org")
            .parsed()
            .body_html(0)
            .unwrap()
            .into_owned();
        assert!(nat_html.contains("A synthetic result on graph neural network pruning"));
        assert!(nat_html.contains("Nature"));

        let second = hub.ok(&["run-once", "--force"]).await;
        assert!(second.contains("0 queued"), "[{}] {second}", db.label);
        assert_eq!(
            smtp.messages().len(),
            before + 3,
            "[{}] a second run must send nothing new",
            db.label
        );

        let polite = feeds.requests();
        assert!(polite.iter().all(|r| {
            r.user_agent
                .as_deref()
                .is_some_and(|u| u.starts_with("AcademicHub/"))
        }));
        assert_eq!(
            polite.len(),
            4,
            "feeds are not fetched again before their interval"
        );
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_are_fetched_conditionally_the_second_time() {
    let (feeds, urls) = arxiv_and_nature_feeds().await;
    let db = TestDb::sqlite();
    let hub = Hub::new(&format!(
        "[database]\nurl = \"{}\"\n[collect]\ninterval_minutes = 0\n[[collect.feeds]]\nurl = \"{}\"\n",
        db.url, urls[0]
    ));
    assert!(hub.ok(&["collect"]).await.contains("4 new"));
    let again = hub.ok(&["collect"]).await;
    assert!(
        again.contains("0 new and 0 updated papers; 1 feed(s) checked"),
        "{again}"
    );
    let requests = feeds.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].if_none_match, None);
    assert!(
        requests[1].if_none_match.is_some(),
        "the second request carries If-None-Match"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_a_database_send_each_briefing_once() {
    const TEST: &str = "two_instances_sharing_a_database_send_each_briefing_once";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    for db in TestDb::all(TEST).await {
        let (_feeds, urls) = arxiv_and_nature_feeds().await;
        let toml = config(&db.url, smtp.port, &urls);
        let (a, b) = (Hub::new(&toml), Hub::new(&toml));
        subscribe_everyone(&a).await;
        let before = smtp.messages().len();

        let (out_a, out_b) = tokio::join!(
            a.run(&["run-once", "--force"]),
            b.run(&["run-once", "--force"])
        );
        assert!(
            out_a.success && out_b.success,
            "[{}]\n{}\n{}\n{}\n{}",
            db.label,
            out_a.stdout,
            out_a.stderr,
            out_b.stdout,
            out_b.stderr
        );

        let mail: Vec<_> = smtp.messages().into_iter().skip(before).collect();
        assert_everyone_but_bob_got_mail(&mail, db.label);
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reader_gets_the_footer_and_labels_in_their_own_language() {
    const TEST: &str = "each_reader_gets_the_footer_and_labels_in_their_own_language";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let (_feeds, urls) = arxiv_and_nature_feeds().await;
    for (contact, english_footer, chinese_footer) in [
        // Unset: each language's own line.
        (
            "",
            "AcademicHub · research-paper briefings",
            "AcademicHub · 科研文献简报",
        ),
        (
            "[briefing]\ncontact_line = \"Hub, 1 Example St, Berlin\"\n\
             [briefing.contact_lines]\nzh = \"Hub，柏林 Example 街 1 号\"\n",
            "Hub, 1 Example St, Berlin",
            "Hub，柏林 Example 街 1 号",
        ),
    ] {
        let before = smtp.messages().len();
        let db = TestDb::sqlite();
        let hub = Hub::new(&format!("{}\n{contact}", config(&db.url, smtp.port, &urls)));
        subscribe_everyone(&hub).await;
        hub.ok(&["run-once", "--force"]).await;
        let mail = smtp.messages();
        let text_of = |to: &str| {
            let m = mail[before..].iter().find(|m| m.to() == to).unwrap();
            m.parsed().body_text(0).unwrap().into_owned()
        };
        let (english, chinese) = (text_of("ada@example.org"), text_of("li@example.cn"));
        assert!(english.contains(english_footer), "{english}");
        assert!(chinese.contains(chinese_footer), "{chinese}");
        assert!(!chinese.contains(english_footer), "{chinese}");
        // No LLM is configured: each TL;DR is the abstract's opening, and says so.
        assert!(english.contains("From the abstract: "), "{english}");
        assert!(chinese.contains("原文摘要: "), "{chinese}");
    }
    smtp.stop().await;
}

/// A reader's first briefing draws on the last `welcome_days` (a welcome
/// edition): papers first seen four days ago are past the 48-hour news
/// window, yet a new reader gets them; with `welcome_days = 0` they do not.
#[tokio::test]
async fn a_new_readers_first_briefing_draws_on_the_last_week() {
    const TEST: &str = "a_new_readers_first_briefing_draws_on_the_last_week";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feeds = crate::helpers::outliers_feed().await;
    for welcome_days in [7, 0] {
        let db = TestDb::sqlite();
        let hub = Hub::new(&format!(
            "{}\n[briefing]\nwelcome_days = {welcome_days}\n",
            config(&db.url, smtp.port, &[feeds.url("ok.rss")])
        ));
        hub.ok(&["collect"]).await;
        crate::helpers::sql_exec(
            &db.url,
            "UPDATE papers SET first_seen_at = first_seen_at - 345600,
                               version_seen_at = version_seen_at - 345600",
        )
        .await;
        hub.subscribe_ada_to_outliers().await;
        let before = smtp.messages().len();
        let out = hub.ok(&["run-once", "--force"]).await;
        println!("welcome_days = {welcome_days}: {out}");
        let mails: Vec<Mail> = smtp.messages().into_iter().skip(before).collect();
        if welcome_days > 0 {
            assert_eq!(mails.len(), 1, "{out}");
            assert!(
                mails[0].parsed().body_html(0).unwrap().contains("utlier"),
                "the four-day-old paper on outliers is in the first briefing"
            );
        } else {
            assert!(mails.is_empty(), "{out}");
            assert!(out.contains("1 with nothing new"), "{out}");
        }
    }
}
