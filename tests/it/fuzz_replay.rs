//! The API fuzz targets' seeds replayed as a test, so CI runs them without
//! building the instrumented fuzzer: the recorded API answers (and, for the
//! JATS target, each abstract Crossref deposited in them; for the bounce
//! target, the recorded returned mails), each whole and
//! cut short at 200 points at most (an answer cut off mid-stream is the
//! commonest bad input), plus any input a fuzzer once crashed on, kept in
//! `fuzz/regressions/<target>/`. Each goes through the same parser calls as
//! its target in `fuzz/fuzz_targets/`; a panic fails the test.

use std::path::Path;

use academichub::bounces::report;
use academichub::sources::{biorxiv, crossref, markup, pubmed};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn files(dir: &str, name_has: &str) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(Path::new(ROOT).join(dir)) else {
        return Vec::new();
    };
    let mut names: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.to_string_lossy().contains(name_has))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Each input whole and cut at every 97th byte.
fn replay(target: &str, inputs: Vec<Vec<u8>>, run: impl Fn(&[u8])) -> usize {
    let mut runs = 0;
    for input in &inputs {
        // Every 97th byte, or 200 cuts on a large answer.
        let step = (input.len() / 200).max(97);
        for end in (0..input.len()).step_by(step).chain([input.len()]) {
            run(&input[..end]);
            runs += 1;
        }
    }
    println!("{target}: {} inputs, {runs} runs", inputs.len());
    assert!(!inputs.is_empty(), "{target} has inputs");
    runs
}

fn with_corpus(target: &str, recorded: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut inputs = files(&format!("fuzz/regressions/{target}"), "");
    inputs.extend(recorded);
    inputs
}

#[test]
fn the_fuzz_corpus_and_recorded_answers_parse_or_fail_without_a_panic() {
    replay(
        "crossref_json",
        with_corpus("crossref_json", files("tests/fixtures/api", "crossref_")),
        |data| {
            let _ = crossref::parse_works(data);
            let _ = crossref::refusal(404, data);
        },
    );
    replay(
        "biorxiv_json",
        with_corpus(
            "biorxiv_json",
            files("tests/fixtures/api", "rxiv_api_details"),
        ),
        |data| {
            let _ = biorxiv::parse_details(data, "bioRxiv", None);
            let _ = biorxiv::parse_details(data, "medRxiv", Some("epidemiology"));
        },
    );
    let abstracts: Vec<Vec<u8>> = files("tests/fixtures/api", "crossref_")
        .iter()
        .filter_map(|f| serde_json::from_slice::<serde_json::Value>(f).ok())
        .flat_map(|v| {
            v["message"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|item| item["abstract"].as_str().map(|a| a.as_bytes().to_vec()))
        .chain(files("tests/fixtures/api", "pubmed_efetch"))
        .collect();
    replay("jats", with_corpus("jats", abstracts), |data| {
        let _ = markup::to_text(&String::from_utf8_lossy(data));
    });
    replay(
        "pubmed_xml",
        with_corpus("pubmed_xml", files("tests/fixtures/api", "pubmed_")),
        |data| {
            let _ = pubmed::parse_esearch(data);
            let _ = pubmed::parse_efetch(data);
        },
    );
    replay(
        "bounce_report",
        with_corpus("bounce_report", files("tests/fixtures/bounces", ".eml")),
        |data| {
            let _ = report::read(data);
        },
    );
}
