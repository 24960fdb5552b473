//! The briefing as a person sees it: rendered by headless Chromium.

use std::path::{Path, PathBuf};

use fantoccini::Client;
use serde::Deserialize;
use serde_json::json;
use tokio::process::Command;

use crate::helpers::{FeedServer, Hub, Route, TestDb, fixture, skip};
use crate::reader_pages::{CHROMEDRIVER, CHROMIUM, Driver, number, screenshots};

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

    let shot = hub.dir.path().join("preview-600.png");
    let preview = [
        "preview",
        "li@example.cn",
        "--out",
        page.to_str().unwrap(),
        "--png",
        shot.to_str().unwrap(),
    ];
    let without = hub.run(&preview).await;
    assert!(
        !without.success
            && without.stderr.contains("apt-get install chromium")
            && without.stderr.contains("the HTML was still written"),
        "no browser on an empty PATH: {}",
        without.stderr
    );
    let out = hub
        .run_with_env(&preview, &[("CHROME", chromium.to_str().unwrap())])
        .await;
    assert!(out.success, "preview --png failed: {}", out.stderr);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "preview --png writes a PNG"
    );
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 600, "preview --png shoots a 600 px wide mail");
}

/// The text a reader must be able to read, and the contrast it needs:
/// WCAG AA, 4.5:1 for body text, 3:1 for the muted lines.
const LEGIBLE: [(&str, &str, f64); 7] = [
    ("a paper title", ".card .title", 4.5),
    ("a source badge", ".badge", 4.5),
    ("a TL;DR", ".card > div:not(.muted):not(:has(.title))", 4.5),
    ("the analysis", ".analysis p", 4.5),
    ("a link", ".sheet a:not(.title)", 4.5),
    ("a muted line", ".sheet .muted", 3.0),
    ("the footer", ".foot td > div", 3.0),
];

