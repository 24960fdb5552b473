//! The reader's side, driven the way readers drive it: the real daemon
//! (`serve`), a real SMTP server, and only the links in the mail that
//! arrives.

use academichub::domain::{LinkAction, LinkClaims, LinkKeys};
use axum::http::StatusCode;
use chrono::{Duration, Timelike, Utc};
use serde_json::json;

use crate::helpers::{
    Daemon, FeedServer, Hub, LINK_SECRET, Route, SmtpServer, TestDb, decode_claims, fixture,
    form_token, free_port, keys, listed, sql_count as count, status, wait_for_mail, web_config,
};

const ACCEPTED: &str = r#"{"status":"accepted","message":"If this address can receive mail, a message is on its way. Nothing is sent until the link in it is confirmed."}"#;

/// The recorded arXiv RSS day and the Nature feed, served on loopback.
pub(crate) async fn feeds() -> (FeedServer, Vec<String>) {
    let server = FeedServer::start([
        (
            "arxiv.rss",
            Route::Feed(fixture(
                "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
            )),
        ),
        (
            "nature.rss",
            Route::Feed(fixture("nature-rss1-synthetic-shape.xml")),
        ),
    ])
    .await;
    let urls = vec![server.url("arxiv.rss"), server.url("nature.rss")];
    (server, urls)
}

fn ada_request(email: &str) -> serde_json::Value {
    json!({
        "email": email,
        "locale": "en",
        "timezone": "UTC",
        "send_hour": 0,
        "topics": [{"name": "Outliers", "keywords": ["outlier detection"], "categories": [], "exclude": []}]
    })
}

