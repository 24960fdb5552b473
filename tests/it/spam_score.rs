//! A realistic briefing, DKIM-signed, as SpamAssassin (not ours; local
//! tests only, no network) scores it: well below the usual 5.0, and below
//! 2.0 so that stricter filters pass it too.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::helpers::{FIXTURES, Hub, TestDb, skip};

const REAL_DAY: &str = "arxiv-rss2-cs.CV-2026-04-21-real-day.xml";

async fn score(message: &[u8]) -> f64 {
    let mut sa = tokio::process::Command::new("spamassassin")
        .args(["-L", "-t"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    sa.stdin.take().unwrap().write_all(message).await.unwrap();
    let out = sa.wait_with_output().await.unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let status = report
        .lines()
        .find(|l| l.starts_with("X-Spam-Status:"))
        .unwrap_or_else(|| panic!("no X-Spam-Status in:\n{report}"));
    status
        .split("score=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no score in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realistic_briefing_scores_below_two_with_spamassassin() {
    const TEST: &str = "a_realistic_briefing_scores_below_two_with_spamassassin";
    if std::process::Command::new("spamassassin")
        .arg("--version")
        .output()
        .is_err()
    {
        return skip(
            TEST,
            "SpamAssassin is not installed (apt-get install spamassassin)",
        );
    }
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("dkim.pem");
    let made = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .unwrap();
    assert!(made.status.success());
    let db = TestDb::sqlite();
    let mail = keys.path().join("mail");
    let hub = Hub::new(&format!(
        r#"[database]
url = "{}"
[delivery]
from = "AcademicHub <briefing@academichub.example.org>"
folder = "{}"
[delivery.dkim]
domain = "academichub.example.org"
selector = "s2026"
private_key_file = "{}"
[web]
public_url = "https://academichub.example.org/"
[[collect.feeds]]
url = "file://{FIXTURES}/{REAL_DAY}"
"#,
        db.url,
        mail.display(),
        key.display()
    ));
    hub.ok(&[
        "subscribe",
        "ada@example.org",
        "--topic",
        "Segmentation",
        "--keywords",
        "segmentation",
        "--topic",
        "Diffusion",
        "--keywords",
        "diffusion model, diffusion",
        "--topic",
        "3D",
        "--keywords",
        "3D reconstruction, point cloud, gaussian splatting",
    ])
    .await;
    hub.ok(&[
        "subscribe",
        "li@example.cn",
        "--locale",
        "zh",
        "--topic",
        "视频理解",
        "--keywords",
        "video",
        "--topic",
        "多模态",
        "--keywords",
        "multimodal, vision-language",
    ])
    .await;
    let out = hub.ok(&["run-once", "--force"]).await;
    assert!(out.contains("2 sent"), "{out}");
    for entry in std::fs::read_dir(&mail).unwrap() {
        let message = std::fs::read(entry.unwrap().path()).unwrap();
        let score = score(&message).await;
        eprintln!(
            "SpamAssassin score of a {}-byte briefing: {score}",
            message.len()
        );
        assert!(score < 2.0, "scored {score}");
    }
}
