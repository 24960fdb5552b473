//! Sources named by preset, collected through the real binary from
//! recorded API answers on loopback (`[sources.base_urls]`): bioRxiv's
//! details, Crossref's works, PubMed's esearch and efetch, Nature's RSS.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::helpers::{FIXTURES, Hub, TestDb, sql_count};

fn api_fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(FIXTURES).join("../api").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Clone)]
enum Reply {
    Body(&'static str, Vec<u8>),
    /// A busy server: the status with `Retry-After: secs`.
    Busy(StatusCode, u64),
    /// The body after a pause (a slow page, to interrupt a walk in).
    Slow(Duration, &'static str, Vec<u8>),
}

/// Answers a request whose path and query contain `matches`; queued
/// replies first, the last one for ever after.
struct Rule {
    matches: Vec<&'static str>,
    replies: Mutex<VecDeque<Reply>>,
}

/// A recording API server: what was asked, and when it arrived.
#[derive(Clone)]
struct ApiServer {
    base: String,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl ApiServer {
    async fn start(rules: Vec<(Vec<&'static str>, Vec<Reply>)>) -> Self {
        let rules: Arc<Vec<Rule>> = Arc::new(
            rules
                .into_iter()
                .map(|(matches, replies)| Rule {
                    matches,
                    replies: Mutex::new(replies.into()),
                })
                .collect(),
        );
        let log: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let app = {
            let log = log.clone();
            Router::new().fallback(move |uri: Uri| {
                let (rules, log) = (rules.clone(), log.clone());
                async move { answer(&rules, &log, &uri).await }
            })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, log }
    }

    /// Requests so far whose path and query contain `part`, with their time.
    fn asked(&self, part: &str) -> Vec<(Instant, String)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, q)| q.contains(part))
            .cloned()
            .collect()
    }
}

async fn answer(rules: &[Rule], log: &Mutex<Vec<(Instant, String)>>, uri: &Uri) -> Response {
    let asked = percent_decode(&uri.to_string());
    log.lock().unwrap().push((Instant::now(), asked.clone()));
    let Some(rule) = rules
        .iter()
        .find(|r| r.matches.iter().all(|m| asked.contains(m)))
    else {
        return (StatusCode::NOT_FOUND, format!("no rule for {asked}")).into_response();
    };
    let reply = {
        let mut replies = rule.replies.lock().unwrap();
        if replies.len() > 1 {
            replies.pop_front().unwrap()
        } else {
            replies.front().cloned().unwrap()
        }
    };
    match reply {
        Reply::Body(kind, body) => ([(header::CONTENT_TYPE, kind)], body).into_response(),
        Reply::Busy(status, secs) => {
            (status, [(header::RETRY_AFTER, secs.to_string())], "busy").into_response()
        }
        Reply::Slow(pause, kind, body) => {
            tokio::time::sleep(pause).await;
            ([(header::CONTENT_TYPE, kind)], body).into_response()
        }
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.replace('+', "%2B").as_bytes())
        .map(|(k, v)| {
            if v.is_empty() {
                k.into_owned()
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

const JSON: &str = "application/json";
const XML: &str = "text/xml";

fn config(db: &str, api: &ApiServer, feeds: &str, extra: &str) -> String {
    format!(
        "[database]\nurl = \"{db}\"\n[collect]\ninterval_minutes = 0\nfeeds = {feeds}\n\
         [sources]\ncontact_email = \"ops@hub.test\"\nmax_pages = 2\n\
         # The recorded answers are months or years old.\nmax_age_days = 36500\n{extra}\
         [sources.base_urls]\nbiorxiv = \"{b}\"\ncrossref = \"{b}\"\npubmed = \"{b}\"\nnature = \"{b}\"\n",
        b = api.base
    )
}

fn gaps(times: &[(Instant, String)]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

#[tokio::test]
async fn presets_collect_biorxiv_crossref_pubmed_and_nature_at_each_providers_pace() {
    let api = ApiServer::start(vec![
        (
            vec!["/details/biorxiv/"],
            vec![Reply::Body(
                JSON,
                api_fixture("biorxiv_api_details_2026-08-01_2026-08-05_trimmed_reformatted.json"),
            )],
        ),
        (
            vec!["/journals/2167-8359/works"],
            vec![
                Reply::Busy(StatusCode::TOO_MANY_REQUESTS, 1),
                Reply::Body(
                    JSON,
                    api_fixture("crossref_journal_works_2167-8359_peerj_2026-06-16.json"),
                ),
            ],
        ),
        (
            vec!["/esearch.fcgi"],
            vec![Reply::Body(
                XML,
                api_fixture("pubmed_esearch_usehistory_reldate_2025-11-26.xml"),
            )],
        ),
        (
            vec!["/efetch.fcgi"],
            vec![Reply::Body(
                XML,
                api_fixture("pubmed_efetch_5records_structured_2026-06-13.xml"),
            )],
        ),
        (
            vec!["/nature.rss"],
            vec![Reply::Body(
                "application/rss+xml",
                std::fs::read(format!("{FIXTURES}/nature-rss1-real-2024-07-18.rss")).unwrap(),
            )],
        ),
    ])
    .await;
    let db = TestDb::sqlite();
    let feeds =
        r#"["biorxiv:neuroscience", "crossref:2167-8359", "pubmed:cancer", "journal:nature"]"#;
    let hub = Hub::new(&config(&db.url, &api, feeds, ""));
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();

    let first = hub.ok(&["collect"]).await;
    println!("{first}");
    assert!(first.contains("4 feed(s) checked"), "{first}");
    assert!(first.contains("0 failed"), "{first}");
    let count = |sql| sql_count(&db.url, sql);
    // bioRxiv: 3 of the 10 recorded preprints are in neuroscience, on each
    // of the two pages read (sources.max_pages = 2): stored once.
    assert_eq!(
        count("SELECT COUNT(*) FROM papers WHERE venue = 'bioRxiv'").await,
        3
    );
    // Crossref: the recorded PeerJ page, abstracts or not.
    assert_eq!(
        count("SELECT COUNT(*) FROM papers WHERE venue = 'PeerJ'").await,
        20
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM papers WHERE venue = 'PeerJ' AND abstract = ''").await,
        1,
        "the item Crossref has no abstract for is kept"
    );
    // PubMed: the five recorded articles, under their DOIs.
    assert_eq!(
        count("SELECT COUNT(*) FROM papers WHERE url LIKE 'https://pubmed.ncbi.nlm.nih.gov/%'")
            .await,
        5
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM papers WHERE venue = 'Nature'").await,
        75
    );

    // The first walk asks for yesterday and today; bioRxiv by subject.
    let biorxiv = api.asked("/details/biorxiv/");
    assert_eq!(
        biorxiv[0].1,
        format!("/details/biorxiv/{yesterday}/{today}/0?category=neuroscience")
    );
    assert_eq!(
        biorxiv[1].1,
        format!("/details/biorxiv/{yesterday}/{today}/30?category=neuroscience")
    );
    let crossref = api.asked("/journals/2167-8359/works");
    assert!(
        crossref[0].1.contains(&format!(
            "filter=from-index-date:{yesterday},until-index-date:{today}"
        )) && crossref[0].1.contains("mailto=ops@hub.test")
            && crossref[0].1.contains("cursor=*"),
        "{:?}",
        crossref[0]
    );
    let esearch = api.asked("/esearch.fcgi");
    assert!(
        esearch[0]
            .1
            .contains(&format!("mindate={}", yesterday.format("%Y/%m/%d")))
            && esearch[0].1.contains("datetype=edat")
            && esearch[0].1.contains("usehistory=y")
            && esearch[0].1.contains("tool=academichub")
            && esearch[0].1.contains("email=ops@hub.test"),
        "{:?}",
        esearch[0]
    );
    // The history NCBI gave is what efetch pages through.
    let efetch = api.asked("/efetch.fcgi");
    assert_eq!(efetch.len(), 2, "two pages (sources.max_pages = 2) of 200");
    assert!(
        efetch[0].1.contains("retstart=0") && efetch[0].1.contains("query_key=1"),
        "{:?}",
        efetch[0]
    );
    assert!(efetch[1].1.contains("retstart=200"), "{:?}", efetch[1]);

    // A 429 with Retry-After: 1 was waited out and asked again.
    assert_eq!(crossref.len(), 2);
    let waited = gaps(&crossref)[0];
    assert!(
        waited >= Duration::from_millis(950),
        "asked again after {waited:?}"
    );
    // Each provider's pace: bioRxiv a second apart, PubMed a third.
    let biorxiv_gap = gaps(&biorxiv)[0];
    assert!(
        biorxiv_gap >= Duration::from_millis(950),
        "bioRxiv pages {biorxiv_gap:?} apart"
    );
    let pubmed = api.asked(".fcgi");
    let pubmed_gap = gaps(&pubmed)[0];
    assert!(
        pubmed_gap >= Duration::from_millis(300),
        "PubMed requests {pubmed_gap:?} apart"
    );
    println!("gaps: bioRxiv {biorxiv_gap:?}, PubMed {pubmed_gap:?}, Crossref after 429 {waited:?}");

    // The walk's notes say what was left out and why.
    let feeds_out = hub.ok(&["feeds"]).await;
    println!("{feeds_out}");
    assert!(
        feeds_out.contains("not in the subject asked for: 14"),
        "{feeds_out}"
    );
    assert!(feeds_out.contains("stopped after 2 pages"), "{feeds_out}");

    // A second collect asks only from the day the first ended, and the
    // feed with its validator.
    let asked_before = api.log.lock().unwrap().len();
    let second = hub.ok(&["collect"]).await;
    assert!(second.contains("0 new"), "{second}");
    let log = api.log.lock().unwrap()[asked_before..].to_vec();
    let again = |part: &str| {
        log.iter()
            .find(|(_, q)| q.contains(part))
            .unwrap()
            .1
            .clone()
    };
    assert!(again("/details/biorxiv/").starts_with(&format!("/details/biorxiv/{today}/{today}/0")));
    assert!(again("/works").contains(&format!("from-index-date:{today},")));
    assert!(again("esearch").contains(&format!("mindate={}", today.format("%Y/%m/%d"))));
}

#[tokio::test]
async fn a_backfill_interrupted_goes_on_from_its_last_stored_page_and_draws_a_bar_only_on_a_terminal()
 {
    let page = |name| Reply::Body(JSON, api_fixture(name));
    let first = "crossref_works_query_cursor_first_page_2026-06-16.json";
    let second = "crossref_member_works_cursor_next_page_2026-06-16.json";
    let cursor = |name: &str| -> String {
        let v: serde_json::Value = serde_json::from_slice(&api_fixture(name)).unwrap();
        v["message"]["next-cursor"].as_str().unwrap().to_owned()
    };
    let (after_first, after_second) = (cursor(first), cursor(second));
    let after_first: &'static str = Box::leak(format!("cursor={after_first}").into_boxed_str());
    let after_second: &'static str = Box::leak(format!("cursor={after_second}").into_boxed_str());
    let api = ApiServer::start(vec![
        (
            vec!["/journals/0036-8075/works", "cursor=*"],
            vec![page(first)],
        ),
        (
            vec!["/journals/0036-8075/works", after_first],
            vec![Reply::Slow(
                Duration::from_secs(2),
                JSON,
                api_fixture(second),
            )],
        ),
        (
            vec!["/journals/0036-8075/works", after_second],
            vec![page("crossref_prefix_works_empty_2026-06-16.json")],
        ),
    ])
    .await;
    let db = TestDb::sqlite();
    let hub = Hub::new(&config(&db.url, &api, "[]", ""));
    let args = ["backfill", "journal:science", "--since", "2026-11-01"];

    // Interrupted while the second page is on its way: that page is
    // stored, and the command says how to go on.
    let child = hub
        .command(&args)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while api.asked(after_first).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never asked for page 2"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nix_interrupt(child.id().unwrap());
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(stdout.contains("stopped after 2 page(s)"), "{stdout}");
    assert!(stdout.contains("run the same command again"), "{stdout}");
    assert!(api.asked(after_second).is_empty());

    // Run again: it goes on with the third page and asks for none twice.
    let resumed = hub.ok(&args).await;
    println!("{resumed}");
    assert!(resumed.contains("(resumed)"), "{resumed}");
    assert_eq!(api.asked("cursor=*").len(), 1);
    assert_eq!(api.asked(after_first).len(), 1);
    assert_eq!(api.asked(after_second).len(), 1);
    // Every paper of the recorded pages is stored, first seen when it was
    // published (none of them this week): not news for existing readers.
    let mut keys = std::collections::HashSet::new();
    let mut undated = 0;
    for name in [first, second] {
        for paper in academichub::sources::crossref::parse_works(&api_fixture(name))
            .unwrap()
            .papers
        {
            undated += usize::from(paper.published.is_none());
            keys.insert(paper.key.to_string());
        }
    }
    let stored = sql_count(&db.url, "SELECT COUNT(*) FROM papers").await;
    assert_eq!(stored as usize, keys.len());
    let week_ago = chrono::Utc::now().timestamp() - 7 * 86_400;
    let recent: i64 = {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM papers WHERE first_seen_at > $1")
            .bind(week_ago)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    };
    assert_eq!(
        recent as usize, undated,
        "a backfilled paper counts as seen when it was published"
    );
    let done = hub.ok(&args).await;
    assert!(done.contains("already"), "{done}");

    // On a terminal the progress bar shows; through a pipe it does not.
    let db2 = TestDb::sqlite();
    let hub2 = Hub::new(&config(&db2.url, &api, "[]", ""));
    let piped = hub2.run(&args).await;
    assert!(!piped.stderr.contains("items"), "{}", piped.stderr);
    let on_terminal = in_terminal(
        &hub2,
        &["backfill", "journal:science", "--since", "2026-10-01"],
    )
    .await;
    println!("on a terminal:\n{on_terminal}");
    assert!(on_terminal.contains("items"), "{on_terminal}");
}

/// What the binary writes when its output is a terminal: util-linux's
/// `script` gives it a pseudo-terminal.
async fn in_terminal(hub: &Hub, args: &[&str]) -> String {
    let line = std::iter::once(env!("CARGO_BIN_EXE_academichub").to_owned())
        .chain(["--config".to_owned(), hub.config.display().to_string()])
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = tokio::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .env("TERM", "xterm")
        .current_dir(hub.dir.path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// SIGINT, as Ctrl-C sends it.
fn nix_interrupt(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[tokio::test]
async fn sources_lists_the_catalogue_and_a_bad_name_gets_the_nearest() {
    let db = TestDb::sqlite();
    let hub = Hub::new(&format!("[database]\nurl = \"{}\"\n", db.url));
    let list = hub.ok(&["sources"]).await;
    for name in [
        "journal:nejm",
        "journal:science",
        "journal:nature-medicine",
        "biorxiv[:<subject>]",
        "crossref:<ISSN>",
        "pubmed:<query>",
        "chemrxiv",
        "1 request / 3000 ms",
        "cell-biology",
    ] {
        assert!(list.contains(name), "{name} missing:\n{list}");
    }
    assert!(list.lines().count() >= 40);

    hub.rewrite_config(&format!(
        "[database]\nurl = \"{}\"\n[collect]\nfeeds = [\"biorxiv:neuroscence\"]\n",
        db.url
    ));
    let out = hub.run(&["collect"]).await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("nearest: biorxiv:neuroscience"),
        "{}",
        out.stderr
    );
    hub.rewrite_config(&format!("[database]\nurl = \"{}\"\n", db.url));
    let out = hub
        .run(&["backfill", "jurnal:nature", "--since", "2026-11-01"])
        .await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("nearest: journal:nature"),
        "{}",
        out.stderr
    );
}
