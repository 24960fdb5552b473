//! Bounces and complaints, end to end through the binary: a real Postfix
//! relay accepts our mail and returns real DSNs for the addresses it cannot
//! deliver to, into a real Dovecot mailbox that the daemon polls; the same
//! DSNs piped to `academichub bounce`; forged ones; a spam complaint; and a
//! relay that refuses our sender.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::helpers::{Hub, SmtpServer, TestDb, config, outliers_feed, sql_count, sql_exec, status};
use crate::mail_servers::{ImapServer, PostfixRelay, READERS, SOFT};

/// 17 readers with mailboxes, 3 addresses Postfix accepts and then bounces
/// (5.1.1), and one whose mail is deferred until it expires (4.4.1).
const KNOWN: usize = 17;
const GHOSTS: [&str; 3] = ["ghost1", "ghost2", "ghost3"];

fn known() -> Vec<String> {
    (1..=KNOWN).map(|n| format!("r{n:02}")).collect()
}

/// How the hub reaches the bounce mailbox.
#[derive(Clone, Copy)]
enum ImapTls {
    None,
    Starttls,
    Implicit,
}

/// The hub's config for `relay` with bounces read from `imap`.
fn bounce_config(
    db: &TestDb,
    relay: &PostfixRelay,
    imap: &ImapServer,
    mode: ImapTls,
    soft_limit: u32,
    feed: &str,
) -> String {
    let ca = imap.ca_file().display();
    let tls = match mode {
        ImapTls::None => format!("port = {}\ntls = \"none\"", imap.port()),
        ImapTls::Starttls => format!(
            "port = {}\ntls = \"starttls\"\nca_file = \"{ca}\"",
            imap.port()
        ),
        ImapTls::Implicit => format!(
            "port = {}\ntls = \"tls\"\nca_file = \"{ca}\"",
            imap.tls_port()
        ),
    };
    config(&db.url, relay.port(), &[feed.to_owned()]).replace(
        "[delivery]\n",
        "[delivery]\nbounce_address = \"bounces@bounces.test\"\n",
    ) + &format!(
        r#"
[links]
secret = "{}"

[bounces]
soft_limit = {soft_limit}

[bounces.imap]
host = "127.0.0.1"
{}
username = "{}"
password = "{}"
timeout_secs = 10
"#,
        crate::helpers::LINK_SECRET,
        tls,
        imap.user(),
        imap.password()
    )
}

/// Subscribes every address in `emails` to the topic the recorded feed has a
/// paper on, in one import.
async fn import(hub: &Hub, dir: &Path, emails: &[String]) {
    let lines: String = emails
        .iter()
        .map(|e| {
            format!(
                "{{\"email\": \"{e}\", \"topics\": [{{\"name\": \"Outliers\", \"keywords\": [\"outlier detection\"]}}]}}\n"
            )
        })
        .collect();
    let file = dir.join("readers.jsonl");
    std::fs::write(&file, lines).unwrap();
    hub.ok(&["subscribers", "import", file.to_str().unwrap()])
        .await;
}

