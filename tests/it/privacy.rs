//! Opening our mail or our pages makes a reader's client ask nobody but us:
//! no web font, image, script or stylesheet from a third party (each would
//! tell that party who reads what, and when). The only other addresses in
//! them are the papers' own links, which the reader chooses to follow.
//!
//! Every mail a reader gets (confirmation, briefing, both languages) and
//! every page its links open, plus the public pages, from the real daemon.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{Daemon, Hub, SmtpServer, TestDb, free_port, wait_for_mail, web_config};

/// The hosts of the papers in the recorded feeds (their abstract pages and
/// DOIs): links a reader follows, never loaded by opening a mail.
const PAPER_HOSTS: [&str; 3] = ["arxiv.org", "www.nature.com", "doi.org"];
/// Not a request: the XHTML namespace MJML declares.
const XHTML_NAMESPACE: &str = "http://www.w3.org/1999/xhtml";

/// Every absolute http(s) URL in `text` (entities decoded first: our
/// templates escape `/` as `&#x2f;`) that is neither ours nor a paper's.
fn foreign_urls(text: &str, ours: &str) -> Vec<String> {
    let text = html_escape::decode_html_entities(text);
    let mut found = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("http") {
        let candidate = &rest[start..];
        rest = &rest[start + 4..];
        if !(candidate.starts_with("http://") || candidate.starts_with("https://")) {
            continue;
        }
        let url: String = candidate
            .chars()
            .take_while(|c| !c.is_whitespace() && !"\"'<>)]".contains(*c))
            .collect();
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', '?', '#']).next())
            .unwrap_or_default();
        let allowed =
            url.starts_with(ours) || url == XHTML_NAMESPACE || PAPER_HOSTS.contains(&host);
        if !allowed {
            found.push(url);
        }
    }
    found
}

#[test]
fn the_url_finder_sees_escaped_and_plain_urls() {
    let ours = "http://127.0.0.1:8080";
    let page = "<link href=\"https:&#x2f;&#x2f;fonts.googleapis.com&#x2f;css\"> \
                <a href=\"https://arxiv.org/abs/1\">x</a> http://127.0.0.1:8080/b/t \
                (https://tracker.example/p.gif)";
    assert_eq!(
        foreign_urls(page, ours),
        [
            "https://fonts.googleapis.com/css",
            "https://tracker.example/p.gif"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mail_or_page_makes_the_readers_client_ask_a_third_party() {
    const TEST: &str = "no_mail_or_page_makes_the_readers_client_ask_a_third_party";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let (_feeds, urls) = crate::readers::feeds().await;
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, smtp.port, &urls, port));
    let daemon = Daemon::start(&hub, port).await;
    let ours = daemon.base.clone();
    let mut checked = 0;
    let mut check = |what: &str, text: &str| {
        let foreign = foreign_urls(text, &ours);
        assert!(foreign.is_empty(), "{what} asks a third party: {foreign:?}");
        checked += 1;
    };

    for (i, locale) in ["en", "zh"].into_iter().enumerate() {
        let (code, _) = daemon
            .post_json(
                "/api/subscriptions",
                &json!({
                    "email": format!("{locale}@example.org"),
                    "locale": locale,
                    "timezone": "UTC",
                    "send_hour": 0,
                    "topics": [{"name": "Outliers", "keywords": ["outlier detection", "graph"]}]
                }),
            )
            .await;
        assert_eq!(code, StatusCode::ACCEPTED);
        let confirmation = &wait_for_mail(&smtp, i + 1).await[i];
        let link = confirmation.link(&ours, "confirm");
        let (code, _) = daemon.post_form(&link, &[]).await;
        assert_eq!(code, StatusCode::OK);
    }
    hub.ok(&["run-once", "--force"]).await;
    let mails = wait_for_mail(&smtp, 4).await;
    for (i, mail) in mails.iter().enumerate() {
        let parsed = mail.parsed();
        check(
            &format!("mail {i} (html)"),
            &parsed.body_html(0).unwrap_or_default(),
        );
        check(
            &format!("mail {i} (text)"),
            &parsed.body_text(0).unwrap_or_default(),
        );
        for link in mail.links(&ours) {
            // GET never changes anything: every link can be opened.
            let (_, page) = daemon.get(&link).await;
            check(&link, &page);
        }
    }
    for path in ["/", "/?lang=zh", "/no-such-page", "/assets/site.css"] {
        let (_, page) = daemon.get(&format!("{ours}{path}")).await;
        check(path, &page);
    }
    println!("{TEST}: {checked} mails and pages, none asks a third party");
    assert!(checked > 20, "{checked}");
    daemon.stop().await;
    smtp.stop().await;
}
