//! What the acronyms of research writing stand for, learned from the
//! papers we store, and the expansions of a topic that follow from it.
//!
//! A short acronym means different things in different fields: "CAD" is
//! computer-aided diagnosis to a radiologist and computer-aided design to
//! a mechanical engineer, "SR" is super-resolution in one abstract and a
//! success rate in the next. Papers say which they mean when they first
//! use one ("Computer-Aided Design (CAD)"), so each stored paper adds its
//! definitions to a [`Glossary`] (the Schwartz–Hearst rule: the letters
//! of the acronym, in order, in the words just before the parenthesis,
//! the first letter starting the first word).
//!
//! From it a topic gets:
//! - a *sense* for each acronym it names: the long form typed beside it in
//!   the same topic, or else the one the stored papers give it most often;
//!   the radar counts the acronym only in papers that do not define it
//!   otherwise;
//! - *expansions* ([`Glossary::expansions`]): the long form of an acronym
//!   the reader typed alone, and the acronym of a long form they typed,
//!   when the papers use them as one. The reader sees these ("also
//!   matching") and can drop any one (`-also:"…"` in the query).
//!
//! A sense or an expansion needs [`Glossary::MIN_PAPERS`] papers behind it,
//! so one odd definition does not steer anyone's radar.
//!
//! A keyword that names a field of research ([`Fields`]) also brings the
//! field's other names and the words its papers use without naming it;
//! they come after the learned ones and drop the same way.
//!
//! When an LLM is configured it may suggest more expansions per topic
//! wording ([`Glossary::with_suggestions`], kept in the database): they come
//! after the learned ones, marked as suggested, and drop the same way.

use std::collections::HashMap;

use super::{Fields, Paper, Query, Term};

/// Common research abbreviations and the long forms they stand for, in
/// lower case. Kept short and unambiguous within research writing: an
/// entry here makes the two spellings one term everywhere, for every
/// subscriber (the radar spells one as the other), so the glossary neither
/// gives these a sense nor offers them as expansions.
pub const REVIEWED_ABBREVIATIONS: &[(&str, &str)] = &[
    ("ai", "artificial intelligence"),
    ("asr", "automatic speech recognition"),
    ("cnn", "convolutional neural network"),
    ("cot", "chain of thought"),
    ("ddpm", "denoising diffusion probabilistic model"),
    ("dit", "diffusion transformer"),
    ("gan", "generative adversarial network"),
    ("gnn", "graph neural network"),
    ("llm", "large language model"),
    ("lora", "low rank adaptation"),
    ("marl", "multi agent reinforcement learning"),
    ("mcmc", "markov chain monte carlo"),
    ("mllm", "multimodal large language model"),
    ("moe", "mixture of experts"),
    ("nas", "neural architecture search"),
    ("nerf", "neural radiance field"),
    ("nlp", "natural language processing"),
    ("ocr", "optical character recognition"),
    ("ode", "ordinary differential equation"),
    ("pde", "partial differential equation"),
    ("rag", "retrieval augmented generation"),
    ("rl", "reinforcement learning"),
    ("rlhf", "reinforcement learning from human feedback"),
    ("sgd", "stochastic gradient descent"),
    ("slam", "simultaneous localization and mapping"),
    ("snn", "spiking neural network"),
    ("svm", "support vector machine"),
    ("vae", "variational autoencoder"),
    ("vit", "vision transformer"),
    ("vla", "vision language action"),
    ("vlm", "vision language model"),
    ("vqa", "visual question answering"),
];

fn is_reviewed(acronym: &str) -> bool {
    let lower = acronym.to_ascii_lowercase();
    REVIEWED_ABBREVIATIONS
        .iter()
        .any(|(short, _)| *short == lower)
}

/// One acronym defined in a text: "Whole Slide Images (WSIs)" gives
/// `WSI` for "whole slide image".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Definition {
    acronym: String,
    long_form: String,
}

impl Definition {
    /// Upper-case letters and digits, a plural `s` dropped: `WSI`.
    pub fn acronym(&self) -> &str {
        &self.acronym
    }
    /// Lower-case words joined by single spaces, hyphens as spaces:
    /// "computer aided diagnosis".
    pub fn long_form(&self) -> &str {
        &self.long_form
    }

    /// A stored pair, checked as a fresh definition would be.
    pub fn new(acronym: &str, long_form: &str) -> Option<Self> {
        let acronym = acronym_key(acronym)?;
        let long_form = long_form_key(long_form);
        matches_initials(&acronym, &long_form).then_some(Self { acronym, long_form })
    }
}

