use std::collections::HashSet;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::domain::{AnnounceType, Glossary, Paper, PaperKey, SentPapers, Topic};
use crate::radar::Examples;

fn paper(title: &str, abstract_text: &str, categories: &[&str]) -> Paper {
    Paper {
        key: PaperKey::Url(format!("https://example.org/{title}")),
        arxiv: None,
        doi: None,
        related: Vec::new(),
        title: title.into(),
        abstract_text: abstract_text.into(),
        url: "https://example.org/".into(),
        authors: vec![],
        categories: categories.iter().map(|c| c.to_string()).collect(),
        venue: "arXiv".into(),
        announce_type: Some(AnnounceType::New),
        published: None,
    }
}

fn topic(query: &str) -> Topic {
    Topic::parse("t", query).unwrap()
}

/// Paper ids (1-based positions) each topic picks, in rank order.
fn run(topics: &[Topic], papers: &[Paper]) -> Vec<(Option<usize>, Vec<i64>)> {
    run_with(topics, papers, &SentPapers::default())
}

fn run_with(
    topics: &[Topic],
    papers: &[Paper],
    sent: &SentPapers,
) -> Vec<(Option<usize>, Vec<i64>)> {
    let pairs: Vec<(i64, &Paper)> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (i as i64 + 1, p))
        .collect();
    let mut builder =
        RadarsBuilder::new(&pairs, Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap());
    let radar = builder.add(topics);
    let index = builder.build();
    let options = MatchOptions {
        already_sent: Some(sent),
        max_per_topic: 10,
        profile: None,
    };
    index
        .match_radar(radar, &options)
        .into_iter()
        .map(|t| (t.topic, t.hits.iter().map(|h| h.paper as i64 + 1).collect()))
        .collect()
}

fn ids(topics: &[Topic], papers: &[Paper]) -> Vec<i64> {
    run(topics, papers)
        .into_iter()
        .flat_map(|(_, ids)| ids)
        .collect()
}

#[test]
fn keywords_match_whole_words_in_any_form() {
    let papers = [
        paper("Offline RL for drones", "", &[]),
        paper("A URL shortener", "", &[]),
        paper("x", "we study reinforcement-learning agents", &[]),
        paper("Learning World Models from video", "", &[]),
    ];
    assert_eq!(ids(&[topic("RL")], &papers), [1, 3]);
    assert_eq!(ids(&[topic("\"world model\"")], &papers), [4]);
}

#[test]
fn phrases_match_across_line_breaks_hyphens_and_latex_but_only_in_order() {
    let papers = [
        paper("Large-Language-Model agents", "", &[]),
        paper("Model of large language", "", &[]),
        paper("x", "we use a large\n  language\tmodel here", &[]),
        paper(
            "x",
            r"an \emph{large language model} in $\mathcal{O}(n)$ time",
            &[],
        ),
    ];
    assert_eq!(
        ids(&[topic("\"large language model\"")], &papers),
        [1, 3, 4]
    );
    assert_eq!(ids(&[topic("\"O(n) time\"")], &papers), [4]);
}

#[test]
fn exact_terms_skip_stemming_and_abbreviations() {
    let papers = [
        paper("World models", "", &[]),
        paper("A world model", "", &[]),
        paper("LLMs reason", "", &[]),
        paper("Large language models reason", "", &[]),
    ];
    assert_eq!(ids(&[topic("=\"world model\"")], &papers), [2]);
    assert_eq!(ids(&[topic("=LLMs")], &papers), [3]);
    assert_eq!(ids(&[topic("LLM")], &papers), [3, 4]);
}

#[test]
fn groups_must_all_match_and_exclusions_and_categories_rule_out() {
    let papers = [
        paper("Graph neural networks", "for proteins", &["cs.LG"]),
        paper("Graph neural networks", "for proteins", &["q-bio.BM"]),
        paper(
            "Graph neural networks for molecules",
            "proteins",
            &["cs.LG"],
        ),
        paper("Graph neural networks", "for images", &["cs.LG"]),
    ];
    let t = topic("GNN (protein OR enzyme) -molecule cat:cs.LG");
    assert_eq!(ids(&[t], &papers), [1]);
}

