//! The built-in summariser: the briefing's opening analysis when no LLM is
//! configured, or when it failed, was slow, or is over budget.
//!
//! Deterministic and cheap (a few microseconds a briefing): it says how the
//! day's papers spread over the reader's topics, which paper bridges two of
//! them (it mentions another topic's matched words), which themes recur in
//! titles across papers, which paper matched most of the reader's words,
//! and where the papers come from. Sentences come from the language's
//! strings, so it reads the same in every language it speaks.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::briefing::{Section, Strings, similar_topic};
use crate::domain::{Analysis, AnalysisPart, AnnounceType};

/// Title words too common in papers to say anything as a theme.
const PLAIN_WORDS: &[&str] = &[
    "about",
    "across",
    "after",
    "again",
    "against",
    "among",
    "analysis",
    "approach",
    "based",
    "beyond",
    "between",
    "could",
    "data",
    "deep",
    "effective",
    "efficient",
    "first",
    "framework",
    "from",
    "general",
    "improved",
    "improving",
    "large",
    "learning",
    "method",
    "methods",
    "model",
    "models",
    "network",
    "networks",
    "novel",
    "other",
    "paper",
    "results",
    "scale",
    "study",
    "their",
    "there",
    "these",
    "through",
    "toward",
    "towards",
    "under",
    "using",
    "which",
    "while",
    "with",
    "within",
    "without",
];

/// Most sentences an analysis has (the 3–6).
const MAX_SENTENCES: usize = 6;

