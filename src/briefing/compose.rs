//! What a reader sees per paper and per topic, in their language, from the
//! radar's picks: values for the templates, with every link already built.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::strings::Strings;
use crate::domain::{Analysis, AnalysisPart, AnnounceType, Paper, Verdict, readable_math};

/// One topic's papers as the radar ranked them, best first.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// The topic's name; `None` for papers like ones the reader liked,
    /// which no topic picked.
    pub topic: Option<&'a str>,
    pub picks: Vec<Pick<'a>>,
    /// Papers this topic also picked that the briefing has no room for.
    pub more: usize,
}

#[derive(Debug, Clone)]
pub struct Pick<'a> {
    pub paper_id: i64,
    pub paper: &'a Paper,
    /// The reader's own words that matched ("conformal prediction").
    pub matched: Vec<String>,
    /// A TL;DR written for this paper (by an LLM); `None`: the abstract's
    /// first sentences.
    pub tldr: Option<&'a str>,
    /// The journal a preprint has appeared in since.
    pub published_in: Option<&'a str>,
}

/// Everything the templates show, already in the reader's language.
#[derive(Debug, Clone, Serialize)]
pub struct BriefingContent {
    pub count: usize,
    /// The named topics, in the briefing's order: the subject lists the first.
    pub topics: Vec<String>,
    pub date: DateView,
    pub analysis: Vec<AnalysisView>,
    /// The analysis as plain text, paper titles in quotes.
    pub analysis_text: String,
    pub analysis_by_llm: bool,
    pub sections: Vec<SectionView>,
    pub unsubscribe_url: String,
    pub preferences_url: String,
    pub view_url: String,
    /// The papers the briefing left out for its size ("N more on this topic").
    pub more_url: String,
    /// This is the page of those papers, not the briefing: it says so.
    pub left_out: bool,
    /// The sender's contact line (address, who runs the service).
    pub contact: String,
}

/// A date for the strings' `date` template.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DateView {
    pub year: i32,
    /// 0–11.
    pub month: u32,
    pub day: u32,
    /// 0 = Monday.
    pub weekday: u32,
}

/// A piece of the analysis: text, or a paper's title with its link.
#[derive(Debug, Clone, Serialize)]
pub struct AnalysisView {
    pub text: String,
    pub url: Option<String>,
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
    pub more: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaperView {
    pub title: String,
    /// The paper's page; `None` when the feed gave no http(s) link, so that
    /// nothing else (`javascript:`, `data:`) ever becomes an `href`.
    pub url: Option<String>,
    pub more_url: String,
    pub less_url: String,
    /// "A. Author, B. Author et al."
    pub authors: String,
    /// Where it is from: "arXiv cs.LG", "Nature".
    pub badge: String,
    /// The announce type's key (`new`, `cross`, …); labelled by the strings.
    pub announce_key: Option<String>,
    /// The arXiv version of an updated paper.
    pub version: Option<u32>,
    /// "Now published in Nature Methods", for a preprint's journal version.
    pub published_in: Option<String>,
    pub tldr: String,
    /// The TL;DR is the abstract's opening (no LLM wrote one): the card
    /// says so, as it is in the paper's language, not the reader's.
    pub tldr_from_abstract: bool,
    pub matched: String,
}

/// A briefing's parts, before links.
pub struct Briefing<'a> {
    pub sections: &'a [Section<'a>],
    pub analysis: &'a Analysis,
    pub edition: NaiveDate,
    pub strings: &'a Strings,
    pub contact: &'a str,
}

/// How many authors are named before "et al." (all of them up to one more).
const AUTHORS_SHOWN: usize = 2;
/// A TL;DR from the abstract is at most about this many characters.
const TLDR_CHARS: usize = 280;

