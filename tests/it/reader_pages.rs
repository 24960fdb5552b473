//! The reader's pages in a real browser: headless Chromium driven through
//! ChromeDriver (WebDriver), in English and Chinese, on a phone-sized and a
//! desktop-sized window. Screenshots land in `target/tmp/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use academichub::domain::{LinkAction, LinkClaims};

use crate::helpers::{
    Daemon, FeedServer, Hub, LINK_SECRET, Route, SmtpServer, TestDb, cv_day_feed, decode_claims,
    fixture, free_port, keys, skip, wait_for_mail, web_config,
};

pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
const PHONE: u32 = 375;
const DESKTOP: u32 = 1280;

/// ChromeDriver in its own process group: dropping it kills the driver and
/// every browser process it started, even when a test panics.
pub(crate) struct Driver {
    child: tokio::process::Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Driver {
    pub(crate) async fn start() -> Self {
        let port = free_port();
        let child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let driver = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                s.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    .await
                    .unwrap();
                // ChromeDriver keeps the connection open: read one chunk only.
                let mut buf = [0u8; 2048];
                let n = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf))
                    .await
                    .map_or(0, |r| r.unwrap_or(0));
                if String::from_utf8_lossy(&buf[..n]).contains(r#""ready":true"#) {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn session(&self, profile: &Path, lang: &str) -> Client {
        self.session_with(profile, lang, &[]).await
    }

