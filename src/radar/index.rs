//! The day's papers and every radar, compiled once per round into an index
//! that matches them all without comparing every subscriber with every
//! paper.
//!
//! Building: each paper is tokenised once ([`super::text`]); every distinct
//! term of every radar becomes a key (a sequence of token ids), and each
//! paper is scanned once for the keys it contains, giving a posting list
//! per term with its BM25 weight in that paper. Identical topics (the same
//! query, whoever typed it) are compiled once.
//!
//! Matching one radar walks only the posting lists of its terms, so its
//! cost follows how many papers mention them, not how many papers there
//! are. [`RadarIndex::evaluate`] scores one (topic, paper) pair directly
//! from the paper's term set; it explains scores and checks the index.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::text::{self, Tokens};
use crate::domain::{
    AnnounceType, ExpansionOrigin, FIELD_TERM_MIN_MENTIONS, Glossary, Paper, Query, Revisions,
    SentPapers, Topic, acronym_key, paper_definitions,
};

/// Title words weigh this much more than abstract words.
const TITLE_WEIGHT: f32 = 2.0;
const BM25_K1: f32 = 1.2;
const BM25_B: f32 = 0.75;
/// A phrase of several words found as such says more than its words.
const PHRASE_BONUS: f32 = 1.5;
/// A followed author's paper scores as if this strong a term matched.
const AUTHOR_SCORE: f32 = 8.0;
/// Multiplier for a paper in a preferred (`~cat:`, `~venue:`) place.
const FACET_BOOST: f32 = 1.3;
/// How much older papers fall: a week old loses `FRESHNESS_SPAN`.
const FRESHNESS_SPAN: f32 = 0.2;
/// A learned expansion counts this much of what the reader's own word would.
const EXPANSION_WEIGHT: f32 = 0.7;
/// A paper at least this similar (cosine of TF-IDF over title and
/// abstract) to a topic's example paper (`like:`) matches the topic...
const LIKE_THRESHOLD: f32 = 0.2;
/// ...scoring this many times its similarity (0.2 scores as a good term).
const LIKE_SCORE: f32 = 30.0;

type TermId = u32;

/// What one compiled topic entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// One alternative of group `group`.
    Include,
    /// An alternative of group `group` learned from the glossary, not typed.
    Expansion,
    Exclude,
    Author,
    /// An example paper (`like:`): papers like it match, as an author's do.
    Example,
    Category {
        boost: bool,
    },
    Venue {
        boost: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Entry {
    /// A term, an author, a category or a venue id, by `kind`.
    id: u32,
    kind: Kind,
    group: u8,
    /// Position of the term or author in the query, for explanations.
    pos: u8,
}

#[derive(Debug, Clone, Copy)]
struct CompiledTopic {
    start: u32,
    len: u32,
    groups: u8,
    weight: f32,
    revisions: Revisions,
    has_category_filter: bool,
    has_venue_filter: bool,
}

/// A paper as the index sees it.
#[derive(Clone)]
struct IndexedPaper {
    id: i64,
    categories: Vec<u32>,
    venue: u32,
    announce: Option<AnnounceType>,
    /// Announce type and freshness, multiplied into every score.
    prior: f32,
    /// Terms and authors present, sorted, with their weight here.
    terms: Vec<(TermId, f32)>,
    /// L2-normalised TF-IDF over stems, for feedback similarity.
    vector: Vec<(u32, f32)>,
}

/// Strings to small ids.
#[derive(Default, Clone)]
struct Interner(HashMap<String, u32>);

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.0.get(s) {
            return id;
        }
        let id = self.0.len() as u32;
        self.0.insert(s.to_owned(), id);
        id
    }
    fn get(&self, s: &str) -> Option<u32> {
        self.0.get(s).copied()
    }
}

/// A paper's text, tokenised; kept until the index is frozen.
#[derive(Clone)]
struct PaperTokens {
    title: Tokens,
    abstract_text: Tokens,
    authors: Vec<Vec<String>>,
    /// The acronyms it defines, with the stems of their long forms.
    defines: Vec<(String, Vec<String>)>,
    /// The acronyms it writes in capitals ([`acronym_key`]), sorted.
    acronyms: Vec<String>,
}

/// An acronym read in one sense: the acronym (upper case) and the stems of
/// its long form.
type Sense = (Box<str>, Box<[u32]>);

/// A term as the index knows it: exact or stemmed, its token ids, and for
/// an acronym the sense it must have in the paper.
type TermKey = (bool, Box<[u32]>, Option<Sense>);

/// A field term's variant of a plain term: the term a paper must also have,
/// the variant's id, and the acronym the paper must write in capitals.
type StrictVariant<'a> = (Option<TermId>, TermId, Option<&'a str>);

/// Collects radars over a day's papers; [`RadarsBuilder::build`] makes the index.
/// Tokenising the papers is the expensive part: clone a builder that has
/// no radars yet to index several batches of radars over the same papers.
#[derive(Clone)]
pub struct RadarsBuilder {
    papers: Vec<IndexedPaper>,
    tokens: Vec<PaperTokens>,
    stems: Interner,
    words: Interner,
    categories: Interner,
    venues: Interner,
    /// Term keys → term id.
    term_ids: HashMap<TermKey, TermId>,
    /// Terms as typed (and the sense an acronym is read in) → term id:
    /// most radars repeat terms others typed.
    term_cache: HashMap<(bool, String, Option<String>), TermId>,
    /// A plain term and the term a paper must also have (if any) → the
    /// field-term variant ([`ExpansionOrigin::Field`]), which counts only
    /// where a paper leans on the term, and for an acronym only where the
    /// paper writes it in capitals ("WILDS" the benchmark, not "in the
    /// wild").
    strict_ids: HashMap<(TermId, Option<TermId>), (TermId, Option<String>)>,
    /// What acronyms stand for, by the stored papers.
    glossary: Glossary,
    /// Example papers topics name (`like:`), by reference.
    examples: Examples,
    /// Example references → term id: papers like it are its postings.
    example_ids: HashMap<String, TermId>,
    author_ids: HashMap<Box<[u32]>, TermId>,
    /// Stem document frequencies, for the feedback vectors.
    stem_df: Vec<u32>,
    entries: Vec<Entry>,
    topics: Vec<CompiledTopic>,
    topic_by_hash: HashMap<u64, u32>,
    /// Queries already compiled, by fingerprint.
    by_query: HashMap<u128, u32>,
    radar_topics: Vec<u32>,
    radar_offsets: Vec<u32>,
}

/// One paper picked up by a radar.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index into the papers the index was built from.
    pub paper: usize,
    pub score: f32,
    /// Why: the terms and authors of the topic that matched.
    pub matched: Matched,
}

