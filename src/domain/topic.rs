/// One interest on a subscriber's radar: a name, the keywords and phrases
/// that signal it, optionally the arXiv categories it is confined to, and
/// phrases that rule a paper out.
///
/// Terms are kept as the subscriber wrote them (trimmed, de-duplicated
/// case-insensitively); how they are matched is the radar's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    name: String,
    keywords: Vec<String>,
    categories: Vec<String>,
    exclusions: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopicError {
    #[error("a topic needs a name")]
    EmptyName,
    #[error("topic {0:?} needs at least one keyword or phrase (--keywords \"a, b\")")]
    NoKeywords(String),
    #[error("{0:?} is not an arXiv category (expected e.g. cs.LG, math.GT, hep-th)")]
    BadCategory(String),
    #[error("topic {name:?} has {count} {what}; at most {max} are allowed")]
    TooMany {
        name: String,
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{0:?} is too long: a topic name or term may have at most {max} characters", max = Topic::MAX_CHARS)]
    TooLong(String),
}

impl Topic {
    /// Topics one subscriber may have: one radar must not cost everyone.
    pub const MAX_PER_SUBSCRIBER: usize = 20;
    /// Keywords, categories or exclusions in one topic.
    pub const MAX_TERMS: usize = 50;
    /// Characters in a name or a term.
    pub const MAX_CHARS: usize = 120;

    pub fn new(
        name: &str,
        keywords: impl IntoIterator<Item = impl AsRef<str>>,
        categories: impl IntoIterator<Item = impl AsRef<str>>,
        exclusions: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, TopicError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(TopicError::EmptyName);
        }
        let keywords = clean_terms(keywords);
        if keywords.is_empty() {
            return Err(TopicError::NoKeywords(name.to_owned()));
        }
        let categories = clean_terms(categories);
        let exclusions = clean_terms(exclusions);
        for (what, list) in [
            ("keywords", &keywords),
            ("categories", &categories),
            ("exclusions", &exclusions),
        ] {
            if list.len() > Self::MAX_TERMS {
                return Err(TopicError::TooMany {
                    name: name.to_owned(),
                    what,
                    count: list.len(),
                    max: Self::MAX_TERMS,
                });
            }
        }
        if let Some(long) = std::iter::once(name)
            .chain(keywords.iter().chain(&exclusions).map(String::as_str))
            .find(|t| t.chars().count() > Self::MAX_CHARS)
        {
            return Err(TopicError::TooLong(long.to_owned()));
        }
        if let Some(bad) = categories.iter().find(|c| !is_category(c)) {
            return Err(TopicError::BadCategory(bad.clone()));
        }
        Ok(Self {
            name: name.to_owned(),
            keywords,
            categories,
            exclusions,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }
    pub fn categories(&self) -> &[String] {
        &self.categories
    }
    pub fn exclusions(&self) -> &[String] {
        &self.exclusions
    }
}

/// Splits comma-separated lists, trims, drops empties and case-insensitive
/// duplicates, keeping first-seen order.
fn clean_terms(terms: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for term in terms {
        for part in term.as_ref().split([',', '，']) {
            let part = part.split_whitespace().collect::<Vec<_>>().join(" ");
            if !part.is_empty() && !out.iter().any(|t| t.eq_ignore_ascii_case(&part)) {
                out.push(part);
            }
        }
    }
    out
}

/// arXiv category names: `cs.LG`, `stat.ML`, `hep-th`, `q-bio.GN`, `quant-ph`.
fn is_category(s: &str) -> bool {
    let (archive, subject) = s.split_once('.').unwrap_or((s, ""));
    !archive.is_empty()
        && archive.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && subject.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: [&str; 0] = [];

    #[test]
    fn keywords_are_split_trimmed_and_deduplicated() {
        let t = Topic::new(
            " LLMs ",
            [
                "large language model, RLHF",
                "rlhf ,  in-context   learning",
            ],
            ["cs.CL"],
            NONE,
        )
        .unwrap();
        assert_eq!(t.name(), "LLMs");
        assert_eq!(
            t.keywords(),
            ["large language model", "RLHF", "in-context learning"]
        );
        assert_eq!(t.categories(), ["cs.CL"]);
    }

    #[test]
    fn a_topic_without_keywords_or_with_a_bad_category_is_refused() {
        assert_eq!(
            Topic::new("x", [" , "], NONE, NONE),
            Err(TopicError::NoKeywords("x".into()))
        );
        assert_eq!(
            Topic::new("", ["a"], NONE, NONE),
            Err(TopicError::EmptyName)
        );
        assert!(matches!(
            Topic::new("x", ["a"], ["CS LG"], NONE),
            Err(TopicError::BadCategory(_))
        ));
        assert!(Topic::new("x", ["a"], ["hep-th", "q-bio.GN", "quant-ph"], NONE).is_ok());
    }

    #[test]
    fn one_topic_cannot_grow_without_bound() {
        let many: Vec<String> = (0..=Topic::MAX_TERMS).map(|n| format!("k{n}")).collect();
        assert!(matches!(
            Topic::new("x", &many, NONE, NONE),
            Err(TopicError::TooMany {
                what: "keywords",
                ..
            })
        ));
        let long = "w".repeat(Topic::MAX_CHARS + 1);
        assert_eq!(
            Topic::new("x", [long.as_str()], NONE, NONE),
            Err(TopicError::TooLong(long))
        );
    }
}