/// Waits until the relay has put `count` DSNs in the bounce mailbox.
async fn wait_for_bounces(relay: &PostfixRelay, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while relay.bounces().len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} DSNs after 30 s; the relay's log:\n{}",
            relay.bounces().len(),
            relay.maillog()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_the_relay_bounces_are_suppressed_after_one_poll_and_not_mailed_again() {
    const TEST: &str =
        "addresses_the_relay_bounces_are_suppressed_after_one_poll_and_not_mailed_again";
    let feed = outliers_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let known = known();
        let users: Vec<&str> = known.iter().map(String::as_str).collect();
        let Some(relay) = PostfixRelay::start_with(TEST, &users).await else {
            return;
        };
        let Some(imap) = ImapServer::start(TEST, &relay).await else {
            return;
        };
        // The mailbox over TLS, both ways, with a private CA.
        let mode = if label == "sqlite" {
            ImapTls::Starttls
        } else {
            ImapTls::Implicit
        };
        let hub = Hub::new(&bounce_config(
            &db,
            &relay,
            &imap,
            mode,
            1,
            &feed.url("ok.rss"),
        ));
        let dir = tempfile::tempdir().unwrap();
        let mut emails: Vec<String> = known.iter().map(|u| format!("{u}@{READERS}")).collect();
        emails.extend(GHOSTS.iter().map(|g| format!("{g}@{READERS}")));
        emails.push(format!("carl@{SOFT}"));
        import(&hub, dir.path(), &emails).await;

        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(
            out.contains("21 sent, 0 deferred, 0 failed"),
            "[{label}] {out}"
        );
        // 3 hard DSNs, and carl's two (delayed, then failed with 4.4.1).
        wait_for_bounces(&relay, 5).await;
        for user in &known {
            assert_eq!(relay.delivered(user), 1, "[{label}] {user}");
        }

        let polled = hub.ok(&["poll-bounces"]).await;
        assert!(
            polled.contains("5 message(s) read, 0 kept"),
            "[{label}] {polled}"
        );
        for ghost in GHOSTS {
            let email = format!("{ghost}@{READERS}");
            assert_eq!(
                status(&hub, &email).await,
                "suppressed",
                "[{label}] {email}"
            );
            let shown = hub.ok(&["subscribers", "--show", &email]).await;
            assert!(
                shown.contains("suppressed\tvia bounce: bounced: 5.1.1")
                    && shown.contains("unknown user"),
                "[{label}] {shown}"
            );
        }
        let shown = hub
            .ok(&["subscribers", "--show", &format!("carl@{SOFT}")])
            .await;
        assert!(
            shown.contains(
                "suppressed\tvia bounce: bounced: 1 soft bounces in 14 days, the last 4.4.1"
            ),
            "[{label}] the soft limit (1 here) is reached by carl's one message, \
             whose two DSNs count once: {shown}"
        );
        for user in &known {
            assert_eq!(
                status(&hub, &format!("{user}@{READERS}")).await,
                "active",
                "[{label}]"
            );
        }
        assert!(
            imap.messages().await.is_empty(),
            "[{label}] handled messages leave the mailbox"
        );
        let stats = hub.ok(&["stats", "--days", "1", "--json"]).await;
        let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
        let day = &stats["days"][0];
        assert_eq!(
            (&day["sent"], &day["reports"]),
            (
                &serde_json::json!(21),
                &serde_json::json!({"hard": 3, "soft": 1})
            ),
            "[{label}] 21 sent, 3 hard, 1 soft (carl's message, once for its two DSNs): {stats}"
        );
        assert_eq!(stats["today"]["readers"]["suppressed"], 4, "[{label}]");

        // The next round mails the 17 only.
        // Today's briefings forgotten: `run-once --force` makes them again,
        // a second round on the same day.
        sql_exec(&db.url, "DELETE FROM briefings").await;
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains("17 sent"), "[{label}] {out}");
        imap.stop().await;
        relay.stop().await;
        db.drop_db().await;
    }
}

