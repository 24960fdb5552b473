//! The radar: which of today's papers each subscriber's topics pick up,
//! ranked, with the reason for each.
//!
//! Pure and synchronous: papers, radars and feedback in; picks out. Nothing
//! here reads the database or the clock; the round gives it what it needs.
//!
//! - [`text`] spells papers and queries alike (Unicode, LaTeX, stemming,
//!   abbreviations), so "World Models" is found by "world model".
//! - [`index`] compiles a day's papers and every radar once per round, and
//!   matches a radar through posting lists: its cost follows the papers that
//!   mention its terms, not all papers. Matching is CPU work on rayon's pool.
//! - Scores are BM25 per term (title words count double), a bonus for
//!   phrases found as phrases, the topic's weight, preferred categories and
//!   venues, announce type (a revised version ranks a little lower; it
//!   shows unless the topic says `only:new`, and a new version of a paper
//!   already sent shows only when the topic says `with:updates`) and
//!   freshness.
//! - Expansions (acronyms learned from stored papers, the words of a field
//!   a keyword names, an LLM's suggestions) join the reader's words at
//!   [`index`]'s `EXPANSION_WEIGHT`; a field's word counts only where a
//!   paper leans on it (title, or twice in the abstract) and, for an
//!   acronym, writes it in capitals.
//! - Feedback ("more / less like this") becomes a [`Profile`]: the TF-IDF
//!   centroids of liked and disliked papers (Rocchio). It re-ranks every
//!   topic's picks and may add up to three papers like the liked ones that
//!   no topic picked; a topic's exclusions are never overridden.
//!
//! A paper goes under the topic that scores it highest, once per briefing.

pub mod index;
pub mod text;

pub use index::{
    Evaluation, Examples, Hit, MatchOptions, Matched, Profile, RadarId, RadarIndex, RadarsBuilder,
    Rejection, TopicPicks, Why,
};

use crate::domain::{Glossary, Query, Term, Topic, acronym_key};

/// The query terms in the order [`Why::Term`] counts them: each
/// group's alternatives, then exclusions.
fn terms_of(topic: &Topic) -> impl Iterator<Item = &Term> {
    let q = topic.query();
    q.groups().iter().flatten().chain(q.exclusions())
}

/// The words a reader sees after "matched:", as they typed them, the
/// learned expansions that matched (by the glossary the index was built
/// with), and "≈ “title”" for an example paper a paper resembles.
pub fn describe(
    topic: &Topic,
    glossary: &Glossary,
    examples: &Examples,
    matched: impl IntoIterator<Item = Why>,
) -> Vec<String> {
    let terms: Vec<&Term> = terms_of(topic).collect();
    let mut expansions = None;
    matched
        .into_iter()
        .filter_map(|m| match m {
            Why::Term(i) => terms.get(usize::from(i)).map(|t| t.text().to_owned()),
            Why::Expansion(i) => expansions
                .get_or_insert_with(|| glossary.expansions(topic.query()))
                .get(usize::from(i))
                .map(|e| e.text.clone()),
            Why::Example(i) => topic
                .query()
                .examples()
                .get(usize::from(i))
                .and_then(|r| examples.get(r))
                .map(|(_, paper)| format!("≈ “{}”", paper.title)),
            Why::Author(i) => topic
                .query()
                .authors()
                .get(usize::from(i))
                .map(|a| a.to_owned()),
        })
        .collect()
}

/// The sense an acronym term is read in, in this query ([`Glossary::sense`]):
/// `None` for other terms, exact ones, and abbreviations the reviewed
/// table spells out (they read as their long form everywhere).
pub fn acronym_sense(glossary: &Glossary, query: &Query, term: &Term) -> Option<String> {
    if term.is_exact() {
        return None;
    }
    let acronym = acronym_key(term.text())?;
    if text::tokens(term.text()).stems.len() != 1 {
        return None;
    }
    glossary.sense(query, &acronym)
}

/// The n-th query term (as [`Why::Term`] and [`Rejection::Excluded`] count).
pub fn term_text(topic: &Topic, position: u8) -> Option<&str> {
    terms_of(topic).nth(usize::from(position)).map(Term::text)
}

#[cfg(test)]
mod tests;
