//! The radar: which of today's papers each subscriber's topics pick up.
//!
//! Pure and synchronous: papers and topics in, matches out. Text is split
//! into lower-case words at every non-alphanumeric character, and a keyword
//! or phrase matches when its words appear consecutively in the title or
//! abstract — so `RL` does not match inside `URL`, and `large language
//! model` matches `Large-Language-Model`. A topic with categories only looks
//! at papers filed in one of them; an exclusion phrase anywhere rules a paper
//! out of that topic. A paper matched by several topics is listed once, under
//! the first.
//!
//! Ranking here is deliberately simple (matched terms, title hits count
//! double); explainable, learned ranking is a later stage.

use std::collections::HashSet;

use crate::domain::Topic;
use crate::store::StoredPaper;

/// A paper prepared once per run for matching against every subscriber.
#[derive(Debug)]
pub struct IndexedPaper<'a> {
    pub stored: &'a StoredPaper,
    title_words: Vec<String>,
    abstract_words: Vec<String>,
    categories: Vec<String>,
}

impl<'a> IndexedPaper<'a> {
    pub fn new(stored: &'a StoredPaper) -> Self {
        Self {
            stored,
            title_words: words(&stored.paper.title),
            abstract_words: words(&stored.paper.abstract_text),
            categories: stored
                .paper
                .categories
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .collect(),
        }
    }
}

/// One paper picked up by a topic, with the terms that picked it up.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub paper: &'a StoredPaper,
    pub matched: Vec<String>,
    score: usize,
}

#[derive(Debug, Clone)]
pub struct TopicHits<'a> {
    pub topic: &'a str,
    pub hits: Vec<Hit<'a>>,
}

