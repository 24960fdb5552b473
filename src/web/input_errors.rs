//! Input errors in the reader's language.
//!
//! [`InputError`]'s `Display` is the English sentence the API and the CLI
//! say; pages say the same from `[input]` in `i18n/*.toml`, one string per
//! variant with `{name}` holes. The test below holds the English strings
//! to the `Display` text, so the two cannot drift apart. A query's own
//! syntax error (where in the query, what was expected) is passed on as
//! the parser wrote it.

use crate::domain::{InputError, MAX_LOOKUPS_PER_SAVE, MAX_PAPERS_PER_TOPIC, Topic, TopicError};

/// The `[input]` string for `error` and the values for its holes.
pub(super) fn describe(error: &InputError) -> (&'static str, Vec<(&'static str, String)>) {
    use InputError as E;
    let quoted = |s: &str| format!("{s:?}");
    match error {
        E::Address(e) => (
            "address",
            vec![
                ("input", quoted(e.input())),
                ("reason", e.reason().to_owned()),
            ],
        ),
        E::NotOnTheInternet(email) => ("not_on_the_internet", vec![("email", email.clone())]),
        E::Language(l) => ("language", vec![("language", quoted(l))]),
        E::TimeZone(tz) => ("time_zone", vec![("zone", quoted(tz))]),
        E::SendHour(h) => ("send_hour", vec![("hour", h.clone())]),
        E::Cadence(c) => ("cadence", vec![("cadence", quoted(c))]),
        E::PapersPerTopic(n) => (
            "papers_per_topic",
            vec![
                ("max", MAX_PAPERS_PER_TOPIC.to_string()),
                ("given", quoted(n)),
            ],
        ),
        E::PauseDate(d) => ("pause_date", vec![("date", quoted(d))]),
        E::Topic(TopicError::EmptyName) => ("topic_unnamed", vec![]),
        E::Topic(TopicError::Query { name, error }) => (
            "topic_query",
            vec![("topic", quoted(name)), ("problem", error.to_string())],
        ),
        E::Topic(TopicError::TooLong(name)) => (
            "topic_too_long",
            vec![
                ("name", quoted(name)),
                ("max", Topic::MAX_CHARS.to_string()),
            ],
        ),
        E::BothForms(topic) => ("both_forms", vec![("topic", quoted(topic))]),
        E::InvisibleControl { topic, code } => (
            "invisible_control",
            vec![("topic", quoted(topic)), ("code", format!("{code:04X}"))],
        ),
        E::CommonWordsOnly { topic, words } => (
            "common_words_only",
            vec![("topic", quoted(topic)), ("words", quoted(words))],
        ),
        E::TooManyTopics(n) => (
            "too_many_topics",
            vec![
                ("max", Topic::MAX_PER_SUBSCRIBER.to_string()),
                ("count", n.to_string()),
            ],
        ),
        E::SameName(name) => ("same_name", vec![("name", quoted(name))]),
        E::NoTopics => ("no_topics", vec![]),
        E::KeepOneTopic => ("keep_one_topic", vec![]),
        E::UnknownExample { topic, reference } => (
            "unknown_example",
            vec![("topic", quoted(topic)), ("reference", reference.clone())],
        ),
        E::ExampleUnreachable {
            topic,
            reference,
            why,
        } => (
            "example_unreachable",
            vec![
                ("topic", quoted(topic)),
                ("reference", reference.clone()),
                ("why", why.clone()),
            ],
        ),
        E::TooManyLookups { topic, reference } => (
            "too_many_lookups",
            vec![
                ("topic", quoted(topic)),
                ("reference", reference.clone()),
                ("max", MAX_LOOKUPS_PER_SAVE.to_string()),
            ],
        ),
        E::StaleForm => ("stale_form", vec![]),
        E::TopicGone => ("topic_gone", vec![]),
        E::NoExpansionNamed => ("no_expansion_named", vec![]),
        E::DeleteNotTicked => ("delete_not_ticked", vec![]),
    }
}

/// `pattern` with each `{name}` replaced by its value, in one pass, so a
/// value that holds braces (a topic name) is never filled in again.
pub(super) fn fill(pattern: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| {
            let value = values.iter().find(|(name, _)| *name == &after[..close])?;
            Some((close, &value.1))
        }) {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EmailAddress, Locale, Query};
    use crate::web::pages::Pages;

    /// One error of every kind.
    fn every_error() -> Vec<InputError> {
        use InputError as E;
        let query_error = Query::parse("\"open").unwrap_err();
        vec![
            E::Address(EmailAddress::parse("not an address").unwrap_err()),
            E::NotOnTheInternet("ada@localhost".into()),
            E::Language("fr".into()),
            E::TimeZone("Mars/Olympus".into()),
            E::SendHour("24".into()),
            E::Cadence("weekly:someday".into()),
            E::PapersPerTopic("99".into()),
            E::PauseDate("tomorrow".into()),
            E::Topic(TopicError::EmptyName),
            E::Topic(TopicError::Query {
                name: "Graphs".into(),
                error: query_error,
            }),
            E::Topic(TopicError::TooLong("x".repeat(130))),
            E::BothForms("Graphs".into()),
            E::InvisibleControl {
                topic: "Graphs".into(),
                code: 0x202E,
            },
            E::CommonWordsOnly {
                topic: "Stuff".into(),
                words: "new method".into(),
            },
            E::TooManyTopics(21),
            E::SameName("graphs".into()),
            E::NoTopics,
            E::KeepOneTopic,
            E::UnknownExample {
                topic: "Graphs".into(),
                reference: "2601.99999".into(),
            },
            E::ExampleUnreachable {
                topic: "Graphs".into(),
                reference: "2601.99999".into(),
                why: "arXiv could not be asked: timed out".into(),
            },
            E::TooManyLookups {
                topic: "Graphs".into(),
                reference: "2601.99999".into(),
            },
            E::StaleForm,
            E::TopicGone,
            E::NoExpansionNamed,
            E::DeleteNotTicked,
        ]
    }

    #[test]
    fn holes_are_filled_once() {
        let values = [("topic", "{count}".to_owned()), ("count", "3".to_owned())];
        assert_eq!(
            fill("{topic} has {count} {x}", &values),
            "{count} has 3 {x}"
        );
    }

    #[test]
    fn english_pages_say_what_the_api_and_the_cli_say() {
        let pages = Pages::new(String::new()).unwrap();
        for error in every_error() {
            assert_eq!(pages.input_error(Locale::En, &error), error.to_string());
        }
    }

    #[test]
    fn chinese_pages_say_it_in_chinese_with_every_hole_filled() {
        let pages = Pages::new(String::new()).unwrap();
        for error in every_error() {
            let zh = pages.input_error(Locale::Zh, &error);
            assert_ne!(zh, error.to_string(), "{error:?} is not translated");
            assert!(!zh.contains('{'), "a hole is left in {zh:?}");
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{zh:?} has no Chinese"
            );
        }
    }
}
