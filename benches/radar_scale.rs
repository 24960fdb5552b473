//! The radar at scale: a day's papers against a million radars.
//!
//! `cargo bench --bench radar_scale -- --papers 5000 --radars 1000000`
//! prints `papers=P radars=R seconds=S peak_rss_mib=M` for tokenising the
//! papers, compiling every radar into the index and producing every
//! radar's ranked top 10 (on all cores), then the same radars' cost when
//! each (topic, paper) pair is evaluated directly instead of through the
//! index (`--scan-radars`, default 1000), for the ratio.
//!
//! The generator is seeded (`--seed`, default 7) and uses only real text:
//! - papers: the recorded arXiv cs.CV day and cs.LG feeds; beyond their
//!   ~500 papers, each synthetic paper takes a real title and an abstract
//!   of 6 sentences drawn from real abstracts;
//! - topics: 1 to 3 alternatives drawn from the phrases (1 to 3 words, no
//!   stop words) that occur in 3 to 30 of 600 real titles and abstracts
//!   (specific enough to be a research interest: "image" is not), with a
//!   second required group (1 in 5), an exclusion (1 in 5) and a category
//!   filter (1 in 10), and one in 5 also names an acronym the papers
//!   define (read in its sense, with its long form as an expansion) and
//!   one in 5 names a field of `src/domain/fields.toml` (its words join
//!   as expansions);
//! - radars: 3 to 7 topics each, one in 3 from 2,000 popular topics and the
//!   rest from a pool of up to 200,000 (one per 5 radars), as readers share
//!   interests.
//!
//! The glossary the radar reads acronyms with is learned from the papers
//! first, as the store learns it when it stores them (timed apart: in
//! production it is a table read).

mod common;

use std::time::Instant;

use academichub::domain::{Field, Fields, Glossary, Paper, Topic};
use academichub::radar::{MatchOptions, RadarId, RadarsBuilder};
use common::{arg, papers, topic_query, vocabulary};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n_papers = arg(&args, "--papers", 5000);
    let n_radars = arg(&args, "--radars", 1_000_000);
    let n_scan = arg(&args, "--scan-radars", 1000).min(n_radars);
    let seed = arg(&args, "--seed", 7) as u64;
    let mut rng = StdRng::seed_from_u64(seed);
    let papers = papers(n_papers, &mut rng);
    let vocab = vocabulary(&papers);
    let start = Instant::now();
    let glossary = Glossary::learn(&papers);
    let learned = start.elapsed();
    let mut acronyms: Vec<&str> = glossary.known_acronyms().collect();
    acronyms.sort_unstable();
    let fields: Vec<&Field> = Fields::builtin().iter().collect();
    let pool = |n: usize, rng: &mut StdRng| -> Vec<Topic> {
        (0..n)
            .map(|i| {
                let mut query = topic_query(&vocab, rng);
                // An alternative of the first group.
                let or_first = |term: &str, query: String| match query.strip_prefix('(') {
                    Some(rest) => format!("({term} OR {rest}"),
                    None => format!("{term} OR {query}"),
                };
                if !acronyms.is_empty() && rng.random_ratio(1, 5) {
                    let acronym = acronyms[rng.random_range(0..acronyms.len())];
                    query = or_first(acronym, query);
                }
                if rng.random_ratio(1, 5) {
                    let field = &fields[rng.random_range(0..fields.len())];
                    let name = &field.names()[rng.random_range(0..field.names().len())];
                    query = or_first(&format!("\"{name}\""), query);
                }
                Topic::parse(&format!("topic {i}"), &query).unwrap()
            })
            .collect()
    };
    let popular = pool(2000, &mut rng);
    let niche = pool((n_radars / 5).clamp(1, 200_000), &mut rng);
    let pairs: Vec<(i64, &Paper)> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (i as i64, p))
        .collect();
    let now = chrono::Utc::now();

    let start = Instant::now();
    let mut builder = RadarsBuilder::new(&pairs, now).with_glossary(glossary.clone());
    let tokenised = start.elapsed();
    let mut topics = Vec::new();
    for _ in 0..n_radars {
        topics.clear();
        for _ in 0..rng.random_range(3..=7) {
            let from = if rng.random_ratio(1, 3) {
                &popular
            } else {
                &niche
            };
            topics.push(&from[rng.random_range(0..from.len())]);
        }
        builder.add_all(topics.iter().copied());
    }
    let compiled = start.elapsed();
    let index = builder.build();
    let built = start.elapsed();
    let options: Vec<MatchOptions> = (0..n_radars)
        .map(|_| MatchOptions {
            max_per_topic: 10,
            ..MatchOptions::default()
        })
        .collect();
    let top10: Vec<usize> = options
        .into_par_iter()
        .enumerate()
        .map(|(r, o)| {
            let mut hits: Vec<f32> = index
                .match_radar(RadarId(r), &o)
                .into_iter()
                .flat_map(|t| t.hits.into_iter().map(|h| h.score))
                .collect();
            hits.sort_by(|a, b| b.total_cmp(a));
            hits.truncate(10);
            hits.len()
        })
        .collect();
    let seconds = start.elapsed().as_secs_f64();
    let with_picks = top10.iter().filter(|n| **n > 0).count();
    let mean = top10.iter().sum::<usize>() as f64 / n_radars as f64;
    println!(
        "papers={n_papers} radars={n_radars} seconds={seconds:.2} peak_rss_mib={}",
        peak_rss_mib()
    );
    println!(
        "  learn the glossary {:.2} s ({} acronyms with a sense), tokenise papers {:.2} s, compile radars {:.2} s, scan papers and score each distinct topic {:.2} s, match {:.2} s; {} distinct topics; {with_picks} radars with picks, {mean:.1} picks on average",
        learned.as_secs_f64(),
        acronyms.len(),
        tokenised.as_secs_f64(),
        (compiled - tokenised).as_secs_f64(),
        (built - compiled).as_secs_f64(),
        seconds - built.as_secs_f64(),
        index.distinct_topics(),
    );

    // The same radars evaluated pair by pair, without posting lists.
    let start = Instant::now();
    let found: usize = (0..n_scan)
        .into_par_iter()
        .map(|r| {
            let mut n = 0;
            for topic in 0..index.topics_in(RadarId(r)) {
                for paper in 0..index.papers() {
                    n += usize::from(index.evaluate(RadarId(r), topic, paper).score.is_some());
                }
            }
            n
        })
        .sum();
    let scan = start.elapsed().as_secs_f64();
    let per_radar_index = (seconds - built.as_secs_f64()) / n_radars as f64;
    println!(
        "  direct scan of {n_scan} radars: {scan:.2} s ({:.3} ms per radar, {found} matches) against {:.4} ms per radar through the index: {:.0}x",
        scan * 1000.0 / n_scan as f64,
        per_radar_index * 1000.0,
        scan / n_scan as f64 / per_radar_index
    );
}
