//! The words of a briefing in each language, from `emails/i18n/*.toml`.
//!
//! Typed, so that a missing or misspelt key stops the daemon at start-up
//! with the file's name, instead of leaving a hole in tomorrow's mail. The
//! templates see the same table as `t`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RenderError;
use crate::domain::Locale;

pub(super) const SOURCES: [(Locale, &str); 2] = [
    (Locale::En, include_str!("../../emails/i18n/en.toml")),
    (Locale::Zh, include_str!("../../emails/i18n/zh.toml")),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strings {
    pub lang: String,
    /// A template: `count`, `topics`, `others`.
    pub subject: String,
    /// A template: `d` (year, month 0–11, day, weekday 0 = Monday).
    pub date: String,
    pub weekdays: [String; 7],
    pub months: [String; 12],
    pub heading: String,
    pub analysis_heading: String,
    pub written_by_llm: String,
    pub more_on_topic: String,
    /// Opens the page of the papers a briefing left out for its size.
    pub left_out_note: String,
    pub matched: String,
    pub why: String,
    pub footer: String,
    pub unsubscribe: String,
    /// Labels a TL;DR cut from the abstract (no LLM wrote one).
    pub from_abstract: String,
    /// A preprint's journal version: `{journal}`.
    pub published_in: String,
    pub more_like_this: String,
    pub less_like_this: String,
    pub preferences: String,
    pub view_online: String,
    /// By announce type key (`new`, `cross`, …).
    pub announce: BTreeMap<String, String>,
    pub analysis: AnalysisStrings,
    pub confirm: NoticeStrings,
    pub already: NoticeStrings,
}

/// The built-in summariser's sentences, with `{name}` holes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisStrings {
    pub comma: String,
    pub and: String,
    pub quote_open: String,
    pub quote_close: String,
    pub overview_one: String,
    pub overview_single: String,
    pub overview_many: String,
    pub list_item: String,
    pub bridge: String,
    pub themes: String,
    pub theme_one: String,
    pub standout: String,
    pub sources: String,
    pub source_item: String,
    pub updates: String,
    pub update_one: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeStrings {
    pub subject: String,
    pub heading: String,
    pub body: String,
    pub button: String,
    pub fallback: String,
}

impl Strings {
    pub(super) fn load(locale: Locale, source: &str) -> Result<Self, RenderError> {
        toml::from_str(source).map_err(|e| RenderError::Strings {
            locale,
            message: e.to_string(),
        })
    }
}

impl AnalysisStrings {
    /// `a, b and c` in this language.
    pub fn list(&self, items: &[String]) -> String {
        match items {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{}{}{last}", init.join(&self.comma), self.and),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_string() {
        for (locale, source) in SOURCES {
            Strings::load(locale, source).unwrap();
        }
        assert_eq!(
            crate::domain::string_keys(SOURCES[0].1),
            crate::domain::string_keys(SOURCES[1].1)
        );
    }

    #[test]
    fn lists_read_as_in_the_language() {
        let en = Strings::load(Locale::En, SOURCES[0].1).unwrap().analysis;
        let items = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(en.list(&items), "a, b and c");
        assert_eq!(en.list(&items[..1]), "a");
        let zh = Strings::load(Locale::Zh, SOURCES[1].1).unwrap().analysis;
        assert_eq!(zh.list(&items), "a、b和c");
    }
}