/// For every element matching `arguments[0]`: the WCAG contrast ratio of its
/// computed `color` against the first non-transparent `background-color`
/// from it up through its ancestors (the canvas is white). Returns how many
/// matched and the worst of them.
const CONTRAST_JS: &str = r#"
const channels = c => c.match(/[\d.]+/g).map(Number);
const luminance = c => {
  const [r, g, b] = channels(c).slice(0, 3).map(v => {
    v /= 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const behind = el => {
  for (let e = el; e; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    const v = channels(c);
    if (v.length < 4 || v[3] > 0) return c;
  }
  return 'rgb(255, 255, 255)';
};
const all = document.querySelectorAll(arguments[0]);
let worst = null;
for (const el of all) {
  const color = getComputedStyle(el).color;
  const background = behind(el);
  const [a, b] = [luminance(color), luminance(background)];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (!worst || ratio < worst.ratio) {
    worst = {
      ratio, color, background,
      background_luminance: luminance(background),
      text: el.textContent.trim().slice(0, 50),
    };
  }
}
return { count: all.length, worst };
"#;

#[derive(Debug, Deserialize)]
struct Contrast {
    count: usize,
    worst: Option<Worst>,
}

#[derive(Debug, Deserialize)]
struct Worst {
    ratio: f64,
    color: String,
    background: String,
    background_luminance: f64,
    text: String,
}

/// The least legible element matching `selector`; fails if none does.
async fn worst_contrast(browser: &Client, page: &str, selector: &str) -> Worst {
    let found: Contrast = serde_json::from_value(
        browser
            .execute(CONTRAST_JS, vec![json!(selector)])
            .await
            .unwrap(),
    )
    .unwrap();
    found
        .worst
        .unwrap_or_else(|| panic!("{page}: nothing matches {selector} ({} found)", found.count))
}

/// Checks every kind of text in `LEGIBLE`, printing the worst ratio of each.
async fn assert_legible(browser: &Client, page: &str) {
    for (what, selector, min) in LEGIBLE {
        let worst = worst_contrast(browser, page, selector).await;
        println!(
            "{page}: {what}: {:.2}:1 ({} on {})",
            worst.ratio, worst.color, worst.background
        );
        assert!(
            worst.ratio >= min,
            "{page}: {what} ({selector}) {:?} is {} on {}: contrast {:.2}:1, below {min}:1",
            worst.text,
            worst.color,
            worst.background,
            worst.ratio
        );
    }
}

/// Makes the window `width` wide and tall enough for the whole mail, so a
/// screenshot (of the viewport) shows all of it.
async fn whole_mail(browser: &Client, width: u32) {
    browser.set_window_size(width, 2400).await.unwrap();
    let frame = number(browser, "return window.outerHeight - window.innerHeight").await;
    let page = number(browser, "return document.documentElement.scrollHeight").await;
    let height = u32::try_from(page + frame).unwrap();
    browser.set_window_size(width, height).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_briefing_reads_well_at_600_and_375_px_and_in_dark_mode() {
    const TEST: &str = "the_briefing_reads_well_at_600_and_375_px_and_in_dark_mode";
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        return skip(
            TEST,
            "Chromium or ChromeDriver is missing (apt-get install chromium chromium-driver)",
        );
    }
    let samples = crate::briefing::write_samples();
    let driver = Driver::start().await;

    // Light: the mail's own width and a phone's, without sideways scrolling.
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session_with(profile.path(), "en", &[]).await;
    for (name, path) in &samples {
        browser.set_window_size(600, 2400).await.unwrap();
        browser
            .goto(&format!("file://{}", path.display()))
            .await
            .unwrap();
        for width in [600, 375] {
            whole_mail(&browser, width).await;
            let inner = number(&browser, "return window.innerWidth").await;
            assert_eq!(
                inner,
                i64::from(width),
                "{name}: a real {width} px viewport"
            );
            let client = number(&browser, "return document.documentElement.clientWidth").await;
            let scroll = number(&browser, "return document.documentElement.scrollWidth").await;
            println!("{name} at {width} px: scrollWidth {scroll}, clientWidth {client}");
            assert!(
                scroll <= client,
                "{name} at {width} px scrolls sideways: {scroll} px of content in {client} px"
            );
            let png = browser.screenshot().await.unwrap();
            std::fs::write(screenshots().join(format!("{name}-{width}.png")), png).unwrap();
        }
        whole_mail(&browser, 600).await;
        let sheet = worst_contrast(&browser, name, ".sheet").await;
        assert!(
            sheet.background_luminance > 0.5,
            "{name}: the light sheet is {}",
            sheet.background
        );
        assert_legible(&browser, &format!("{name} (light)")).await;
    }
    browser.close().await.unwrap();

    // Dark: the dark styles apply, and every kind of text stays legible.
    let profile = tempfile::tempdir().unwrap();
    let browser = driver
        .session_with(profile.path(), "en", &["--force-dark-mode"])
        .await;
    for (name, path) in &samples {
        browser
            .goto(&format!("file://{}", path.display()))
            .await
            .unwrap();
        whole_mail(&browser, 600).await;
        let dark = browser
            .execute(
                "return matchMedia('(prefers-color-scheme: dark)').matches",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(dark, json!(true), "{name}: the browser prefers dark");
        let sheet = worst_contrast(&browser, name, ".sheet").await;
        println!(
            "{name} (dark): sheet {} (luminance {:.3})",
            sheet.background, sheet.background_luminance
        );
        assert!(
            sheet.background_luminance < 0.1,
            "{name}: the dark styles do not apply: the sheet is {}",
            sheet.background
        );
        assert_legible(&browser, &format!("{name} (dark)")).await;
        let png = browser.screenshot().await.unwrap();
        std::fs::write(screenshots().join(format!("{name}-dark-600.png")), png).unwrap();
    }
    browser.close().await.unwrap();
    drop(driver);
}
