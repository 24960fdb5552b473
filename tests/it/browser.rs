//! The briefing as a person sees it: rendered by headless Chromium.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::helpers::{FeedServer, Hub, Route, TestDb, fixture, skip};

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

async fn chromium_run(
    chromium: &Path,
    profile: &Path,
    args: &[&str],
    page: &Path,
) -> std::process::Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
        ])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_renders_the_briefing_with_working_links() {
    const TEST: &str = "a_browser_renders_the_briefing_with_working_links";
    let Some(chromium) = chromium() else {
        return skip(TEST, "Chromium is not installed (apt-get install chromium)");
    };
    let feeds = FeedServer::start([(
        "nature.rss",
        Route::Feed(fixture("nature-rss1-synthetic-shape.xml")),
    )])
    .await;
    let db = TestDb::sqlite();
    let hub = Hub::new(&format!(
        "[database]\nurl = \"{}\"\n[web]\npublic_url = \"https://hub.test\"\n[[collect.feeds]]\nurl = \"{}\"\n",
        db.url,
        feeds.url("nature.rss")
    ));
    hub.ok(&[
        "subscribe",
        "li@example.cn",
        "--locale",
        "zh",
        "--topic",
        "图神经网络 <GNN>",
        "--keywords",
        "graph neural network",
    ])
    .await;
    hub.ok(&["collect"]).await;
    let page = hub.dir.path().join("preview.html");
    hub.ok(&["preview", "li@example.cn", "--out", page.to_str().unwrap()])
        .await;

    let profile = tempfile::tempdir().unwrap();
    let dom = chromium_run(&chromium, profile.path(), &["--dump-dom"], &page).await;
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    // What the browser built, not what we wrote: entities decoded, markup escaped.
    assert!(
        dom.contains(r#"href="https://www.nature.com/articles/s41586-000-00001-x""#),
        "{dom}"
    );
    assert!(dom.contains(">A synthetic result on graph neural network pruning</a>"));
    assert!(
        dom.contains("图神经网络 &lt;GNN&gt;"),
        "topic names are text, not markup"
    );
    assert!(dom.contains(r#"href="https://hub.test/unsubscribe/"#));
    assert!(dom.contains("您的科研简报"));

    let shot = hub.dir.path().join("preview.png");
    let out = chromium_run(
        &chromium,
        profile.path(),
        &[
            "--window-size=700,1000",
            &format!("--screenshot={}", shot.display()),
        ],
        &page,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot, {} bytes",
        png.len()
    );
}