/// One thing that made a paper match, pointing into the topic's query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The n-th term of the query (groups in order, then exclusions).
    Term(u8),
    Author(u8),
    /// The n-th of the topic's learned expansions ([`Glossary::expansions`]).
    Expansion(u8),
    /// The n-th example paper of the query (`like:`).
    Example(u8),
}

/// Everything that made a paper match, as sets of query positions (a query
/// has at most [`Query::MAX_TERMS`] of each, fewer than 64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Matched {
    terms: u64,
    authors: u64,
    expansions: u64,
    examples: u64,
}

const _: () = assert!(Query::MAX_TERMS < 64);

impl Matched {
    fn add(&mut self, why: Why) {
        match why {
            Why::Term(i) => self.terms |= 1 << i,
            Why::Author(i) => self.authors |= 1 << i,
            Why::Expansion(i) => self.expansions |= 1 << i,
            Why::Example(i) => self.examples |= 1 << i,
        }
    }

    /// Terms first, then expansions, then authors, each in query order.
    pub fn reasons(self) -> impl Iterator<Item = Why> {
        let bits = |set: u64| (0..64u8).filter(move |i| set & (1 << i) != 0);
        bits(self.terms)
            .map(Why::Term)
            .chain(bits(self.expansions).map(Why::Expansion))
            .chain(bits(self.authors).map(Why::Author))
            .chain(bits(self.examples).map(Why::Example))
    }
}

/// A radar's picks for one of its topics, or (`topic: None`) papers that
/// resemble ones the subscriber liked without matching any topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicPicks {
    pub topic: Option<usize>,
    pub hits: Vec<Hit>,
}

/// What a subscriber brings to matching besides their topics.
#[derive(Debug, Default)]
pub struct MatchOptions<'a> {
    /// The papers this subscriber already received: never again, but for
    /// a new version of one under a topic that asks `with:updates`.
    pub already_sent: Option<&'a SentPapers>,
    pub max_per_topic: usize,
    pub profile: Option<&'a Profile>,
}

/// A subscriber's taste learned from "more / less like this": the
/// centroids (Rocchio) of the papers they liked and disliked.
#[derive(Debug, Default, Clone)]
pub struct Profile {
    /// Heaviest stems first.
    liked: Vec<(u32, f32)>,
    liked_weights: HashMap<u32, f32>,
    disliked_weights: HashMap<u32, f32>,
}

/// Example papers (`like:`) by reference ([`crate::domain::Query::examples`]):
/// each one's stored id (so it is not its own match) and text.
pub type Examples = HashMap<String, (i64, Paper)>;

/// Papers kept per distinct topic: enough for the largest `max_per_topic`
/// after already-sent papers and papers shown under another topic are taken out.
const TOPIC_HITS_KEPT: usize = 150;

/// A radar looks at each topic's best `max_per_topic` × this papers: a
/// paper several topics pick goes under the best-scoring of those where it
/// is that high.
const CANDIDATE_DEPTH: usize = 3;

/// How far feedback moves a score: ×(1 + this × (likeness − unlikeness)).
const FEEDBACK_STRENGTH: f32 = 1.5;
/// A paper this similar to liked ones is shown even without a keyword.
const SIMILAR_THRESHOLD: f32 = 0.15;
/// At most this many such papers per briefing.
const SIMILAR_MAX: usize = 3;
/// Terms of the liked centroid used to find similar papers.
const PROFILE_TERMS: usize = 60;

pub struct RadarIndex {
    papers: Vec<IndexedPaper>,
    entries: Vec<Entry>,
    topics: Vec<CompiledTopic>,
    radar_topics: Vec<u32>,
    radar_offsets: Vec<u32>,
    /// Per term: (paper index, weight).
    postings: Vec<Vec<(u32, f32)>>,
    /// Per distinct topic: its best papers and scores, best first, computed
    /// once however many radars share the topic.
    topic_hits: Vec<Vec<TopicHit>>,
    /// Per stem: (paper index, normalised TF-IDF), for feedback.
    stem_postings: Vec<Vec<(u32, f32)>>,
    stems: Interner,
    stem_df: Vec<u32>,
}

/// A paper a topic picks up, scored, with what matched.
#[derive(Debug, Clone, Copy)]
struct TopicHit {
    paper: u32,
    score: f32,
    matched: Matched,
}

/// A radar added to the builder: its index in the built index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadarId(pub usize);

impl RadarsBuilder {
    /// Tokenises `papers` (on all cores). Scores age from `now`.
    pub fn new(papers: &[(i64, &Paper)], now: DateTime<Utc>) -> Self {
        let tokens: Vec<PaperTokens> = papers
            .par_iter()
            .map(|(_, p)| PaperTokens {
                title: text::tokens(&p.title),
                abstract_text: text::tokens(&p.abstract_text),
                authors: p.authors.iter().map(|a| text::words(a)).collect(),
                defines: paper_definitions(&p.title, &p.abstract_text)
                    .into_iter()
                    .map(|d| (d.acronym().to_owned(), sense_stems(d.long_form())))
                    .collect(),
                acronyms: capitalised_acronyms(&p.title, &p.abstract_text),
            })
            .collect();
        let mut builder = Self {
            papers: Vec::with_capacity(papers.len()),
            tokens: Vec::new(),
            stems: Interner::default(),
            words: Interner::default(),
            categories: Interner::default(),
            venues: Interner::default(),
            term_ids: HashMap::new(),
            term_cache: HashMap::new(),
            strict_ids: HashMap::new(),
            glossary: Glossary::default(),
            examples: Examples::new(),
            example_ids: HashMap::new(),
            author_ids: HashMap::new(),
            stem_df: Vec::new(),
            entries: Vec::new(),
            topics: Vec::new(),
            topic_by_hash: HashMap::new(),
            by_query: HashMap::new(),
            radar_topics: Vec::new(),
            radar_offsets: vec![0],
        };
        let mut tf: HashMap<u32, f32> = HashMap::new();
        let mut vectors = Vec::with_capacity(papers.len());
        for ((id, paper), toks) in papers.iter().zip(&tokens) {
            tf.clear();
            for (stream, weight) in [
                (&toks.title.stems, TITLE_WEIGHT),
                (&toks.abstract_text.stems, 1.0),
            ] {
                for s in stream {
                    *tf.entry(builder.stems.id(s)).or_default() += weight;
                }
            }
            builder.stem_df.resize(builder.stems.0.len(), 0);
            for &s in tf.keys() {
                builder.stem_df[s as usize] += 1;
            }
            vectors.push(tf.iter().map(|(&s, &n)| (s, n)).collect::<Vec<_>>());
            let categories = paper
                .categories
                .iter()
                .map(|c| builder.categories.id(&c.to_ascii_lowercase()))
                .collect();
            let venue = builder.venues.id(&paper.venue.to_lowercase());
            builder.papers.push(IndexedPaper {
                id: *id,
                categories,
                venue,
                announce: paper.announce_type,
                prior: prior(paper, now),
                terms: Vec::new(),
                vector: Vec::new(),
            });
        }
        let n = papers.len() as f32;
        for (paper, counts) in builder.papers.iter_mut().zip(vectors) {
            let mut v: Vec<(u32, f32)> = counts
                .into_iter()
                .map(|(s, tf)| {
                    (
                        s,
                        (1.0 + tf.ln()) * idf(n, builder.stem_df[s as usize] as f32),
                    )
                })
                .collect();
            normalise(&mut v);
            paper.vector = v;
        }
        builder.tokens = tokens;
        builder
    }