/// The analysis of these sections, in the strings' language.
pub fn summarise(sections: &[Section<'_>], strings: &Strings) -> Analysis {
    let s = &strings.analysis;
    let similar = similar_topic(strings);
    let mut sentences: Vec<Vec<AnalysisPart>> = Vec::new();
    let name = |section: &Section<'_>| section.topic.unwrap_or(similar).to_owned();
    let total: usize = sections.iter().map(|t| t.picks.len()).sum();

    sentences.push(text(match sections {
        [one] if one.picks.len() == 1 => fill(&s.overview_single, &[("topic", &name(one))]),
        [one] => fill(
            &s.overview_one,
            &[("n", &total.to_string()), ("topic", &name(one))],
        ),
        _ => {
            let items: Vec<String> = sections
                .iter()
                .map(|t| {
                    fill(
                        &s.list_item,
                        &[("n", &t.picks.len().to_string()), ("topic", &name(t))],
                    )
                })
                .collect();
            fill(
                &s.overview_many,
                &[
                    ("n", &total.to_string()),
                    ("k", &sections.len().to_string()),
                    ("list", &s.list(&items)),
                ],
            )
        }
    }));

    if let Some((paper, a, b)) = bridge(sections) {
        sentences.push(with_paper(&s.bridge, paper, &[("a", a), ("b", b)]));
    }

    let themes = themes(sections);
    if !themes.is_empty() {
        let pattern = if themes.len() == 1 {
            &s.theme_one
        } else {
            &s.themes
        };
        sentences.push(text(fill(pattern, &[("terms", &s.list(&themes))])));
    }

    let standout = sections
        .iter()
        .flat_map(|t| &t.picks)
        .filter(|p| p.matched.len() >= 2)
        .max_by_key(|p| (p.matched.len(), std::cmp::Reverse(p.paper_id)));
    if let Some(p) = standout {
        let terms = s.list(&p.matched);
        sentences.push(with_paper(&s.standout, p.paper_id, &[("terms", &terms)]));
    }

    let mut venues: BTreeMap<&str, usize> = BTreeMap::new();
    for p in sections.iter().flat_map(|t| &t.picks) {
        *venues.entry(p.paper.venue.as_str()).or_default() += 1;
    }
    let mut venues: Vec<(&str, usize)> = venues.into_iter().collect();
    venues.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let items: Vec<String> = venues
        .iter()
        .map(|(venue, n)| fill(&s.source_item, &[("n", &n.to_string()), ("venue", venue)]))
        .collect();
    sentences.push(text(fill(&s.sources, &[("list", &s.list(&items))])));

    let updates = sections
        .iter()
        .flat_map(|t| &t.picks)
        .filter(|p| {
            matches!(
                p.paper.announce_type,
                Some(AnnounceType::Replace | AnnounceType::ReplaceCross)
            )
        })
        .count();
    match updates {
        0 => {}
        1 => sentences.push(text(s.update_one.clone())),
        n => sentences.push(text(fill(&s.updates, &[("n", &n.to_string())]))),
    }

    sentences.truncate(MAX_SENTENCES);
    let space = if s.comma.starts_with(',') { " " } else { "" };
    let mut parts = Vec::new();
    for (i, sentence) in sentences.into_iter().enumerate() {
        if i > 0 && !space.is_empty() {
            parts.push(AnalysisPart::Text(space.to_owned()));
        }
        parts.extend(sentence);
    }
    Analysis::built_in(parts)
}

/// A paper of one topic whose title or abstract has words another topic
/// matched: the first such, by topic rank.
fn bridge<'s>(sections: &'s [Section<'_>]) -> Option<(i64, &'s str, &'s str)> {
    let words: Vec<HashSet<String>> = sections
        .iter()
        .map(|t| {
            t.picks
                .iter()
                .flat_map(|p| &p.matched)
                .map(|w| w.to_lowercase())
                .collect()
        })
        .collect();
    for (i, section) in sections.iter().enumerate() {
        let Some(a) = section.topic else { continue };
        for pick in &section.picks {
            let text = format!("{} {}", pick.paper.title, pick.paper.abstract_text).to_lowercase();
            for (j, other) in sections.iter().enumerate() {
                let Some(b) = other.topic else { continue };
                if i != j && words[j].iter().any(|w| text.contains(w.as_str())) {
                    return Some((pick.paper_id, a, b));
                }
            }
        }
    }
    None
}

/// Up to three words found in more than one paper's title, those shared
/// by most topics, then by most papers, first; words of the topics' own
/// names say nothing new.
fn themes(sections: &[Section<'_>]) -> Vec<String> {
    let named: HashSet<String> = sections
        .iter()
        .filter_map(|t| t.topic)
        .flat_map(words)
        .collect();
    // Per word: the topics and the papers whose titles have it.
    let mut found: HashMap<String, (HashSet<usize>, usize)> = HashMap::new();
    for (i, section) in sections.iter().enumerate() {
        for pick in &section.picks {
            let unique: HashSet<String> = words(&pick.paper.title).collect();
            for w in unique {
                let (topics, papers) = found.entry(w).or_default();
                topics.insert(i);
                *papers += 1;
            }
        }
    }
    let mut shared: Vec<(String, usize, usize)> = found
        .into_iter()
        .filter(|(w, (_, papers))| {
            *papers >= 2 && !named.contains(w) && !PLAIN_WORDS.contains(&w.as_str())
        })
        .map(|(w, (topics, papers))| (w, topics.len(), papers))
        .collect();
    // A word across topics says more about the day than one within a topic.
    shared.sort_by(|a, b| (b.1, b.2).cmp(&(a.1, a.2)).then_with(|| a.0.cmp(&b.0)));
    shared.into_iter().take(3).map(|(w, ..)| w).collect()
}

/// Lower-cased words of five letters or more.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| w.chars().count() >= 5 && w.chars().all(|c| c.is_alphabetic() || c == '-'))
        .map(str::to_lowercase)
}

/// `pattern` with each `{name}` replaced.
fn fill(pattern: &str, values: &[(&str, &str)]) -> String {
    let mut out = pattern.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

fn text(s: String) -> Vec<AnalysisPart> {
    vec![AnalysisPart::Text(s)]
}

/// A sentence naming a paper: `{paper}` becomes a reference to it.
fn with_paper(pattern: &str, paper: i64, values: &[(&str, &str)]) -> Vec<AnalysisPart> {
    let filled = fill(pattern, values);
    let (before, after) = filled.split_once("{paper}").unwrap_or((&filled, ""));
    // Empty texts are dropped by `Analysis::built_in`.
    vec![
        AnalysisPart::Text(before.to_owned()),
        AnalysisPart::Paper(paper),
        AnalysisPart::Text(after.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::briefing::{Pick, Renderer};
    use crate::domain::{Locale, Paper, PaperKey};

    fn paper(title: &str, abstract_text: &str, venue: &str, announce: AnnounceType) -> Paper {
        Paper {
            key: PaperKey::Url(format!("https://example.org/{title}")),
            arxiv: None,
            doi: None,
            related: Vec::new(),
            title: title.into(),
            abstract_text: abstract_text.into(),
            url: format!("https://example.org/{}", title.len()),
            authors: vec!["Ada Lovelace".into()],
            categories: vec![],
            venue: venue.into(),
            announce_type: Some(announce),
            published: None,
        }
    }

    fn strings(locale: Locale) -> &'static Strings {
        static RENDERER: std::sync::LazyLock<Renderer> =
            std::sync::LazyLock::new(|| Renderer::new().unwrap());
        RENDERER.strings(locale)
    }

    #[test]
    fn it_spreads_bridges_themes_stands_out_and_counts_sources() {
        let a = paper(
            "Conformal calibration of diffusion samplers",
            "We calibrate samplers; speculative decoding benefits too.",
            "arXiv",
            AnnounceType::New,
        );
        let b = paper(
            "Diffusion drafts for speculative decoding",
            "Drafts from diffusion.",
            "arXiv",
            AnnounceType::Replace,
        );
        let c = paper(
            "Calibration in the wild",
            "Field notes.",
            "Nature",
            AnnounceType::New,
        );
        let pick = |id, paper, matched: &[&str]| Pick {
            paper_id: id,
            paper,
            matched: matched.iter().map(|s| (*s).to_owned()).collect(),
            tldr: None,
            published_in: None,
        };
        let sections = [
            Section {
                topic: Some("conformal prediction"),
                picks: vec![
                    pick(1, &a, &["conformal"]),
                    pick(3, &c, &["calibration", "conformal"]),
                ],
                more: 0,
            },
            Section {
                topic: Some("speculative decoding"),
                picks: vec![pick(2, &b, &["speculative decoding"])],
                more: 0,
            },
        ];
        let en = strings(Locale::En);
        let analysis = summarise(&sections, en);
        let plain: String = analysis
            .parts()
            .iter()
            .map(|p| match p {
                AnalysisPart::Text(t) => t.clone(),
                AnalysisPart::Paper(id) => format!("[P{id}]"),
            })
            .collect();
        assert_eq!(
            plain,
            "Today brings 3 new papers across 2 of your topics: 2 on conformal prediction and 1 on speculative decoding. \
             [P1] bridges conformal prediction and speculative decoding. \
             Recurring themes are diffusion and calibration. \
             [P3] stands out, matching calibration and conformal. \
             By source: 2 from arXiv and 1 from Nature. \
             One of them is a revised version of an earlier preprint."
        );
        assert_eq!(analysis.papers(), [1, 3]);

        let zh = strings(Locale::Zh);
        let analysis = summarise(&sections[1..], zh);
        assert_eq!(
            analysis.parts(),
            [AnalysisPart::Text(
                "今天有 1 篇关于「speculative decoding」的新论文。来源：arXiv 1 篇。其中 1 篇是早先预印本的修订版。"
                    .into()
            )]
        );
    }
}
