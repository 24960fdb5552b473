//! The briefing written with an LLM, through the real binary: TL;DRs once
//! per paper, one analysis per distinct radar, and every way the LLM can
//! fail leaving a briefing written by the built-in summariser, on time.
//!
//! The LLM is a local OpenAI-compatible server started here (the same one
//! the client's own tests use): it answers well, malformed, with unknown
//! paper ids or a missing one, slowly, or with 429 / 500, by path.

#[path = "../../src/analysis/fake_llm.rs"]
#[allow(dead_code)]
mod fake_llm;

use fake_llm::{FakeLlm, Seen};

use axum::http::StatusCode;

use crate::helpers::{
    Daemon, Hub, SmtpServer, TestDb, config, free_port, outliers_feed, sql_count, wait_for_mail,
    web_config,
};

/// Marks of a briefing whose analysis the LLM wrote, and of one the
/// built-in summariser wrote.
const BY_LLM: &str = "written by an AI model";
const BUILT_IN: &str = "Today brings";

fn llm_config(db_url: &str, smtp_port: u16, feed: &str, base_url: &str, extra: &str) -> String {
    format!(
        "{}\n[llm]\nbase_url = \"{base_url}\"\nmodel = \"test-model\"\ntimeout_secs = 1\n{extra}",
        config(db_url, smtp_port, &[feed.to_owned()])
    )
}

async fn subscribe(hub: &Hub, email: &str, keywords: &str) {
    hub.ok(&[
        "subscribe",
        email,
        "--topic",
        "Anomalies",
        "--keywords",
        keywords,
    ])
    .await;
}