pub fn compose(briefing: &Briefing<'_>, links: &BriefingLinks<'_>) -> BriefingContent {
    let Briefing {
        sections,
        analysis,
        edition,
        strings,
        contact,
    } = *briefing;
    let et_al = if strings.lang == "zh" {
        " 等"
    } else {
        " et al."
    };
    let similar = similar_topic(strings);
    let views: Vec<SectionView> = sections
        .iter()
        .map(|t| SectionView {
            topic: t.topic.unwrap_or(similar).to_owned(),
            more: t.more,
            papers: t
                .picks
                .iter()
                .map(|h| {
                    let p = h.paper;
                    PaperView {
                        title: readable_math(&p.title).into_owned(),
                        url: web_link(&p.url),
                        more_url: (links.feedback)(h.paper_id, Verdict::More),
                        less_url: (links.feedback)(h.paper_id, Verdict::Less),
                        authors: short_authors(&p.authors, et_al),
                        badge: source_badge(p),
                        announce_key: p.announce_type.map(|a| a.as_str().to_owned()),
                        version: p
                            .announce_type
                            .filter(|a| {
                                matches!(a, AnnounceType::Replace | AnnounceType::ReplaceCross)
                            })
                            .and(p.arxiv.as_ref().and_then(|(_, v)| *v)),
                        published_in: h
                            .published_in
                            .map(|j| strings.published_in.replace("{journal}", j)),
                        tldr: h.tldr.map_or_else(
                            || tldr_of_abstract(&readable_math(&p.abstract_text)),
                            |t| readable_math(t).into_owned(),
                        ),
                        tldr_from_abstract: h.tldr.is_none(),
                        matched: h.matched.join(", "),
                    }
                })
                .collect(),
        })
        .collect();
    let (analysis_views, analysis_text) = analysis_views(analysis, sections, strings);
    BriefingContent {
        count: views.iter().map(|s| s.papers.len()).sum(),
        topics: sections
            .iter()
            .filter_map(|s| s.topic.map(str::to_owned))
            .collect(),
        date: DateView {
            year: edition.year(),
            month: edition.month0(),
            day: edition.day(),
            weekday: edition.weekday().num_days_from_monday(),
        },
        analysis: analysis_views,
        analysis_text,
        analysis_by_llm: !matches!(analysis.writer(), crate::domain::Writer::BuiltIn),
        sections: views,
        unsubscribe_url: links.unsubscribe.clone(),
        preferences_url: links.preferences.clone(),
        view_url: links.view.clone(),
        more_url: format!("{}/more", links.view),
        left_out: false,
        contact: contact.to_owned(),
    }
}

/// The heading of papers like ones the reader liked, which no topic picked.
pub fn similar_topic(strings: &Strings) -> &'static str {
    if strings.lang == "zh" {
        "与您喜欢的论文相似"
    } else {
        "Like papers you liked"
    }
}

/// The analysis for both parts: pieces with links for HTML, and plain text
/// with paper titles in quotes.
fn analysis_views(
    analysis: &Analysis,
    sections: &[Section<'_>],
    strings: &Strings,
) -> (Vec<AnalysisView>, String) {
    let q = &strings.analysis;
    let mut views: Vec<AnalysisView> = Vec::with_capacity(analysis.parts().len());
    let mut text = String::new();
    let push_text = |views: &mut Vec<AnalysisView>, s: &str| match views.last_mut() {
        Some(last) if last.url.is_none() => last.text.push_str(s),
        _ => views.push(AnalysisView {
            text: s.to_owned(),
            url: None,
        }),
    };
    for part in analysis.parts() {
        match part {
            AnalysisPart::Text(s) => {
                let s = readable_math(s);
                push_text(&mut views, &s);
                text.push_str(&s);
            }
            AnalysisPart::Paper(id) => {
                let paper = sections
                    .iter()
                    .flat_map(|s| &s.picks)
                    .find(|p| p.paper_id == *id)
                    .map(|p| p.paper);
                // An analysis only names papers of its briefing; one made for
                // the same papers under another briefing cannot miss any.
                let Some(paper) = paper else { continue };
                push_text(&mut views, &q.quote_open);
                let title = readable_math(&paper.title);
                views.push(AnalysisView {
                    text: title.clone().into_owned(),
                    url: web_link(&paper.url),
                });
                push_text(&mut views, &q.quote_close);
                text.push_str(&q.quote_open);
                text.push_str(&title);
                text.push_str(&q.quote_close);
            }
        }
    }
    (views, text)
}

/// "arXiv cs.LG" for an arXiv paper with a category; else where it appeared.
pub fn source_badge(p: &Paper) -> String {
    match (p.arxiv.is_some(), p.categories.first()) {
        (true, Some(category)) => format!("{} {category}", p.venue),
        _ => p.venue.clone(),
    }
}

/// "A. Lovelace, C. Babbage et al.": initials for given names, as a
/// bibliography does; names in scripts without initials stay whole.
pub(super) fn short_authors(authors: &[String], et_al: &str) -> String {
    let shown = if authors.len() <= AUTHORS_SHOWN + 1 {
        authors.len()
    } else {
        AUTHORS_SHOWN
    };
    let mut line = authors[..shown]
        .iter()
        .map(|a| short_name(a))
        .collect::<Vec<_>>()
        .join(", ");
    if shown < authors.len() {
        line.push_str(et_al);
    }
    line
}

fn short_name(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let Some((family, given)) = words.split_last() else {
        return String::new();
    };
    if given.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphabetic() || " .-'’".contains(c))
    {
        return name.trim().to_owned();
    }
    if !given
        .iter()
        .all(|g| g.chars().next().is_some_and(char::is_uppercase))
    {
        // "Ludwig van Beethoven", "Maria de la Cruz": particles belong to the
        // family name; keep the name as written rather than guess.
        return name.trim().to_owned();
    }
    let initials: Vec<String> = given
        .iter()
        .map(|g| {
            g.split('-')
                .filter_map(|part| part.chars().next())
                .map(|c| format!("{c}."))
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    format!("{} {family}", initials.join(" "))
}

/// `url` when it is an absolute http(s) URL, else `None`.
pub(super) fn web_link(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|_| url.to_owned())
}

/// The abstract's first sentence, and the second when both are short;
/// a first sentence too long for a TL;DR is cut at a word.
pub fn tldr_of_abstract(text: &str) -> String {
    let mut end = 0;
    for (i, sentence_end) in sentence_ends(text).enumerate() {
        if sentence_end > TLDR_CHARS && i > 0 {
            break;
        }
        end = sentence_end;
        if i == 1 || end > TLDR_CHARS / 2 {
            break;
        }
    }
    let first = if end == 0 { text } else { &text[..end] };
    cut_at_word(first.trim(), TLDR_CHARS + 1)
}

/// `text` within `max` characters: when longer, cut at a word (unless that
/// loses more than half) and ended with "…".
pub(super) fn cut_at_word(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max - 1).collect();
    let head = match head.rsplit_once(' ') {
        Some((words, _)) if words.chars().count() > max / 2 => words.to_owned(),
        _ => head,
    };
    format!("{}…", head.trim_end_matches([',', ';', ':', ' ']))
}