    /// A session whose Chromium also gets `extra` arguments.
    pub(crate) async fn session_with(&self, profile: &Path, lang: &str, extra: &[&str]) -> Client {
        let mut args = vec![
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.push(format!("--lang={lang}"));
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": args,
                "prefs": { "intl.accept_languages": lang },
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session")
    }
}

pub(crate) fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Screenshots the page at phone and desktop width, checking that the
/// phone-sized page does not scroll sideways.
async fn shoot(browser: &Client, name: &str) {
    for width in [PHONE, DESKTOP] {
        browser.set_window_size(width, 900).await.unwrap();
        let inner = number(browser, "return window.innerWidth").await;
        assert_eq!(
            inner,
            i64::from(width),
            "{name}: a real {width} px viewport"
        );
        let scroll = number(browser, "return document.documentElement.scrollWidth").await;
        assert!(
            scroll <= inner,
            "{name} at {width} px scrolls sideways: {scroll} px of content"
        );
        let png = browser.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(screenshots().join(format!("{name}-{width}.png")), png).unwrap();
    }
    browser.set_window_size(PHONE, 900).await.unwrap();
}

pub(crate) async fn number(browser: &Client, script: &str) -> i64 {
    browser
        .execute(script, vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap_or_else(|| panic!("{script} is not a number"))
}

async fn fill(browser: &Client, css: &str, text: &str) {
    let field = browser.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits for the next page's heading to say `text`.
async fn heading_says(browser: &Client, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(h1) = browser.find(Locator::Css("h1")).await
            && h1.text().await.is_ok_and(|t| t.contains(text))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no page headed {text:?}: {}",
            browser.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Words {
    lang: &'static str,
    email: &'static str,
    topic: &'static str,
    sent: &'static str,
    confirm: &'static str,
    confirmed: &'static str,
    preferences: &'static str,
    saved: &'static str,
    unsubscribe: &'static str,
    unsubscribed: &'static str,
    welcome_back: &'static str,
    /// What the preferences page says of a topic of common words only.
    common_words: &'static str,
}

const ENGLISH: Words = Words {
    lang: "en",
    email: "ada@example.org",
    topic: "Graph learning",
    sent: "Check your inbox",
    confirm: "Confirm your subscription",
    confirmed: "You are subscribed",
    preferences: "Your briefing",
    saved: "Saved.",
    unsubscribe: "Unsubscribe",
    unsubscribed: "You are unsubscribed",
    welcome_back: "Welcome back",
    common_words: "has only words nearly every paper has",
};

const CHINESE: Words = Words {
    lang: "zh",
    email: "li@example.cn",
    topic: "图神经网络",
    sent: "请查收邮件",
    confirm: "确认订阅",
    confirmed: "订阅成功",
    preferences: "您的简报",
    saved: "已保存",
    unsubscribe: "退订",
    unsubscribed: "已退订",
    welcome_back: "欢迎回来",
    common_words: "只含几乎每篇论文都有的词",
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_subscribes_confirms_edits_after_days_unsubscribes_and_undoes_in_a_browser_in_both_languages()
 {
    const TEST: &str = "a_reader_subscribes_confirms_edits_after_days_unsubscribes_and_undoes_in_a_browser_in_both_languages";
    let Some((driver, smtp)) = browser_and_mail(TEST).await else {
        return;
    };
    let feeds = FeedServer::start([(
        "nature.rss",
        Route::Feed(fixture("nature-rss1-synthetic-shape.xml")),
    )])
    .await;
    let db = TestDb::sqlite();
    let port = free_port();
    let hub = Hub::new(&web_config(
        &db.url,
        smtp.port,
        &[feeds.url("nature.rss")],
        port,
    ));
    let daemon = Daemon::start(&hub, port).await;
    let base = daemon.base.clone();

    for (n, words) in [ENGLISH, CHINESE].iter().enumerate() {
        let lang = words.lang;
        let profile = tempfile::tempdir().unwrap();
        let browser = driver.session(profile.path(), lang).await;
        browser.set_window_size(PHONE, 900).await.unwrap();

        // The subscribe page, in the browser's language, without help.
        browser.goto(&format!("{base}/")).await.unwrap();
        heading_says(
            &browser,
            if lang == "en" {
                "Get your research briefing"
            } else {
                "订阅您的科研简报"
            },
        )
        .await;
        shoot(&browser, &format!("subscribe-{lang}")).await;
        let zone = browser
            .find(Locator::Css("#timezone"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert!(
            zone.is_some_and(|z| !z.is_empty()),
            "our script (allowed by the CSP) prefilled the browser's time zone"
        );
        fill(&browser, "#email", words.email).await;
        fill(&browser, "#t0_name", words.topic).await;
        fill(&browser, "#t0_query", "\"graph neural network\"").await;
        fill(&browser, "#timezone", "Asia/Shanghai").await;
        browser
            .find(Locator::Css("#send_hour"))
            .await
            .unwrap()
            .select_by_value("0")
            .await
            .unwrap();
        click(&browser, "#subscribe button[type=submit]").await;
        heading_says(&browser, words.sent).await;
        shoot(&browser, &format!("subscribed-{lang}")).await;

        // The confirmation mail's link: a page with one button.
        let mail = wait_for_mail(&smtp, 2 * n + 1).await;
        let confirm = mail[2 * n].link(&base, "confirm");
        browser.goto(&confirm).await.unwrap();
        heading_says(&browser, words.confirm).await;
        shoot(&browser, &format!("confirm-{lang}")).await;
        click(&browser, "main form button").await;
        heading_says(&browser, words.confirmed).await;

        // The confirmed page links to the preferences.
        click(&browser, "main p a").await;
        heading_says(&browser, words.preferences).await;
        shoot(&browser, &format!("preferences-{lang}")).await;
        // A topic that would match every paper is refused in the reader's
        // language, on the form as they filled it in.
        fill(&browser, "#t0_query", "the, of").await;
        click(&browser, "#preferences button[type=submit]:not([form])").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !browser.source().await.unwrap().contains(words.common_words) {
            assert!(
                Instant::now() < deadline,
                "[{lang}] the refusal is not in the reader's language: {}",
                browser.source().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shoot(&browser, &format!("preferences-refused-{lang}")).await;
        fill(&browser, "#t0_query", "GNN, hypergraph").await;
        // The page stays open for three days (the form's token used to live
        // one) before Save is pressed: it still saves.
        let field = "document.querySelector('#preferences input[name=form_token]')";
        let token = browser
            .execute(&format!("return {field}.value"), vec![])
            .await
            .unwrap();
        let claims = decode_claims(LINK_SECRET, token.as_str().unwrap(), LinkAction::Form);
        let three_days_old = keys(&[LINK_SECRET]).sign(LinkClaims {
            issued_at: claims.issued_at - 3 * 24 * 3600,
            ..claims
        });
        browser
            .execute(
                &format!("{field}.value = arguments[0]"),
                vec![json!(three_days_old)],
            )
            .await
            .unwrap();
        click(&browser, "#preferences button[type=submit]:not([form])").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !browser.source().await.unwrap().contains(words.saved) {
            assert!(Instant::now() < deadline, "the preferences were not saved");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let shown = hub.ok(&["subscribers", "--show", words.email]).await;
        assert!(shown.contains("GNN OR hypergraph"), "{shown}");

        // A briefing, seen in the browser through its "view" link.
        hub.ok(&["run-once", "--force"]).await;
        let mail = wait_for_mail(&smtp, 2 * n + 2).await;
        let view = mail[2 * n + 1].link(&base, "b");
        browser.goto(&view).await.unwrap();
        let source = browser.source().await.unwrap();
        assert!(
            source.contains("A synthetic result on graph neural network pruning"),
            "{source}"
        );
        // On a phone, "more / less like this" are whole, finger-sized targets.
        let feedback = "[...document.querySelectorAll('a[href*=\"/feedback/\"]')]";
        let smallest = number(
            &browser,
            &format!(
                "return Math.floor(Math.min(...{feedback}.map(a => a.getBoundingClientRect().height)))"
            ),
        )
        .await;
        assert!(smallest >= 44, "a feedback link is {smallest} px high");
        let wrapped = number(
            &browser,
            &format!("return {feedback}.filter(a => a.getClientRects().length > 1).length"),
        )
        .await;
        assert_eq!(wrapped, 0, "a feedback link wraps at {PHONE} px");
        shoot(&browser, &format!("briefing-{lang}")).await;

        // Unsubscribe from the preferences page, with undo offered after.
        browser
            .goto(&mail[2 * n + 1].link(&base, "preferences"))
            .await
            .unwrap();
        click(&browser, "section.data a[href*='/unsubscribe/']").await;
        heading_says(&browser, words.unsubscribe).await;
        click(&browser, "main form button").await;
        heading_says(&browser, words.unsubscribed).await;
        shoot(&browser, &format!("unsubscribed-{lang}")).await;
        let listed = hub.ok(&["subscribers"]).await;
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(&format!("{}\tunsubscribed\t{lang}", words.email))),
            "{listed}"
        );
        // And takes it back with the page's "undo".
        click(&browser, "main form button").await;
        heading_says(&browser, words.welcome_back).await;
        let listed = hub.ok(&["subscribers"]).await;
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(&format!("{}\tactive\t{lang}", words.email))),
            "{listed}"
        );
        browser.close().await.unwrap();
    }
    drop(driver);
    daemon.stop().await;
    smtp.stop().await;
}

/// Chromium with its driver and a mail server for a browser test, or
/// `None` after saying which is missing (a skip, or a failure where
/// services are required).
async fn browser_and_mail(test: &str) -> Option<(Driver, SmtpServer)> {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        skip(
            test,
            "Chromium or ChromeDriver is missing (apt-get install chromium chromium-driver)",
        );
        return None;
    }
    let smtp = SmtpServer::start(test).await?;
    Some((Driver::start().await, smtp))
}

/// Titles of the papers in a briefing's plain-text part (`* Title` lines).
fn titles(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("* "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_more_on_this_topic_opens_the_papers_the_briefing_left_out_in_the_readers_language() {
    const TEST: &str =
        "n_more_on_this_topic_opens_the_papers_the_briefing_left_out_in_the_readers_language";
    let Some((driver, smtp)) = browser_and_mail(TEST).await else {
        return;
    };
    let feeds = cv_day_feed().await;
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let port = free_port();
        // Two papers a briefing: a real day has many more on Gaussian splatting.
        let hub = Hub::new(&format!(
            "{}\n[briefing]\nmax_papers = 2\n",
            web_config(&db.url, smtp.port, &[feeds.url("cs.CV.rss")], port)
        ));
        // Collected before the daemon starts, so that its own first
        // collection finds the feed not due and the round sees every paper.
        assert!(hub.ok(&["collect"]).await.contains("501 new"), "[{label}]");
        let daemon = Daemon::start(&hub, port).await;
        for (email, locale) in [("ada@example.org", "en"), ("li@example.cn", "zh")] {
            hub.ok(&[
                "subscribe",
                email,
                "--locale",
                locale,
                "--topic",
                "Splatting",
                "--keywords",
                "gaussian splatting",
            ])
            .await;
        }
        let before = smtp.messages().len();
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains("2 queued"), "[{label}] {out}");
        let mail = wait_for_mail(&smtp, before + 2).await;
        for (email, locale, more_words, lang, note) in [
            (
                "ada@example.org",
                "en",
                "more on this topic",
                "lang=\"en\"",
                "did not fit in this briefing",
            ),
            (
                "li@example.cn",
                "zh",
                "此主题还有",
                "lang=\"zh\"",
                "本期简报放不下",
            ),
        ] {
            let m = mail[before..].iter().find(|m| m.to() == email).unwrap();
            let text = m.parsed().body_text(0).unwrap().into_owned();
            let sent = titles(&text);
            assert_eq!(sent.len(), 2, "[{label}] {text}");
            let line = text
                .lines()
                .find(|l| l.contains(more_words))
                .unwrap_or_else(|| panic!("[{label}] no 'N more' line: {text}"));
            let left: usize = line
                .trim()
                .trim_start_matches("此主题还有 ")
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("[{label}] a count in {line:?}"));
            assert!(left > 2, "[{label}] {line}");
            let more = m
                .links(&daemon.base)
                .into_iter()
                .find(|l| l.ends_with("/more"))
                .expect("the 'N more' link");
            let (code, page) = daemon.get(&more).await;
            assert_eq!(code, StatusCode::OK, "[{label}] {page}");
            assert!(page.contains(lang), "[{label}] in the reader's language");
            assert!(page.contains(note), "[{label}] it says what the page is");
            // Every paper left out, none of those sent, each with its feedback links.
            assert_eq!(
                page.matches("&#x2f;feedback&#x2f;").count(),
                2 * left,
                "[{label}] {page}"
            );
            for title in &sent {
                assert!(!page.contains(title.as_str()), "[{label}] {title} was sent");
            }
            // A damaged link gets a page that says so.
            let (code, _) = daemon.get(&more.replace("/more", "x/more")).await;
            assert!(code.is_client_error(), "[{label}] {code}");

            // As a reader's browser shows it, on a phone and a desktop.
            let profile = tempfile::tempdir().unwrap();
            let browser = driver.session(profile.path(), locale).await;
            browser.goto(&more).await.unwrap();
            let cards = number(
                &browser,
                "return document.querySelectorAll('a[href*=\"/feedback/\"]').length",
            )
            .await;
            assert_eq!(cards, 2 * left as i64, "[{label}]");
            shoot(&browser, &format!("more-{locale}")).await;
            browser.close().await.unwrap();
        }
        daemon.stop().await;
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sees_what_a_topic_also_matches_and_turns_one_off_with_one_click() {
    const TEST: &str = "a_reader_sees_what_a_topic_also_matches_and_turns_one_off_with_one_click";
    let Some((driver, smtp)) = browser_and_mail(TEST).await else {
        return;
    };
    let feeds = cv_day_feed().await;
    // Three papers of the real day define CIR as composed image retrieval,
    // so a topic on "composed image retrieval" also matches "CIR".
    let languages = [
        ("ada@example.org", "en", "Also matching", "Saved."),
        ("li@example.cn", "zh", "同时匹配", "已保存"),
    ];
    for (db, (email, locale, also_words, saved)) in
        TestDb::all(TEST).await.into_iter().zip(languages)
    {
        let label = db.label;
        let port = free_port();
        let hub = Hub::new(&web_config(
            &db.url,
            smtp.port,
            &[feeds.url("cs.CV.rss")],
            port,
        ));
        assert!(hub.ok(&["collect"]).await.contains("501 new"), "[{label}]");
        let daemon = Daemon::start(&hub, port).await;
        hub.ok(&[
            "subscribe",
            email,
            "--locale",
            locale,
            "--topic",
            "Image retrieval",
            "--keywords",
            "composed image retrieval",
        ])
        .await;
        let explained = hub.ok(&["explain", email, "2604.18037"]).await;
        assert!(
            explained.contains("also matching \"CIR\""),
            "[{label}] explain names the expansion: {explained}"
        );
        assert!(
            explained.contains("also matching \"FashionIQ\" (used by papers on image retrieval"),
            "[{label}] and the words of the field the topic names: {explained}"
        );
        let before = smtp.messages().len();
        hub.ok(&["run-once", "--force"]).await;
        let mail = wait_for_mail(&smtp, before + 1).await;
        let preferences = mail[before].link(&daemon.base, "preferences");

        let profile = tempfile::tempdir().unwrap();
        let browser = driver.session(profile.path(), locale).await;
        browser.set_window_size(PHONE, 900).await.unwrap();
        browser.goto(&preferences).await.unwrap();
        let source = browser.source().await.unwrap();
        assert!(source.contains(also_words), "[{label}] {source}");
        shoot(&browser, &format!("also-matching-{locale}")).await;
        let chips = "return document.querySelectorAll('button[name=drop]').length";
        let cir = "return document.querySelectorAll(\"button[name=drop][value='0:CIR']\").length";
        // The learned acronym, and the words of the field the topic names.
        let shown_before = number(&browser, chips).await;
        assert!(shown_before > 1, "[{label}] {shown_before} chips");
        click(&browser, "button[name=drop][value='0:CIR']").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !browser.source().await.unwrap().contains(saved) {
            assert!(
                Instant::now() < deadline,
                "[{label}] the click saved nothing"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            number(&browser, cir).await,
            0,
            "[{label}] the expansion is gone from the page"
        );
        assert_eq!(
            number(&browser, chips).await,
            shown_before - 1,
            "[{label}] the others stay"
        );
        let shown = hub.ok(&["subscribers", "--show", email]).await;
        assert!(shown.contains("-also:CIR"), "[{label}] {shown}");
        let explained = hub.ok(&["explain", email, "2604.18037"]).await;
        assert!(
            !explained.contains("also matching \"CIR\""),
            "[{label}] the radar no longer uses it: {explained}"
        );
        browser.close().await.unwrap();
        daemon.stop().await;
        db.drop_db().await;
    }
    drop(driver);
    smtp.stop().await;
}
