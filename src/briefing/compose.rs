use serde::Serialize;

use crate::domain::{Locale, Paper, Verdict};

/// One topic's papers as the radar ranked them, best first.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// The topic's name; `None` for papers like ones the reader liked,
    /// which no topic picked.
    pub topic: Option<&'a str>,
    pub picks: Vec<Pick<'a>>,
}

#[derive(Debug, Clone)]
pub struct Pick<'a> {
    pub paper_id: i64,
    pub paper: &'a Paper,
    /// The reader's own words that matched ("conformal prediction").
    pub matched: Vec<String>,
}

/// Everything the templates show, already in the reader's language.
#[derive(Debug, Clone, Serialize)]
pub struct BriefingContent {
    pub edition: String,
    pub count: usize,
    pub sections: Vec<SectionView>,
    pub unsubscribe_url: String,
    pub preferences_url: String,
    pub view_url: String,
}

/// The reader's signed links, built by the caller: composing a briefing
/// does not know how links are signed.
pub struct BriefingLinks<'a> {
    pub unsubscribe: String,
    pub preferences: String,
    /// This briefing in the browser.
    pub view: String,
    /// "More / less like this" for a paper id.
    pub feedback: &'a dyn Fn(i64, Verdict) -> String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionView {
    pub topic: String,
    pub papers: Vec<PaperView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaperView {
    pub title: String,
    /// The paper's page; `None` when the feed gave no http(s) link, so that
    /// nothing else (`javascript:`, `data:`) ever becomes an `href`.
    pub url: Option<String>,
    pub more_url: String,
    pub less_url: String,
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
    sections: &[Section<'_>],
    edition: &str,
    locale: Locale,
    links: &BriefingLinks<'_>,
) -> BriefingContent {
    let et_al = match locale {
        Locale::En => " et al.",
        Locale::Zh => " 等",
    };
    let similar = match locale {
        Locale::En => "Like papers you liked",
        Locale::Zh => "与您喜欢的论文相似",
    };
    let sections: Vec<SectionView> = sections
        .iter()
        .map(|t| SectionView {
            topic: t.topic.unwrap_or(similar).to_owned(),
            papers: t
                .picks
                .iter()
                .map(|h| {
                    let p = h.paper;
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
                        url: web_link(&p.url),
                        more_url: (links.feedback)(h.paper_id, Verdict::More),
                        less_url: (links.feedback)(h.paper_id, Verdict::Less),
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
        unsubscribe_url: links.unsubscribe.clone(),
        preferences_url: links.preferences.clone(),
        view_url: links.view.clone(),
    }
}

/// `url` when it is an absolute http(s) URL, else `None`.
fn web_link(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|_| url.to_owned())
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
    fn only_web_links_become_links() {
        assert_eq!(
            web_link("https://arxiv.org/abs/1"),
            Some("https://arxiv.org/abs/1".into())
        );
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "//evil",
            "",
        ] {
            assert_eq!(web_link(bad), None, "{bad}");
        }
    }

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