/// A time zone in which today is another date than in UTC, so that a
/// second briefing can be made on the same UTC day.
fn zone_with_another_date() -> &'static str {
    if Utc::now().hour() >= 10 {
        "Etc/GMT-14"
    } else {
        "Etc/GMT+12"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_subscribes_confirms_reads_tunes_and_leaves_through_the_links_in_their_mail() {
    const TEST: &str =
        "a_reader_subscribes_confirms_reads_tunes_and_leaves_through_the_links_in_their_mail";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let before = smtp.messages().len();
        let (_feeds, urls) = feeds().await;
        let port = free_port();
        let hub = Hub::new(&web_config(&db.url, smtp.port, &urls, port));
        let daemon = Daemon::start(&hub, port).await;
        let base = daemon.base.clone();

        // Subscribe over the JSON API: the confirmation arrives within
        // seconds, woken by the request, not by a tick.
        let (code, body) = daemon
            .post_json("/api/subscriptions", &ada_request("Ada@Example.ORG"))
            .await;
        assert_eq!(
            (code, body.as_str()),
            (StatusCode::ACCEPTED, ACCEPTED),
            "[{label}]"
        );
        let mail = wait_for_mail(&smtp, before + 1).await;
        let confirmation = &mail[before];
        assert_eq!(confirmation.to(), "ada@example.org", "[{label}] normalised");
        assert!(
            confirmation
                .parsed()
                .header_raw("List-Unsubscribe")
                .is_none(),
            "[{label}] a confirmation is not list mail"
        );
        assert_eq!(status(&hub, "ada@example.org").await, "pending");

        // GET shows a button and changes nothing; POST confirms; again is harmless.
        let confirm = confirmation.link(&base, "confirm");
        let (code, page) = daemon.get(&confirm).await;
        assert_eq!(code, StatusCode::OK);
        assert!(page.contains("<form method=\"post\""), "{page}");
        assert!(page.contains("ada@example.org"));
        assert_eq!(
            status(&hub, "ada@example.org").await,
            "pending",
            "[{label}]"
        );
        let (code, page) = daemon.post_form(&confirm, &[]).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        assert!(page.contains("You are subscribed"), "{page}");
        assert_eq!(status(&hub, "ada@example.org").await, "active", "[{label}]");
        let (code, page) = daemon.post_form(&confirm, &[]).await;
        assert_eq!(code, StatusCode::OK);
        assert!(page.contains("already subscribed"), "{page}");
        let shown = hub.ok(&["subscribers", "--show", "ada@example.org"]).await;
        assert!(
            shown
                .lines()
                .any(|l| l.contains("confirmed") && l.contains("via web from 127.0.0.1")),
            "[{label}] proof of consent: {shown}"
        );

        // The first briefing, with every link a reader needs.
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains("1 queued"), "[{label}] {out}");
        let mail = wait_for_mail(&smtp, before + 2).await;
        let briefing = &mail[before + 1];
        assert!(
            briefing
                .parsed()
                .body_html(0)
                .unwrap()
                .contains("Outlier Detection for Multi-Network Data")
        );
        let unsubscribe = briefing.link(&base, "unsubscribe");
        assert_eq!(
            briefing
                .parsed()
                .header_raw("List-Unsubscribe")
                .map(str::trim),
            Some(format!("<{unsubscribe}>").as_str())
        );

        // "More like this" on the paper (the topic's field, anomaly
        // detection, brings another one beside it).
        let more = briefing.link_after(
            &base,
            "feedback",
            "Outlier Detection for Multi-Network Data",
        );
        let (code, page) = daemon.get(&more).await;
        assert_eq!(code, StatusCode::OK);
        assert!(page.contains("More papers like this?"), "{page}");
        assert!(page.contains("Outlier Detection for Multi-Network Data"));
        let (code, page) = daemon.post_form(&more, &[]).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        let shown = hub.ok(&["subscribers", "--show", "ada@example.org"]).await;
        assert!(
            shown
                .lines()
                .any(|l| l.starts_with("feedback:") && l.contains("\tmore\tarxiv:2205.06398\t")),
            "[{label}] {shown}"
        );

        // Preferences: the outlier topic becomes a GNN topic without revised
        // versions, in a zone where it is already another day, so the next
        // briefing can come now.
        let preferences = briefing.link(&base, "preferences");
        let (code, page) = daemon.get(&preferences).await;
        assert_eq!(code, StatusCode::OK);
        assert!(page.contains("value=\"Outliers\""), "{page}");
        let token = form_token(&page);
        let (code, page) = daemon
            .post_form(
                &preferences,
                &[
                    ("form_token", token.as_str()),
                    ("t0_name", "Graph learning"),
                    ("t0_query", "\"graph neural network\" -molecule only:new"),
                    ("t1_name", ""),
                    ("t1_query", ""),
                    ("locale", "en"),
                    ("timezone", zone_with_another_date()),
                    ("send_hour", "0"),
                    ("cadence", "daily"),
                    ("weekday", "mon"),
                    ("max_per_topic", "5"),
                    ("paused_until", ""),
                ],
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{page}");
        assert!(page.contains("Saved."), "{page}");
        let shown = hub.ok(&["subscribers", "--show", "ada@example.org"]).await;
        assert!(
            shown
                .contains("topic:     Graph learning: \"graph neural network\" -molecule only:new")
                && !shown.contains("Outliers"),
            "[{label}] {shown}"
        );
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains("1 queued"), "[{label}] {out}");
        let mail = wait_for_mail(&smtp, before + 3).await;
        let next = mail[before + 2].parsed().body_html(0).unwrap().into_owned();
        assert!(
            next.contains("A synthetic result on graph neural network pruning")
                && next.contains("Graph learning")
                && !next.contains("Outlier Detection"),
            "[{label}] the next briefing follows the new radar"
        );

        // One click from the mail client: unsubscribed, no page to click.
        let (code, body) = daemon
            .post_form(&unsubscribe, &[("List-Unsubscribe", "One-Click")])
            .await;
        assert_eq!(
            (code, body.as_str()),
            (StatusCode::OK, "You are unsubscribed.")
        );
        assert_eq!(
            status(&hub, "ada@example.org").await,
            "unsubscribed",
            "[{label}]"
        );
        // The page a person sees from the footer link offers "undo".
        let (code, page) = daemon.post_form(&unsubscribe, &[]).await;
        assert_eq!(code, StatusCode::OK);
        assert!(page.contains("Undo"), "{page}");
        let undo = format!("{}/undo", unsubscribe);
        let (code, page) = daemon.post_form(&undo, &[]).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        assert!(page.contains("Welcome back"));
        assert_eq!(status(&hub, "ada@example.org").await, "active", "[{label}]");

        // A subscription never confirmed expires.
        let (code, _) = daemon
            .post_json("/api/subscriptions", &ada_request("bob@example.org"))
            .await;
        assert_eq!(code, StatusCode::ACCEPTED);
        wait_for_mail(&smtp, before + 4).await;
        assert_eq!(status(&hub, "bob@example.org").await, "pending");
        age_pending_subscriptions(&db.url, 8 * 24 * 3600).await;
        let out = hub.ok(&["run-once"]).await;
        assert!(
            out.contains("1 unconfirmed subscription(s) expired"),
            "[{label}] {out}"
        );
        assert_eq!(listed(&hub, "bob@example.org").await, None, "[{label}]");
        assert_eq!(status(&hub, "ada@example.org").await, "active");

        // My data: everything about ada as JSON, then all of it deleted.
        let (code, page) = daemon.get(&preferences).await;
        assert_eq!(code, StatusCode::OK);
        let r = daemon
            .http
            .get(format!("{preferences}/data"))
            .send()
            .await
            .unwrap();
        assert!(
            r.headers()[axum::http::header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        let data: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(data["email"], "ada@example.org", "[{label}] {data}");
        assert_eq!(data["topics"][0]["name"], "Graph learning");
        assert_eq!(data["feedback"][0]["verdict"], "more");
        assert_eq!(data["briefings"].as_array().unwrap().len(), 2);
        let kinds: Vec<&str> = data["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.starts_with(&["requested", "mailed:confirm", "confirmed"])
                && kinds.contains(&"unsubscribed")
                && kinds.contains(&"resubscribed"),
            "[{label}] {kinds:?}"
        );
        let (code, page) = daemon
            .post_form(
                &format!("{preferences}/delete"),
                &[
                    ("form_token", form_token(&page).as_str()),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{page}");
        assert!(page.contains("Your data is deleted"), "{page}");
        assert_eq!(listed(&hub, "ada@example.org").await, None, "[{label}]");
        assert_eq!(
            count(
                &db.url,
                "SELECT COUNT(*) FROM outbox WHERE recipient = 'ada@example.org'"
            )
            .await,
            0,
            "[{label}] not even her mail is kept"
        );
        assert_eq!(
            count(&db.url, "SELECT COUNT(*) FROM briefings").await,
            0,
            "[{label}]"
        );
        assert_eq!(
            count(&db.url, "SELECT COUNT(*) FROM suppressions").await,
            1,
            "[{label}] only the hash stays"
        );
        // Keyed: not the plain SHA-256 of the address, which anyone could
        // find again by hashing a guess.
        assert_eq!(
            count(
                &db.url,
                "SELECT COUNT(*) FROM suppressions WHERE email_hash = \
                 'cfe00dde46ef942601ffafb9e2825e802858b460e586b8305b344c1eb826357d'"
            )
            .await,
            0,
            "[{label}] the hash is keyed"
        );
        let (code, _) = daemon.get(&preferences).await;
        assert_eq!(code, StatusCode::GONE, "[{label}] links die with the data");
        // A mail client's one-click unsubscribe for the deleted address is
        // answered 200: nothing is sent there, which is what it asks for.
        let (code, answer) = daemon
            .post_form(&unsubscribe, &[("List-Unsubscribe", "One-Click")])
            .await;
        assert_eq!(code, StatusCode::OK, "[{label}] {answer}");
        let refused = hub
            .run(&[
                "subscribe",
                "ada@example.org",
                "--topic",
                "T",
                "--keywords",
                "x",
            ])
            .await;
        assert!(
            !refused.success
                && refused
                    .stderr
                    .contains("asked for their data to be deleted"),
            "[{label}] an operator cannot re-add a deleted reader: {}",
            refused.stderr
        );

        let out = daemon.stop().await;
        assert!(out.success, "{}", out.stderr);
        assert!(out.stderr.contains("shutting down"), "{}", out.stderr);
        db.drop_db().await;
    }
    smtp.stop().await;
}

/// Moves every pending subscription's last change `secs` into the past,
/// as if that long had passed.
async fn age_pending_subscriptions(db_url: &str, secs: i64) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.unwrap();
    sqlx::query(
        "UPDATE subscribers SET status_changed_at = status_changed_at - $1 WHERE status = 'pending'",
    )
    .bind(secs)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preferences_page_left_open_for_days_still_saves_and_a_foreign_form_keeps_what_was_typed()
{
    const TEST: &str =
        "a_preferences_page_left_open_for_days_still_saves_and_a_foreign_form_keeps_what_was_typed";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, smtp.port, &[], port));
    hub.subscribe_ada_to_outliers().await;
    let daemon = Daemon::start(&hub, port).await;
    // Asking again while subscribed mails a link to the preferences.
    daemon
        .post_json("/api/subscriptions", &ada_request("ada@example.org"))
        .await;
    let preferences = wait_for_mail(&smtp, 1).await[0].link(&daemon.base, "preferences");
    let (_, page) = daemon.get(&preferences).await;
    let fresh = form_token(&page);
    // The page was opened three days ago (the form token's old lifetime was one).
    let claims = decode_claims(LINK_SECRET, &fresh, LinkAction::Form);
    let three_days_old = keys(&[LINK_SECRET]).sign(LinkClaims {
        issued_at: claims.issued_at - 3 * 24 * 3600,
        ..claims
    });
    let typed = |token: &str, topic: &'static str| {
        [
            ("form_token", token.to_owned()),
            ("t0_name", topic.to_owned()),
            ("t0_query", "\"anomaly detection\"".to_owned()),
            ("locale", "en".to_owned()),
            ("timezone", "Japan".to_owned()),
            ("send_hour", "9".to_owned()),
            ("cadence", "weekly".to_owned()),
            ("weekday", "thu".to_owned()),
            ("max_per_topic", "".to_owned()),
            ("paused_until", "".to_owned()),
        ]
    };
    let post = |fields: [(&'static str, String); 10]| {
        let daemon = &daemon;
        let preferences = preferences.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            daemon.post_form(&preferences, &fields).await
        }
    };
    let (code, page) = post(typed(&three_days_old, "Anomalies")).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(page.contains("Saved."), "{page}");
    assert!(
        listed(&hub, "ada@example.org")
            .await
            .unwrap()
            .contains("Anomalies"),
        "saved"
    );

    // A form token of another page (here: of another preferences link)
    // saves nothing, and the page comes back with everything as typed.
    let other_page = keys(&[LINK_SECRET]).sign(LinkClaims {
        object: claims.object ^ 1,
        ..claims
    });
    let (code, page) = post(typed(&other_page, "Changed later")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    for kept in [
        "press Save again",
        "value=\"Changed later\"",
        "value=\"Japan\"",
        "value=\"weekly\" checked",
    ] {
        assert!(page.contains(kept), "{kept} in {page}");
    }
    assert!(
        !listed(&hub, "ada@example.org")
            .await
            .unwrap()
            .contains("Changed later")
    );
    // Saved again from that page, with its fresh token, it holds.
    let (code, page) = post(typed(&form_token(&page), "Changed later")).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(
        listed(&hub, "ada@example.org")
            .await
            .unwrap()
            .contains("Changed later")
    );
    daemon.stop().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_says_what_holds_and_leads_on() {
    const TEST: &str = "every_page_says_what_holds_and_leads_on";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let (_feeds, urls) = feeds().await;
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, smtp.port, &urls, port));
    hub.subscribe_ada_to_outliers().await;
    let daemon = Daemon::start(&hub, port).await;
    let base = daemon.base.clone();

    // "Check your inbox" names the address it wrote to.
    let (code, page) = daemon
        .post_form(
            &format!("{base}/"),
            &[
                ("email", "grace@example.org"),
                ("t0_name", "Outliers"),
                ("t0_query", "outlier detection"),
                ("locale", "en"),
                ("timezone", "UTC"),
                ("send_hour", "0"),
            ],
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(page.contains("grace@example.org"), "{page}");

    // The thanks for an answer leads to the preferences and offers undo.
    hub.ok(&["run-once", "--force"]).await;
    let briefing = wait_for_mail(&smtp, 2)
        .await
        .into_iter()
        .find(|m| m.to() == "ada@example.org")
        .unwrap();
    let more = briefing.link(&base, "feedback");
    let (code, page) = daemon.post_form(&more, &[]).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(
        page.contains("Adjust your topics and schedule") && page.contains("Undo this answer"),
        "{page}"
    );
    let shown = || async { hub.ok(&["subscribers", "--show", "ada@example.org"]).await };
    assert!(shown().await.contains("feedback:"));
    let (code, page) = daemon.post_form(&format!("{more}/undo"), &[]).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(page.contains("Answer taken back"), "{page}");
    assert!(
        !shown().await.contains("feedback:"),
        "the answer is forgotten"
    );

    // The preferences say the default, and "paused" while a pause lasts.
    let preferences = briefing.link(&base, "preferences");
    let (_, page) = daemon.get(&preferences).await;
    assert!(page.contains("(empty: the default, 10)"), "{page}");
    let (code, page) = daemon
        .post_form(
            &preferences,
            &[
                ("form_token", form_token(&page).as_str()),
                ("t0_name", "Outliers"),
                ("t0_query", "outlier detection"),
                ("locale", "en"),
                ("timezone", "UTC"),
                ("send_hour", "0"),
                ("cadence", "daily"),
                ("weekday", "mon"),
                ("max_per_topic", ""),
                ("paused_until", "2099-01-01"),
            ],
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(page.contains("Paused until 2099-01-01"), "{page}");
    assert!(!page.contains("Status: Active"), "{page}");

    // Unsubscribed, the preferences offer to resubscribe.
    let (code, _) = daemon
        .post_form(&briefing.link(&base, "unsubscribe"), &[])
        .await;
    assert_eq!(code, StatusCode::OK);
    let (_, page) = daemon.get(&preferences).await;
    assert!(page.contains("Resubscribe"), "{page}");
    let (code, page) = daemon
        .post_form(
            &format!("{preferences}/resubscribe"),
            &[("form_token", form_token(&page).as_str())],
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(page.contains("Welcome back"), "{page}");
    assert_eq!(status(&hub, "ada@example.org").await, "active");

    // A favicon, our own.
    let response = daemon
        .http
        .get(format!("{base}/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    daemon.stop().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_scanner_that_opens_every_link_changes_nothing() {
    const TEST: &str = "a_link_scanner_that_opens_every_link_changes_nothing";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let (_feeds, urls) = feeds().await;
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, smtp.port, &urls, port));
    let daemon = Daemon::start(&hub, port).await;
    let base = daemon.base.clone();
    let state = || async {
        (
            hub.ok(&["subscribers"]).await,
            hub.ok(&["subscribers", "--show", "ada@example.org"]).await,
        )
    };

    daemon
        .post_json("/api/subscriptions", &ada_request("ada@example.org"))
        .await;
    let confirmation = wait_for_mail(&smtp, 1).await.remove(0);
    let before = state().await;
    let links = confirmation.links(&base);
    assert!(!links.is_empty());
    for link in &links {
        let (code, _) = daemon.get(link).await;
        assert_eq!(code, StatusCode::OK, "{link}");
    }
    assert_eq!(
        state().await,
        before,
        "GETs of the confirmation mail's links"
    );

    let confirm = confirmation.link(&base, "confirm");
    daemon.post_form(&confirm, &[]).await;
    hub.ok(&["run-once", "--force"]).await;
    let briefing = wait_for_mail(&smtp, 2).await.remove(1);
    let parsed = briefing.parsed();
    let html = parsed.body_html(0).unwrap();
    let mut links = briefing.links(&base);
    // The HTML part's links too, as a scanner reads them.
    links.extend(
        html.split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(|href| href.replace("&#x2f;", "/").replace("&amp;", "&"))
            .filter(|href| href.starts_with(&base)),
    );
    assert!(
        links.len() >= 5,
        "unsubscribe, preferences, view, more, less: {links:?}"
    );
    let before = state().await;
    for link in &links {
        let (code, _) = daemon.get(link).await;
        assert_eq!(code, StatusCode::OK, "{link}");
        let (code, _) = daemon
            .http
            .head(link)
            .send()
            .await
            .map(|r| (r.status(), ()))
            .unwrap();
        assert!(code.is_success() || code == StatusCode::METHOD_NOT_ALLOWED);
    }
    assert_eq!(state().await, before, "GETs of the briefing's links");
    assert!(before.0.contains("\tactive\t"));

    daemon.stop().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_requests_for_one_address_send_at_most_the_configured_mails_and_all_look_alike() {
    const TEST: &str =
        "twenty_requests_for_one_address_send_at_most_the_configured_mails_and_all_look_alike";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&format!(
        "{}\n[subscriptions]\nconfirmations_per_address_per_day = 2\n",
        web_config(&db.url, smtp.port, &[], port)
    ));
    hub.ok(&[
        "subscribe",
        "carol@example.org",
        "--topic",
        "T",
        "--keywords",
        "x",
    ])
    .await;
    let daemon = Daemon::start(&hub, port).await;
    let mut answers = Vec::new();
    for _ in 0..20 {
        answers.push(
            daemon
                .post_json("/api/subscriptions", &ada_request("victim@example.org"))
                .await,
        );
    }
    // An address that is already active gets the same answer too.
    answers.push(
        daemon
            .post_json("/api/subscriptions", &ada_request("carol@example.org"))
            .await,
    );
    assert!(
        answers
            .iter()
            .all(|a| *a == (StatusCode::ACCEPTED, ACCEPTED.to_owned())),
        "{answers:?}"
    );
    wait_for_mail(&smtp, 3).await;
    // Drain whatever is left in the outbox, then count.
    hub.ok(&["run-once"]).await;
    let to_victim = smtp
        .messages()
        .iter()
        .filter(|m| m.to() == "victim@example.org")
        .count();
    assert_eq!(to_victim, 2);
    daemon.stop().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_again_while_pending_keeps_the_first_confirmation_link_working() {
    const TEST: &str = "asking_again_while_pending_keeps_the_first_confirmation_link_working";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, smtp.port, &[], port));
    let daemon = Daemon::start(&hub, port).await;
    daemon
        .post_json("/api/subscriptions", &ada_request("ada@example.org"))
        .await;
    let first = wait_for_mail(&smtp, 1).await.remove(0);
    // As if that request and its mail were two hours ago.
    let two_hours = 2 * 3600;
    age_pending_subscriptions(&db.url, two_hours).await;
    let link = first.link(&daemon.base, "confirm");
    let claims = decode_claims(
        LINK_SECRET,
        link.rsplit('/').next().unwrap(),
        LinkAction::Confirm,
    );
    let mailed_then = keys(&[LINK_SECRET]).sign(LinkClaims {
        issued_at: claims.issued_at - two_hours,
        ..claims
    });
    daemon
        .post_json("/api/subscriptions", &ada_request("ada@example.org"))
        .await;
    wait_for_mail(&smtp, 2).await;
    let (code, page) = daemon
        .post_form(&format!("{}/confirm/{mailed_then}", daemon.base), &[])
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(page.contains("You are subscribed"), "{page}");
    daemon.stop().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_foreign_and_misused_links_get_a_clear_4xx_page_and_no_data() {
    const TEST: &str = "forged_expired_foreign_and_misused_links_get_a_clear_4xx_page_and_no_data";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let port = free_port();
    let new_key = "a-rotated-link-secret-of-32-bytes-or-more";
    let toml = web_config(&db.url, smtp.port, &[], port).replace(
        &format!("secret = \"{LINK_SECRET}\""),
        &format!("secret = [\"{new_key}\", \"{LINK_SECRET}\"]"),
    );
    let hub = Hub::new(&toml);
    for who in ["ada@example.org", "bob@example.org"] {
        hub.ok(&["subscribe", who, "--topic", "T", "--keywords", "x"])
            .await;
    }
    let daemon = Daemon::start(&hub, port).await;
    let base = daemon.base.clone();
    // The ids and nonces are what a real link of each subscriber carries.
    daemon
        .post_json("/api/subscriptions", &ada_request("ada@example.org"))
        .await;
    let ada_mail = wait_for_mail(&smtp, 1).await.remove(0);
    let ada_link = ada_mail.link(&base, "preferences");
    let ada_token = ada_link.rsplit('/').next().unwrap();
    let claims = decode_claims(new_key, ada_token, LinkAction::Preferences);

    let old_keys = keys(&[LINK_SECRET]);
    let sign = |keys: &LinkKeys, c: LinkClaims| keys.sign(c);
    let now = Utc::now().timestamp();
    let (code, page) = daemon.get(&ada_link).await;
    assert_eq!(code, StatusCode::OK, "the real link works: {page}");
    let old_key_link = sign(
        &old_keys,
        LinkClaims {
            issued_at: now,
            ..claims
        },
    );
    let (code, page) = daemon
        .get(&format!("{base}/preferences/{old_key_link}"))
        .await;
    assert_eq!(code, StatusCode::OK, "signed with the retired key: {page}");

    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "tampered",
            format!("{}x", ada_token),
            StatusCode::BAD_REQUEST,
            "damaged",
        ),
        (
            "signed with an unknown key",
            sign(&keys(&["an-unknown-key-that-is-32-bytes-long!!"]), claims),
            StatusCode::BAD_REQUEST,
            "damaged",
        ),
        (
            "expired",
            sign(
                &old_keys,
                LinkClaims {
                    action: LinkAction::Confirm,
                    issued_at: now - (Duration::days(8)).num_seconds(),
                    ..claims
                },
            ),
            StatusCode::GONE,
            "expired",
        ),
        (
            "another subscriber's id with this one's nonce",
            sign(
                &old_keys,
                LinkClaims {
                    subscriber_id: claims.subscriber_id + 1,
                    ..claims
                },
            ),
            StatusCode::GONE,
            "no longer exists",
        ),
    ];
    for (what, token, status, says) in cases {
        let path = if what == "expired" {
            "confirm"
        } else {
            "preferences"
        };
        let (code, page) = daemon.get(&format!("{base}/{path}/{token}")).await;
        assert_eq!(code, status, "{what}: {page}");
        assert!(page.contains(says), "{what}: {page}");
        assert!(
            !page.contains("@example.org"),
            "{what}: nobody's data on an error page"
        );
    }
    // A genuine link for one action does not open another.
    let (code, page) = daemon.get(&format!("{base}/unsubscribe/{ada_token}")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("made for something else"), "{page}");
    let (code, _) = daemon
        .post_form(&format!("{base}/confirm/{ada_token}"), &[])
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    // A preferences form posted without its form token changes nothing.
    let (code, page) = daemon
        .post_form(
            &ada_link,
            &[("t0_name", "Hijacked"), ("t0_query", "x"), ("locale", "en")],
        )
        .await;
    // It comes back as typed, to be saved again from the page.
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("press Save again") && page.contains("value=\"Hijacked\""),
        "{page}"
    );
    assert!(
        !hub.ok(&["subscribers"]).await.contains("Hijacked"),
        "no change without the form token"
    );
    // A query that does not parse is refused with where and why, and
    // changes nothing.
    let (_, page) = daemon.get(&ada_link).await;
    let token = form_token(&page);
    let (code, page) = daemon
        .post_form(
            &ada_link,
            &[
                ("form_token", token.as_str()),
                ("t0_name", "Broken"),
                ("t0_query", "\"conformal prediction OR coverage"),
                ("locale", "en"),
                ("timezone", "UTC"),
                ("send_hour", "0"),
                ("cadence", "daily"),
                ("weekday", "mon"),
                ("max_per_topic", ""),
                ("paused_until", ""),
            ],
        )
        .await;
    assert!(code.is_client_error(), "{code}: {page}");
    assert!(
        page.contains("this quote is never closed (at character 1:"),
        "{page}"
    );
    assert!(!hub.ok(&["subscribers"]).await.contains("Broken"));
    // Pages are not framed, leak no referrer and run only our own code.
    let r = daemon.http.get(&ada_link).send().await.unwrap();
    let h = r.headers();
    let csp = h[axum::http::header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(h[axum::http::header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[axum::http::header::X_FRAME_OPTIONS], "DENY");
    // Oversized bodies are refused before anything reads them.
    let (code, _) = daemon
        .post_form(&ada_link, &[("t0_name", "x".repeat(100_000).as_str())])
        .await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE);
    // One-click unsubscribe sent as multipart/form-data, as some mail
    // clients do, is one click too.
    let unsubscribe = keys(&[new_key]).sign(LinkClaims {
        action: LinkAction::Unsubscribe,
        issued_at: now,
        ..claims
    });
    let boundary = "----academichub-test";
    let r = daemon
        .http
        .post(format!("{base}/unsubscribe/{unsubscribe}"))
        .header(
            axum::http::header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--{boundary}--\r\n"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "You are unsubscribed.");
    assert!(
        hub.ok(&["subscribers"])
            .await
            .contains("ada@example.org\tunsubscribed")
    );
    // Unknown paths are a page, not a stack trace.
    let (code, page) = daemon.get(&format!("{base}/nothing/here")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(page.contains("<html"));

    daemon.stop().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_limits_and_consent_see_the_readers_address() {
    const TEST: &str = "behind_a_proxy_limits_and_consent_see_the_readers_address";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, smtp.port, &[], port).replace(
        "subscribe_per_ip_per_hour = 1000",
        "subscribe_per_ip_per_hour = 2\nclient_ip_header = \"X-Forwarded-For\"",
    ));
    let daemon = Daemon::start(&hub, port).await;
    let from = |client: &'static str, email: &'static str| {
        daemon
            .http
            .post(format!("{}/api/subscriptions", daemon.base))
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .header("X-Forwarded-For", format!("203.0.113.50, {client}"))
            .body(ada_request(email).to_string())
            .send()
    };
    let statuses = [
        from("198.51.100.7", "a@example.org")
            .await
            .unwrap()
            .status(),
        from("198.51.100.7", "b@example.org")
            .await
            .unwrap()
            .status(),
        from("198.51.100.7", "c@example.org")
            .await
            .unwrap()
            .status(),
        from("198.51.100.8", "d@example.org")
            .await
            .unwrap()
            .status(),
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::ACCEPTED
        ]
    );
    let shown = hub.ok(&["subscribers", "--show", "d@example.org"]).await;
    assert!(
        shown.contains("requested\tvia api from 198.51.100.8"),
        "{shown}"
    );
    daemon.stop().await;
    smtp.stop().await;
}
