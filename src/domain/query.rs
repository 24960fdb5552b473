//! A topic's query: what a researcher types to say what they want to read.
//!
//! The text form is small enough to learn from one example:
//!
//! ```text
//! "conformal prediction" OR "uncertainty quantification" -medical cat:stat.ML author:"Angelopoulos"
//! ```
//!
//! | form | meaning |
//! |---|---|
//! | `word`, `"a phrase"` | must appear (in any form: plurals, hyphens, abbreviations) |
//! | `a OR b OR "c d"`, `(a OR b)` | any one of them; groups side by side must all appear |
//! | `=word`, `="a phrase"` | exactly these words: no stemming, no abbreviation |
//! | `-word`, `-"a phrase"` | a paper mentioning it is never shown for this topic |
//! | `cat:cs.LG`, `venue:Nature` | only papers in one of these categories / venues |
//! | `~cat:cs.LG`, `~venue:"Nature Physics"` | papers there rank higher |
//! | `author:"Ada Lovelace"` | every paper by this author, whatever its words |
//! | `weight:2` | this topic counts twice (0.1 to 5) |
//! | `only:new` | no revised versions (`replace`), only papers announced as new |
//! | `with:updates` | a new version of a paper already sent is sent again |
//! | `-also:CIR`, `-also:"whole slide image"` | do not also match this learned expansion |
//! | `like:2604.12345`, `like:10.1038/s41586-024-07566-y` | papers like this one (arXiv id or DOI) |
//!
//! A revised version of a paper the reader was never sent is news to them,
//! so by default a topic shows it (ranked a little lower, labelled
//! "Revised"); `only:new` and `with:updates` move that line either way.
//!
//! A plain comma-separated list with none of these signs, `GNN, graph neural
//! network`, means what it always meant: any one of these phrases.
//!
//! The query is kept as the words were typed; what they match (stemming,
//! case, LaTeX) is the radar's business. [`Query`]'s `Display` is the
//! canonical text form, and parsing it gives the same query back.

use std::fmt;

/// Words nearly every abstract has: function words and the vocabulary of
/// papers about anything.
const COMMON_WORDS: [&str; 40] = [
    "a",
    "an",
    "the",
    "and",
    "or",
    "not",
    "of",
    "for",
    "in",
    "on",
    "to",
    "with",
    "by",
    "from",
    "at",
    "as",
    "is",
    "are",
    "be",
    "this",
    "that",
    "these",
    "we",
    "our",
    "it",
    "its",
    "via",
    "paper",
    "papers",
    "study",
    "studies",
    "method",
    "methods",
    "approach",
    "approaches",
    "new",
    "novel",
    "using",
    "based",
    "results",
];

/// One word or phrase of a query, as typed (whitespace collapsed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    text: String,
    exact: bool,
}

impl Term {
    pub fn text(&self) -> &str {
        &self.text
    }
    /// Matched word for word, without stemming or abbreviations.
    pub fn is_exact(&self) -> bool {
        self.exact
    }
}

/// A category or venue named by a query: a filter, or only a preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Facet {
    value: String,
    boost: bool,
}