    /// Reads acronyms as the stored papers define them and adds the
    /// expansions they imply ([`Glossary::expansions`]) to every topic
    /// added from now on.
    pub fn with_glossary(mut self, glossary: Glossary) -> Self {
        self.glossary = glossary;
        self
    }

    /// The example papers topics added from now on may name (`like:`), by
    /// reference ([`crate::domain::Query::examples`]); an example not given
    /// here is left out of its topic.
    pub fn with_examples(mut self, examples: Examples) -> Self {
        self.examples = examples;
        self
    }

    /// Adds one subscriber's radar; ids count from 0 in the order added.
    pub fn add(&mut self, topics: &[Topic]) -> RadarId {
        self.add_all(topics)
    }

    /// [`Self::add`] for topics held elsewhere (shared between radars).
    pub fn add_all<'t>(&mut self, topics: impl IntoIterator<Item = &'t Topic>) -> RadarId {
        for topic in topics {
            let query = topic.query();
            let compiled = match self.by_query.get(&query.fingerprint()) {
                Some(&id) => id,
                None => {
                    let id = self.compile(query);
                    self.by_query.insert(query.fingerprint(), id);
                    id
                }
            };
            self.radar_topics.push(compiled);
        }
        self.radar_offsets.push(self.radar_topics.len() as u32);
        RadarId(self.radar_offsets.len() - 2)
    }

    /// The term for `text`; `sense` reads an acronym only in that sense
    /// (the long form it must stand for).
    fn term_id(&mut self, text: &str, exact: bool, sense: Option<&str>) -> TermId {
        let cache_key = (exact, text.to_owned(), sense.map(str::to_owned));
        if let Some(&id) = self.term_cache.get(&cache_key) {
            return id;
        }
        let id = self.new_term_id(text, exact, sense);
        self.term_cache.insert(cache_key, id);
        id
    }

    fn new_term_id(&mut self, text: &str, exact: bool, sense: Option<&str>) -> TermId {
        let toks = text::tokens(text);
        let key: Box<[u32]> = if exact {
            toks.words.iter().map(|w| self.words.id(w)).collect()
        } else {
            toks.stems.iter().map(|s| self.stems.id(s)).collect()
        };
        let sense = sense.map(|long| -> Sense {
            let acronym = acronym_key(text).unwrap_or_default().into_boxed_str();
            let stems = sense_stems(long).iter().map(|s| self.stems.id(s)).collect();
            (acronym, stems)
        });
        if sense.is_some() {
            // A sensed term's postings are its plain term's, filtered.
            self.key_id((exact, key.clone(), None));
        }
        self.key_id((exact, key, sense))
    }

    fn key_id(&mut self, key: TermKey) -> TermId {
        let next = self.next_id();
        *self.term_ids.entry(key).or_insert(next)
    }

    /// Terms, authors and examples share one id space (the postings').
    fn next_id(&self) -> TermId {
        (self.term_ids.len()
            + self.strict_ids.len()
            + self.author_ids.len()
            + self.example_ids.len()) as TermId
    }

    /// A field term ([`FIELD_TERM_MIN_MENTIONS`]): its postings are the
    /// plain term's where the paper has it in its title or often enough.
    /// With `with`, the paper must also have those words, anywhere.
    fn strict_term_id(&mut self, text: &str, with: Option<&str>) -> TermId {
        let plain = self.term_id(text, false, None);
        let with = with.map(|w| self.term_id(w, false, None));
        let next = self.next_id();
        self.strict_ids
            .entry((plain, with))
            .or_insert_with(|| {
                let acronym = acronym_key(text).filter(|_| text::tokens(text).stems.len() == 1);
                (next, acronym)
            })
            .0
    }

    fn author_id(&mut self, name: &str) -> TermId {
        let key: Box<[u32]> = text::words(name).iter().map(|w| self.words.id(w)).collect();
        let next = self.next_id();
        *self.author_ids.entry(key).or_insert(next)
    }

    fn compile(&mut self, query: &Query) -> u32 {
        let mut entries = Vec::new();
        let mut pos: u8 = 0;
        for (group, alternatives) in query.groups().iter().enumerate() {
            for term in alternatives {
                let sense = super::acronym_sense(&self.glossary, query, term);
                let id = self.term_id(term.text(), term.is_exact(), sense.as_deref());
                entries.push(Entry {
                    id,
                    kind: Kind::Include,
                    group: group as u8,
                    pos,
                });
                pos += 1;
            }
        }
        let expansions = self.glossary.expansions(query);
        for (i, expansion) in expansions.into_iter().enumerate() {
            let id = match expansion.origin {
                ExpansionOrigin::Field(_) => {
                    self.strict_term_id(&expansion.text, expansion.with.as_deref())
                }
                _ => self.term_id(&expansion.text, false, expansion.sense.as_deref()),
            };
            entries.push(Entry {
                id,
                kind: Kind::Expansion,
                group: expansion.group as u8,
                pos: i as u8,
            });
        }
        for term in query.exclusions() {
            let id = self.term_id(term.text(), term.is_exact(), None);
            entries.push(Entry {
                id,
                kind: Kind::Exclude,
                group: 0,
                pos,
            });
            pos += 1;
        }
        for (i, author) in query.authors().iter().enumerate() {
            let id = self.author_id(author);
            entries.push(Entry {
                id,
                kind: Kind::Author,
                group: 0,
                pos: i as u8,
            });
        }
        for (i, example) in query.examples().iter().enumerate() {
            if !self.examples.contains_key(example) {
                continue;
            }
            let next = self.next_id();
            let id = *self.example_ids.entry(example.clone()).or_insert(next);
            entries.push(Entry {
                id,
                kind: Kind::Example,
                group: 0,
                pos: i as u8,
            });
        }
        for facet in query.categories() {
            let id = self.categories.id(&facet.value().to_ascii_lowercase());
            entries.push(Entry {
                id,
                kind: Kind::Category {
                    boost: facet.is_boost(),
                },
                group: 0,
                pos: 0,
            });
        }
        for facet in query.venues() {
            let id = self.venues.id(&facet.value().to_lowercase());
            entries.push(Entry {
                id,
                kind: Kind::Venue {
                    boost: facet.is_boost(),
                },
                group: 0,
                pos: 0,
            });
        }
        let topic = CompiledTopic {
            start: 0,
            len: entries.len() as u32,
            groups: query.groups().len() as u8,
            weight: query.weight(),
            revisions: query.revisions(),
            has_category_filter: entries
                .iter()
                .any(|e| e.kind == Kind::Category { boost: false }),
            has_venue_filter: entries
                .iter()
                .any(|e| e.kind == Kind::Venue { boost: false }),
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        entries.hash(&mut hasher);
        (topic.groups, topic.weight.to_bits(), topic.revisions).hash(&mut hasher);
        let hash = hasher.finish();
        if let Some(&existing) = self.topic_by_hash.get(&hash) {
            let t = self.topics[existing as usize];
            let same = self.entries[t.start as usize..(t.start + t.len) as usize] == entries[..]
                && t.groups == topic.groups
                && t.weight == topic.weight
                && t.revisions == topic.revisions;
            if same {
                return existing;
            }
        }
        let id = self.topics.len() as u32;
        self.topics.push(CompiledTopic {
            start: self.entries.len() as u32,
            ..topic
        });
        self.entries.extend(entries);
        self.topic_by_hash.insert(hash, id);
        id
    }

    /// Scans every paper once for every radar's terms (on all cores).
    pub fn build(self) -> RadarIndex {
        let n_terms = self.next_id() as usize;
        let max_len = self
            .term_ids
            .keys()
            .map(|(_, k, _)| k.len())
            .max()
            .unwrap_or(0);
        // Lookups by slice: one map per stream.
        let mut by_stems: HashMap<&[u32], TermId> = HashMap::new();
        let mut by_words: HashMap<&[u32], TermId> = HashMap::new();
        // Acronyms read in one sense: by the plain term they filter, with
        // whether a paper that does not define the acronym may count (no
        // stored sense says otherwise).
        let mut sensed: HashMap<TermId, Vec<(TermId, &Sense, bool)>> = HashMap::new();
        let plain: HashMap<(bool, &[u32]), TermId> = self
            .term_ids
            .iter()
            .filter(|((_, _, sense), _)| sense.is_none())
            .map(|((exact, key, _), &id)| ((*exact, &key[..]), id))
            .collect();
        for ((exact, key, sense), &id) in &self.term_ids {
            let Some(sense) = sense else { continue };
            let undefined_ok = self.glossary.meaning(&sense.0).is_none_or(|m| {
                let stems: Vec<u32> = sense_stems(m)
                    .iter()
                    .map(|s| self.stems.get(s).unwrap_or(u32::MAX))
                    .collect();
                stems[..] == sense.1[..]
            });
            sensed
                .entry(plain[&(*exact, &key[..])])
                .or_default()
                .push((id, sense, undefined_ok));
        }
        for ((exact, key, sense), &id) in &self.term_ids {
            if key.is_empty() || sense.is_some() {
                continue;
            }
            if *exact {
                by_words.insert(key, id);
            } else {
                by_stems.insert(key, id);
            }
        }
        // Every proper prefix of a key: the scan of a paper stops lengthening
        // a slice as soon as no key goes on from it (most stop at one token).
        fn prefixes<'k>(map: &HashMap<&'k [u32], TermId>) -> HashSet<&'k [u32]> {
            map.keys()
                .flat_map(|k| (1..k.len()).map(move |n| &k[..n]))
                .collect()
        }
        let (stem_prefixes, word_prefixes) = (prefixes(&by_stems), prefixes(&by_words));
        // Field-term variants by the plain term they filter.
        let mut strict: HashMap<TermId, Vec<StrictVariant>> = HashMap::new();
        for (&(plain, with), (id, acronym)) in &self.strict_ids {
            strict
                .entry(plain)
                .or_default()
                .push((with, *id, acronym.as_deref()));
        }
        let authors: HashMap<&[u32], TermId> = self
            .author_ids
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, &id)| (&k[..], id))
            .collect();
        let ids = |interner: &Interner, toks: &[String]| -> Vec<u32> {
            toks.iter()
                .map(|t| interner.get(t).unwrap_or(u32::MAX))
                .collect()
        };
        // Per paper: (term, title count, abstract count, title length, abstract length).
        struct Found {
            counts: Vec<(TermId, u16, u16)>,
            authors: Vec<TermId>,
            title_len: usize,
            abstract_len: usize,
        }
        let found: Vec<Found> = self
            .tokens
            .par_iter()
            .map(|toks| {
                let mut counts: HashMap<TermId, (u16, u16)> = HashMap::new();
                let (stems, words) = ((&by_stems, &stem_prefixes), (&by_words, &word_prefixes));
                let streams = [
                    (ids(&self.stems, &toks.title.stems), stems, true),
                    (ids(&self.words, &toks.title.words), words, true),
                    (ids(&self.stems, &toks.abstract_text.stems), stems, false),
                    (ids(&self.words, &toks.abstract_text.words), words, false),
                ];
                for (stream, (map, prefixes), in_title) in &streams {
                    if map.is_empty() {
                        continue;
                    }
                    for i in 0..stream.len() {
                        for len in 1..=max_len.min(stream.len() - i) {
                            let slice = &stream[i..i + len];
                            if let Some(&id) = map.get(slice) {
                                let c = counts.entry(id).or_default();
                                if *in_title {
                                    c.0 = c.0.saturating_add(1);
                                } else {
                                    c.1 = c.1.saturating_add(1);
                                }
                            }
                            if !prefixes.contains(slice) {
                                break;
                            }
                        }
                    }
                }
                let mut found_authors = Vec::new();
                for name in &toks.authors {
                    let name = ids(&self.words, name);
                    for i in 0..name.len() {
                        for len in 1..=name.len() - i {
                            if let Some(&id) = authors.get(&name[i..i + len]) {
                                found_authors.push(id);
                            }
                        }
                    }
                }
                found_authors.sort_unstable();
                found_authors.dedup();
                if !sensed.is_empty() {
                    let defines: Vec<(&str, Vec<u32>)> = toks
                        .defines
                        .iter()
                        .map(|(acronym, long)| (acronym.as_str(), ids(&self.stems, long)))
                        .collect();
                    let mut extra = Vec::new();
                    for (base, &c) in &counts {
                        for (id, (acronym, long), undefined_ok) in
                            sensed.get(base).into_iter().flatten()
                        {
                            // The paper's own definitions decide; without
                            // one, what the stored papers mostly mean.
                            let defined: Vec<&[u32]> = defines
                                .iter()
                                .filter(|(a, _)| *a == &acronym[..])
                                .map(|(_, l)| &l[..])
                                .collect();
                            let in_sense = if defined.is_empty() {
                                *undefined_ok
                            } else {
                                defined.contains(&&long[..])
                            };
                            if in_sense {
                                extra.push((*id, c));
                            }
                        }
                    }
                    counts.extend(extra);
                }
                if !strict.is_empty() {
                    let present = &counts;
                    let leaned_on: Vec<(TermId, (u16, u16))> = counts
                        .iter()
                        .filter(|(_, (t, a))| *t > 0 || *a >= FIELD_TERM_MIN_MENTIONS)
                        .flat_map(|(base, &c)| {
                            strict.get(base).into_iter().flatten().filter_map(
                                move |(with, id, acronym)| {
                                    let written = acronym.is_none_or(|a| {
                                        toks.acronyms
                                            .binary_search_by(|x| x.as_str().cmp(a))
                                            .is_ok()
                                    });
                                    let with_it = with.is_none_or(|w| present.contains_key(&w));
                                    (written && with_it).then_some((*id, c))
                                },
                            )
                        })
                        .collect();
                    counts.extend(leaned_on);
                }
                Found {
                    counts: counts.into_iter().map(|(id, (t, a))| (id, t, a)).collect(),
                    authors: found_authors,
                    title_len: toks.title.stems.len(),
                    abstract_len: toks.abstract_text.stems.len(),
                }
            })
            .collect();
        let n = self.papers.len().max(1) as f32;
        let avg_title = found.iter().map(|f| f.title_len).sum::<usize>() as f32 / n;
        let avg_abstract = found.iter().map(|f| f.abstract_len).sum::<usize>() as f32 / n;
        let mut df = vec![0u32; n_terms];
        for f in &found {
            for &(id, _, _) in &f.counts {
                df[id as usize] += 1;
            }
        }
        let phrase: Vec<bool> = {
            let mut v = vec![false; n_terms];
            for ((_, key, _), &id) in &self.term_ids {
                v[id as usize] = key.len() > 1;
            }
            for (&(plain, _), (strict, _)) in &self.strict_ids {
                v[*strict as usize] = v[plain as usize];
            }
            v
        };
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_terms];
        let mut papers = self.papers;
        for (i, (paper, f)) in papers.iter_mut().zip(&found).enumerate() {
            let norm = |len: usize, avg: f32| 1.0 - BM25_B + BM25_B * len as f32 / avg.max(1.0);
            let (nt, na) = (
                norm(f.title_len, avg_title),
                norm(f.abstract_len, avg_abstract),
            );
            for &(id, t, a) in &f.counts {
                let tf = TITLE_WEIGHT * f32::from(t) / nt + f32::from(a) / na;
                let mut w = idf(n, df[id as usize] as f32) * tf * (BM25_K1 + 1.0) / (tf + BM25_K1);
                if phrase[id as usize] {
                    w *= PHRASE_BONUS;
                }
                postings[id as usize].push((i as u32, w));
                paper.terms.push((id, w));
            }
            for &id in &f.authors {
                postings[id as usize].push((i as u32, AUTHOR_SCORE));
                paper.terms.push((id, AUTHOR_SCORE));
            }
            paper.terms.sort_unstable_by_key(|&(id, _)| id);
        }
        let mut stem_postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); self.stems.0.len()];
        for (i, paper) in papers.iter().enumerate() {
            for &(s, w) in &paper.vector {
                stem_postings[s as usize].push((i as u32, w));
            }
        }
        let mut index = RadarIndex {
            papers,
            entries: self.entries,
            topics: self.topics,
            radar_topics: self.radar_topics,
            radar_offsets: self.radar_offsets,
            postings,
            topic_hits: Vec::new(),
            stem_postings,
            stems: self.stems,
            stem_df: self.stem_df,
        };
        index.add_example_postings(&self.example_ids, &self.examples);
        index.topic_hits = (0..index.topics.len() as u32)
            .into_par_iter()
            .map_init(
                || Scratch::new(index.papers.len()),
                |scratch, topic| {
                    let mut hits = Vec::new();
                    index.score_topic(scratch, topic, |paper, score, matched| {
                        hits.push(TopicHit {
                            paper,
                            score,
                            matched,
                        });
                    });
                    hits.sort_unstable_by(|a, b| {
                        b.score.total_cmp(&a.score).then(a.paper.cmp(&b.paper))
                    });
                    hits.truncate(TOPIC_HITS_KEPT);
                    hits.shrink_to_fit();
                    hits
                },
            )
            .collect();
        index
    }
}

