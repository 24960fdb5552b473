//! The seeded generator the scale benchmarks share: papers and radars made
//! only of real text (the recorded arXiv feeds in `tests/fixtures/feeds/`).

use std::collections::HashMap;

use academichub::domain::Paper;
use academichub::radar::text;
use academichub::sources::parse_feed;
use rand::Rng;
use rand::rngs::StdRng;

const FEEDS: &[&str] = &[
    "tests/fixtures/feeds/arxiv-rss2-cs.CV-2026-04-21-real-day.xml",
    "tests/fixtures/feeds/arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
    "tests/fixtures/feeds/arxiv-atom-cs.LG-2026-09-25.xml",
];

const STOP: &[&str] = &[
    "a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "with", "by", "from", "as", "at",
    "is", "are", "we", "our", "this", "that", "these", "its", "it", "be", "can", "which", "via",
    "while", "than", "into", "such", "not", "but", "also", "both", "has", "have", "their", "they",
    "however", "between", "each", "more", "most", "other", "using", "based", "new", "show",
    "propose", "proposed", "results", "method", "methods", "paper", "approach", "existing", "work",
];

pub fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

pub fn real_papers() -> Vec<Paper> {
    let mut out = Vec::new();
    for feed in FEEDS {
        let bytes = std::fs::read(format!("{}/{feed}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        out.extend(parse_feed(&bytes).unwrap().papers);
    }
    out
}

pub fn papers(n: usize, rng: &mut StdRng) -> Vec<Paper> {
    let real = real_papers();
    let sentences: Vec<&str> = real
        .iter()
        .flat_map(|p| p.abstract_text.split(". "))
        .filter(|s| s.len() > 30)
        .collect();
    let mut out: Vec<Paper> = real.iter().take(n).cloned().collect();
    while out.len() < n {
        let mut p = real[rng.random_range(0..real.len())].clone();
        p.abstract_text = (0..6)
            .map(|_| sentences[rng.random_range(0..sentences.len())])
            .collect::<Vec<_>>()
            .join(". ");
        out.push(p);
    }
    out
}

/// Phrases of 1 to 3 words without stop words, seen in at least 3 real
/// texts, that a reader may type as a topic.
pub fn vocabulary(papers: &[Paper]) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in papers.iter().take(600) {
        let words = text::words(&format!("{} {}", p.title, p.abstract_text));
        let mut seen = std::collections::HashSet::new();
        for len in 1..=3 {
            for w in words.windows(len) {
                if w.iter().any(|x| {
                    STOP.contains(&x.as_str())
                        || x.len() < 3
                        || x.chars().all(|c| c.is_ascii_digit())
                }) {
                    continue;
                }
                let phrase = w.join(" ");
                if seen.insert(phrase.clone()) {
                    *counts.entry(phrase).or_default() += 1;
                }
            }
        }
    }
    let mut vocab: Vec<String> = counts
        .into_iter()
        .filter(|(_, n)| *n >= 3)
        .map(|(p, _)| p)
        // A reader typing only words nearly every paper has is refused.
        .filter(|p| {
            academichub::domain::Query::parse(&format!("\"{p}\""))
                .is_ok_and(|q| q.common_words_only().is_none())
        })
        .collect();
    vocab.sort();
    vocab
}

pub fn topic_query(vocab: &[String], rng: &mut StdRng) -> String {
    let pick = |rng: &mut StdRng| format!("\"{}\"", vocab[rng.random_range(0..vocab.len())]);
    let n = rng.random_range(1..=3);
    let alternatives = (0..n).map(|_| pick(rng)).collect::<Vec<_>>().join(" OR ");
    let mut q = if rng.random_ratio(1, 5) {
        format!("({alternatives}) {}", pick(rng))
    } else {
        alternatives
    };
    if rng.random_ratio(1, 5) {
        q.push_str(&format!(" -{}", pick(rng)));
    }
    if rng.random_ratio(1, 10) {
        q.push_str(" cat:cs.CV");
    }
    q
}
