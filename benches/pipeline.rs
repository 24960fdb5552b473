//! The per-run hot paths: parsing a full day's arXiv feed, matching it
//! against a radar (rendering a briefing: `benches/briefing.rs`). Figures go
//! to BENCHMARKS.md.
//!
//! `cargo bench --bench pipeline`

use std::hint::black_box;

use academichub::domain::{Paper, Topic};
use academichub::radar::{MatchOptions, RadarsBuilder};
use academichub::sources::parse_feed;
use academichub::store::StoredPaper;
use criterion::{Criterion, criterion_group, criterion_main};

const FIXTURE: &str =
    include_str!("../tests/fixtures/feeds/arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml");

/// A 1,000-item arXiv RSS feed (about a busy day of cs.LG), made from the
/// recorded items with fresh ids.
fn big_feed(items: usize) -> String {
    let start = FIXTURE.find("<item>").unwrap();
    let end = FIXTURE.rfind("</item>").unwrap() + "</item>".len();
    let recorded: Vec<&str> = FIXTURE[start..end].split_inclusive("</item>").collect();
    let mut out = String::from(&FIXTURE[..start]);
    for n in 0..items {
        let item = recorded[n % recorded.len()];
        let id = format!("2609.{:05}", 30_000 + n);
        out.push_str(
            &item
                .replace("2609.26811", &id)
                .replace("2609.26820", &id)
                .replace("2205.06398", &id)
                .replace("2009.13987", &id),
        );
    }
    out.push_str(&FIXTURE[end..]);
    out
}

fn radar() -> Vec<Topic> {
    let none: [&str; 0] = [];
    vec![
        Topic::new(
            "Anomalies",
            ["anomaly detection, outlier detection, rare events"],
            none,
            ["fraud"],
        )
        .unwrap(),
        Topic::new(
            "Optimisation",
            ["spectral updates, learning rate, adam"],
            ["cs.LG"],
            none,
        )
        .unwrap(),
        Topic::new(
            "Networks",
            ["brain networks, adjacency matrix, graph"],
            none,
            none,
        )
        .unwrap(),
        Topic::new("Geometry", ["polytope, convex hull"], none, none).unwrap(),
        Topic::new(
            "Interpretability",
            ["interpretable, explainable, attribution"],
            none,
            none,
        )
        .unwrap(),
    ]
}

fn pipeline(c: &mut Criterion) {
    let feed = big_feed(1_000);
    c.bench_function("parse 1000-item arXiv RSS feed", |b| {
        b.iter(|| parse_feed(black_box(feed.as_bytes())).unwrap().papers)
    });

    let papers: Vec<StoredPaper> = parse_feed(feed.as_bytes())
        .unwrap()
        .papers
        .into_iter()
        .enumerate()
        .map(|(i, paper)| StoredPaper {
            id: i as i64,
            first_seen_at: 0,
            published_in: None,
            paper,
        })
        .collect();
    let pairs: Vec<(i64, &Paper)> = papers.iter().map(|p| (p.id, &p.paper)).collect();
    let topics = radar();
    let now = chrono::Utc::now();
    let options = MatchOptions {
        max_per_topic: 10,
        ..MatchOptions::default()
    };
    c.bench_function(
        "index 1000 papers and one 5-topic radar, and match it",
        |b| {
            b.iter(|| {
                let mut builder = RadarsBuilder::new(black_box(&pairs), now);
                let radar = builder.add(&topics);
                builder.build().match_radar(radar, &options)
            })
        },
    );
    let mut builder = RadarsBuilder::new(&pairs, now);
    let radar = builder.add(&topics);
    let index = builder.build();
    c.bench_function("match a 5-topic radar against 1000 indexed papers", |b| {
        b.iter(|| index.match_radar(black_box(radar), &options))
    });
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