#[test]
fn preferred_categories_rank_higher_without_leaving_others_out() {
    let papers = [
        paper("Conformal prediction", "", &["cs.LG"]),
        paper("Conformal prediction", "", &["stat.ML"]),
    ];
    assert_eq!(
        ids(&[topic("\"conformal prediction\" ~cat:stat.ML")], &papers),
        [2, 1]
    );
}

#[test]
fn a_followed_author_brings_their_papers_whatever_the_words() {
    let mut theirs = paper("Something else entirely", "", &[]);
    theirs.authors = vec!["Anastasios N. Angelopoulos".into()];
    let papers = [paper("Conformal prediction", "", &[]), theirs];
    let found = run(
        &[topic("\"conformal prediction\" author:Angelopoulos")],
        &papers,
    );
    assert_eq!(found, [(Some(0), vec![2, 1])]);
}

#[test]
fn a_revised_paper_never_sent_shows_below_new_papers_unless_the_topic_says_only_new() {
    let mut replaced = paper("Diffusion models", "", &[]);
    replaced.announce_type = Some(AnnounceType::Replace);
    let mut cross = replaced.clone();
    cross.announce_type = Some(AnnounceType::ReplaceCross);
    let papers = [replaced, paper("Diffusion models", "", &[]), cross];
    assert_eq!(ids(&[topic("diffusion")], &papers), [2, 1, 3]);
    assert_eq!(ids(&[topic("diffusion with:updates")], &papers), [2, 1, 3]);
    assert_eq!(ids(&[topic("diffusion only:new")], &papers), [2]);
}

#[test]
fn a_new_version_of_a_paper_already_sent_is_sent_again_only_with_updates() {
    let mut replaced = paper("Diffusion models", "", &[]);
    replaced.announce_type = Some(AnnounceType::Replace);
    let papers = [replaced, paper("Diffusion models", "", &[])];
    let sent_earlier = SentPapers {
        earlier: [1].into(),
        ..Default::default()
    };
    let sent_now = SentPapers {
        current: [1].into(),
        ..Default::default()
    };
    let picks = |query: &str, sent: &SentPapers| -> Vec<i64> {
        run_with(&[topic(query)], &papers, sent)
            .into_iter()
            .flat_map(|(_, ids)| ids)
            .collect()
    };
    assert_eq!(picks("diffusion", &sent_earlier), [2]);
    assert_eq!(picks("diffusion with:updates", &sent_earlier), [2, 1]);
    assert_eq!(picks("diffusion with:updates", &sent_now), [2]);
}

#[test]
fn a_paper_is_listed_once_under_its_best_topic_and_title_hits_rank_first() {
    let papers = [
        paper("Diffusion", "about transformers", &[]),
        paper("Transformers", "", &[]),
    ];
    let topics = [topic("transformers"), topic("diffusion")];
    assert_eq!(
        run(&topics, &papers),
        [(Some(0), vec![2]), (Some(1), vec![1])]
    );
}

#[test]
fn already_sent_papers_and_empty_topics_are_left_out() {
    let papers = [paper("Transformers", "", &[])];
    let sent = SentPapers {
        current: [1].into(),
        ..Default::default()
    };
    assert!(run_with(&[topic("transformers")], &papers, &sent).is_empty());
    assert!(run(&[topic("diffusion")], &papers).is_empty());
}

#[test]
fn matched_terms_are_reported_as_the_reader_typed_them() {
    let papers = [paper("World Models for robots", "using LLMs", &[])];
    let t = topic("\"world model\" OR LLM OR diffusion");
    let pairs: Vec<(i64, &Paper)> = vec![(1, &papers[0])];
    let mut builder = RadarsBuilder::new(&pairs, Utc::now());
    let radar = builder.add(std::slice::from_ref(&t));
    let index = builder.build();
    let picks = index.match_radar(
        radar,
        &MatchOptions {
            max_per_topic: 5,
            ..Default::default()
        },
    );
    assert_eq!(
        describe(
            &t,
            &Glossary::default(),
            &Examples::new(),
            picks[0].hits[0].matched.reasons()
        ),
        ["world model", "LLM"]
    );
}

