//! Learning from "more / less like this", on a real arXiv day: liked papers
//! lift their look-alikes, disliked ones sink them, papers like the liked
//! ones surface even without a keyword, and exclusions always hold. Then the
//! same through the binary: `feedback` records a verdict, `explain` shows it.

use academichub::domain::{Paper, SentPapers, Topic};
use academichub::radar::{MatchOptions, RadarIndex, RadarsBuilder, text};
use academichub::sources::parse_feed;

use crate::helpers::*;

const DAY: &str = "tests/fixtures/feeds/arxiv-rss2-cs.CV-2026-04-21-real-day.xml";

fn day() -> Vec<Paper> {
    let bytes = std::fs::read(format!("{}/{DAY}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    parse_feed(&bytes).unwrap().papers
}

fn index(papers: &[Paper], topics: &[Topic]) -> RadarIndex {
    let pairs: Vec<(i64, &Paper)> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (i as i64, p))
        .collect();
    let mut builder = RadarsBuilder::new(&pairs, chrono::Utc::now());
    builder.add(topics);
    builder.build()
}

/// Paper positions in rank order: (topic picks, look-alike picks).
fn ranked(index: &RadarIndex, options: &MatchOptions) -> (Vec<usize>, Vec<usize>) {
    let picks = index.match_radar(academichub::radar::RadarId(0), options);
    let of = |similar: bool| {
        picks
            .iter()
            .filter(|t| t.topic.is_none() == similar)
            .flat_map(|t| t.hits.iter().map(|h| h.paper))
            .collect()
    };
    (of(false), of(true))
}

#[test]
fn more_like_this_lifts_look_alikes_and_less_like_this_sinks_them() {
    let papers = day();
    let topics = [Topic::parse("3D", "\"point cloud\" OR lidar OR \"3D reconstruction\"").unwrap()];
    let index = index(&papers, &topics);
    let plain = MatchOptions {
        max_per_topic: 1000,
        ..Default::default()
    };
    let (before, _) = ranked(&index, &plain);
    assert!(
        before.len() > 20,
        "the topic picks enough papers to rank: {}",
        before.len()
    );
    // The reader likes the two papers ranked last: they are already sent.
    let liked = [before[before.len() - 1], before[before.len() - 2]];
    let sent = SentPapers {
        current: liked.iter().map(|&p| p as i64).collect(),
        ..Default::default()
    };
    let more = index.profile(liked.iter().map(|&p| &papers[p]), []);
    // The unseen pick most like them, of the lower half (where scores lie
    // close enough for a likeness to move a paper past its neighbours).
    let target = *before[before.len() / 2..]
        .iter()
        .filter(|p| !liked.contains(p))
        .max_by(|a, b| {
            index
                .feedback(&more, **a)
                .0
                .total_cmp(&index.feedback(&more, **b).0)
        })
        .unwrap();
    let rank = |list: &[usize]| list.iter().position(|&p| p == target).unwrap();
    let with = |profile| MatchOptions {
        already_sent: Some(&sent),
        max_per_topic: 1000,
        profile: Some(profile),
    };
    let (after_more, _) = ranked(&index, &with(&more));
    assert!(
        rank(&after_more) < rank(&before),
        "{:?} rose from {} to {}",
        papers[target].title,
        rank(&before),
        rank(&after_more)
    );
    let less = index.profile([], liked.iter().map(|&p| &papers[p]));
    let (after_less, similar) = ranked(&index, &with(&less));
    // The five unseen picks most like the disliked papers sink, together.
    let mut alike: Vec<usize> = before
        .iter()
        .copied()
        .filter(|p| !liked.contains(p))
        .collect();
    alike.sort_by(|a, b| {
        index
            .feedback(&less, *b)
            .1
            .total_cmp(&index.feedback(&less, *a).1)
    });
    let ranks = |list: &[usize]| -> usize {
        alike[..5]
            .iter()
            .map(|p| list.iter().position(|q| q == p).unwrap())
            .sum()
    };
    assert!(
        ranks(&after_less) > ranks(&before),
        "{} → {}",
        ranks(&before),
        ranks(&after_less)
    );
    assert!(rank(&after_less) >= rank(&before));
    assert!(
        similar.is_empty(),
        "nothing is surfaced from dislikes alone"
    );
    assert!(
        liked.iter().all(|p| !after_less.contains(p)),
        "sent papers are never sent again"
    );
}

#[test]
fn look_alikes_of_liked_papers_surface_but_never_past_an_exclusion() {
    let papers = day();
    let find = |words: &str| {
        papers
            .iter()
            .position(|p| p.title.to_lowercase().contains(words))
            .unwrap_or_else(|| panic!("a paper titled with {words:?}"))
    };
    // A reader of point clouds likes two Gaussian-splatting papers, which
    // their topic does not pick up.
    let liked = [
        find("gaussian splat"),
        papers
            .iter()
            .rposition(|p| p.title.to_lowercase().contains("gaussian splat"))
            .unwrap(),
    ];
    assert_ne!(liked[0], liked[1]);
    let sent = SentPapers {
        current: liked.iter().map(|&p| p as i64).collect(),
        ..Default::default()
    };
    let stems = |p: &Paper| text::tokens(&format!("{} {}", p.title, p.abstract_text)).stems;
    for (query, excluded) in [
        ("\"point cloud\"", None),
        ("\"point cloud\" -rendering", Some("render")),
    ] {
        let topics = [Topic::parse("Point clouds", query).unwrap()];
        let index = index(&papers, &topics);
        let profile = index.profile(liked.iter().map(|&p| &papers[p]), []);
        let options = MatchOptions {
            already_sent: Some(&sent),
            max_per_topic: 10,
            profile: Some(&profile),
        };
        let (picked, similar) = ranked(&index, &options);
        assert!(
            !similar.is_empty(),
            "{query}: papers like the liked ones surface"
        );
        for &p in &similar {
            assert!(!picked.contains(&p) && !liked.contains(&p));
            assert!(
                stems(&papers[p])
                    .iter()
                    .any(|s| s == "gaussian" || s == "splat"),
                "{query}: {:?} resembles the liked papers",
                papers[p].title
            );
            if let Some(stem) = excluded {
                assert!(
                    !stems(&papers[p]).iter().any(|s| s == stem),
                    "{query}: {:?} is excluded",
                    papers[p].title
                );
            }
        }
    }
}

#[tokio::test]
async fn operators_record_feedback_and_explain_a_score_from_the_command_line() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(&format!(
        r#"[database]
url = "{}"
[delivery]
folder = "{}"
[[collect.feeds]]
url = "file://{}/{DAY}"
"#,
        db.url,
        dir.path().join("mail").display(),
        env!("CARGO_MANIFEST_DIR"),
    ));
    hub.ok(&["collect"]).await;
    hub.ok(&[
        "subscribe",
        "ada@example.org",
        "--topic",
        "3D",
        "--query",
        "\"point cloud\" -medical ~cat:cs.RO",
    ])
    .await;
    let paper = "2604.17155";
    let out = hub.ok(&["explain", "ada@example.org", paper]).await;
    assert!(out.contains("feedback: none yet"), "{out}");
    let out = hub
        .ok(&["feedback", "ada@example.org", paper, "more"])
        .await;
    assert!(out.contains("more like this"), "{out}");
    let out = hub.ok(&["explain", "ada@example.org", paper]).await;
    assert!(
        out.contains("topic:   3D: \"point cloud\" -medical ~cat:cs.RO"),
        "{out}"
    );
    assert!(out.contains("feedback: like liked papers 1.00"), "{out}");
    let out = hub.run(&["explain", "ada@example.org", "9999.99999"]).await;
    assert!(
        out.stderr.contains("no stored paper is \"9999.99999\""),
        "{}",
        out.stderr
    );
}