impl Facet {
    pub fn value(&self) -> &str {
        &self.value
    }
    /// `~cat:`: ranks papers there higher instead of leaving others out.
    pub fn is_boost(&self) -> bool {
        self.boost
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Query {
    /// All of these groups must match; each group matches when any of its terms does.
    groups: Vec<Vec<Term>>,
    exclusions: Vec<Term>,
    categories: Vec<Facet>,
    venues: Vec<Facet>,
    authors: Vec<String>,
    /// In hundredths: 100 is the default weight of 1.
    weight_percent: u16,
    revisions: Revisions,
    /// Learned expansions ([`super::Glossary::expansions`]) the reader
    /// turned off, as typed after `-also:`.
    dropped: Vec<String>,
    /// Example papers (`like:`): an arXiv id without version, or a DOI in
    /// lower case.
    examples: Vec<String>,
    /// A 128-bit hash of everything above, computed once: the radar index
    /// meets the same query in many radars and knows it by this alone (two
    /// different queries share one with odds of about 2^-128 per pair).
    fingerprint: u128,
}

/// Which revised versions of papers (arXiv `replace`, `replace-cross`) a
/// topic shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Revisions {
    /// None: only papers announced as new (`only:new`).
    OnlyNew,
    /// Those of papers the reader has never been sent (the default).
    #[default]
    Unsent,
    /// Those too, and a new version of a paper already sent (`with:updates`).
    Updates,
}

/// Where a query stops making sense, and why. `at` counts characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{location}")]
pub struct QueryError {
    pub at: usize,
    pub message: String,
    /// ` (at character 3: "…")`, or nothing when there was no text.
    location: String,
}

impl QueryError {
    fn new(input: &str, at_char: usize, message: impl Into<String>) -> Self {
        let excerpt: String = input.chars().skip(at_char).take(20).collect();
        let location = match (input.trim().is_empty(), excerpt.is_empty()) {
            (true, _) => String::new(),
            (false, true) => format!(" (at character {}: the end)", at_char + 1),
            (false, false) => format!(" (at character {}: {excerpt:?})", at_char + 1),
        };
        Self {
            at: at_char + 1,
            message: message.into(),
            location,
        }
    }
}

impl Query {
    /// Characters in the whole text form.
    pub const MAX_CHARS: usize = 1000;
    /// Terms, exclusions, categories, venues and authors in one query.
    pub const MAX_TERMS: usize = 50;
    /// Characters in one term.
    pub const MAX_TERM_CHARS: usize = 120;

    /// The old shape of a topic: any one of `keywords` (each a phrase), in
    /// one of `categories` if any, never mentioning an exclusion.
    pub fn any_of(
        keywords: impl IntoIterator<Item = impl AsRef<str>>,
        categories: impl IntoIterator<Item = impl AsRef<str>>,
        exclusions: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, QueryError> {
        let phrases = |list: Vec<String>| -> Vec<Term> {
            list.into_iter()
                .map(|text| Term { text, exact: false })
                .collect()
        };
        let keywords = phrases(comma_list(keywords));
        let query = Self {
            groups: if keywords.is_empty() {
                vec![]
            } else {
                vec![keywords]
            },
            exclusions: phrases(comma_list(exclusions)),
            categories: comma_list(categories)
                .into_iter()
                .map(|value| Facet {
                    value,
                    boost: false,
                })
                .collect(),
            venues: vec![],
            authors: vec![],
            weight_percent: 100,
            revisions: Revisions::default(),
            dropped: vec![],
            examples: vec![],
            fingerprint: 0,
        };
        let text = query.to_string();
        query.validate(&text)
    }

    pub fn parse(input: &str) -> Result<Self, QueryError> {
        let chars: Vec<char> = input.chars().collect();
        if chars.len() > Self::MAX_CHARS {
            return Err(QueryError::new(
                input,
                Self::MAX_CHARS,
                format!("a query may have at most {} characters", Self::MAX_CHARS),
            ));
        }
        if is_comma_list(input) {
            return Self::any_of([input], [""; 0], [""; 0]);
        }
        Parser {
            input,
            chars,
            pos: 0,
            query: Self::empty(),
        }
        .parse()?
        .validate(input)
    }

    fn empty() -> Self {
        Self {
            groups: vec![],
            exclusions: vec![],
            categories: vec![],
            venues: vec![],
            authors: vec![],
            weight_percent: 100,
            revisions: Revisions::default(),
            dropped: vec![],
            examples: vec![],
            fingerprint: 0,
        }
    }

    fn validate(self, input: &str) -> Result<Self, QueryError> {
        let end = input.chars().count();
        if self.groups.is_empty() && self.authors.is_empty() && self.examples.is_empty() {
            return Err(QueryError::new(
                input,
                end,
                "a topic needs at least one word, phrase, author:\"…\" or like:… to look for",
            ));
        }
        let count = self.groups.iter().map(Vec::len).sum::<usize>()
            + self.exclusions.len()
            + self.categories.len()
            + self.venues.len()
            + self.authors.len()
            + self.dropped.len()
            + self.examples.len();
        if count > Self::MAX_TERMS {
            return Err(QueryError::new(
                input,
                end,
                format!(
                    "a topic may have at most {} terms, filters and authors; this one has {count}",
                    Self::MAX_TERMS
                ),
            ));
        }
        let texts = self
            .groups
            .iter()
            .flatten()
            .chain(&self.exclusions)
            .map(|t| t.text.as_str());
        let values = self
            .categories
            .iter()
            .chain(&self.venues)
            .map(|f| f.value.as_str());
        if let Some(long) = texts
            .chain(values)
            .chain(self.authors.iter().map(String::as_str))
            .chain(self.dropped.iter().map(String::as_str))
            .find(|t| t.chars().count() > Self::MAX_TERM_CHARS)
        {
            return Err(QueryError::new(
                input,
                position_of(input, long),
                format!(
                    "a term may have at most {} characters",
                    Self::MAX_TERM_CHARS
                ),
            ));
        }
        if let Some(bad) = self.categories.iter().find(|c| !is_category(&c.value)) {
            return Err(QueryError::new(
                input,
                position_of(input, &bad.value),
                format!(
                    "{:?} is not an arXiv category (expected e.g. cs.LG, math.GT, hep-th)",
                    bad.value
                ),
            ));
        }
        Ok(self.sealed())
    }

    /// The query with its fingerprint set.
    fn sealed(mut self) -> Self {
        use std::hash::{Hash, Hasher};
        let content = (
            &self.groups,
            &self.exclusions,
            &self.categories,
            &self.venues,
            &self.authors,
            self.weight_percent,
            self.revisions,
            &self.dropped,
            &self.examples,
        );
        // Two independent 64-bit halves: the same content under two seeds.
        let half = |seed: u8| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            seed.hash(&mut h);
            content.hash(&mut h);
            h.finish()
        };
        self.fingerprint = (u128::from(half(1)) << 64) | u128::from(half(2));
        self
    }