#[test]
fn identical_topics_are_compiled_once() {
    let papers = [paper("x", "", &[])];
    let pairs: Vec<(i64, &Paper)> = vec![(1, &papers[0])];
    let mut builder = RadarsBuilder::new(&pairs, Utc::now());
    for _ in 0..100 {
        builder.add(&[topic("\"world model\" OR LLM"), topic("diffusion -medical")]);
    }
    let index = builder.build();
    assert_eq!((index.radars(), index.distinct_topics()), (100, 2));
}

const WORDS: &[&str] = &[
    "graph",
    "neural",
    "networks",
    "diffusion",
    "model",
    "models",
    "medical",
    "image",
    "segmentation",
    "protein",
    "LLM",
    "large",
    "language",
    "robot",
    "world",
    "conformal",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..12).prop_map(|w| w.join(" "))
}

fn query() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop::collection::vec(prop::sample::select(WORDS), 1..3),
            1..3,
        ),
        prop::collection::vec(prop::sample::select(WORDS), 0..2),
        prop::option::of(prop::sample::select(&["cs.LG", "~cat:stat.ML"][..])),
    )
        .prop_map(|(groups, exclusions, cat)| {
            let mut q: Vec<String> = groups
                .iter()
                .map(|g| {
                    format!(
                        "({})",
                        g.iter()
                            .map(|w| format!("\"{w}\""))
                            .collect::<Vec<_>>()
                            .join(" OR ")
                    )
                })
                .collect();
            q.extend(exclusions.iter().map(|e| format!("-{e}")));
            if let Some(cat) = cat {
                q.push(if cat.starts_with('~') {
                    cat.to_owned()
                } else {
                    format!("cat:{cat}")
                });
            }
            q.join(" ")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The posting-list walk and the direct evaluation agree, and no pick
    /// ever mentions one of its topic's exclusions.
    #[test]
    fn the_index_agrees_with_direct_evaluation_and_exclusions_always_hold(
        queries in prop::collection::vec(query(), 1..4),
        docs in prop::collection::vec((text(), text(), any::<bool>()), 1..12),
    ) {
        let topics: Vec<Topic> = queries.iter().map(|q| Topic::parse("t", q).unwrap()).collect();
        let papers: Vec<Paper> = docs
            .iter()
            .map(|(t, a, ml)| paper(t, a, if *ml { &["stat.ML"] } else { &["cs.LG"] }))
            .collect();
        let pairs: Vec<(i64, &Paper)> = papers.iter().enumerate().map(|(i, p)| (i as i64, p)).collect();
        let mut builder = RadarsBuilder::new(&pairs, Utc::now());
        let radar = builder.add(&topics);
        let index = builder.build();
        let picks = index.match_radar(radar, &MatchOptions { max_per_topic: 100, ..Default::default() });
        let picked: HashSet<usize> = picks.iter().flat_map(|t| t.hits.iter().map(|h| h.paper)).collect();
        for p in 0..papers.len() {
            let best = (0..topics.len())
                .filter_map(|t| index.evaluate(radar, t, p).score)
                .fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s))));
            prop_assert_eq!(best.is_some(), picked.contains(&p), "paper {}", p);
        }
        for t in &picks {
            let topic = &topics[t.topic.unwrap()];
            for hit in &t.hits {
                // Title and abstract are separate fields: a phrase never spans them.
                let paper = &papers[hit.paper];
                for field in [&paper.title, &paper.abstract_text] {
                    let words = text::tokens(field).stems;
                    for e in topic.query().exclusions() {
                        let excluded = text::tokens(e.text()).stems;
                        prop_assert!(!words.windows(excluded.len()).any(|w| w == excluded.as_slice()));
                    }
                }
                let direct = index.evaluate(radar, t.topic.unwrap(), hit.paper).score.unwrap();
                prop_assert!(direct <= hit.score + 1e-4);
            }
        }
    }
}

