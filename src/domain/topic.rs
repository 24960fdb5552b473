use super::query::{Query, QueryError};

/// One interest on a subscriber's radar: a name and the [`Query`] that
/// says which papers belong to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic {
    name: String,
    query: Query,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TopicError {
    #[error("a topic needs a name")]
    EmptyName,
    #[error("topic {name:?}: {error}")]
    Query { name: String, error: QueryError },
    #[error("{0:?} is too long: a topic name may have at most {max} characters", max = Topic::MAX_CHARS)]
    TooLong(String),
}

impl Topic {
    /// Topics one subscriber may have: one radar must not cost everyone.
    pub const MAX_PER_SUBSCRIBER: usize = 20;
    /// Characters in a name.
    pub const MAX_CHARS: usize = 120;

    /// The simple form: any one of `keywords` (comma-separated phrases), in
    /// one of `categories` if given, never mentioning an exclusion.
    pub fn new(
        name: &str,
        keywords: impl IntoIterator<Item = impl AsRef<str>>,
        categories: impl IntoIterator<Item = impl AsRef<str>>,
        exclusions: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, TopicError> {
        let name = Self::check_name(name)?;
        let query =
            Query::any_of(keywords, categories, exclusions).map_err(|error| TopicError::Query {
                name: name.clone(),
                error,
            })?;
        Ok(Self { name, query })
    }

    /// A topic typed in the text form (see [`Query`]).
    pub fn parse(name: &str, query: &str) -> Result<Self, TopicError> {
        let name = Self::check_name(name)?;
        let query = Query::parse(query).map_err(|error| TopicError::Query {
            name: name.clone(),
            error,
        })?;
        Ok(Self { name, query })
    }

    fn check_name(name: &str) -> Result<String, TopicError> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(TopicError::EmptyName);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(TopicError::TooLong(name));
        }
        Ok(name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same topic with one learned expansion turned off (`-also:`).
    pub fn without_expansion(&self, expansion: &str) -> Result<Self, TopicError> {
        let query = self
            .query
            .without_expansion(expansion)
            .map_err(|error| TopicError::Query {
                name: self.name.clone(),
                error,
            })?;
        Ok(Self {
            name: self.name.clone(),
            query,
        })
    }
    pub fn query(&self) -> &Query {
        &self.query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: [&str; 0] = [];

    #[test]
    fn keywords_are_split_trimmed_and_deduplicated_into_one_any_of_group() {
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
            t.query().to_string(),
            r#""large language model" OR RLHF OR "in-context learning" cat:cs.CL"#
        );
    }

    #[test]
    fn a_topic_without_keywords_or_with_a_bad_category_is_refused() {
        let err = Topic::new("x", [" , "], NONE, NONE).unwrap_err();
        assert!(err.to_string().contains("at least one word"), "{err}");
        assert_eq!(
            Topic::new("", ["a"], NONE, NONE),
            Err(TopicError::EmptyName)
        );
        let err = Topic::new("x", ["a"], ["CS LG"], NONE).unwrap_err();
        assert!(err.to_string().contains("not an arXiv category"), "{err}");
        assert!(Topic::new("x", ["a"], ["hep-th", "q-bio.GN", "quant-ph"], NONE).is_ok());
    }

    #[test]
    fn one_topic_cannot_grow_without_bound() {
        let many: Vec<String> = (0..=Query::MAX_TERMS).map(|n| format!("k{n}")).collect();
        let err = Topic::new("x", &many, NONE, NONE).unwrap_err();
        assert!(err.to_string().contains("at most 50"), "{err}");
        let long = "w".repeat(Query::MAX_TERM_CHARS + 1);
        let err = Topic::new("x", [long.as_str()], NONE, NONE).unwrap_err();
        assert!(err.to_string().contains("at most 120"), "{err}");
        let name = "n".repeat(Topic::MAX_CHARS + 1);
        assert_eq!(
            Topic::new(&name, ["a"], NONE, NONE),
            Err(TopicError::TooLong(name))
        );
    }
}
