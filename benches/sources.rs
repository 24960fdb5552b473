//! Parsing each route's recorded answers: items per second per route, on
//! the real responses in `tests/fixtures/` (the routes' own speed, not the
//! network's). Figures go to BENCHMARKS.md.
//!
//! `cargo bench --bench sources`

use std::hint::black_box;

use academichub::sources::{biorxiv, crossref, markup, oai, parse_feed, pubmed};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A route's parser, counting the papers it read.
type Parse = fn(&[u8]) -> usize;

fn routes(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let cases: Vec<(&str, Vec<u8>, Parse)> = vec![
        (
            "arxiv_rss_real_day",
            fixture("feeds/arxiv-rss2-cs.CV-2026-04-21-real-day.xml"),
            |b| parse_feed(b).unwrap().papers.len(),
        ),
        (
            "nature_rss",
            fixture("feeds/nature-rss1-real-2024-07-18.rss"),
            |b| parse_feed(b).unwrap().papers.len(),
        ),
        (
            "biorxiv_details",
            fixture("api/biorxiv_api_details_2026-08-01_2026-08-05_trimmed_reformatted.json"),
            |b| {
                biorxiv::parse_details(b, "bioRxiv", None)
                    .unwrap()
                    .papers
                    .len()
            },
        ),
        (
            "crossref_works_jats",
            fixture("api/crossref_journal_works_2167-8359_peerj_2026-06-16.json"),
            |b| crossref::parse_works(b).unwrap().papers.len(),
        ),
        (
            "pubmed_efetch",
            fixture("api/pubmed_efetch_5records_structured_2026-06-13.xml"),
            |b| pubmed::parse_efetch(b).unwrap().papers.len(),
        ),
        (
            "arxiv_oai",
            fixture("api/arxiv_oai_listrecords_arXiv_from2015-01-01_recorded_2018-06-21.xml"),
            |b| oai::parse_list_records(b).unwrap().papers.len(),
        ),
    ];
    for (name, body, parse) in &cases {
        let items = parse(body);
        assert!(items > 0, "{name} parses to papers");
        group.throughput(Throughput::Elements(items as u64));
        group.bench_function(*name, |b| b.iter(|| parse(black_box(body))));
    }
    let abstracts: Vec<String> = {
        let v: serde_json::Value = serde_json::from_slice(&fixture(
            "api/crossref_journal_works_2167-8359_peerj_2026-06-16.json",
        ))
        .unwrap();
        v["message"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["abstract"].as_str().map(str::to_owned))
            .collect()
    };
    group.throughput(Throughput::Elements(abstracts.len() as u64));
    group.bench_function("jats_abstract_to_text", |b| {
        b.iter(|| {
            abstracts
                .iter()
                .map(|a| markup::to_text(black_box(a)).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, routes);
criterion_main!(benches);