/// The acronym spelling of a word, if it is one: 2 to 8 letters and digits
/// with at least two capitals and no lower-case letter but a plural `s`.
pub fn acronym_key(word: &str) -> Option<String> {
    let word = word.trim();
    let body = word.strip_suffix('s').unwrap_or(word);
    let ok = (2..=8).contains(&body.chars().count())
        && body
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && body.chars().filter(char::is_ascii_uppercase).count() >= 2;
    ok.then(|| body.to_owned())
}

/// A long form as the glossary compares it: lower case, words of letters
/// and digits, a plural `s` dropped from each word (not from short words
/// or from endings like "-sis", "-us", "-ss").
pub fn long_form_key(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_lowercase();
            match w.strip_suffix('s') {
                // "images", not "diagnosis", "analysis", "corpus", "class".
                Some(stem) if w.len() > 3 && !stem.ends_with(['s', 'i', 'u']) => stem.to_owned(),
                _ => w,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `long_form` spells the acronym (after Schwartz and Hearst,
/// 2003): its letters in order, each word starting with the next letter
/// and giving it and perhaps some of the following ones; short joining
/// words ("and", "of") may give none.
fn matches_initials(acronym: &str, long_form: &str) -> bool {
    let short: Vec<char> = acronym.to_lowercase().chars().collect();
    let words: Vec<&str> = long_form.split(' ').filter(|w| !w.is_empty()).collect();
    // One word spells an acronym only when it is clearly longer
    // ("electrocardiogram" for ECG; not "cads" for CAD).
    let one_long_word = words.len() == 1 && words[0].chars().count() >= short.len() + 3;
    (words.len() >= 2 || one_long_word) && words.len() <= short.len() + 2 && spells(&short, &words)
}

fn spells(short: &[char], words: &[&str]) -> bool {
    let Some((word, rest)) = words.split_first() else {
        return short.is_empty();
    };
    let joining = matches!(
        *word,
        "and" | "of" | "for" | "the" | "in" | "on" | "to" | "with" | "a"
    );
    if joining && spells(short, rest) {
        return true;
    }
    let mut letters = word.chars();
    if short.is_empty() || letters.next() != Some(short[0]) {
        return false;
    }
    // The word gives short[0] and then short[1..taken], in order, from its
    // other letters.
    let inner: Vec<char> = letters.collect();
    let mut taken = 1;
    let mut at = 0;
    loop {
        if spells(&short[taken..], rest) {
            return true;
        }
        if taken == short.len() {
            return false;
        }
        match inner[at..].iter().position(|&c| c == short[taken]) {
            Some(i) => {
                at += i + 1;
                taken += 1;
            }
            None => return false,
        }
    }
}

/// The acronyms a text defines, in order, once each.
pub fn definitions(text: &str) -> Vec<Definition> {
    let mut out: Vec<Definition> = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find('(') {
        let at = offset + open;
        let after = &text[at + 1..];
        offset = at + 1;
        rest = after;
        let Some(close) = after.find(')') else { break };
        let inside = after[..close].split([';', ',']).next().unwrap_or("");
        let Some(acronym) = acronym_key(inside) else {
            continue;
        };
        // The words before the parenthesis, in this clause.
        let before = &text[..at];
        let clause_start = before
            .rfind(['.', ';', ':', '(', ')', ',', '\n'])
            .map_or(0, |i| i + 1);
        let words: Vec<&str> = before[clause_start..]
            .split(|c: char| c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        let limit = (acronym.len() + 2).min(words.len());
        // The shortest run of last words that spells the acronym.
        for n in 1..=limit {
            let candidate = long_form_key(&words[words.len() - n..].join(" "));
            if matches_initials(&acronym, &candidate) {
                let d = Definition {
                    acronym: acronym.clone(),
                    long_form: candidate,
                };
                if !out.contains(&d) {
                    out.push(d);
                }
                break;
            }
        }
    }
    out
}

/// The acronyms a paper defines in its title and abstract, each once: what
/// storing the paper adds to the glossary.
pub fn paper_definitions(title: &str, abstract_text: &str) -> Vec<Definition> {
    let mut defined = definitions(title);
    for d in definitions(abstract_text) {
        if !defined.contains(&d) {
            defined.push(d);
        }
    }
    defined
}

/// Acronyms and what stored papers say they stand for, with how many
/// papers said so.
#[derive(Debug, Clone, Default)]
pub struct Glossary {
    /// Acronym → (long form, papers), most papers first.
    senses: HashMap<String, Vec<(String, u32)>>,
    /// Long form → the acronyms whose [`Glossary::meaning`] it is.
    acronyms_of: HashMap<String, Vec<String>>,
    /// Words an LLM suggested for a topic, by [`Query::words_key`].
    suggested: HashMap<String, Vec<String>>,
}

/// A word or phrase a topic also matches, learned from the glossary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// What the radar looks for: a long form or an acronym.
    pub text: String,
    /// The group of the query it joins (as an alternative).
    pub group: usize,
    /// For an acronym: the long form it must stand for.
    pub sense: Option<String>,
    pub origin: ExpansionOrigin,
    /// Words a paper must also have for this one to count: the rest of a
    /// keyword that opens with a field's name ([`Fields::named_in`]).
    pub with: Option<String>,
}

/// Where an expansion comes from, as the reader is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpansionOrigin {
    /// An acronym and its long form, learned from stored papers.
    Learned,
    /// A term of a field the reader named ([`Fields`]): the radar counts
    /// it only where a paper leans on it.
    Field(&'static str),
    /// Suggested by an AI model (`[llm]`).
    Suggested,
}

impl Glossary {
    /// Papers that must define an acronym the same way before the radar
    /// relies on that sense.
    pub const MIN_PAPERS: u32 = 2;
    /// Of all the papers that define an acronym, the share one sense needs
    /// to be the acronym's meaning when a paper does not say.
    const DOMINANT_SHARE: f32 = 0.6;

    /// From stored `(definition, papers)` counts.
    pub fn from_counts(counts: impl IntoIterator<Item = (Definition, u32)>) -> Self {
        let mut senses: HashMap<String, Vec<(String, u32)>> = HashMap::new();
        for (d, n) in counts {
            let list = senses.entry(d.acronym).or_default();
            match list.iter_mut().find(|(l, _)| *l == d.long_form) {
                Some(entry) => entry.1 += n,
                None => list.push((d.long_form, n)),
            }
        }
        for list in senses.values_mut() {
            list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        let mut glossary = Self {
            senses,
            acronyms_of: HashMap::new(),
            suggested: HashMap::new(),
        };
        let mut acronyms_of: HashMap<String, Vec<String>> = HashMap::new();
        for acronym in glossary.senses.keys() {
            if let Some(long) = glossary.meaning(acronym) {
                acronyms_of
                    .entry(long.to_owned())
                    .or_default()
                    .push(acronym.clone());
            }
        }
        for list in acronyms_of.values_mut() {
            list.sort();
        }
        glossary.acronyms_of = acronyms_of;
        glossary
    }

    /// With the words an LLM suggested per topic ([`Query::words_key`]).
    pub fn with_suggestions(mut self, suggested: HashMap<String, Vec<String>>) -> Self {
        self.suggested = suggested;
        self
    }

    /// Learns from papers directly, as storing them would.
    pub fn learn<'p>(papers: impl IntoIterator<Item = &'p Paper>) -> Self {
        let mut counts: HashMap<Definition, u32> = HashMap::new();
        for paper in papers {
            for d in paper_definitions(&paper.title, &paper.abstract_text) {
                *counts.entry(d).or_default() += 1;
            }
        }
        Self::from_counts(counts)
    }

    /// What the stored papers say an acronym stands for, when enough of
    /// them agree.
    pub fn meaning(&self, acronym: &str) -> Option<&str> {
        let list = self.senses.get(acronym)?;
        let total: u32 = list.iter().map(|s| s.1).sum();
        let (long, n) = list.first()?;
        (*n >= Self::MIN_PAPERS && *n as f32 >= Self::DOMINANT_SHARE * total as f32)
            .then_some(long.as_str())
    }

    /// The sense of an acronym term in this query: a long form typed in the
    /// same query that it abbreviates, or else its [`Self::meaning`].
    pub fn sense(&self, query: &Query, acronym: &str) -> Option<String> {
        typed_terms(query)
            .map(|t| long_form_key(t.text()))
            .find(|long| matches_initials(acronym, long))
            .or_else(|| self.meaning(acronym).map(str::to_owned))
    }

    /// The words the topic also matches, in query order: the long form of
    /// each acronym typed without it, the acronym of each long form typed
    /// without it, then the other names and the terms of each field a
    /// keyword names ([`Fields`]), then what an LLM suggested; leaving out
    /// those the query drops (`-also:`), and at most [`Query::MAX_TERMS`]
    /// (what the radar matches is what the preferences page lists).
    pub fn expansions(&self, query: &Query) -> Vec<Expansion> {
        let typed: Vec<String> = typed_terms(query)
            .map(|t| long_form_key(t.text()))
            .collect();
        let typed_acronyms: Vec<String> = typed_terms(query)
            .filter_map(|t| acronym_key(t.text()))
            .collect();
        let dropped: Vec<String> = query
            .dropped_expansions()
            .iter()
            .map(|d| long_form_key(d))
            .collect();
        let mut out: Vec<Expansion> = Vec::new();
        let mut taken: Vec<String> = Vec::new();
        let mut add = |e: Expansion| {
            if out.len() >= Query::MAX_TERMS {
                return;
            }
            let key = long_form_key(&e.text);
            if !typed.contains(&key) && !dropped.contains(&key) && !taken.contains(&key) {
                taken.push(key);
                out.push(e);
            }
        };
        for (group, terms) in query.groups().iter().enumerate() {
            for term in terms.iter().filter(|t| !t.is_exact()) {
                if let Some(acronym) = acronym_key(term.text()) {
                    if is_reviewed(&acronym) {
                        continue;
                    }
                    let typed_long = typed.iter().any(|l| matches_initials(&acronym, l));
                    if let (false, Some(long)) = (typed_long, self.meaning(&acronym)) {
                        add(Expansion {
                            text: long.to_owned(),
                            group,
                            sense: None,
                            origin: ExpansionOrigin::Learned,
                            with: None,
                        });
                    }
                } else {
                    let long = long_form_key(term.text());
                    let acronyms = self.acronyms_of.get(&long).into_iter().flatten();
                    for acronym in
                        acronyms.filter(|a| !typed_acronyms.contains(a) && !is_reviewed(a))
                    {
                        add(Expansion {
                            text: acronym.clone(),
                            group,
                            sense: Some(long.clone()),
                            origin: ExpansionOrigin::Learned,
                            with: None,
                        });
                    }
                }
            }
        }
        for (group, terms) in query.groups().iter().enumerate() {
            for (field, with) in terms
                .iter()
                .filter(|t| !t.is_exact())
                .filter_map(|t| Fields::builtin().named_in(t.text()))
            {
                for text in field.names().iter().chain(&field.terms) {
                    add(Expansion {
                        text: text.clone(),
                        group,
                        sense: None,
                        origin: ExpansionOrigin::Field(&field.name),
                        with: with.clone(),
                    });
                }
            }
        }
        let suggested = query.words_key().and_then(|key| self.suggested.get(&key));
        for text in suggested.into_iter().flatten() {
            add(Expansion {
                text: text.clone(),
                group: 0,
                sense: None,
                origin: ExpansionOrigin::Suggested,
                with: None,
            });
        }
        out
    }

    /// Every long form stored papers gave the acronym, with how many
    /// papers did, most first.
    pub fn senses(&self, acronym: &str) -> &[(String, u32)] {
        self.senses.get(acronym).map_or(&[], Vec::as_slice)
    }

    /// The acronyms that have a [`Self::meaning`], in no particular order.
    pub fn known_acronyms(&self) -> impl Iterator<Item = &str> {
        self.acronyms_of.values().flatten().map(String::as_str)
    }
}

/// The query's own words and phrases (not exclusions).
fn typed_terms(query: &Query) -> impl Iterator<Item = &Term> {
    query.groups().iter().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(text: &str) -> Vec<(String, String)> {
        definitions(text)
            .into_iter()
            .map(|d| (d.acronym, d.long_form))
            .collect()
    }

    #[test]
    fn definitions_are_read_as_papers_write_them() {
        // Sentences from real abstracts of the cs.CV day in tests/fixtures.
        assert_eq!(
            defs("Computer-Aided Design (CAD) is an expert-level task."),
            [("CAD".into(), "computer aided design".into())]
        );
        assert_eq!(
            defs("with a Success Rate (SR) of 51.09% and SPL of 47.2"),
            [("SR".into(), "success rate".into())]
        );
        assert_eq!(
            defs("We investigate whether using snapshot hyperspectral imaging (HSI) can help"),
            [("HSI".into(), "hyperspectral imaging".into())]
        );
        assert_eq!(
            defs("that yields whole-slide imaging (WSI). Unlike solid tissue"),
            [("WSI".into(), "whole slide imaging".into())]
        );
        assert_eq!(
            defs("Existing super-resolution (SR) approaches rely on"),
            [("SR".into(), "super resolution".into())]
        );
        assert_eq!(
            defs("vision-and-language navigation (VLN) presents a challenge"),
            [("VLN".into(), "vision and language navigation".into())]
        );
        assert_eq!(
            defs("time series such as electrocardiograms (ECG) and"),
            [("ECG".into(), "electrocardiogram".into())]
        );
        assert_eq!(
            defs("Human activity recognition (HAR) refers to"),
            [("HAR".into(), "human activity recognition".into())]
        );
    }

    #[test]
    fn parentheses_that_define_nothing_are_skipped() {
        assert!(defs("accuracy rises (from 8% to 57%) on OCR").is_empty());
        assert!(defs("the model (ours) wins").is_empty());
        assert!(defs("a new dataset (NYU) of scenes").is_empty());
        assert!(defs("unclosed (CAD").is_empty());
    }

    fn glossary(pairs: &[(&str, &str, u32)]) -> Glossary {
        Glossary::from_counts(
            pairs
                .iter()
                .map(|(a, l, n)| (Definition::new(a, l).unwrap(), *n)),
        )
    }

    #[test]
    fn an_acronym_means_what_most_papers_say_when_enough_of_them_say_it() {
        let g = glossary(&[
            ("CAD", "computer-aided design", 5),
            ("CAD", "computer-aided diagnosis", 2),
            ("SR", "super-resolution", 1),
        ]);
        assert_eq!(g.meaning("CAD"), Some("computer aided design"));
        assert_eq!(g.meaning("SR"), None, "one paper is not enough");
        let even = glossary(&[
            ("CAD", "computer aided design", 2),
            ("CAD", "computer aided diagnosis", 2),
        ]);
        assert_eq!(even.meaning("CAD"), None, "no sense has the majority");
    }

    #[test]
    fn a_long_form_typed_beside_an_acronym_is_its_sense() {
        let g = glossary(&[("CAD", "computer aided design", 5)]);
        let q = Query::parse(r#"CAD OR "computer-aided diagnosis""#).unwrap();
        assert_eq!(
            g.sense(&q, "CAD").as_deref(),
            Some("computer aided diagnosis")
        );
        let alone = Query::parse("CAD").unwrap();
        assert_eq!(
            g.sense(&alone, "CAD").as_deref(),
            Some("computer aided design")
        );
    }

    #[test]
    fn a_topic_naming_several_fields_gets_at_most_max_terms_expansions() {
        let q = Query::parse(r#""remote sensing" OR "video generation" OR "speech recognition" OR "image restoration""#).unwrap();
        assert_eq!(Glossary::default().expansions(&q).len(), Query::MAX_TERMS);
    }

    #[test]
    fn expansions_add_the_missing_spelling_and_respect_what_the_reader_dropped() {
        let g = glossary(&[
            ("HAR", "human activity recognition", 3),
            ("WSI", "whole slide image", 4),
        ]);
        let q = Query::parse(r#"HAR OR "whole-slide images""#).unwrap();
        // Learned ones (HAR also names a field: its words come after).
        let learned = |g: &Glossary, q: &Query| -> Vec<_> {
            g.expansions(q)
                .into_iter()
                .filter(|e| e.origin == ExpansionOrigin::Learned)
                .map(|e| (e.text, e.sense))
                .collect()
        };
        let texts = learned(&g, &q);
        assert_eq!(
            texts,
            [
                ("human activity recognition".to_owned(), None),
                ("WSI".to_owned(), Some("whole slide image".to_owned())),
            ]
        );
        let dropped = Query::parse(r#"HAR OR "whole-slide images" -also:WSI"#).unwrap();
        assert_eq!(learned(&g, &dropped).len(), 1);
        let reviewed = glossary(&[("LLM", "large language model", 9)]);
        let q = Query::parse(r#""large language model" OR LLM"#).unwrap();
        assert_eq!(
            learned(&reviewed, &q).len(),
            0,
            "the reviewed table already spells one as the other"
        );
        assert_eq!(learned(&reviewed, &Query::parse("LLM").unwrap()).len(), 0);
        let suggested = g.clone().with_suggestions(
            [(
                "har".to_owned(),
                vec!["motion sensing".to_owned(), "HAR".to_owned()],
            )]
            .into(),
        );
        let alone = Query::parse("HAR").unwrap();
        let texts: Vec<_> = suggested
            .expansions(&alone)
            .into_iter()
            .filter(|e| !matches!(e.origin, ExpansionOrigin::Field(_)))
            .map(|e| (e.text, e.origin == ExpansionOrigin::Suggested))
            .collect();
        assert_eq!(
            texts,
            [
                ("human activity recognition".to_owned(), false),
                ("motion sensing".to_owned(), true),
            ],
            "suggestions come after learned ones, never repeating a typed word"
        );
        let both = Query::parse(r#"HAR OR "human activity recognition""#).unwrap();
        assert_eq!(
            learned(&g, &both).len(),
            0,
            "nothing to add when both are typed"
        );
    }
}
