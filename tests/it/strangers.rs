//! What a stranger can do with no link at all, only our public endpoints:
//! hold connections open, type someone else's address into the subscribe
//! form, or type it with `+tags`. Driven against the real daemon on
//! loopback; the stranger's connections come from other loopback
//! addresses (127.0.0.2 and up), as another machine's would.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use academichub::domain::{LinkAction, LinkClaims};

use crate::helpers::{
    Daemon, Hub, LINK_SECRET, SmtpServer, TestDb, decode_claims, free_port, keys, listed,
    sql_count, sql_exec, status, wait_for_mail, web_config,
};

/// `web_config` with the connection bounds of `[web]` set to `bounds`
/// (`key = value` lines).
fn bounded(db: &TestDb, smtp: &SmtpServer, port: u16, bounds: &str) -> String {
    web_config(&db.url, smtp.port, &[], port).replace(
        "subscribe_per_ip_per_hour = 1000\n",
        &format!("subscribe_per_ip_per_hour = 1000\n{bounds}\n"),
    )
}

fn request(email: &str, topic: &str, locale: &str) -> serde_json::Value {
    json!({
        "email": email,
        "locale": locale,
        "timezone": "UTC",
        "send_hour": 0,
        "topics": [{"name": topic, "keywords": [topic]}]
    })
}

/// A connection from `from` that sends the start of a request and stops.
async fn half_sent(from: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
    let mut stream = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await?;
    stream
        .write_all(b"POST /api/subscriptions HTTP/1.1\r\nHost: hub.test\r\nContent-Type: app")
        .await?;
    Ok(stream)
}