/// The acronyms a paper writes in capitals, as [`acronym_key`] spells
/// them, sorted and once each.
fn capitalised_acronyms(title: &str, abstract_text: &str) -> Vec<String> {
    let mut out: Vec<String> = [title, abstract_text]
        .iter()
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
        .filter_map(acronym_key)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The stems two long forms of one acronym are compared by: joining words
/// left out, so "vision-and-language navigation" and "vision-language
/// navigation" are one sense of VLN.
fn sense_stems(long_form: &str) -> Vec<String> {
    text::tokens(long_form)
        .stems
        .into_iter()
        .filter(|s| {
            !matches!(
                s.as_str(),
                "and" | "of" | "for" | "the" | "in" | "on" | "to" | "with" | "a"
            )
        })
        .collect()
}

fn idf(n: f32, df: f32) -> f32 {
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

fn normalise(v: &mut [(u32, f32)]) {
    let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, w) in v.iter_mut() {
            *w /= norm;
        }
    }
}

/// Announce type and freshness: what every score of this paper is multiplied by.
fn prior(paper: &Paper, now: DateTime<Utc>) -> f32 {
    let announce = match paper.announce_type {
        None | Some(AnnounceType::New) => 1.0,
        Some(AnnounceType::Cross) => 0.9,
        Some(AnnounceType::AbsOnly) => 0.7,
        // A revised version is news to a reader who never got the paper,
        // a little less than a new one.
        Some(AnnounceType::Replace | AnnounceType::ReplaceCross) => 0.8,
    };
    let age_days = paper
        .published
        .map_or(0.0, |p| (now - p).num_seconds().max(0) as f32 / 86_400.0);
    announce * (1.0 - FRESHNESS_SPAN + FRESHNESS_SPAN * (-age_days / 7.0).exp())
}

