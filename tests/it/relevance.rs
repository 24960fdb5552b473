//! The radar against a hand-labelled relevance set built from real
//! abstracts (`tests/fixtures/relevance/`, written before the matcher was
//! tuned; its README says how). Every radar is matched against every
//! recorded paper at once, as a round would; recall and precision at 5 are
//! printed and must stay at or above 0.85. The topics are matched with the
//! settings a reader gets: no options added.

use std::collections::{HashMap, HashSet};

use academichub::domain::{Paper, Topic};
use academichub::radar::{MatchOptions, RadarsBuilder};
use academichub::sources::parse_feed;
use serde::Deserialize;

#[derive(Deserialize)]
struct Set {
    radar: Vec<Radar>,
}

#[derive(Deserialize)]
struct Radar {
    name: String,
    topics: Vec<TopicRow>,
    judgement: Vec<Judgement>,
}

#[derive(Deserialize)]
struct TopicRow {
    name: String,
    keywords: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Deserialize)]
struct Judgement {
    paper: String,
    relevant: bool,
}

const FEEDS: &[&str] = &[
    "feeds/arxiv-rss2-cs.CV-2026-04-21-real-day.xml",
    "feeds/arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
    "feeds/arxiv-atom-cs.LG-2026-09-25.xml",
    "relevance/seed-papers.xml",
];

/// Every recorded arXiv paper, once, by id.
fn papers() -> Vec<(String, Paper)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for feed in FEEDS {
        let path = format!("{}/tests/fixtures/{feed}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        for paper in parse_feed(&bytes).unwrap().papers {
            if let Some((id, _)) = &paper.arxiv
                && seen.insert(id.to_string())
            {
                out.push((id.to_string(), paper));
            }
        }
    }
    out
}

#[test]
fn the_radar_finds_what_researchers_judged_relevant_and_ranks_it_first() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/relevance/judgements.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let set: Set = toml::from_str(&text).unwrap();
    let papers = papers();
    let pairs: Vec<(i64, &Paper)> = papers
        .iter()
        .enumerate()
        .map(|(i, (_, p))| (i as i64, p))
        .collect();
    let by_id: HashMap<&str, usize> = papers
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let now = chrono::Utc::now();
    let mut builder = RadarsBuilder::new(&pairs, now);
    let radars: Vec<_> = set
        .radar
        .iter()
        .map(|r| {
            let topics: Vec<Topic> = r
                .topics
                .iter()
                .map(|t| Topic::new(&t.name, &t.keywords, &t.categories, &t.exclude).unwrap())
                .collect();
            builder.add(&topics)
        })
        .collect();
    let index = builder.build();

    let (mut relevant, mut found, mut top5_judged, mut top5_relevant) = (0, 0, 0, 0);
    let (mut judged_picked, mut judged_picked_relevant) = (0, 0);
    for (radar, id) in set.radar.iter().zip(radars) {
        for j in &radar.judgement {
            assert!(
                by_id.contains_key(j.paper.as_str()),
                "{}: paper {} is not in the fixtures",
                radar.name,
                j.paper
            );
        }
        let verdicts: HashMap<usize, bool> = radar
            .judgement
            .iter()
            .map(|j| (by_id[j.paper.as_str()], j.relevant))
            .collect();
        let options = MatchOptions {
            max_per_topic: 1000,
            ..Default::default()
        };
        let mut hits: Vec<(usize, f32)> = index
            .match_radar(id, &options)
            .into_iter()
            .flat_map(|t| t.hits.into_iter().map(|h| (h.paper, h.score)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        let picked: HashSet<usize> = hits.iter().map(|h| h.0).collect();
        let radar_relevant = verdicts.values().filter(|r| **r).count();
        let radar_found = verdicts
            .iter()
            .filter(|(p, r)| **r && picked.contains(p))
            .count();
        // Precision at 5 over the judged papers in rank order (unjudged
        // papers are skipped: their relevance is unknown, not false).
        let top5: Vec<bool> = hits
            .iter()
            .filter_map(|(p, _)| verdicts.get(p).copied())
            .take(5)
            .collect();
        let misses: Vec<&str> = radar
            .judgement
            .iter()
            .filter(|j| j.relevant != picked.contains(&by_id[j.paper.as_str()]))
            .map(|j| j.paper.as_str())
            .collect();
        eprintln!(
            "{:28} recall {radar_found}/{radar_relevant}  precision@5 {}/{}  picked {}  wrong: {misses:?}",
            radar.name,
            top5.iter().filter(|r| **r).count(),
            top5.len(),
            hits.len(),
        );
        relevant += radar_relevant;
        found += radar_found;
        top5_judged += top5.len();
        top5_relevant += top5.iter().filter(|r| **r).count();
        judged_picked += verdicts.keys().filter(|p| picked.contains(p)).count();
        judged_picked_relevant += verdicts
            .iter()
            .filter(|(p, r)| **r && picked.contains(p))
            .count();
    }
    let recall = found as f64 / relevant as f64;
    let precision_at_5 = top5_relevant as f64 / top5_judged as f64;
    let precision = judged_picked_relevant as f64 / judged_picked as f64;
    eprintln!(
        "relevance set: recall {recall:.3} ({found}/{relevant}), precision@5 {precision_at_5:.3} ({top5_relevant}/{top5_judged}), precision of judged picks {precision:.3} ({judged_picked_relevant}/{judged_picked})"
    );
    assert!(recall >= 0.85, "recall {recall:.3} < 0.85");
    assert!(
        precision_at_5 >= 0.85,
        "precision@5 {precision_at_5:.3} < 0.85"
    );
}