/// What the server sent on `stream` before closing it or before `wait`
/// passed; `None` if it neither answered nor closed in that time.
async fn answer(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(wait, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_holding_hundreds_of_half_sent_requests_does_not_stop_a_subscribe() {
    const TEST: &str =
        "a_stranger_holding_hundreds_of_half_sent_requests_does_not_stop_a_subscribe";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&bounded(
        &db,
        &smtp,
        port,
        "header_timeout_secs = 120\nmax_connections = 100\nmax_connections_per_client = 8",
    ));
    let daemon = Daemon::start(&hub, port).await;
    // Under the shipped unit the limit is high; here it is low enough that
    // an unbounded server would run out of descriptors.
    daemon.limit_open_files(200).await;

    let stranger = Ipv4Addr::new(127, 0, 0, 2);
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(half_sent(stranger, port).await.unwrap());
    }
    let (code, body) = tokio::time::timeout(
        Duration::from_secs(10),
        daemon.post_json(
            "/api/subscriptions",
            &request("ada@example.org", "outliers", "en"),
        ),
    )
    .await
    .expect("a subscribe is answered while the stranger holds connections");
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");

    // Refusals are written as soon as a connection is accepted; a moment
    // lets the server get through its accept queue on a busy machine.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut refused = 0;
    let mut waiting = 0;
    for stream in &mut held {
        match answer(stream, Duration::from_millis(20)).await {
            Some(text) => {
                assert!(text.starts_with("HTTP/1.1 429"), "{text}");
                assert!(text.contains("Retry-After: "), "{text}");
                refused += 1;
            }
            None => waiting += 1,
        }
    }
    println!(
        "{TEST}: of 300 half-sent requests from one address, {waiting} held, {refused} refused with 429"
    );
    assert_eq!(waiting, 8);

    // Spread over many addresses, the stranger meets the cap on all
    // connections: 503 with Retry-After, not a hang.
    let mut spread = Vec::new();
    for i in 1..=120u8 {
        spread.push(half_sent(Ipv4Addr::new(127, 0, 1, i), port).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut busy = 0;
    for stream in &mut spread {
        if let Some(text) = answer(stream, Duration::from_millis(20)).await {
            assert!(text.starts_with("HTTP/1.1 503"), "{text}");
            assert!(text.contains("Retry-After: "), "{text}");
            busy += 1;
        }
    }
    held.extend(spread);
    println!("{TEST}: of 120 more from 120 addresses, {busy} refused with 503");
    // 100 slots, 8 taken by the first address, and one or two by this
    // test's own HTTP client, which keeps its connections alive.
    assert!((28..=30).contains(&busy), "{busy}");
    drop(held);
    // The slots come back as the stranger goes, and the daemon is whole.
    let (code, body) = daemon
        .post_json(
            "/api/subscriptions",
            &request("bob@example.org", "outliers", "en"),
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    wait_for_mail(&smtp, 2).await;
    let out = daemon.stop().await;
    assert!(
        !out.stderr.contains("Too many open files"),
        "{}",
        out.stderr
    );
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_half_sent_and_slow_requests_are_closed_within_their_bounds() {
    const TEST: &str = "idle_half_sent_and_slow_requests_are_closed_within_their_bounds";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&bounded(
        &db,
        &smtp,
        port,
        "header_timeout_secs = 1\nrequest_timeout_secs = 2",
    ));
    let daemon = Daemon::start(&hub, port).await;
    let here = Ipv4Addr::LOCALHOST;
    // Connected, and nothing sent.
    let idle_socket = TcpSocket::new_v4().unwrap();
    let mut idle = idle_socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap();
    let mut half = half_sent(here, port).await.unwrap();
    // A whole head, and a body that stops after 10 of its 100 bytes.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    slow.write_all(
        b"POST / HTTP/1.1\r\nHost: hub.test\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nemail=ada%",
    )
    .await
    .unwrap();
    let bound = Duration::from_secs(10);
    assert!(
        answer(&mut idle, bound).await.is_some(),
        "an idle connection is closed"
    );
    assert!(
        answer(&mut half, bound).await.is_some(),
        "a half-sent head is closed"
    );
    let text = answer(&mut slow, bound)
        .await
        .expect("a stalled body is answered");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    daemon.stop().await;
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_request_for_a_former_readers_address_changes_nothing_until_confirmed() {
    const TEST: &str =
        "a_strangers_request_for_a_former_readers_address_changes_nothing_until_confirmed";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let before = smtp.messages().len();
        let port = free_port();
        let hub = Hub::new(&web_config(&db.url, smtp.port, &[], port));
        let daemon = Daemon::start(&hub, port).await;
        // Ada subscribes, confirms, and leaves.
        daemon
            .post_json(
                "/api/subscriptions",
                &request("ada@example.org", "outliers", "en"),
            )
            .await;
        let confirm = wait_for_mail(&smtp, before + 1).await[before].link(&daemon.base, "confirm");
        let (code, page) = daemon.post_form(&confirm, &[]).await;
        assert_eq!(code, StatusCode::OK, "{label}: {page}");
        let token = confirm.rsplit('/').next().unwrap();
        let unsubscribe = keys(&[LINK_SECRET]).sign(LinkClaims {
            action: LinkAction::Unsubscribe,
            object: 0,
            ..decode_claims(LINK_SECRET, token, LinkAction::Confirm)
        });
        let (code, page) = daemon
            .post_form(&format!("{}/unsubscribe/{unsubscribe}", daemon.base), &[])
            .await;
        assert_eq!(code, StatusCode::OK, "{label}: {page}");
        let record = listed(&hub, "ada@example.org").await.unwrap();
        assert!(record.contains("unsubscribed"), "{label}: {record}");
        let history = sql_count(&db.url, "SELECT COUNT(*) FROM subscriber_events").await;

        // A stranger asks for Ada's address with other topics and language.
        let (code, _) = daemon
            .post_json(
                "/api/subscriptions",
                &request("ada@example.org", "astrology", "zh"),
            )
            .await;
        assert_eq!(code, StatusCode::ACCEPTED, "{label}");
        let mails = wait_for_mail(&smtp, before + 2).await;
        let strangers_link = mails[before + 1].link(&daemon.base, "confirm");
        assert_eq!(
            listed(&hub, "ada@example.org").await.unwrap(),
            record,
            "{label}: the stored reader is unchanged"
        );

        // A week on, pending requests expire; Ada's record and its history stay.
        sql_exec(
            &db.url,
            "UPDATE subscription_requests SET requested_at = requested_at - 8 * 86400",
        )
        .await;
        hub.ok(&["run-once"]).await;
        assert_eq!(
            status(&hub, "ada@example.org").await,
            "unsubscribed",
            "{label}"
        );
        assert!(
            sql_count(&db.url, "SELECT COUNT(*) FROM subscriber_events").await > history,
            "{label}: the history of consent and opt-out is kept"
        );
        // The expired request's link confirms nothing.
        let (_, page) = daemon.post_form(&strangers_link, &[]).await;
        assert!(page.contains("no longer confirms"), "{label}: {page}");
        assert_eq!(
            status(&hub, "ada@example.org").await,
            "unsubscribed",
            "{label}"
        );

        // Had Ada herself asked again, her own confirmation applies her request.
        daemon
            .post_json(
                "/api/subscriptions",
                &request("ada@example.org", "anomalies", "zh"),
            )
            .await;
        let mails = wait_for_mail(&smtp, before + 3).await;
        let (code, page) = daemon
            .post_form(&mails[before + 2].link(&daemon.base, "confirm"), &[])
            .await;
        assert_eq!(code, StatusCode::OK, "{label}: {page}");
        let record = listed(&hub, "ada@example.org").await.unwrap();
        assert!(
            record.contains("active") && record.contains("anomalies") && record.contains("\tzh\t"),
            "{label}: {record}"
        );
        daemon.stop().await;
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_addresses_of_one_mailbox_share_its_daily_cap() {
    const TEST: &str = "sub_addresses_of_one_mailbox_share_its_daily_cap";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let before = smtp.messages().len();
        let port = free_port();
        let hub = Hub::new(&format!(
            "{}\n[subscriptions]\nconfirmations_per_address_per_day = 3\n",
            web_config(&db.url, smtp.port, &[], port)
        ));
        let daemon = Daemon::start(&hub, port).await;
        let victim = format!("victim-{label}");
        for tag in 1..=10 {
            let (code, _) = daemon
                .post_json(
                    "/api/subscriptions",
                    &request(&format!("{victim}+{tag}@example.org"), "x", "en"),
                )
                .await;
            assert_eq!(code, StatusCode::ACCEPTED, "{label}");
        }
        // One other mailbox is not held back by the victim's cap.
        daemon
            .post_json(
                "/api/subscriptions",
                &request(&format!("other-{label}@example.org"), "x", "en"),
            )
            .await;
        // Three to the victim and one to the other, then whatever else the
        // outbox holds.
        wait_for_mail(&smtp, before + 4).await;
        hub.ok(&["run-once"]).await;
        let to = |prefix: &str| {
            smtp.messages()
                .iter()
                .filter(|m| m.to().starts_with(prefix))
                .count()
        };
        let to_victim = to(&format!("{victim}+"));
        println!("{TEST} [{label}]: 10 sub-addresses asked, {to_victim} mails reached the mailbox");
        assert_eq!(to_victim, 3, "{label}");
        assert_eq!(to(&format!("other-{label}@")), 1, "{label}");
        // A day on, the counts are pruned with the daily expiry.
        sql_exec(&db.url, "UPDATE mailbox_notices SET at = at - 86400").await;
        hub.ok(&["run-once"]).await;
        assert_eq!(
            sql_count(&db.url, "SELECT COUNT(*) FROM mailbox_notices").await,
            0,
            "{label}"
        );
        daemon.stop().await;
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_stranger_types_is_checked_at_the_edge_with_a_clear_answer() {
    const TEST: &str = "what_a_stranger_types_is_checked_at_the_edge_with_a_clear_answer";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(&db.url, smtp.port, &[], port));
    let daemon = Daemon::start(&hub, port).await;
    let topic = |name: &str, keywords: &[&str]| {
        json!({
            "email": "ada@example.org",
            "topics": [{"name": name, "keywords": keywords}]
        })
    };
    for (request, says) in [
        (
            topic("Evil\u{202E}fdp.exe", &["outliers"]),
            "invisible control character (U+202E)",
        ),
        (topic("Nul", &["out\u{0}liers"]), "(U+0000)"),
        (topic("Esc", &["\u{1b}[31mred"]), "(U+001B)"),
        (
            topic("Everything", &["the"]),
            "only words nearly every paper has",
        ),
        (
            topic("Vague", &["a new method", "the paper"]),
            "only words nearly every paper has",
        ),
        (
            json!({"email": "root@localhost", "topics": [{"name": "x", "keywords": ["x"]}]}),
            "not an address on the internet",
        ),
    ] {
        let (code, body) = daemon.post_json("/api/subscriptions", &request).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{request}: {body}");
        assert!(body.contains(says), "{request}: {body}");
    }
    assert_eq!(
        sql_count(&db.url, "SELECT COUNT(*) FROM subscribers").await,
        0,
        "nothing was stored"
    );
    // A word of the topic's own beside a common one is fine.
    let (code, body) = daemon
        .post_json("/api/subscriptions", &topic("Outliers", &["the outlier"]))
        .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    // A repeated parameter takes the first, not a deserializer's message.
    let (code, page) = daemon
        .get(&format!("{}/?lang=zh&lang=en", daemon.base))
        .await;
    assert_eq!(code, StatusCode::OK, "{page}");
    assert!(page.contains("lang=\"zh\""), "{page}");
    daemon.stop().await;
    smtp.stop().await;
}