thread_local! {
    static BEST: std::cell::RefCell<Best> = std::cell::RefCell::new(Best::default());
}

/// Per-thread: which candidate is each paper's best, for one radar at a time.
#[derive(Default)]
struct Best {
    generation: u32,
    stamp: Vec<u32>,
    winner: Vec<u32>,
}

impl Best {
    /// The index of each paper's best candidate (by score; the first of
    /// equals), valid for the papers among `candidates`.
    fn mark(&mut self, papers: usize, candidates: &[(u32, u16, u16, f32)]) -> &[u32] {
        if self.stamp.len() < papers {
            self.stamp.resize(papers, 0);
            self.winner.resize(papers, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.generation = 1;
        }
        for (i, c) in candidates.iter().enumerate() {
            let p = c.0 as usize;
            if self.stamp[p] != self.generation {
                self.stamp[p] = self.generation;
                self.winner[p] = i as u32;
            } else if c.3 > candidates[self.winner[p] as usize].3 {
                self.winner[p] = i as u32;
            }
        }
        &self.winner
    }
}

/// Per-thread scratch for matching: one slot per paper, reset by generation.
struct Scratch {
    generation: u32,
    seen: Vec<u32>,
    score: Vec<f32>,
    mask: Vec<u64>,
    matched: Vec<Matched>,
    flags: Vec<u8>,
    touched: Vec<u32>,
}

const AUTHOR_FLAG: u8 = 1;
const EXCLUDED_FLAG: u8 = 2;

impl Scratch {
    fn new(papers: usize) -> Self {
        Self {
            generation: 0,
            seen: vec![0; papers],
            score: vec![0.0; papers],
            mask: vec![0; papers],
            matched: vec![Matched::default(); papers],
            flags: vec![0; papers],
            touched: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.generation += 1;
        self.touched.clear();
    }

    fn touch(&mut self, p: u32) -> usize {
        let i = p as usize;
        if self.seen[i] != self.generation {
            self.seen[i] = self.generation;
            self.score[i] = 0.0;
            self.mask[i] = 0;
            self.matched[i] = Matched::default();
            self.flags[i] = 0;
            self.touched.push(p);
        }
        i
    }
}

/// A topic's verdict on one paper, term by term.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// `None` when the paper does not belong to the topic.
    pub score: Option<f32>,
    /// What matched, with each one's BM25 (or author) score in this paper.
    pub matched: Vec<(Why, f32)>,
    /// Why the paper is out, when it is.
    pub rejected: Option<Rejection>,
    /// The paper's announce type and freshness factor.
    pub prior: f32,
    pub boost: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No alternative of this group appears.
    MissingGroup(u8),
    /// It mentions this excluded term (its position in the query).
    Excluded(u8),
    OutsideCategories,
    OutsideVenues,
    /// A revised version, and the topic says `only:new`.
    Replacement,
}

impl RadarIndex {
    pub fn radars(&self) -> usize {
        self.radar_offsets.len() - 1
    }