fn tasks(seen: &[Seen], task: &str) -> usize {
    seen.iter()
        .filter(|s| {
            let user = s.body["messages"][1]["content"].as_str().unwrap_or("");
            serde_json::from_str::<serde_json::Value>(user).is_ok_and(|u| u["task"] == task)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_writes_each_tldr_once_and_one_analysis_per_distinct_radar() {
    const TEST: &str = "an_llm_writes_each_tldr_once_and_one_analysis_per_distinct_radar";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    for db in TestDb::all(TEST).await {
        let feeds = outliers_feed().await;
        let llm = FakeLlm::start().await;
        let hub = Hub::new(&llm_config(
            &db.url,
            smtp.port,
            &feeds.url("ok.rss"),
            &llm.base_url("well"),
            "",
        ));
        // Ada and Bob read the same radar; Cy's differs in its words and
        // leaves out the neuro-symbolic anomaly paper Ada's picks as
        // anomaly detection.
        subscribe(&hub, "ada@example.org", "outlier detection").await;
        subscribe(&hub, "bob@example.org", "outlier detection").await;
        hub.ok(&[
            "subscribe",
            "cy@example.org",
            "--topic",
            "Anomalies",
            "--keywords",
            "outlier detection, outliers",
            "--exclude",
            "symbolic",
        ])
        .await;
        let before = smtp.messages().len();

        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(
            out.contains("TL;DRs: 4 written by the LLM"),
            "[{}] {out}",
            db.label
        );
        let mail: Vec<_> = wait_for_mail(&smtp, before + 3)
            .await
            .into_iter()
            .skip(before)
            .collect();
        for m in &mail {
            let html = m.parsed().body_html(0).unwrap().into_owned();
            assert!(html.contains(BY_LLM), "[{}] {}: {html}", db.label, m.to());
            assert!(
                html.contains("Today&#x27;s papers meet in"),
                "[{}] {html}",
                db.label
            );
            assert!(
                html.contains("In short: Outlier Detection for Multi-Network Data."),
                "[{}] the stored TL;DR is shown",
                db.label
            );
            // The analysis names papers by marker; the mail links them.
            assert!(
                html.contains("“<a href=\"https:&#x2f;&#x2f;arxiv.org&#x2f;abs&#x2f;"),
                "[{}] {html}",
                db.label
            );
        }
        let seen = llm.seen();
        assert_eq!(
            tasks(&seen, "tldr"),
            1,
            "[{}] four papers, one request",
            db.label
        );
        assert_eq!(
            tasks(&seen, "analysis"),
            2,
            "[{}] identical radars share one analysis",
            db.label
        );
        assert_eq!(
            tasks(&seen, "expansions"),
            2,
            "[{}] one request per distinct topic wording",
            db.label
        );
        assert_eq!(
            sql_count(&db.url, "SELECT tokens AS n FROM llm_usage").await,
            5 * fake_llm::TOTAL_TOKENS as i64,
            "[{}] tokens spent are counted",
            db.label
        );

        // Collected again, nothing is asked twice; a forced round reads the
        // stored analyses (the papers were sent, so the radars pick nothing new).
        hub.ok(&["collect"]).await;
        hub.ok(&["run-once", "--force"]).await;
        assert_eq!(llm.seen().len(), 5, "[{}] nothing asked twice", db.label);
        db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatever_the_llm_does_wrong_the_briefing_goes_out_written_by_the_built_in_summariser() {
    const TEST: &str =
        "whatever_the_llm_does_wrong_the_briefing_goes_out_written_by_the_built_in_summariser";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let llm = FakeLlm::start().await;
    let down = format!("http://127.0.0.1:{}/v1", free_port());
    let cases = [
        ("malformed", llm.base_url("malformed")),
        ("unknown paper ids", llm.base_url("unknown")),
        ("a missing TL;DR", llm.base_url("wrongcount")),
        ("slower than timeout_secs", llm.base_url("slow")),
        ("429", llm.base_url("429")),
        ("500", llm.base_url("500")),
        ("no server", down),
    ];
    for (case, base_url) in cases {
        let db = TestDb::sqlite();
        let feeds = outliers_feed().await;
        let hub = Hub::new(&llm_config(
            &db.url,
            smtp.port,
            &feeds.url("ok.rss"),
            &base_url,
            "",
        ));
        subscribe(&hub, "ada@example.org", "outlier detection").await;
        let before = smtp.messages().len();
        let started = std::time::Instant::now();
        let out = hub.ok(&["run-once", "--force"]).await;
        let took = started.elapsed();
        assert!(out.contains("1 queued"), "[{case}] {out}");
        let mail = wait_for_mail(&smtp, before + 1).await;
        let html = mail[before].parsed().body_html(0).unwrap().into_owned();
        assert!(
            !html.contains("In short:"),
            "[{case}] no TL;DR from a refused or failed answer"
        );
        if case == "a missing TL;DR" {
            // Only the TL;DR answer was wrong; the analysis answer was fine.
            assert!(html.contains(BY_LLM), "[{case}] {html}");
        } else {
            assert!(
                html.contains(BUILT_IN) && !html.contains(BY_LLM),
                "[{case}] {html}"
            );
        }
        // One timeout for the TL;DRs and one for the analysis, at most.
        assert!(took.as_secs() < 20, "[{case}] run-once took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_daily_token_budget_the_llm_is_not_asked() {
    const TEST: &str = "over_the_daily_token_budget_the_llm_is_not_asked";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let llm = FakeLlm::start().await;
    let db = TestDb::sqlite();
    let feeds = outliers_feed().await;
    // One request spends more than the whole budget.
    let hub = Hub::new(&llm_config(
        &db.url,
        smtp.port,
        &feeds.url("ok.rss"),
        &llm.base_url("well"),
        "daily_token_budget = 100\nconcurrency = 1\n",
    ));
    subscribe(&hub, "ada@example.org", "outlier detection").await;
    let before = smtp.messages().len();
    let out = hub.ok(&["run-once", "--force"]).await;
    let mail = wait_for_mail(&smtp, before + 1).await;
    let html = mail[before].parsed().body_html(0).unwrap().into_owned();
    assert_eq!(llm.seen().len(), 1, "{out}");
    assert!(html.contains(BUILT_IN) && !html.contains(BY_LLM), "{html}");
    assert!(
        html.contains("In short:"),
        "the TL;DRs written before the budget ran out are used"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_suggests_what_each_distinct_topic_also_matches_once_within_the_budget() {
    const TEST: &str =
        "an_llm_suggests_what_each_distinct_topic_also_matches_once_within_the_budget";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let feeds = outliers_feed().await;
        let llm = FakeLlm::start().await;
        let port = free_port();
        let hub = Hub::new(&format!(
            "{}\n[llm]\nbase_url = \"{}\"\nmodel = \"test-model\"\ntimeout_secs = 1\n",
            web_config(&db.url, smtp.port, &[feeds.url("ok.rss")], port),
            llm.base_url("well"),
        ));
        // No paper of the day says "rare event detection"; the server
        // suggests "outlier detection", which one of them does.
        subscribe(&hub, "ada@example.org", "rare event detection").await;
        subscribe(&hub, "bob@example.org", "Rare event detection").await;
        let before = smtp.messages().len();
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(
            out.contains("expansions: suggested by the LLM for 1 topic wording(s)"),
            "[{label}] one request for the two readers' one wording: {out}"
        );
        let mail = wait_for_mail(&smtp, before + 2).await;
        for m in &mail[before..] {
            let text = m.parsed().body_text(0).unwrap().into_owned();
            assert!(
                text.contains("Outlier Detection for Multi-Network Data"),
                "[{label}] {text}"
            );
            assert!(
                text.contains("outlier detection"),
                "[{label}] 'Matched:' names it: {text}"
            );
        }
        let explained = hub.ok(&["explain", "ada@example.org", "2205.06398"]).await;
        assert!(
            explained.contains("also matching \"outlier detection\" (suggested by an AI model"),
            "[{label}] {explained}"
        );
        // The preferences page shows it, marked as an AI model's suggestion.
        let daemon = Daemon::start(&hub, port).await;
        let (code, page) = daemon
            .get(&mail[before].link(&daemon.base, "preferences"))
            .await;
        assert_eq!(code, StatusCode::OK, "[{label}] {page}");
        assert!(
            page.contains("class=\"chip suggested\">outlier detection <small"),
            "[{label}] {page}"
        );
        assert!(
            page.contains("suggested by an AI model"),
            "[{label}] {page}"
        );
        daemon.stop().await;
        // Kept: the next pass asks nothing.
        hub.ok(&["run-once", "--force"]).await;
        assert_eq!(tasks(&llm.seen(), "expansions"), 1, "[{label}]");
        db.drop_db().await;
    }
    smtp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_llm_answer_or_budget_a_topic_matches_its_own_words() {
    const TEST: &str = "without_an_llm_answer_or_budget_a_topic_matches_its_own_words";
    let Some(smtp) = SmtpServer::start(TEST).await else {
        return;
    };
    let feeds = outliers_feed().await;
    let llm = FakeLlm::start().await;
    for (mode, extra, said) in [
        ("500", "", "0 topic wording(s), 1 failed"),
        ("unknown", "", "0 topic wording(s), 1 failed"),
        ("well", "daily_token_budget = 100\n", "1 not asked for"),
    ] {
        let db = TestDb::sqlite();
        let hub = Hub::new(&llm_config(
            &db.url,
            smtp.port,
            &feeds.url("ok.rss"),
            &llm.base_url(mode),
            extra,
        ));
        subscribe(&hub, "ada@example.org", "rare event detection").await;
        let out = hub.ok(&["run-once", "--force"]).await;
        assert!(out.contains(said), "[{mode}] {out}");
        assert!(
            out.contains("0 queued, 1 with nothing new"),
            "[{mode}] {out}"
        );
        let shown = hub.ok(&["explain", "ada@example.org", "2205.06398"]).await;
        assert!(!shown.contains("also matching"), "[{mode}] {shown}");
    }
    smtp.stop().await;
}