/// Matches `papers` against `topics`, skipping papers in `already_sent`,
/// keeping at most `max_per_topic` per topic. Topics with no hits are left
/// out, so an empty result means "nothing for this subscriber today".
pub fn match_topics<'a>(
    topics: &'a [Topic],
    papers: &[IndexedPaper<'a>],
    already_sent: &HashSet<i64>,
    max_per_topic: usize,
) -> Vec<TopicHits<'a>> {
    let compiled: Vec<CompiledTopic> = topics.iter().map(CompiledTopic::new).collect();
    let mut taken: HashSet<i64> = HashSet::new();
    let mut out = Vec::new();
    for (topic, compiled) in topics.iter().zip(&compiled) {
        let mut hits: Vec<Hit<'a>> = papers
            .iter()
            .filter(|p| !already_sent.contains(&p.stored.id) && !taken.contains(&p.stored.id))
            .filter_map(|p| {
                compiled.score(p).map(|(score, matched)| Hit {
                    paper: p.stored,
                    matched,
                    score,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then(b.paper.paper.published.cmp(&a.paper.paper.published))
                .then(a.paper.id.cmp(&b.paper.id))
        });
        hits.truncate(max_per_topic);
        if hits.is_empty() {
            continue;
        }
        taken.extend(hits.iter().map(|h| h.paper.id));
        out.push(TopicHits {
            topic: topic.name(),
            hits,
        });
    }
    out
}

struct CompiledTopic<'t> {
    keywords: Vec<(&'t str, Vec<String>)>,
    categories: Vec<String>,
    exclusions: Vec<Vec<String>>,
}

impl<'t> CompiledTopic<'t> {
    fn new(topic: &'t Topic) -> Self {
        Self {
            keywords: topic
                .keywords()
                .iter()
                .map(|k| (k.as_str(), words(k)))
                .filter(|(_, w)| !w.is_empty())
                .collect(),
            categories: topic
                .categories()
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .collect(),
            exclusions: topic
                .exclusions()
                .iter()
                .map(|e| words(e))
                .filter(|w| !w.is_empty())
                .collect(),
        }
    }

    fn score(&self, paper: &IndexedPaper) -> Option<(usize, Vec<String>)> {
        if !self.categories.is_empty()
            && !paper.categories.iter().any(|c| self.categories.contains(c))
        {
            return None;
        }
        let in_paper = |phrase: &[String]| {
            contains_phrase(&paper.title_words, phrase)
                || contains_phrase(&paper.abstract_words, phrase)
        };
        if self.exclusions.iter().any(|e| in_paper(e)) {
            return None;
        }
        let mut score = 0;
        let mut matched = Vec::new();
        for (term, phrase) in &self.keywords {
            let in_title = contains_phrase(&paper.title_words, phrase);
            if in_title || contains_phrase(&paper.abstract_words, phrase) {
                score += if in_title { 2 } else { 1 };
                matched.push((*term).to_owned());
            }
        }
        (score > 0).then_some((score, matched))
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && haystack.windows(phrase.len()).any(|w| w == phrase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Paper, PaperKey};

    fn paper(id: i64, title: &str, abstract_text: &str, categories: &[&str]) -> StoredPaper {
        StoredPaper {
            id,
            first_seen_at: 0,
            paper: Paper {
                key: PaperKey::Url(format!("https://example.org/{id}")),
                arxiv: None,
                doi: None,
                title: title.into(),
                abstract_text: abstract_text.into(),
                url: format!("https://example.org/{id}"),
                authors: vec![],
                categories: categories.iter().map(|c| c.to_string()).collect(),
                venue: "Test".into(),
                announce_type: None,
                published: None,
            },
        }
    }

    fn topic(name: &str, keywords: &str, categories: &[&str], exclusions: &[&str]) -> Topic {
        Topic::new(name, [keywords], categories, exclusions).unwrap()
    }

    fn run<'a>(topics: &'a [Topic], papers: &'a [StoredPaper]) -> Vec<(String, Vec<i64>)> {
        let indexed: Vec<_> = papers.iter().map(IndexedPaper::new).collect();
        match_topics(topics, &indexed, &HashSet::new(), 10)
            .into_iter()
            .map(|t| {
                (
                    t.topic.to_owned(),
                    t.hits.iter().map(|h| h.paper.id).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn keywords_match_whole_words_case_insensitively() {
        let papers = [
            paper(1, "Offline RL for drones", "", &[]),
            paper(2, "A URL shortener", "", &[]),
            paper(3, "x", "we study rl agents", &[]),
        ];
        let topics = [topic("RL", "RL", &[], &[])];
        assert_eq!(run(&topics, &papers), [("RL".to_string(), vec![1, 3])]);
    }

    #[test]
    fn phrases_match_across_hyphens_and_only_in_order() {
        let papers = [
            paper(1, "Large-Language-Model agents", "", &[]),
            paper(2, "Model of large language", "", &[]),
        ];
        let topics = [topic("LLM", "large language model", &[], &[])];
        assert_eq!(run(&topics, &papers), [("LLM".to_string(), vec![1])]);
    }

    #[test]
    fn categories_confine_and_exclusions_rule_out() {
        let papers = [
            paper(1, "Graph neural networks", "", &["cs.LG"]),
            paper(2, "Graph neural networks", "", &["q-bio.GN"]),
            paper(3, "Graph neural networks for molecules", "", &["cs.LG"]),
        ];
        let topics = [topic(
            "GNN",
            "graph neural networks",
            &["cs.lg"],
            &["molecules"],
        )];
        assert_eq!(run(&topics, &papers), [("GNN".to_string(), vec![1])]);
    }

    #[test]
    fn a_paper_is_listed_once_and_title_hits_rank_first() {
        let papers = [
            paper(1, "Diffusion", "about transformers", &[]),
            paper(2, "Transformers", "", &[]),
        ];
        let topics = [
            topic("A", "transformers", &[], &[]),
            topic("B", "diffusion", &[], &[]),
        ];
        assert_eq!(run(&topics, &papers), [("A".to_string(), vec![2, 1])]);
    }

    #[test]
    fn already_sent_papers_and_empty_topics_are_left_out() {
        let papers = [paper(1, "Transformers", "", &[])];
        let topics = [topic("A", "transformers", &[], &[])];
        let indexed: Vec<_> = papers.iter().map(IndexedPaper::new).collect();
        assert!(match_topics(&topics, &indexed, &HashSet::from([1]), 10).is_empty());
    }
}