/// A real Postfix DSN piped in, then forged and replayed variants of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piped_dsn_suppresses_its_reader_and_forged_ones_change_nothing() {
    const TEST: &str = "a_piped_dsn_suppresses_its_reader_and_forged_ones_change_nothing";
    let feed = outliers_feed().await;
    let db = TestDb::sqlite();
    let Some(relay) = PostfixRelay::start_with(TEST, &["ada", "bob"]).await else {
        return;
    };
    let Some(imap) = ImapServer::start(TEST, &relay).await else {
        return;
    };
    let hub = Hub::new(&bounce_config(
        &db,
        &relay,
        &imap,
        ImapTls::None,
        3,
        &feed.url("ok.rss"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let emails: Vec<String> = ["ada", "bob", "ghost1"]
        .iter()
        .map(|u| format!("{u}@{READERS}"))
        .collect();
    import(&hub, dir.path(), &emails).await;
    hub.ok(&["run-once", "--force"]).await;
    wait_for_bounces(&relay, 1).await;
    let dsn = std::fs::read_to_string(&relay.bounces()[0]).unwrap();
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    let ghost = format!("ghost1@{READERS}");
    let ada = format!("ada@{READERS}");

    // Replayed for another reader: ghost1's return address, ada's address.
    let replayed = dsn.replace(&ghost, &ada);
    let out = pipe(&hub, &replayed).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains("forged") && out.stdout.contains("nothing done"),
        "{}",
        out.stdout
    );
    assert_eq!(status(&hub, &ada).await, "active");

    // A tampered signature: every hex digit of the tag moved by one.
    let token_start = dsn.find("bounces+").unwrap();
    let address: String = dsn[token_start..]
        .chars()
        .take_while(|c| *c != '@')
        .collect();
    let tag = address.rsplit('-').next().unwrap();
    let bent: String = tag
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    let tampered = dsn.replace(tag, &bent);
    let out = pipe(&hub, &tampered).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains("forged") && out.stdout.contains("not signed by us"),
        "{}",
        out.stdout
    );
    // Signed with someone else's key.
    let ids: Vec<i64> = address
        .trim_start_matches("bounces+")
        .split('-')
        .take(2)
        .map(|n| n.parse().unwrap())
        .collect();
    let foreign = academichub::domain::BounceAddress::parse("bounces@bounces.test")
        .unwrap()
        .for_message(
            &crate::helpers::keys(&["another-instance-key-of-at-least-32-bytes"]),
            academichub::domain::ReturnIds {
                message: ids[0],
                subscriber: ids[1],
            },
            1,
        )
        .to_string();
    let out = pipe(
        &hub,
        &dsn.replace(&address, foreign.split('@').next().unwrap()),
    )
    .await;
    assert!(out.stdout.contains("forged"), "{}", out.stdout);
    assert_eq!(status(&hub, &ghost).await, "active", "nothing forged acts");

    // The same failure as a policy refusal (5.7.1, as for a failed SPF
    // check of our domain): counted, not a dead mailbox at once.
    let policy = dsn.replace("Status: 5.1.1", "Status: 5.7.1");
    assert_ne!(policy, dsn);
    let out = pipe(&hub, &policy).await;
    assert!(
        out.stdout.contains("soft bounce") && out.stdout.contains("not suppressed yet"),
        "{}",
        out.stdout
    );
    assert_eq!(status(&hub, &ghost).await, "active");

    // The real one.
    let out = pipe(&hub, &dsn).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "hard bounce (message {}, subscriber {})",
            ids[0], ids[1]
        )) && out
            .stdout
            .contains(&format!("{ghost} suppressed, bounced: 5.1.1")),
        "{}",
        out.stdout
    );
    assert_eq!(status(&hub, &ghost).await, "suppressed");
    // Read twice (an MTA that retries), it changes nothing more.
    let out = pipe(&hub, &dsn).await;
    assert!(out.stdout.contains("read before"), "{}", out.stdout);
    assert_eq!(
        sql_count(
            &db.url,
            "SELECT COUNT(*) FROM bounces WHERE outcome = 'forged'"
        )
        .await,
        3
    );

    // Not a bounce at all: kept as a file for a person, exit 0.
    let out = pipe(
        &hub,
        "Subject: hello\r\nFrom: someone@example.org\r\n\r\nhi\r\n",
    )
    .await;
    assert!(
        out.success && out.stdout.contains("unreadable"),
        "{}",
        out.stdout
    );
    let kept = std::fs::read_dir(hub.dir.path().join("var/bounces-unreadable"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(kept, 1, "kept in bounces.unreadable_folder");

    // A mailbox we cannot trust or log in to is an error that says what to
    // check, and leaves the mailbox as it was.
    let config = std::fs::read_to_string(&hub.config).unwrap();
    let untrusted = config.replace(
        &format!("port = {}\ntls = \"none\"", imap.port()),
        &format!("port = {}\ntls = \"tls\"", imap.tls_port()),
    );
    assert_ne!(untrusted, config);
    hub.rewrite_config(&untrusted);
    let out = hub.run(&["poll-bounces"]).await;
    assert!(
        !out.success
            && out.stderr.contains("cannot reach the bounce mailbox")
            && out.stderr.contains("TLS")
            && out.stderr.contains("certificate"),
        "{}",
        out.stderr
    );
    hub.rewrite_config(&config.replace(imap.password(), "wrong-password"));
    let out = hub.run(&["poll-bounces"]).await;
    assert!(
        !out.success
            && out.stderr.contains("refused the login of \"bounces\"")
            && out.stderr.contains("ACADEMICHUB_BOUNCES__IMAP__PASSWORD")
            && !out.stderr.contains("wrong-password"),
        "{}",
        out.stderr
    );
    hub.rewrite_config(&config);

    // Beside the DSN, a message that is no bounce at all reaches the mailbox
    // through the relay: the poll keeps it (flagged) and counts it once.
    let python = crate::helpers::python().expect("the .venv Python");
    let sent = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(
            "import smtplib, sys; s = smtplib.SMTP('127.0.0.1', int(sys.argv[1])); \
             s.sendmail('someone@example.org', ['bounces+hello@bounces.test'], \
             'From: someone@example.org\\r\\nSubject: hello\\r\\n\\r\\njust saying hi\\r\\n'); s.quit()",
        )
        .arg(relay.port().to_string())
        .status()
        .await
        .unwrap();
    assert!(sent.success());
    wait_for_bounces(&relay, 2).await;
    let polled = hub.ok(&["poll-bounces"]).await;
    assert!(
        polled.contains("2 message(s) read, 1 kept for a person"),
        "the DSN still waited in the mailbox, and the hello is kept: {polled}"
    );
    let again = hub.ok(&["poll-bounces"]).await;
    assert!(
        again.contains("0 message(s) read, 0 kept"),
        "a kept message is not read again: {again}"
    );
    let left = imap.messages().await;
    assert_eq!(left.len(), 1);
    assert!(String::from_utf8_lossy(&left[0]).contains("just saying hi"));
    imap.stop().await;
    relay.stop().await;
}

async fn pipe(hub: &Hub, message: &str) -> crate::helpers::Output {
    use tokio::io::AsyncWriteExt;
    let mut child = hub
        .command(&["bounce"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(message.as_bytes()).await.unwrap();
    drop(stdin);
    crate::helpers::Output::from(child.wait_with_output().await.unwrap())
}

/// A relay that refuses our sender refuses every recipient: the run stops
/// after `stop_after_refusals`, nobody is suppressed, the queue stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_refusing_our_sender_stops_the_run_and_suppresses_nobody() {
    const TEST: &str = "a_relay_refusing_our_sender_stops_the_run_and_suppresses_nobody";
    let Some(smtp) = SmtpServer::ruled(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let hub = Hub::new(&config(&db.url, smtp.port, &[feed.url("ok.rss")]).replace(
            "[delivery]\n",
            "[delivery]\nstop_after_refusals = 3\nconcurrency = 2\n",
        ));
        let dir = tempfile::tempdir().unwrap();
        let emails: Vec<String> = (1..=8)
            .map(|n| format!("reader@domain{n}.example"))
            .collect();
        import(&hub, dir.path(), &emails).await;
        smtp.set_rules(&[(
            "MAIL FROM",
            "550 5.7.1 Sender address rejected: not owned by user",
        )]);
        let out = hub.run(&["run-once", "--force"]).await;
        assert!(!out.success, "[{label}] a refused sender fails the run");
        assert!(
            out.stderr
                .contains("delivery stopped: the mail server refused")
                && out.stderr.contains("Sender address rejected")
                && out.stderr.contains("check delivery.from")
                && out
                    .stderr
                    .contains("Nobody was suppressed; 8 message(s) wait in the outbox"),
            "[{label}] {}",
            out.stderr
        );
        for email in &emails {
            assert_eq!(status(&hub, email).await, "active", "[{label}] {email}");
        }
        assert_eq!(
            sql_count(
                &db.url,
                "SELECT COUNT(*) FROM outbox WHERE status = 'queued' AND attempts = 0"
            )
            .await,
            8,
            "[{label}] the queue is intact, no attempt counted"
        );
        // With a limit the run never reaches, nothing went through to tell
        // the refusals apart: they wait for a later run, nobody suppressed.
        let config = std::fs::read_to_string(&hub.config).unwrap();
        hub.rewrite_config(&config.replace("stop_after_refusals = 3", "stop_after_refusals = 20"));
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(
            out.contains("0 sent, 8 deferred, 0 failed"),
            "[{label}] {out}"
        );
        for email in &emails {
            assert_eq!(status(&hub, email).await, "active", "[{label}] {email}");
        }
        // Fixed: everything goes.
        smtp.set_rules(&[]);
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(
            out.contains("8 sent, 0 deferred, 0 failed"),
            "[{label}] {out}"
        );
        db.drop_db().await;
    }
    smtp.stop().await;
}

/// An RFC 5965 feedback report around the message `recipient` received,
/// as a mailbox provider's feedback loop sends it.
fn arf_for(original: &[u8], recipient: &str, feedback_type: &str) -> String {
    format!(
        "From: Feedback Loop <fbl@provider.test>\r\n\
         To: fbl@hub.test\r\n\
         Subject: Complaint about a message from hub.test\r\n\
         Message-ID: <arf-1@provider.test>\r\n\
         Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"arf\"\r\n\
         \r\n\
         --arf\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         This is an abuse report for a message received from hub.test.\r\n\
         --arf\r\n\
         Content-Type: message/feedback-report\r\n\
         \r\n\
         Feedback-Type: {feedback_type}\r\n\
         User-Agent: ProviderFBL/1.0\r\n\
         Version: 1\r\n\
         Original-Rcpt-To: <{recipient}>\r\n\
         \r\n\
         --arf\r\n\
         Content-Type: message/rfc822\r\n\
         Content-Disposition: inline\r\n\
         \r\n\
         {}\r\n\
         --arf--\r\n",
        String::from_utf8_lossy(original)
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spam_complaint_unsubscribes_and_only_a_confirmed_request_brings_the_reader_back() {
    const TEST: &str =
        "a_spam_complaint_unsubscribes_and_only_a_confirmed_request_brings_the_reader_back";
    let feed = outliers_feed().await;
    let db = TestDb::sqlite();
    let Some(relay) = PostfixRelay::start_with(TEST, &["ada", "bob"]).await else {
        return;
    };
    let port = crate::helpers::free_port();
    let hub = Hub::new(
        &crate::helpers::web_config(&db.url, relay.port(), &[feed.url("ok.rss")], port).replace(
            "[delivery]\n",
            "[delivery]\nbounce_address = \"bounces@bounces.test\"\n",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let ada = format!("ada@{READERS}");
    let bob = format!("bob@{READERS}");
    import(&hub, dir.path(), &[ada.clone(), bob.clone()]).await;
    hub.ok(&["run-once", "--force"]).await;
    let inbox = relay
        .bounce_maildir()
        .parent()
        .unwrap()
        .join("readers/ada/new");
    let deadline = Instant::now() + Duration::from_secs(30);
    let received = loop {
        if let Some(file) = std::fs::read_dir(&inbox).ok().and_then(|mut d| d.next()) {
            break std::fs::read(file.unwrap().path()).unwrap();
        }
        assert!(Instant::now() < deadline, "{}", relay.maillog());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        String::from_utf8_lossy(&received).contains("Return-Path: <bounces+"),
        "the message went out from its own return address"
    );
    assert!(String::from_utf8_lossy(&received).contains("Feedback-ID: briefing:"));

    // A DMARC failure report is about our DNS, not a reader's complaint.
    let out = pipe(&hub, &arf_for(&received, &ada, "auth-failure")).await;
    assert!(
        out.stdout.contains("ignored") && out.stdout.contains("not a reader's complaint"),
        "{}",
        out.stdout
    );
    assert_eq!(status(&hub, &ada).await, "active");

    let out = pipe(&hub, &arf_for(&received, &ada, "abuse")).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("{ada} unsubscribed and suppressed"))
            && out
                .stdout
                .contains("marked as spam (abuse report, reported by ProviderFBL/1.0)"),
        "{}",
        out.stdout
    );
    assert_eq!(status(&hub, &ada).await, "suppressed");
    assert_eq!(status(&hub, &bob).await, "active");

    // Nobody but ada brings ada back: not the operator ...
    let refused = hub
        .run(&[
            "subscribe",
            &ada,
            "--topic",
            "Outliers",
            "--keywords",
            "outlier detection",
        ])
        .await;
    assert!(
        !refused.success && refused.stderr.contains("marked our mail as spam"),
        "{}",
        refused.stderr
    );
    // ... and her own request waits for her confirmation, saying why.
    let daemon = crate::helpers::Daemon::start(&hub, port).await;
    let request = serde_json::json!({
        "email": ada,
        "topics": [{"name": "Outliers", "keywords": ["outlier detection"]}],
    });
    let (code, body) = daemon.post_json("/api/subscriptions", &request).await;
    assert_eq!(code.as_u16(), 202, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while relay.delivered("ada") < 2 {
        assert!(
            Instant::now() < deadline,
            "no confirmation request: {}",
            relay.maillog()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    daemon.stop().await;
    assert_eq!(status(&hub, &ada).await, "suppressed", "until she confirms");
    let shown = hub.ok(&["subscribers", "--show", &ada]).await;
    assert!(
        shown.contains("complained\tvia bounce: complaint: marked as spam")
            && shown.contains(
                "requested\tvia api from 127.0.0.1: suppressed before (complaint: marked as spam"
            )
            && shown.contains("mailed again only once this request is confirmed"),
        "{shown}"
    );
    relay.stop().await;
}

/// Wired as mailing-list managers are: Postfix's local(8) pipes each bounce
/// for `bounces+…@bounces.test` to `academichub bounce` through an alias, as
/// `nobody`, with `$ORIGINAL_RECIPIENT`; while the database is down the
/// command says EX_TEMPFAIL and Postfix keeps the bounce and tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_pipes_bounces_to_the_binary_and_keeps_them_while_it_cannot_store() {
    const TEST: &str = "postfix_pipes_bounces_to_the_binary_and_keeps_them_while_it_cannot_store";
    // PostgreSQL: the piped command runs as `nobody`, which a SQLite file
    // made by the test would have to be opened to.
    let Some(db) = TestDb::postgres(TEST).await else {
        return;
    };
    let feed = outliers_feed().await;
    let hub = Hub::new(&format!(
        "{}\n[links]\nsecret = \"{}\"\n",
        config(&db.url, 1, &[feed.url("ok.rss")]).replace(
            "[delivery]\n",
            "[delivery]\nbounce_address = \"bounces@bounces.test\"\n",
        ),
        crate::helpers::LINK_SECRET
    ));
    // The command's own config: the hub's, which the test breaks later.
    let piped = hub.dir.path().join("piped.toml");
    std::fs::copy(&hub.config, &piped).unwrap();
    crate::helpers::open_to_all(hub.dir.path());
    // local(8) runs the command as `nobody`, who may not reach the build
    // folder (CI clones into a private temporary folder): a copy it can run.
    let binary = hub.dir.path().join("academichub");
    std::fs::copy(env!("CARGO_BIN_EXE_academichub"), &binary).unwrap();
    let command = format!("{} --config {} bounce", binary.display(), piped.display());
    let Some(relay) = PostfixRelay::start_piping(TEST, &["ada"], &command).await else {
        return;
    };
    let sending = std::fs::read_to_string(&hub.config)
        .unwrap()
        .replace("port = 1\n", &format!("port = {}\n", relay.port()));
    hub.rewrite_config(&sending);
    let dir = tempfile::tempdir().unwrap();
    let (ada, ghost1, ghost2) = (
        format!("ada@{READERS}"),
        format!("ghost1@{READERS}"),
        format!("ghost2@{READERS}"),
    );
    import(&hub, dir.path(), &[ada.clone(), ghost1.clone()]).await;
    hub.ok(&["run-once", "--force"]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&hub, &ghost1).await != "suppressed" {
        assert!(
            !relay.maillog().contains("execvp"),
            "Postfix could not run the command: {}",
            relay.maillog()
        );
        assert!(
            Instant::now() < deadline,
            "ghost1 not suppressed through the pipe; maillog:\n{}",
            relay.maillog()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status(&hub, &ada).await, "active");
    let shown = hub.ok(&["subscribers", "--show", &ghost1]).await;
    assert!(shown.contains("via bounce: bounced: 5.1.1"), "{shown}");
    assert!(
        relay.maillog().contains("delivered to command"),
        "{}",
        relay.maillog()
    );

    // The database the command uses is down: Postfix is told to try again.
    let down = std::fs::read_to_string(&piped)
        .unwrap()
        .replace("127.0.0.1:5432", "127.0.0.1:9");
    assert_ne!(down, std::fs::read_to_string(&piped).unwrap());
    std::fs::write(&piped, down).unwrap();
    import(&hub, dir.path(), std::slice::from_ref(&ghost2)).await;
    hub.ok(&["run-once", "--force"]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !relay
        .maillog()
        .contains("status=deferred (temporary failure")
    {
        assert!(
            Instant::now() < deadline,
            "no deferral; maillog:\n{}",
            relay.maillog()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for line in relay.maillog().lines() {
        if line.contains("delivered to command") || line.contains("status=deferred (temporary") {
            println!("{line}");
        }
    }
    assert_eq!(
        status(&hub, &ghost2).await,
        "active",
        "not stored, not lost"
    );
    relay.stop().await;
    db.drop_db().await;
}

/// `serve` reads the bounce mailbox by itself: at start-up, then every
/// `poll_minutes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_polls_the_bounce_mailbox_by_itself() {
    const TEST: &str = "the_daemon_polls_the_bounce_mailbox_by_itself";
    let feed = outliers_feed().await;
    let db = TestDb::sqlite();
    let Some(relay) = PostfixRelay::start_with(TEST, &["ada"]).await else {
        return;
    };
    let Some(imap) = ImapServer::start(TEST, &relay).await else {
        return;
    };
    let port = crate::helpers::free_port();
    let hub = Hub::new(
        &bounce_config(&db, &relay, &imap, ImapTls::None, 3, &feed.url("ok.rss")).replace(
            "listen = \"127.0.0.1:0\"\n",
            &format!("listen = \"127.0.0.1:{port}\"\n"),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let ghost = format!("ghost1@{READERS}");
    import(&hub, dir.path(), &[format!("ada@{READERS}"), ghost.clone()]).await;
    hub.ok(&["run-once", "--force"]).await;
    wait_for_bounces(&relay, 1).await;
    let daemon = crate::helpers::Daemon::start(&hub, port).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&hub, &ghost).await != "suppressed" {
        assert!(
            Instant::now() < deadline,
            "the daemon did not read the bounce mailbox within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = daemon.stop().await;
    assert!(
        out.stderr.contains("bounce mailbox read"),
        "the daemon logs its poll: {}",
        out.stderr
    );
    assert!(imap.messages().await.is_empty());
    imap.stop().await;
    relay.stop().await;
}