    pub fn papers(&self) -> usize {
        self.papers.len()
    }

    /// Distinct compiled topics (identical queries share one).
    pub fn distinct_topics(&self) -> usize {
        self.topics.len()
    }

    /// How many topics a radar has.
    pub fn topics_in(&self, radar: RadarId) -> usize {
        self.topics_of(radar).len()
    }

    fn topics_of(&self, radar: RadarId) -> &[u32] {
        let (a, b) = (self.radar_offsets[radar.0], self.radar_offsets[radar.0 + 1]);
        &self.radar_topics[a as usize..b as usize]
    }

    fn entries_of(&self, topic: u32) -> &[Entry] {
        let t = self.topics[topic as usize];
        &self.entries[t.start as usize..(t.start + t.len) as usize]
    }

    /// Matches every radar, in parallel; results in radar order.
    pub fn match_all<'a>(
        &self,
        options: impl IndexedParallelIterator<Item = MatchOptions<'a>>,
    ) -> Vec<Vec<TopicPicks>> {
        options
            .enumerate()
            .map(|(radar, options)| self.match_radar(RadarId(radar), &options))
            .collect()
    }

    /// Matches one radar.
    pub fn match_radar(&self, radar: RadarId, options: &MatchOptions<'_>) -> Vec<TopicPicks> {
        let topics = self.topics_of(radar);
        // (paper, topic position, place in the topic's list, score): each
        // paper goes to its best topic.
        let mut candidates: Vec<(u32, u16, u16, f32)> = Vec::new();
        // Enough of each topic's best to fill it after others take their share.
        let depth = options.max_per_topic.saturating_mul(CANDIDATE_DEPTH);
        for (position, &topic) in topics.iter().enumerate() {
            let updates = self.topics[topic as usize].revisions == Revisions::Updates;
            candidates.extend(
                self.topic_hits[topic as usize]
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| {
                        let id = self.papers[h.paper as usize].id;
                        !options.already_sent.is_some_and(|sent| {
                            sent.current.contains(&id) || (!updates && sent.earlier.contains(&id))
                        })
                    })
                    .take(depth)
                    .map(|(place, h)| (h.paper, position as u16, place as u16, h.score)),
            );
        }
        // Keep each paper's best candidate (the first of equals): candidates
        // stay grouped by topic and, within a topic, best first.
        BEST.with(|best| {
            let mut best = best.borrow_mut();
            let winners = best.mark(self.papers.len(), &candidates);
            let mut at = 0;
            candidates.retain(|c| {
                let keep = winners[c.0 as usize] as usize == at;
                at += 1;
                keep
            });
        });
        if let Some(profile) = options.profile {
            for c in &mut candidates {
                c.3 *= profile.factor(&self.papers[c.0 as usize].vector);
            }
            for group in candidates.chunk_by_mut(|a, b| a.1 == b.1) {
                group.sort_by(|a, b| {
                    b.3.total_cmp(&a.3).then(
                        self.papers[a.0 as usize]
                            .id
                            .cmp(&self.papers[b.0 as usize].id),
                    )
                });
            }
        }
        let mut out: Vec<TopicPicks> = Vec::new();
        for group in candidates.chunk_by(|a, b| a.1 == b.1) {
            let position = usize::from(group[0].1);
            let list = &self.topic_hits[topics[position] as usize];
            let hits = group
                .iter()
                .take(options.max_per_topic)
                .map(|&(paper, _, place, score)| Hit {
                    paper: paper as usize,
                    score,
                    matched: list[usize::from(place)].matched,
                })
                .collect();
            out.push(TopicPicks {
                topic: Some(position),
                hits,
            });
        }
        out.retain(|t| !t.hits.is_empty());
        if let Some(profile) = options.profile {
            let similar = self.similar(profile, topics, &out, options);
            if !similar.is_empty() {
                out.push(TopicPicks {
                    topic: None,
                    hits: similar,
                });
            }
        }
        out
    }

    /// Calls `found(paper, score, matched)` for every paper the topic picks up.
    fn score_topic(&self, s: &mut Scratch, topic: u32, mut found: impl FnMut(u32, f32, Matched)) {
        let t = self.topics[topic as usize];
        let entries = self.entries_of(topic);
        s.reset();
        for e in entries {
            match e.kind {
                Kind::Include => {
                    for &(p, w) in &self.postings[e.id as usize] {
                        let i = s.touch(p);
                        s.score[i] += w;
                        s.mask[i] |= 1 << e.group;
                        s.matched[i].add(Why::Term(e.pos));
                    }
                }
                Kind::Expansion => {
                    for &(p, w) in &self.postings[e.id as usize] {
                        let i = s.touch(p);
                        s.score[i] += w * EXPANSION_WEIGHT;
                        s.mask[i] |= 1 << e.group;
                        s.matched[i].add(Why::Expansion(e.pos));
                    }
                }
                Kind::Author | Kind::Example => {
                    for &(p, w) in &self.postings[e.id as usize] {
                        let i = s.touch(p);
                        s.score[i] += w;
                        s.flags[i] |= AUTHOR_FLAG;
                        s.matched[i].add(if e.kind == Kind::Author {
                            Why::Author(e.pos)
                        } else {
                            Why::Example(e.pos)
                        });
                    }
                }
                _ => {}
            }
        }
        for e in entries.iter().filter(|e| e.kind == Kind::Exclude) {
            for &(p, _) in &self.postings[e.id as usize] {
                if s.seen[p as usize] == s.generation {
                    s.flags[p as usize] |= EXCLUDED_FLAG;
                }
            }
        }
        let full = full_mask(t.groups);
        for k in 0..s.touched.len() {
            let p = s.touched[k];
            let i = p as usize;
            let passes = (s.mask[i] == full && t.groups > 0) || s.flags[i] & AUTHOR_FLAG != 0;
            if !passes || s.flags[i] & EXCLUDED_FLAG != 0 {
                continue;
            }
            let paper = &self.papers[i];
            let Some(boost) = self.facets(&t, entries, paper) else {
                continue;
            };
            found(p, s.score[i] * t.weight * boost * paper.prior, s.matched[i]);
        }
    }

    /// The facet multiplier, or `None` when a filter or the announce type rules the paper out.
    fn facets(&self, t: &CompiledTopic, entries: &[Entry], paper: &IndexedPaper) -> Option<f32> {
        if t.revisions == Revisions::OnlyNew
            && matches!(
                paper.announce,
                Some(AnnounceType::Replace | AnnounceType::ReplaceCross)
            )
        {
            return None;
        }
        let mut boost = 1.0;
        let mut in_category = !t.has_category_filter;
        let mut in_venue = !t.has_venue_filter;
        for e in entries {
            match e.kind {
                Kind::Category { boost: b } if paper.categories.contains(&e.id) => {
                    if b {
                        boost *= FACET_BOOST;
                    } else {
                        in_category = true;
                    }
                }
                Kind::Venue { boost: b } if paper.venue == e.id => {
                    if b {
                        boost *= FACET_BOOST;
                    } else {
                        in_venue = true;
                    }
                }
                _ => {}
            }
        }
        (in_category && in_venue).then_some(boost)
    }

    fn has_term(paper: &IndexedPaper, id: TermId) -> Option<f32> {
        paper
            .terms
            .binary_search_by_key(&id, |&(t, _)| t)
            .ok()
            .map(|i| paper.terms[i].1)
    }

    /// One topic of a radar against one paper, without the index's posting
    /// lists: what `explain` prints, and the reference the index must agree with.
    pub fn evaluate(&self, radar: RadarId, topic: usize, paper: usize) -> Evaluation {
        let id = self.topics_of(radar)[topic];
        let t = self.topics[id as usize];
        let entries = self.entries_of(id);
        let p = &self.papers[paper];
        let mut score = 0.0;
        let mut mask = 0u64;
        let mut author = false;
        let mut rejected = None;
        for e in entries {
            let Some(w) = Self::has_term(p, e.id) else {
                continue;
            };
            match e.kind {
                Kind::Include => {
                    score += w;
                    mask |= 1 << e.group;
                }
                Kind::Expansion => {
                    score += w * EXPANSION_WEIGHT;
                    mask |= 1 << e.group;
                }
                Kind::Author | Kind::Example => {
                    score += w;
                    author = true;
                }
                Kind::Exclude => rejected = rejected.or(Some(Rejection::Excluded(e.pos))),
                _ => {}
            }
        }
        if !(author || (t.groups > 0 && mask == full_mask(t.groups))) {
            let missing = (0..t.groups).find(|g| mask & (1 << g) == 0).unwrap_or(0);
            rejected = rejected.or(Some(Rejection::MissingGroup(missing)));
        }
        let boost = self.facets(&t, entries, p);
        if boost.is_none() {
            let replacement = t.revisions == Revisions::OnlyNew
                && matches!(
                    p.announce,
                    Some(AnnounceType::Replace | AnnounceType::ReplaceCross)
                );
            rejected = rejected.or(Some(if replacement {
                Rejection::Replacement
            } else if t.has_category_filter
                && !entries.iter().any(|e| {
                    e.kind == Kind::Category { boost: false } && p.categories.contains(&e.id)
                })
            {
                Rejection::OutsideCategories
            } else {
                Rejection::OutsideVenues
            }));
        }
        let boost = boost.unwrap_or(1.0);
        let matched = entries
            .iter()
            .filter_map(|e| {
                let w = Self::has_term(p, e.id)?;
                match e.kind {
                    Kind::Include => Some((Why::Term(e.pos), w)),
                    Kind::Expansion => Some((Why::Expansion(e.pos), w * EXPANSION_WEIGHT)),
                    Kind::Author => Some((Why::Author(e.pos), w)),
                    Kind::Example => Some((Why::Example(e.pos), w)),
                    _ => None,
                }
            })
            .collect();
        Evaluation {
            score: rejected
                .is_none()
                .then_some(score * t.weight * boost * p.prior),
            matched,
            rejected,
            prior: p.prior,
            boost,
        }
    }

    /// A paper's likeness to the liked and disliked papers, and the factor
    /// feedback multiplies its topic scores by.
    pub fn feedback(&self, profile: &Profile, paper: usize) -> (f32, f32, f32) {
        let vector = &self.papers[paper].vector;
        let (like, unlike) = profile.similarity(vector);
        (like, unlike, profile.factor(vector))
    }

    /// The index of the paper with this id, if it is among the day's papers.
    pub fn position(&self, paper_id: i64) -> Option<usize> {
        self.papers.iter().position(|p| p.id == paper_id)
    }

    /// Papers like the liked ones that no topic picked, never ones a topic excludes.
    fn similar(
        &self,
        profile: &Profile,
        topics: &[u32],
        picked: &[TopicPicks],
        options: &MatchOptions<'_>,
    ) -> Vec<Hit> {
        let taken: HashSet<usize> = picked
            .iter()
            .flat_map(|t| t.hits.iter().map(|h| h.paper))
            .collect();
        let mut dots: HashMap<u32, f32> = HashMap::new();
        for &(s, w) in profile.liked.iter().take(PROFILE_TERMS) {
            if let Some(list) = self.stem_postings.get(s as usize) {
                for &(p, pw) in list {
                    *dots.entry(p).or_default() += w * pw;
                }
            }
        }
        let mut hits: Vec<Hit> = dots
            .into_iter()
            .filter(|&(p, _)| !taken.contains(&(p as usize)))
            .filter_map(|(p, _)| {
                let paper = &self.papers[p as usize];
                let (like, unlike) = profile.similarity(&paper.vector);
                (like >= SIMILAR_THRESHOLD && like > unlike).then_some((p, like - unlike))
            })
            .filter(|&(p, _)| {
                let paper = &self.papers[p as usize];
                !options.already_sent.is_some_and(|s| s.contains(paper.id))
                    && !topics.iter().any(|&t| {
                        self.entries_of(t).iter().any(|e| {
                            e.kind == Kind::Exclude && Self::has_term(paper, e.id).is_some()
                        })
                    })
            })
            .map(|(p, score)| Hit {
                paper: p as usize,
                score: score * self.papers[p as usize].prior,
                matched: Matched::default(),
            })
            .collect();
        sort_hits(&mut hits, &self.papers);
        hits.truncate(SIMILAR_MAX.min(options.max_per_topic));
        hits
    }

    /// Any paper's L2-normalised TF-IDF vector over today's stems (title
    /// words count double), comparable with today's papers' vectors.
    fn vector_of(&self, paper: &Paper) -> Vec<(u32, f32)> {
        let mut tf: HashMap<u32, f32> = HashMap::new();
        let title = text::tokens(&paper.title).stems;
        let abs = text::tokens(&paper.abstract_text).stems;
        for (stream, weight) in [(&title, TITLE_WEIGHT), (&abs, 1.0)] {
            for s in stream {
                // Words no paper today has cannot make today's papers
                // similar (the stems of radars' terms are known too,
                // without a document frequency).
                if let Some(id) = self
                    .stems
                    .get(s)
                    .filter(|&id| self.stem_df.get(id as usize).is_some_and(|&df| df > 0))
                {
                    *tf.entry(id).or_default() += weight;
                }
            }
        }
        let n = self.papers.len() as f32;
        let mut v: Vec<(u32, f32)> = tf
            .into_iter()
            .map(|(s, tf)| (s, (1.0 + tf.ln()) * idf(n, self.stem_df[s as usize] as f32)))
            .collect();
        normalise(&mut v);
        v
    }

    /// Each example's postings: today's papers at least [`LIKE_THRESHOLD`]
    /// similar to it (not the example itself), weighted by similarity.
    fn add_example_postings(&mut self, ids: &HashMap<String, TermId>, examples: &Examples) {
        for (reference, &id) in ids {
            let Some((own_id, paper)) = examples.get(reference) else {
                continue;
            };
            let vector = self.vector_of(paper);
            let mut dots: HashMap<u32, f32> = HashMap::new();
            for &(s, w) in &vector {
                for &(p, pw) in &self.stem_postings[s as usize] {
                    *dots.entry(p).or_default() += w * pw;
                }
            }
            let mut list: Vec<(u32, f32)> = dots
                .into_iter()
                .filter(|&(p, sim)| sim >= LIKE_THRESHOLD && self.papers[p as usize].id != *own_id)
                .map(|(p, sim)| (p, LIKE_SCORE * sim))
                .collect();
            list.sort_unstable_by_key(|&(p, _)| p);
            for &(p, w) in &list {
                let terms = &mut self.papers[p as usize].terms;
                let at = terms.partition_point(|&(t, _)| t < id);
                terms.insert(at, (id, w));
            }
            self.postings[id as usize] = list;
        }
    }

    /// A profile from the texts of papers the subscriber liked and disliked
    /// (any day's), weighted by today's word frequencies.
    pub fn profile<'p>(
        &self,
        liked: impl IntoIterator<Item = &'p Paper>,
        disliked: impl IntoIterator<Item = &'p Paper>,
    ) -> Profile {
        let centroid = |papers: Vec<&Paper>| -> Vec<(u32, f32)> {
            let mut sum: HashMap<u32, f32> = HashMap::new();
            for paper in &papers {
                for (s, w) in self.vector_of(paper) {
                    *sum.entry(s).or_default() += w;
                }
            }
            let mut v: Vec<(u32, f32)> = sum.into_iter().collect();
            normalise(&mut v);
            v.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            v
        };
        let liked = centroid(liked.into_iter().collect());
        Profile {
            liked_weights: liked.iter().copied().collect(),
            liked,
            disliked_weights: centroid(disliked.into_iter().collect())
                .into_iter()
                .collect(),
        }
    }
}

impl Profile {
    /// Cosine similarity of a paper vector to the liked and disliked centroids.
    fn similarity(&self, vector: &[(u32, f32)]) -> (f32, f32) {
        let dot = |weights: &HashMap<u32, f32>| -> f32 {
            vector
                .iter()
                .filter_map(|(s, w)| weights.get(s).map(|c| c * w))
                .sum()
        };
        (dot(&self.liked_weights), dot(&self.disliked_weights))
    }

    /// What feedback multiplies a topic score by.
    fn factor(&self, vector: &[(u32, f32)]) -> f32 {
        let (like, unlike) = self.similarity(vector);
        (1.0 + FEEDBACK_STRENGTH * (like - unlike)).max(0.1)
    }
}

fn full_mask(groups: u8) -> u64 {
    if groups >= 64 {
        u64::MAX
    } else {
        (1u64 << groups) - 1
    }
}

/// Best first; ties by paper id so results do not depend on hash order.
fn sort_hits(hits: &mut [Hit], papers: &[IndexedPaper]) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(papers[a.paper].id.cmp(&papers[b.paper].id))
    });
}