/// Byte offsets just after each sentence's full stop: a `.` followed by a
/// space, at least 40 bytes in (so "E.g." and initials do not end one).
fn sentence_ends(text: &str) -> impl Iterator<Item = usize> + '_ {
    let mut last = 0;
    text.char_indices().filter_map(move |(i, c)| {
        let ends = matches!(c, '.' | '。' | '?' | '!')
            && (c == '。' || text[i + c.len_utf8()..].starts_with(' '))
            && i >= last + 40;
        ends.then(|| {
            last = i + c.len_utf8();
            last
        })
    })
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
    fn a_tldr_is_the_first_sentence_or_two_short_ones() {
        let text = "We propose a simple method for outlier detection in networks. It works well on every benchmark we tried. More.";
        assert_eq!(
            tldr_of_abstract(text),
            "We propose a simple method for outlier detection in networks. It works well on every benchmark we tried."
        );
        let long = format!(
            "{} end of the first. Second sentence here.",
            "word ".repeat(30)
        );
        assert_eq!(
            tldr_of_abstract(&long),
            format!("{} end of the first.", "word ".repeat(30))
        );
    }

    #[test]
    fn long_first_sentences_are_cut_at_a_word() {
        let text = "word ".repeat(100);
        let line = tldr_of_abstract(&text);
        assert!(line.ends_with("word…"), "{line}");
        assert!(line.chars().count() <= TLDR_CHARS + 1);
    }

    #[test]
    fn abbreviations_early_in_a_sentence_do_not_end_it() {
        let text = "E.g. this short start. Then more.";
        assert_eq!(tldr_of_abstract(text), text);
    }

    #[test]
    fn authors_are_shortened_as_a_bibliography_does() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            short_authors(&names(&["Ada Lovelace", "Charles Babbage"]), " et al."),
            "A. Lovelace, C. Babbage"
        );
        assert_eq!(
            short_authors(
                &names(&[
                    "Jean-Pierre Serre",
                    "Alan M. Turing",
                    "Kurt Gödel",
                    "Emmy Noether"
                ]),
                " et al."
            ),
            "J.-P. Serre, A. M. Turing et al."
        );
        assert_eq!(
            short_authors(&names(&["张三", "Ludwig van Beethoven", "Plato"]), " 等"),
            "张三, Ludwig van Beethoven, Plato"
        );
        assert_eq!(short_authors(&[], " et al."), "");
    }
}