    /// The first group of terms made only of words nearly every abstract
    /// has (`the`, `of`, `method`): such a group matches almost anything,
    /// so a reader typing it is told instead.
    pub fn common_words_only(&self) -> Option<String> {
        let common = |term: &Term| {
            term.text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .all(|w| COMMON_WORDS.contains(&w.to_lowercase().as_str()))
        };
        self.groups
            .iter()
            .find(|group| group.iter().all(common))
            .map(|group| {
                group
                    .iter()
                    .map(|t| t.text.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
    }

    /// A hash of the query, the same for equal queries.
    pub fn fingerprint(&self) -> u128 {
        self.fingerprint
    }

    pub fn groups(&self) -> &[Vec<Term>] {
        &self.groups
    }
    pub fn exclusions(&self) -> &[Term] {
        &self.exclusions
    }
    pub fn categories(&self) -> &[Facet] {
        &self.categories
    }
    pub fn venues(&self) -> &[Facet] {
        &self.venues
    }
    pub fn authors(&self) -> &[String] {
        &self.authors
    }
    pub fn weight(&self) -> f32 {
        f32::from(self.weight_percent) / 100.0
    }
    /// Which revised versions of papers the topic shows.
    pub fn revisions(&self) -> Revisions {
        self.revisions
    }
    /// What an LLM is asked to suggest expansions for, and the key they are
    /// kept under: the words of a one-group query, lower case, in order
    /// (`None` for a query of several groups or none, which the reader made
    /// precise on purpose). Other changes (filters, `-also:`) keep the key.
    pub fn words_key(&self) -> Option<String> {
        let [group] = self.groups.as_slice() else {
            return None;
        };
        Some(
            group
                .iter()
                .map(|t| t.text.to_lowercase())
                .collect::<Vec<_>>()
                .join(" OR "),
        )
    }

    /// The learned expansions this topic does not use (`-also:`).
    pub fn dropped_expansions(&self) -> &[String] {
        &self.dropped
    }

    /// The example papers new papers should resemble (`like:`), each an
    /// arXiv id (no version) or a DOI.
    pub fn examples(&self) -> &[String] {
        &self.examples
    }

    /// The same query with one more learned expansion turned off.
    pub fn without_expansion(&self, expansion: &str) -> Result<Self, QueryError> {
        let mut query = self.clone();
        let expansion = expansion.split_whitespace().collect::<Vec<_>>().join(" ");
        if !query.dropped.contains(&expansion) {
            query.dropped.push(expansion);
        }
        let text = query.to_string();
        query.validate(&text)
    }
}

/// An example paper as `like:` keeps it: an arXiv id without its version
/// (`arXiv:` prefix allowed), or a DOI in lower case.
fn example_reference(value: &str) -> Option<String> {
    match super::PaperKey::from_reference(value)? {
        super::PaperKey::Arxiv(id) => Some(id.to_string()),
        super::PaperKey::Doi(doi) => Some(doi),
        super::PaperKey::Url(_) => None,
    }
}

/// Nothing but words and commas: the old keyword list.
fn is_comma_list(input: &str) -> bool {
    input.contains([',', '，'])
        && !input.contains(['"', '(', ')', ':', '~', '='])
        && !input
            .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
            .any(|w| w == "OR" || w.starts_with('-'))
}

fn comma_list(terms: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in terms {
        for part in term.as_ref().split([',', '，']) {
            let part = part
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace('"', "");
            if !part.is_empty() && !out.iter().any(|t| t.eq_ignore_ascii_case(&part)) {
                out.push(part);
            }
        }
    }
    out
}

fn position_of(input: &str, needle: &str) -> usize {
    input
        .find(needle)
        .map_or(0, |byte| input[..byte].chars().count())
}

/// arXiv category names: `cs.LG`, `stat.ML`, `hep-th`, `q-bio.GN`, `quant-ph`.
fn is_category(s: &str) -> bool {
    let (archive, subject) = s.split_once('.').unwrap_or((s, ""));
    !archive.is_empty()
        && archive.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && subject.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
}

struct Parser<'a> {
    input: &'a str,
    chars: Vec<char>,
    pos: usize,
    query: Query,
}

/// Characters that end a bare word.
fn is_break(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

impl Parser<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> QueryError {
        QueryError::new(self.input, at, message)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn rest_starts_with(&self, prefix: &str) -> bool {
        let mut it = self.chars[self.pos..].iter();
        prefix.chars().all(|p| it.next() == Some(&p))
    }

    /// `OR` as a word of its own (also `|`).
    fn at_or(&self) -> bool {
        if self.peek() == Some('|') {
            return true;
        }
        self.rest_starts_with("OR")
            && self
                .chars
                .get(self.pos + 2)
                .is_none_or(|&c| c.is_whitespace() || c == '(' || c == '"' || c == '=')
    }

    fn skip_or(&mut self) {
        self.pos += if self.peek() == Some('|') { 1 } else { 2 };
    }

    fn parse(mut self) -> Result<Query, QueryError> {
        loop {
            self.skip_space();
            let Some(c) = self.peek() else { break };
            let start = self.pos;
            if self.at_or() {
                return Err(self.error(start, "OR needs a word or phrase on each side"));
            }
            match c {
                ')' => return Err(self.error(start, "this ) closes nothing")),
                '-' => {
                    self.pos += 1;
                    if self.peek().is_none_or(char::is_whitespace) {
                        return Err(self.error(
                            start,
                            "- must be followed by the word to leave out, e.g. -medical",
                        ));
                    }
                    if self.field_name() == Some("also") {
                        let value_at = self.pos + "also:".len();
                        self.pos = value_at;
                        let value = self.value()?;
                        if value.is_empty() {
                            return Err(self.error(
                                value_at,
                                "-also: needs the expansion to turn off, e.g. -also:CAD",
                            ));
                        }
                        self.query.dropped.push(value);
                        continue;
                    }
                    if self.field_name().is_some() {
                        return Err(self.error(
                            start,
                            "only words and phrases can be left out; use cat: to keep to categories",
                        ));
                    }
                    let term = self.term()?;
                    self.query.exclusions.push(term);
                }
                '~' => {
                    self.pos += 1;
                    match self.field_name() {
                        Some(field @ ("cat" | "venue")) => self.field(field, true)?,
                        _ => {
                            return Err(self.error(
                                start,
                                "~ prefers a category or venue: ~cat:cs.LG or ~venue:Nature",
                            ));
                        }
                    }
                }
                _ => {
                    if let Some(field) = self.field_name() {
                        self.field(field, false)?;
                    } else {
                        let group = self.group()?;
                        self.query.groups.push(group);
                    }
                }
            }
        }
        Ok(self.query)
    }

    /// A known `name:` at the cursor.
    fn field_name(&self) -> Option<&'static str> {
        [
            "cat", "venue", "author", "weight", "with", "only", "also", "like",
        ]
        .into_iter()
        .find(|f| self.rest_starts_with(f) && self.chars.get(self.pos + f.len()) == Some(&':'))
    }

    fn field(&mut self, field: &'static str, boost: bool) -> Result<(), QueryError> {
        let start = self.pos;
        self.pos += field.len() + 1;
        let value_at = self.pos;
        let value = self.value()?;
        if value.is_empty() {
            return Err(self.error(
                value_at,
                format!("{field}: needs a value right after the colon"),
            ));
        }
        match field {
            "cat" => self.query.categories.push(Facet { value, boost }),
            "venue" => self.query.venues.push(Facet { value, boost }),
            "author" => self.query.authors.push(value),
            "weight" => {
                let weight: f32 = value
                    .parse()
                    .ok()
                    .filter(|w: &f32| (0.1..=5.0).contains(w))
                    .ok_or_else(|| self.error(value_at, "weight: takes a number from 0.1 to 5"))?;
                self.query.weight_percent = (weight * 100.0).round() as u16;
            }
            "with" | "only" => {
                let revisions = match (field, value.as_str()) {
                    ("with", "updates") => Revisions::Updates,
                    ("only", "new") => Revisions::OnlyNew,
                    ("with", _) => {
                        return Err(self.error(
                            start,
                            "the only with: is with:updates (send a paper again when it is revised)",
                        ));
                    }
                    _ => {
                        return Err(
                            self.error(start, "the only only: is only:new (no revised versions)")
                        );
                    }
                };
                if self.query.revisions != Revisions::default() && self.query.revisions != revisions
                {
                    return Err(self.error(
                        start,
                        "with:updates and only:new contradict each other: keep one",
                    ));
                }
                self.query.revisions = revisions;
            }
            "like" => {
                let example = example_reference(&value).ok_or_else(|| {
                    self.error(
                        value_at,
                        "like: takes an arXiv id (like:2604.12345) or a DOI (like:10.1038/…)",
                    )
                })?;
                if !self.query.examples.contains(&example) {
                    self.query.examples.push(example);
                }
            }
            "also" => {
                return Err(self.error(
                    start,
                    "expansions are learned, not typed: type the word itself, or -also:\"…\" to turn one off",
                ));
            }
            _ => unreachable!("field_name() only returns known fields"),
        }
        Ok(())
    }

    /// A field's value: a quoted string or a bare word.
    fn value(&mut self) -> Result<String, QueryError> {
        if self.peek() == Some('"') {
            self.quoted()
        } else {
            Ok(self.bare_word())
        }
    }

    fn bare_word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| !is_break(c)) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn quoted(&mut self) -> Result<String, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        while self.peek().is_some_and(|c| c != '"') {
            self.pos += 1;
        }
        if self.peek().is_none() {
            return Err(self.error(open, "this quote is never closed"));
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        self.pos += 1;
        Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// `=`? then a word or a quoted phrase.
    fn term(&mut self) -> Result<Term, QueryError> {
        let start = self.pos;
        let exact = self.peek() == Some('=');
        if exact {
            self.pos += 1;
        }
        let text = match self.peek() {
            Some('"') => self.quoted()?,
            Some('(') => {
                return Err(self.error(self.pos, "parentheses hold alternatives: (a OR b)"));
            }
            _ => self.bare_word(),
        };
        if text.is_empty() {
            return Err(self.error(start, "expected a word or a \"quoted phrase\" here"));
        }
        Ok(Term { text, exact })
    }

    /// `a OR b OR c`, or the same in parentheses.
    fn group(&mut self) -> Result<Vec<Term>, QueryError> {
        let open = (self.peek() == Some('(')).then_some(self.pos);
        if open.is_some() {
            self.pos += 1;
            self.skip_space();
        }
        let mut group = vec![self.term()?];
        loop {
            let before = self.pos;
            self.skip_space();
            if self.at_or() {
                self.skip_or();
                self.skip_space();
                if self.peek().is_none() || self.peek() == Some(')') {
                    return Err(self.error(before, "OR needs a word or phrase on each side"));
                }
                group.push(self.term()?);
                continue;
            }
            match (open, self.peek()) {
                (Some(_), Some(')')) => {
                    self.pos += 1;
                    break;
                }
                (Some(open), None) => {
                    return Err(self.error(open, "this ( is never closed"));
                }
                (Some(_), Some(_)) => {
                    return Err(self.error(
                        self.pos,
                        "inside parentheses, join alternatives with OR: (a OR b)",
                    ));
                }
                (None, _) => {
                    self.pos = before;
                    break;
                }
            }
        }
        let mut seen: Vec<Term> = Vec::new();
        for term in group {
            if !seen
                .iter()
                .any(|t| t.exact == term.exact && t.text.eq_ignore_ascii_case(&term.text))
            {
                seen.push(term);
            }
        }
        Ok(seen)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exact {
            f.write_str("=")?;
        }
        write_value(f, &self.text)
    }
}

/// A bare word when it reads back as one, otherwise quoted.
fn write_value(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let bare = !text.is_empty()
        && !text.chars().any(is_break)
        && !text.starts_with(['-', '~', '=', '|'])
        && text != "OR"
        && !text.contains(':')
        && !text.contains([',', '，']);
    if bare {
        f.write_str(text)
    } else {
        write!(f, "\"{text}\"")
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if !std::mem::take(&mut first) {
                f.write_str(" ")?;
            }
            Ok(())
        };
        let parens = self.groups.len() > 1;
        for group in &self.groups {
            sep(f)?;
            let wrap = parens && group.len() > 1;
            if wrap {
                f.write_str("(")?;
            }
            for (i, term) in group.iter().enumerate() {
                if i > 0 {
                    f.write_str(" OR ")?;
                }
                write!(f, "{term}")?;
            }
            if wrap {
                f.write_str(")")?;
            }
        }
        for term in &self.exclusions {
            sep(f)?;
            write!(f, "-{term}")?;
        }
        for (field, facets) in [("cat", &self.categories), ("venue", &self.venues)] {
            for facet in facets {
                sep(f)?;
                if facet.boost {
                    f.write_str("~")?;
                }
                write!(f, "{field}:")?;
                write_value(f, &facet.value)?;
            }
        }
        for author in &self.authors {
            sep(f)?;
            f.write_str("author:")?;
            write_value(f, author)?;
        }
        if self.weight_percent != 100 {
            sep(f)?;
            write!(f, "weight:{}", self.weight())?;
        }
        match self.revisions {
            Revisions::OnlyNew => {
                sep(f)?;
                f.write_str("only:new")?;
            }
            Revisions::Unsent => {}
            Revisions::Updates => {
                sep(f)?;
                f.write_str("with:updates")?;
            }
        }
        for dropped in &self.dropped {
            sep(f)?;
            f.write_str("-also:")?;
            write_value(f, dropped)?;
        }
        for example in &self.examples {
            sep(f)?;
            f.write_str("like:")?;
            write_value(f, example)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Query {
        Query::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn texts(terms: &[Term]) -> Vec<&str> {
        terms.iter().map(Term::text).collect()
    }

    #[test]
    fn the_example_from_the_docs_parses_into_its_parts() {
        let q = parse(
            r#""conformal prediction" OR "uncertainty quantification" -medical cat:stat.ML author:"Angelopoulos""#,
        );
        assert_eq!(q.groups().len(), 1);
        assert_eq!(
            texts(&q.groups()[0]),
            ["conformal prediction", "uncertainty quantification"]
        );
        assert_eq!(texts(q.exclusions()), ["medical"]);
        assert_eq!(q.categories()[0].value(), "stat.ML");
        assert!(!q.categories()[0].is_boost());
        assert_eq!(q.authors(), ["Angelopoulos"]);
        assert_eq!(q.weight(), 1.0);
    }

    #[test]
    fn groups_side_by_side_must_all_match_and_or_binds_tighter() {
        let q =
            parse(r#"(diffusion OR "score-based") =protein ~cat:q-bio.BM weight:1.5 with:updates"#);
        assert_eq!(q.groups().len(), 2);
        assert_eq!(texts(&q.groups()[0]), ["diffusion", "score-based"]);
        assert!(q.groups()[1][0].is_exact());
        assert!(q.categories()[0].is_boost());
        assert_eq!(q.weight(), 1.5);
        assert_eq!(q.revisions(), Revisions::Updates);
        assert_eq!(parse("x").revisions(), Revisions::Unsent);
        assert_eq!(parse("x only:new").revisions(), Revisions::OnlyNew);
        let q = parse(r#"CAD -also:"computer aided diagnosis" -also:WSI"#);
        assert_eq!(q.dropped_expansions(), ["computer aided diagnosis", "WSI"]);
        assert_eq!(
            q.to_string(),
            r#"CAD -also:"computer aided diagnosis" -also:WSI"#
        );
        let q = parse("like:arXiv:2604.12345v2 like:https://doi.org/10.1038/S41586-024-07566-Y");
        assert_eq!(q.examples(), ["2604.12345", "10.1038/s41586-024-07566-y"]);
        assert_eq!(
            q.to_string(),
            "like:2604.12345 like:10.1038/s41586-024-07566-y"
        );
        assert_eq!(
            parse("CAD")
                .without_expansion("computer  aided design")
                .unwrap(),
            parse(r#"CAD -also:"computer aided design""#)
        );
        let q = parse("a OR b c | d");
        assert_eq!(q.groups().len(), 2);
        assert_eq!(texts(&q.groups()[1]), ["c", "d"]);
    }

    #[test]
    fn a_comma_list_is_the_old_any_of_phrases() {
        let q = parse("GNN, graph neural network ,  message passing");
        assert_eq!(
            q,
            Query::any_of(
                ["GNN", "graph neural network", "message passing"],
                [""; 0],
                [""; 0]
            )
            .unwrap()
        );
        assert_eq!(
            q.to_string(),
            r#"GNN OR "graph neural network" OR "message passing""#
        );
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        let cases = [
            (r#"a "open phrase"#, 3, "never closed"),
            ("(a OR b", 1, "never closed"),
            ("(a b)", 4, "join alternatives with OR"),
            ("a OR", 2, "each side"),
            ("OR a", 1, "each side"),
            ("a ) b", 3, "closes nothing"),
            ("x cat:CS LG", 7, "not an arXiv category"),
            ("x weight:9", 10, "0.1 to 5"),
            ("x with:everything", 3, "with:updates"),
            ("x only:old", 3, "only:new"),
            ("x only:new with:updates", 12, "contradict"),
            ("x also:CAD", 3, "learned, not typed"),
            ("x like:nonsense", 8, "like: takes an arXiv id"),
            ("x -also:", 9, "-also: needs"),
            ("x - y", 3, "followed by the word"),
            ("x -cat:cs.LG", 3, "only words and phrases"),
            ("-medical", 9, "at least one word"),
            ("x ~author:Bob", 3, "prefers a category"),
            ("x cat:", 7, "needs a value"),
        ];
        for (input, at, message) in cases {
            let err = Query::parse(input).expect_err(input);
            assert_eq!(err.at, at, "{input:?}: {err}");
            assert!(err.message.contains(message), "{input:?}: {err}");
        }
    }

    #[test]
    fn one_query_cannot_grow_without_bound() {
        let many = (0..=Query::MAX_TERMS)
            .map(|n| format!("k{n}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        assert!(
            Query::parse(&many)
                .unwrap_err()
                .message
                .contains("at most 50")
        );
        let long = "w".repeat(Query::MAX_TERM_CHARS + 1);
        assert!(
            Query::parse(&long)
                .unwrap_err()
                .message
                .contains("at most 120")
        );
        let huge = "a ".repeat(Query::MAX_CHARS);
        assert!(Query::parse(&huge).is_err());
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{1,8}",
            "[a-z]{1,6} [a-z]{1,6}",
            "[A-Z]{2,4}",
            Just("self-supervised".to_owned()),
            Just("$\\mathcal{O}(n)$".to_owned()),
            Just("大语言模型".to_owned()),
            Just("or".to_owned()),
            Just("OR".to_owned()),
            Just("a:b".to_owned()),
        ]
    }

    fn term() -> impl Strategy<Value = Term> {
        (word(), any::<bool>()).prop_map(|(text, exact)| Term { text, exact })
    }

    fn facet() -> impl Strategy<Value = Facet> {
        (
            prop_oneof![Just("cs.LG"), Just("stat.ML"), Just("hep-th")],
            any::<bool>(),
        )
            .prop_map(|(v, boost)| Facet {
                value: v.to_owned(),
                boost,
            })
    }

    prop_compose! {
        fn query()(
            groups in prop::collection::vec(prop::collection::vec(term(), 1..4), 1..4),
            exclusions in prop::collection::vec(term(), 0..3),
            categories in prop::collection::vec(facet(), 0..3),
            venues in prop::collection::vec((word(), any::<bool>()), 0..2),
            authors in prop::collection::vec("[A-Z][a-z]{1,8}( [A-Z][a-z]{1,8})?", 0..2),
            weight_percent in prop_oneof![Just(100u16), 10u16..=500],
            revisions in prop_oneof![Just(Revisions::OnlyNew), Just(Revisions::Unsent), Just(Revisions::Updates)],
            dropped in prop::collection::vec(prop_oneof![Just("CAD".to_owned()), Just("whole slide image".to_owned()), word()], 0..2),
            examples in prop::collection::vec(prop_oneof![Just("2604.12345".to_owned()), Just("10.1038/s41586-024-07566-y".to_owned())], 0..2),
        ) -> Query {
            // What the parser would collapse: duplicate alternatives in a group.
            let groups = groups.into_iter().map(|g| {
                let mut seen: Vec<Term> = Vec::new();
                for t in g {
                    if !seen.iter().any(|s| s.exact == t.exact && s.text.eq_ignore_ascii_case(&t.text)) {
                        seen.push(t);
                    }
                }
                seen
            }).collect();
            Query {
                groups,
                exclusions,
                categories,
                venues: venues.into_iter().map(|(value, boost)| Facet { value, boost }).collect(),
                authors,
                weight_percent,
                revisions,
                dropped,
                examples: { let mut e = examples; e.dedup(); e },
                fingerprint: 0,
            }
            .sealed()
        }
    }

    proptest! {
        #[test]
        fn the_canonical_text_parses_back_to_the_same_query(q in query()) {
            let text = q.to_string();
            prop_assert_eq!(Query::parse(&text).map_err(|e| e.to_string()), Ok(q), "{}", text);
        }

        #[test]
        fn any_input_parses_or_fails_with_a_position_inside_it(s in "[a-z \"():~=|,-]{0,40}") {
            if let Err(e) = Query::parse(&s) {
                prop_assert!(e.at >= 1 && e.at <= s.chars().count() + 1, "{}: {}", s, e);
            }
        }
    }
}
