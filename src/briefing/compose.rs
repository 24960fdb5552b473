use serde::Serialize;

use crate::domain::Locale;
use crate::radar::TopicHits;

/// Everything the templates show, already in the reader's language.
#[derive(Debug, Clone, Serialize)]
pub struct BriefingContent {
    pub edition: String,
    pub count: usize,
    pub sections: Vec<SectionView>,
    pub unsubscribe_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionView {
    pub topic: String,
    pub papers: Vec<PaperView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaperView {
    pub title: String,
    pub url: String,
    pub authors: String,
    pub venue: String,
    /// The primary category, when the source gives one.
    pub category: Option<String>,
    /// The announce type's key (`new`, `cross`, …); labelled by the template's strings.
    pub announce_key: Option<String>,
    pub summary: String,
    pub matched: String,
}

/// How many authors are named before "et al.".
const AUTHORS_SHOWN: usize = 3;
/// The one-line abstract is cut to about this many characters.
const SUMMARY_CHARS: usize = 240;

pub fn compose(
    hits: &[TopicHits<'_>],
    edition: &str,
    locale: Locale,
    unsubscribe_url: &str,
) -> BriefingContent {
    let et_al = match locale {
        Locale::En => " et al.",
        Locale::Zh => " 等",
    };
    let sections: Vec<SectionView> = hits
        .iter()
        .map(|t| SectionView {
            topic: t.topic.to_owned(),
            papers: t
                .hits
                .iter()
                .map(|h| {
                    let p = &h.paper.paper;
                    let mut authors = p
                        .authors
                        .iter()
                        .take(AUTHORS_SHOWN)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ");
                    if p.authors.len() > AUTHORS_SHOWN {
                        authors.push_str(et_al);
                    }
                    PaperView {
                        title: p.title.clone(),
                        url: p.url.clone(),
                        authors,
                        venue: p.venue.clone(),
                        category: p.categories.first().cloned(),
                        announce_key: p.announce_type.map(|a| a.as_str().to_owned()),
                        summary: one_line(&p.abstract_text),
                        matched: h.matched.join(", "),
                    }
                })
                .collect(),
        })
        .collect();
    BriefingContent {
        edition: edition.to_owned(),
        count: sections.iter().map(|s| s.papers.len()).sum(),
        sections,
        unsubscribe_url: unsubscribe_url.to_owned(),
    }
}

/// The first sentence, or the first ~240 characters cut at a word.
fn one_line(text: &str) -> String {
    let first_sentence = text
        .char_indices()
        .find(|&(i, c)| c == '.' && text[i + 1..].starts_with(' ') && i > 40)
        .map_or(text, |(i, _)| &text[..=i]);
    if first_sentence.chars().count() <= SUMMARY_CHARS {
        return first_sentence.to_owned();
    }
    let cut: String = first_sentence.chars().take(SUMMARY_CHARS).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end_matches([',', ';', ':']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_line_abstract_is_the_first_sentence() {
        let text = "We propose a simple method for outlier detection in networks. It works well.";
        assert_eq!(
            one_line(text),
            "We propose a simple method for outlier detection in networks."
        );
    }

    #[test]
    fn long_first_sentences_are_cut_at_a_word() {
        let text = "word ".repeat(100);
        let line = one_line(&text);
        assert!(line.ends_with("word…"), "{line}");
        assert!(line.chars().count() <= SUMMARY_CHARS + 1);
    }

    #[test]
    fn abbreviations_early_in_a_sentence_do_not_end_it() {
        let text = "E.g. this short start. Then more.";
        assert_eq!(one_line(text), text);
    }
}
