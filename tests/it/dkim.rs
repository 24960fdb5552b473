//! DKIM: what we sign, dkimpy (not ours) verifies offline with the public
//! key; a briefing's signature covers its one-click unsubscribe headers.

use std::path::Path;
use std::process::Command;

use crate::helpers::{Hub, SmtpServer, TestDb, config, outliers_feed, python, skip};

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `tests/dkim_verify.py`: whether the signature holds, and what it says.
fn verify(raw: &str, public_key: &str, dir: &Path) -> (bool, String) {
    let file = dir.join("message.eml");
    std::fs::write(&file, raw).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dkim_verify.py");
    let out = Command::new(python().expect("a Python with dkimpy"))
        .arg(script)
        .arg(&file)
        .arg(public_key)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn briefings_and_notices_carry_a_dkim_signature_that_verifies() {
    const TEST: &str = "briefings_and_notices_carry_a_dkim_signature_that_verifies";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let has_dkimpy = python().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import dkim"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if !has_dkimpy {
        return skip(TEST, "dkimpy is not installed in the test venv");
    }
    let keys = tempfile::tempdir().unwrap();
    openssl(
        keys.path(),
        &["genrsa", "-traditional", "-out", "dkim.pem", "2048"],
    );
    let der = openssl(
        keys.path(),
        &["rsa", "-in", "dkim.pem", "-pubout", "-outform", "DER"],
    );
    use base64::Engine;
    let public_key = base64::engine::general_purpose::STANDARD.encode(der);

    let feed = outliers_feed().await;
    let db = TestDb::sqlite();
    let toml = config(&db.url, smtp.port, &[feed.url("ok.rss")]).replace(
        "[delivery.smtp]",
        &format!(
            "[delivery.dkim]\ndomain = \"hub.test\"\nselector = \"s2026\"\nprivate_key_file = \"{}\"\n\n[delivery.smtp]",
            keys.path().join("dkim.pem").display()
        ),
    );
    let hub = Hub::new(&toml);
    hub.subscribe_ada_to_outliers().await;
    hub.ok(&["run-once", "--force"]).await;
    hub.ok(&["send-test", "ops@example.org"]).await;
    let mail = smtp.messages();
    assert_eq!(mail.len(), 2);

    let (briefing_ok, said) = verify(&mail[0].raw, &public_key, keys.path());
    assert!(briefing_ok, "the briefing's signature verifies: {said}");
    assert!(
        said.contains("list-unsubscribe") && said.contains("list-unsubscribe-post"),
        "one-click unsubscribe is signed: {said}"
    );
    assert!(mail[0].raw.contains("d=hub.test") && mail[0].raw.contains("s=s2026"));
    let (notice_ok, said) = verify(&mail[1].raw, &public_key, keys.path());
    assert!(notice_ok, "the test message's signature verifies: {said}");

    // The verification is real: a changed subject breaks it.
    let tampered = mail[0].raw.replacen("Subject: ", "Subject: Re: ", 1);
    let (tampered_ok, _) = verify(&tampered, &public_key, keys.path());
    assert!(!tampered_ok, "a tampered message does not verify");

    // A key that is not a key is a clear error naming the setting.
    std::fs::write(keys.path().join("dkim.pem"), "not a key").unwrap();
    let out = hub.run(&["run-once"]).await;
    assert!(
        !out.success && out.stderr.contains("delivery.dkim.private_key_file"),
        "{}",
        out.stderr
    );
    smtp.stop().await;
}