/// Ids each topic picks with the glossary learned from the papers
/// themselves, as the store learns it when it stores them, and the words
/// of the first pick that matched.
fn run_learned(t: &Topic, papers: &[Paper]) -> (Vec<i64>, Vec<String>) {
    let glossary = Glossary::learn(papers);
    let pairs: Vec<(i64, &Paper)> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (i as i64 + 1, p))
        .collect();
    let mut builder = RadarsBuilder::new(&pairs, Utc::now()).with_glossary(glossary.clone());
    let radar = builder.add(std::slice::from_ref(t));
    let index = builder.build();
    let options = MatchOptions {
        max_per_topic: 10,
        ..Default::default()
    };
    let hits: Vec<Hit> = index
        .match_radar(radar, &options)
        .into_iter()
        .flat_map(|p| p.hits)
        .collect();
    let words = hits
        .first()
        .map(|h| describe(t, &glossary, &Examples::new(), h.matched.reasons()))
        .unwrap_or_default();
    let mut ids: Vec<i64> = hits.iter().map(|h| h.paper as i64 + 1).collect();
    ids.sort_unstable();
    (ids, words)
}

#[test]
fn an_acronym_counts_only_where_it_means_what_the_reader_means() {
    let papers = [
        paper(
            "Text-to-CAD agents",
            "Computer-Aided Design (CAD) is hard. CAD engines.",
            &[],
        ),
        paper(
            "CAD kernels",
            "Computer-aided design (CAD) models of parts.",
            &[],
        ),
        paper(
            "Lung nodules",
            "A computer-aided diagnosis (CAD) system for CT.",
            &[],
        ),
        paper(
            "Mesh partitioning",
            "Many CAD learning pipelines need parts.",
            &[],
        ),
        paper("Chest X-rays", "CAD of pneumonia from radiographs.", &[]),
    ];
    // The sense typed beside the acronym: 3 defines it so; 1 and 2 define
    // it otherwise; 4 and 5 do not say, and the stored papers mostly mean
    // design by it.
    let (ids, _) = run_learned(&topic(r#"CAD OR "computer-aided diagnosis""#), &papers);
    assert_eq!(ids, [3]);
    // Typed alone, it is read as the stored papers mostly mean it.
    let (ids, _) = run_learned(&topic("CAD"), &papers);
    assert_eq!(ids, [1, 2, 4, 5]);
}

#[test]
fn a_learned_expansion_matches_is_named_and_can_be_turned_off() {
    let papers = [
        paper("Slides", "Whole slide images (WSIs) are gigapixel.", &[]),
        paper("Pathology", "whole-slide images (WSI) for grading.", &[]),
        paper("Gigapixel MIL", "We classify WSIs with attention.", &[]),
        paper("Segmentation", "Cells in microscopy.", &[]),
    ];
    let (ids, words) = run_learned(&topic(r#""whole slide image""#), &papers);
    assert_eq!(ids, [1, 2, 3], "paper 3 says only WSI");
    assert_eq!(words, ["whole slide image", "WSI"]);
    let (ids, _) = run_learned(&topic(r#""whole slide image" -also:WSI"#), &papers);
    assert_eq!(ids, [1, 2]);
}

#[test]
fn a_field_the_reader_names_brings_its_own_words_where_papers_lean_on_them() {
    // "remote sensing" names a field of `src/domain/fields.toml`, whose
    // papers write "Landsat" and "Sentinel-2" without naming it.
    let papers = [
        paper("Crop maps from Landsat", "We map crops.", &[]),
        paper(
            "Flood mapping",
            "Sentinel-2 scenes before and after; Sentinel-2 revisits.",
            &[],
        ),
        paper(
            "A language model",
            "Unlike Sentinel-2 imagery, text is discrete.",
            &[],
        ),
        paper("Remote sensing of forests", "Canopy scenes.", &[]),
    ];
    let (ids, words) = run_learned(&topic("\"remote sensing\""), &papers);
    assert_eq!(ids, [1, 2, 4], "one passing mention does not count");
    assert_eq!(
        words,
        ["remote sensing"],
        "the reader's own word ranks first"
    );
    let (_, words) = run_learned(&topic("\"remote sensing\""), &papers[..1]);
    assert_eq!(words, ["Landsat"], "the card names the field's word");
    let (ids, _) = run_learned(&topic("\"remote sensing\" -also:Landsat"), &papers);
    assert_eq!(ids, [2, 4], "a dropped word no longer matches");
}

#[test]
fn a_keyword_opening_with_a_fields_name_brings_its_words_with_the_rest() {
    // "medical image" names medical imaging, whose papers say "MRI".
    let papers = [
        paper(
            "Prostate MRI",
            "We classify lesions; classification of MRI.",
            &[],
        ),
        paper("Prostate MRI", "We segment the gland in MRI.", &[]),
    ];
    let (ids, words) = run_learned(&topic("\"medical image classification\""), &papers);
    assert_eq!(ids, [1], "the paper must also say classification");
    assert_eq!(words, ["MRI"]);
}

#[test]
fn a_fields_acronym_counts_only_where_a_paper_writes_it_in_capitals() {
    // WILDS, a benchmark of domain generalization, is not "in the wild".
    let papers = [
        paper("Results on WILDS", "We evaluate on shifts.", &[]),
        paper("Detection in the Wild", "Objects in the wild.", &[]),
    ];
    let (ids, _) = run_learned(&topic("\"domain generalization\""), &papers);
    assert_eq!(ids, [1]);
}

#[test]
fn a_liked_paper_with_a_word_only_a_topic_uses_makes_a_profile() {
    // "quantum" is a stem the index knows from the topic, not from any of
    // today's papers: it has no document frequency (this panicked).
    let papers = [paper("Graph networks", "message passing", &[])];
    let pairs: Vec<(i64, &Paper)> = vec![(1, &papers[0])];
    let mut builder = RadarsBuilder::new(&pairs, Utc::now());
    builder.add(&[topic("quantum")]);
    let index = builder.build();
    let liked = paper("Quantum graph networks", "quantum message passing", &[]);
    let profile = index.profile([&liked], []);
    let (like, _, _) = index.feedback(&profile, 0);
    assert!(like > 0.0, "the words today's papers share still count");
}

#[test]
fn papers_like_a_topics_example_match_it_and_say_so() {
    let example = paper(
        "Sparse voxel Gaussian splatting for real-time rendering",
        "We render scenes with 3D Gaussian splatting on sparse voxels in real time.",
        &[],
    );
    let papers = [
        example.clone(),
        paper(
            "Real-time Gaussian splatting of large scenes",
            "Gaussian splatting renders large scenes in real time with sparse voxels.",
            &[],
        ),
        paper("Protein folding", "We fold proteins with diffusion.", &[]),
    ];
    let pairs: Vec<(i64, &Paper)> = papers
        .iter()
        .enumerate()
        .map(|(i, p)| (i as i64 + 1, p))
        .collect();
    let examples: Examples = [("2604.00001".to_owned(), (1, example))].into();
    let t = topic("like:2604.00001");
    let mut builder = RadarsBuilder::new(&pairs, Utc::now()).with_examples(examples.clone());
    let radar = builder.add(std::slice::from_ref(&t));
    let index = builder.build();
    let picks = index.match_radar(
        radar,
        &MatchOptions {
            max_per_topic: 10,
            ..Default::default()
        },
    );
    let hits: Vec<usize> = picks
        .iter()
        .flat_map(|p| &p.hits)
        .map(|h| h.paper)
        .collect();
    assert_eq!(
        hits,
        [1],
        "the look-alike, not the example itself nor the stranger"
    );
    assert_eq!(
        describe(
            &t,
            &Glossary::default(),
            &examples,
            picks[0].hits[0].matched.reasons()
        ),
        ["≈ “Sparse voxel Gaussian splatting for real-time rendering”"]
    );
    assert!(
        index.evaluate(radar, 0, 1).score.is_some(),
        "evaluate agrees"
    );
    assert!(index.evaluate(radar, 0, 2).score.is_none());
}
