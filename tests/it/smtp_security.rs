//! SMTP with STARTTLS, implicit TLS and AUTH, against aiosmtpd with a
//! certificate from a throw-away CA. A wrong password or an untrusted
//! certificate is an outage, not a rejection: the briefing waits.

use crate::helpers::{Hub, SmtpOptions, SmtpServer, TestDb, config, outliers_feed};

/// `config` with the `[delivery.smtp]` security lines replaced.
fn secured(db: &TestDb, smtp: &SmtpServer, feed: &str, security: &str) -> String {
    config(&db.url, smtp.port, &[feed.to_owned()]).replace("tls = \"none\"", security)
}

async fn hub_with_one_due_briefing(toml: &str) -> Hub {
    let hub = Hub::new(toml);
    hub.subscribe_ada_to_outliers().await;
    hub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_auth_delivers_and_a_wrong_password_loses_nothing() {
    const TEST: &str = "starttls_with_auth_delivers_and_a_wrong_password_loses_nothing";
    let options = SmtpOptions {
        tls: Some("starttls"),
        auth: Some(("hub", "s3cret")),
        ..SmtpOptions::default()
    };
    let Some(smtp) = SmtpServer::start_with(TEST, options).await else {
        return;
    };
    let feeds = outliers_feed().await;
    let db = TestDb::sqlite();
    let ca = smtp.ca_file().display().to_string();
    let wrong =
        format!("tls = \"starttls\"\nca_file = \"{ca}\"\nusername = \"hub\"\npassword = \"wrong\"");
    let hub = hub_with_one_due_briefing(&secured(&db, &smtp, &feeds.url("ok.rss"), &wrong)).await;

    let out = hub.run(&["run-once", "--force"]).await;
    assert!(!out.success, "a refused login is an error");
    assert!(
        out.stderr.contains("is unavailable") && out.stderr.contains("535"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 message(s) kept in the outbox"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("wrong"),
        "the password never appears: {}",
        out.stderr
    );
    assert!(smtp.messages().is_empty());

    let right = format!(
        "tls = \"starttls\"\nca_file = \"{ca}\"\nusername = \"hub\"\npassword = \"s3cret\""
    );
    hub.rewrite_config(&secured(&db, &smtp, &feeds.url("ok.rss"), &right));
    let out = hub.ok(&["run-once", "--force"]).await;
    assert!(out.contains("1 sent"), "{out}");
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to(), "ada@example.org");
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_delivers_and_an_untrusted_certificate_is_refused() {
    const TEST: &str = "implicit_tls_delivers_and_an_untrusted_certificate_is_refused";
    let Some(smtp) = SmtpServer::start_with(
        TEST,
        SmtpOptions {
            tls: Some("tls"),
            ..SmtpOptions::default()
        },
    )
    .await
    else {
        return;
    };
    let feeds = outliers_feed().await;
    let db = TestDb::sqlite();
    let hub =
        hub_with_one_due_briefing(&secured(&db, &smtp, &feeds.url("ok.rss"), "tls = \"tls\""))
            .await;

    let out = hub.run(&["run-once", "--force"]).await;
    assert!(
        !out.success,
        "a certificate from an unknown CA is not trusted"
    );
    assert!(
        out.stderr.contains("is unavailable") && out.stderr.to_lowercase().contains("certificate"),
        "{}",
        out.stderr
    );
    assert!(smtp.messages().is_empty());

    let trusted = format!("tls = \"tls\"\nca_file = \"{}\"", smtp.ca_file().display());
    hub.rewrite_config(&secured(&db, &smtp, &feeds.url("ok.rss"), &trusted));
    let out = hub.ok(&["run-once", "--force"]).await;
    assert!(out.contains("1 sent"), "{out}");
    assert_eq!(smtp.messages().len(), 1);
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_but_never_answers_does_not_stall_delivery() {
    let feeds = outliers_feed().await;
    // Accepts connections and holds them open without a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let db = TestDb::sqlite();
    let toml = config(&db.url, port, &[feeds.url("ok.rss")])
        .replace("timeout_secs = 5", "timeout_secs = 1");
    let hub = hub_with_one_due_briefing(&toml).await;
    let out = hub.run(&["run-once", "--force"]).await;
    assert!(!out.success);
    assert!(
        out.stderr
            .contains(&format!("SMTP server 127.0.0.1:{port} is unavailable")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("1 message(s) kept in the outbox"),
        "{}",
        out.stderr
    );
}
