//! Feed bytes → papers. Pure: no I/O, tested against recorded feeds.
//!
//! feed-rs reads RSS 0.9x/1.0/2.0, Atom and JSON Feed. It drops a few
//! elements that matter here (arXiv's `announce_type` and `DOI`, PRISM's
//! `doi` and `publicationName`, Atom `dc:creator`, repeated RSS
//! `dc:creator`), so a second, small quick-xml pass collects those per item.
//! arXiv's RSS also prints `arXiv:ID Announce Type: T Abstract:` in front of
//! every abstract; that preamble is split off into fields.

use std::borrow::Cow;

use encoding_rs::Encoding;
use feed_rs::model::Entry;
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

use crate::domain::{AnnounceType, ArxivId, Paper, PaperKey};

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed (RSS, Atom or JSON Feed expected): {0}")]
    NotAFeed(String),
    #[error("the feed parser failed on this feed ({0}); it is skipped until it changes")]
    Unreadable(String),
}

/// Items read from one feed at most: no real feed has more (a busy arXiv
/// category announces about 1,500 a day), and the parsed model of a huge
/// one would take hundreds of megabytes.
pub const MAX_ITEMS: usize = 5_000;

/// What a feed yielded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub papers: Vec<Paper>,
    /// Why each item that could not be a paper was skipped, in feed order.
    pub skipped: Vec<&'static str>,
    /// Items beyond [`MAX_ITEMS`], not read.
    pub beyond_limit: usize,
}

/// Parses a feed into papers, reading at most [`MAX_ITEMS`] items. A feed
/// whose bytes do not match its declared encoding (typically Latin-1
/// labelled UTF-8) is read as Windows-1252 rather than refused.
pub fn parse_feed(bytes: &[u8]) -> Result<ParsedFeed, ParseError> {
    let bytes = as_utf8(bytes);
    let (bytes, beyond_limit) = cap_items(&bytes, MAX_ITEMS);
    let bytes: &[u8] = &bytes;
    let feed = parse_guarded(bytes)?;
    let extras = ItemExtras::scan(bytes);
    // The extra pass is trusted only when it saw the same items feed-rs did.
    let extras = if extras.items.len() == feed.entries.len() {
        extras
    } else {
        ItemExtras {
            items: vec![Extra::default(); feed.entries.len()],
            ..extras
        }
    };
    let fallback_venue = extras
        .channel_publication
        .clone()
        .or_else(|| feed.title.as_ref().map(|t| clean_text(&t.content)))
        .unwrap_or_else(|| "Feed".to_owned());
    let mut parsed = ParsedFeed {
        beyond_limit,
        ..ParsedFeed::default()
    };
    for (entry, extra) in feed.entries.iter().zip(&extras.items) {
        match paper_from_entry(entry, extra, &fallback_venue) {
            Ok(paper) => parsed.papers.push(paper),
            Err(reason) => parsed.skipped.push(reason),
        }
    }
    Ok(parsed)
}

/// feed-rs, with its panics turned into an error: feed-rs 3.0.0 slices a
/// person's name at a byte that may fall inside a character (found by
/// fuzzing: `<managingEditor>x‹a@b.org</managingEditor>`), and one hostile
/// feed must not take the daemon down.
fn parse_guarded(bytes: &[u8]) -> Result<feed_rs::model::Feed, ParseError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        feed_rs::parser::parse(bytes)
    })) {
        Ok(parsed) => parsed.map_err(|e| ParseError::NotAFeed(e.to_string())),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            Err(ParseError::Unreadable(why.to_owned()))
        }
    }
}

/// The bytes as UTF-8: a declared non-UTF-8 encoding is decoded (and the
/// declaration rewritten to match), a byte-order mark is honoured, and bytes
/// that claim UTF-8 (or claim nothing) but are not valid UTF-8 are read as
/// Windows-1252, the usual truth behind such a label.
fn as_utf8(bytes: &[u8]) -> Cow<'_, [u8]> {
    let declared = declared_encoding(bytes).and_then(|l| Encoding::for_label(l.as_bytes()));
    let encoding = match (Encoding::for_bom(bytes), declared) {
        (Some((bom, _)), _) => bom,
        (None, Some(declared)) => declared,
        (None, None) => encoding_rs::UTF_8,
    };
    if encoding == encoding_rs::UTF_8 && std::str::from_utf8(bytes).is_ok() {
        return Cow::Borrowed(bytes);
    }
    let encoding = if encoding == encoding_rs::UTF_8 {
        encoding_rs::WINDOWS_1252
    } else {
        encoding
    };
    let (text, _, _) = encoding.decode(bytes);
    Cow::Owned(relabel_as_utf8(&text).into_bytes())
}

/// The `encoding="…"` of an XML declaration at the start, if any.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let declaration = head.trim_start().strip_prefix("<?xml")?;
    let declaration = &declaration[..declaration.find("?>")?];
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// `text` with its XML declaration (if any) saying UTF-8.
fn relabel_as_utf8(text: &str) -> String {
    let Some(end) = text
        .trim_start()
        .starts_with("<?xml")
        .then(|| text.find("?>"))
        .flatten()
    else {
        return text.to_owned();
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}",
        &text[end + 2..]
    )
}

/// The document cut after its `max`-th item (`<item>` or `<entry>`), the
/// elements still open closed again, and how many items were left out. The
/// scan is a streaming one and keeps nothing but the open elements' names.
fn cap_items(bytes: &[u8], max: usize) -> (Cow<'_, [u8]>, usize) {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut open: Vec<String> = Vec::new();
    let mut items = 0;
    let mut cut: Option<(usize, Vec<String>)> = None;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => open.push(e.name().as_ref().to_owned()),
            Ok(Event::End(e)) => {
                open.pop();
                if matches!(local(e.name().as_ref()), "item" | "entry") {
                    items += 1;
                    if items == max {
                        cut = Some((reader.buffer_position() as usize, open.clone()));
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        buf.clear();
    }
    match cut {
        Some((position, open)) if items > max => {
            let mut capped = bytes[..position].to_vec();
            for name in open.iter().rev() {
                capped.extend_from_slice(b"</");
                capped.extend_from_slice(name.as_bytes());
                capped.push(b'>');
            }
            (Cow::Owned(capped), items - max)
        }
        _ => (Cow::Borrowed(bytes), 0),
    }
}

/// An absolute `http://` or `https://` URL.
fn is_web_url(candidate: &str) -> bool {
    url::Url::parse(candidate.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Why an item is not a paper: it has no title, or nothing to link to.
const NO_TITLE: &str = "no title";
const NO_LINK: &str = "no http(s) link";

fn paper_from_entry(
    entry: &Entry,
    extra: &Extra,
    fallback_venue: &str,
) -> Result<Paper, &'static str> {
    let title = entry
        .title
        .as_ref()
        .map(|t| clean_text(&t.content))
        .unwrap_or_default();
    if title.is_empty() {
        return Err(NO_TITLE);
    }
    // Only http(s) links are kept: a feed's `javascript:` or `data:` link
    // must never reach a reader's mail as a link.
    let url = entry
        .links
        .iter()
        .filter(|l| is_web_url(&l.href))
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.iter().find(|l| is_web_url(&l.href)))
        .map(|l| l.href.trim().to_owned());

    let raw_abstract = entry
        .summary
        .as_ref()
        .map(|s| s.content.clone())
        .or_else(|| entry.content.as_ref().and_then(|c| c.body.clone()))
        .unwrap_or_default();
    let preamble = ArxivPreamble::split(&raw_abstract);
    let abstract_text = html_to_text(drop_citation_paragraph(preamble.rest));

    let arxiv = preamble
        .id
        .or_else(|| ArxivId::parse_with_version(&entry.id).ok())
        .or_else(|| {
            url.as_deref()
                .and_then(|u| ArxivId::parse_with_version(u).ok())
        });
    let announce_type = extra
        .announce_type
        .as_deref()
        .and_then(|t| t.parse().ok())
        .or(preamble.announce_type);
    let doi = extra.doi.as_deref().and_then(PaperKey::normalize_doi);

    // An arXiv paper's link is its abstract page, whatever the feed says.
    let url = match &arxiv {
        Some((id, _)) => id.abs_url(),
        None => url
            .or_else(|| is_web_url(&entry.id).then(|| entry.id.trim().to_owned()))
            .ok_or(NO_LINK)?,
    };
    let key = match (&arxiv, &doi) {
        (Some((id, _)), _) => PaperKey::Arxiv(id.clone()),
        (None, Some(doi)) => PaperKey::Doi(doi.clone()),
        (None, None) => PaperKey::Url(url.clone()),
    };
    let authors = if extra.creators.is_empty() {
        split_authors(entry.authors.iter().filter_map(|p| p.name.as_deref()))
    } else {
        split_authors(extra.creators.iter().map(String::as_str))
    };
    let venue = if arxiv.is_some() {
        "arXiv".to_owned()
    } else {
        extra
            .publication
            .clone()
            .unwrap_or_else(|| fallback_venue.to_owned())
    };
    Ok(Paper {
        key,
        arxiv,
        doi,
        related: Vec::new(),
        title,
        abstract_text,
        url,
        authors,
        categories: entry
            .categories
            .iter()
            .map(|c| c.term.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect(),
        venue,
        announce_type,
        published: entry.published.or(entry.updated),
    })
}

/// `arXiv:2609.26811v1 Announce Type: new \nAbstract: …` → its parts.
struct ArxivPreamble<'a> {
    id: Option<(ArxivId, Option<u32>)>,
    announce_type: Option<AnnounceType>,
    rest: &'a str,
}

impl<'a> ArxivPreamble<'a> {
    fn split(text: &'a str) -> Self {
        let none = ArxivPreamble {
            id: None,
            announce_type: None,
            rest: text,
        };
        let trimmed = text.trim_start();
        if !trimmed.starts_with("arXiv:") {
            return none;
        }
        let Some((head, rest)) = trimmed.split_once("Abstract:") else {
            return none;
        };
        let mut words = head.split_whitespace();
        let id = words
            .next()
            .and_then(|w| ArxivId::parse_with_version(w).ok());
        let announce_type = match (words.next(), words.next(), words.next()) {
            (Some("Announce"), Some("Type:"), Some(t)) => t.parse().ok(),
            _ => None,
        };
        ArxivPreamble {
            id,
            announce_type,
            rest: rest.trim(),
        }
    }
}

/// Nature's `content:encoded` starts with a citation paragraph
/// (`<p>Nature, Published online: …; <a>doi:…</a></p>`) before the abstract.
fn drop_citation_paragraph(html: &str) -> &str {
    let trimmed = html.trim_start();
    if let Some(inner) = trimmed.strip_prefix("<p>")
        && let Some(end) = inner.find("</p>")
        && inner[..end].contains("Published online")
    {
        return &inner[end + 4..];
    }
    html
}

/// Tags out, entities decoded, white space collapsed.
fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    clean_text(&html_escape::decode_html_entities(&text))
}

fn clean_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RSS `dc:creator` often holds every author, comma-joined, either as
/// `First Last, First Last` (arXiv) or `Last, F., Last, F. M.` (bioRxiv): a
/// part made only of initials belongs to the surname before it.
fn split_authors<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut authors: Vec<String> = Vec::new();
    for name in names {
        let mut previous_is_surname = false;
        for part in name.split([',', ';']).flat_map(|n| n.split(" and ")) {
            let part = clean_text(part);
            if part.is_empty() {
                continue;
            }
            if previous_is_surname && is_initials(&part) {
                let surname = authors.last_mut().expect("a surname came before");
                surname.push_str(", ");
                surname.push_str(&part);
                previous_is_surname = false;
            } else {
                previous_is_surname = !is_initials(&part);
                authors.push(part);
            }
        }
    }
    authors
}

/// `N.`, `R. J.`, `J.-F.`: every word is one or two letters and a dot.
fn is_initials(part: &str) -> bool {
    part.split([' ', '-'])
        .filter(|w| !w.is_empty())
        .all(|w| w.ends_with('.') && (1..=2).contains(&w.trim_end_matches('.').chars().count()))
}

#[derive(Debug, Clone, Default)]
struct Extra {
    announce_type: Option<String>,
    doi: Option<String>,
    publication: Option<String>,
    creators: Vec<String>,
}

#[derive(Debug, Default)]
struct ItemExtras {
    channel_publication: Option<String>,
    items: Vec<Extra>,
}

impl ItemExtras {
    /// Best effort: a malformed document simply yields fewer extras (feed-rs
    /// has already judged whether it is a feed at all).
    fn scan(bytes: &[u8]) -> Self {
        let mut out = ItemExtras::default();
        let mut reader = Reader::from_reader(bytes);
        let mut buf = Vec::new();
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e)) => {
                    let name = e.name().as_ref().to_owned();
                    if matches!(local(&name), "item" | "entry") {
                        out.items.push(Extra::default());
                    }
                    path.push(name);
                    text.clear();
                }
                Ok(Event::Text(t)) => text.push_str(&t.xml10_content()),
                Ok(Event::CData(t)) => text.push_str(&t.into_inner()),
                Ok(Event::GeneralRef(r)) => {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text.push(c);
                    } else if let Some(s) = resolve_predefined_entity(&r.into_inner()) {
                        text.push_str(s);
                    }
                }
                Ok(Event::End(_)) => {
                    let Some(name) = path.pop() else { break };
                    let value = clean_text(&text);
                    text.clear();
                    let in_item = path.iter().any(|p| matches!(local(p), "item" | "entry"));
                    if value.is_empty() {
                        continue;
                    }
                    if !in_item {
                        if name == "prism:publicationName" {
                            out.channel_publication.get_or_insert(value);
                        }
                        continue;
                    }
                    let Some(item) = out.items.last_mut() else {
                        continue;
                    };
                    match name.as_str() {
                        "arxiv:announce_type" => item.announce_type = Some(value),
                        "arxiv:DOI" | "arxiv:doi" | "prism:doi" => {
                            item.doi.get_or_insert(value);
                        }
                        "dc:identifier" if value.starts_with("doi:") => {
                            item.doi.get_or_insert(value);
                        }
                        "prism:publicationName" => item.publication = Some(value),
                        "dc:creator" => item.creators.push(value),
                        _ => {}
                    }
                }
                Ok(Event::Eof) | Err(_) => break,
                Ok(_) => {}
            }
            buf.clear();
        }
        out
    }
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/feeds/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn arxiv_rss_items_yield_id_version_announce_type_clean_abstract_authors_and_categories() {
        let papers = parse_feed(&fixture(
            "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
        ))
        .unwrap()
        .papers;
        assert_eq!(papers.len(), 4);
        let odin = &papers[2];
        assert_eq!(odin.key.to_string(), "arxiv:2205.06398");
        assert_eq!(odin.arxiv.as_ref().unwrap().1, Some(2));
        assert_eq!(odin.announce_type, Some(AnnounceType::Cross));
        assert!(
            odin.abstract_text
                .starts_with("It has become routine in neuroscience")
        );
        assert_eq!(
            odin.authors,
            ["Pritam Dey", "Zhengwu Zhang", "David B. Dunson"]
        );
        assert_eq!(odin.categories, ["stat.ME", "stat.AP", "stat.ML"]);
        assert_eq!(odin.doi.as_deref(), Some("10.1093/bioinformatics/btac431"));
        assert_eq!(odin.url, "https://arxiv.org/abs/2205.06398");
        assert_eq!(odin.venue, "arXiv");
        let types: Vec<_> = papers
            .iter()
            .map(|p| p.announce_type.unwrap().as_str())
            .collect();
        assert_eq!(types, ["new", "new", "cross", "replace"]);
    }

    #[test]
    fn an_arxiv_query_api_answer_yields_its_paper_and_an_unknown_id_none() {
        let answer = crate::sources::api_fixture("arxiv_api_id_list_1605.08386_2026-04-12.xml");
        let papers = parse_feed(&answer).unwrap().papers;
        assert_eq!(papers.len(), 1);
        let walks = &papers[0];
        assert_eq!(walks.key.to_string(), "arxiv:1605.08386");
        assert_eq!(walks.title, "Heat-bath random walks with Markov bases");
        assert!(
            walks.abstract_text.starts_with("Graphs on lattice points"),
            "{}",
            walks.abstract_text
        );
        assert_eq!(walks.authors, ["Caprice Stanley", "Tobias Windisch"]);
        assert_eq!(walks.categories, ["math.CO", "math.ST"]);
        let none = crate::sources::api_fixture("arxiv_api_id_list_0000.0000_none_2026-04-12.xml");
        assert!(parse_feed(&none).unwrap().papers.is_empty());
    }

    #[test]
    fn arxiv_atom_entries_get_their_dc_creators_back() {
        let papers = parse_feed(&fixture("arxiv-atom-cs.LG-2026-09-25.xml"))
            .unwrap()
            .papers;
        assert_eq!(papers.len(), 3);
        assert_eq!(papers[0].key.to_string(), "arxiv:2609.28553");
        assert_eq!(papers[0].authors.len(), 6);
        assert_eq!(papers[0].authors[0], "Quang Minh Nguyen");
        assert_eq!(papers[2].announce_type, Some(AnnounceType::Replace));
        assert!(
            papers[1]
                .abstract_text
                .starts_with("In collider experiments")
        );
    }

    #[test]
    fn nature_style_rss1_items_are_keyed_by_doi_without_the_citation_line() {
        let papers = parse_feed(&fixture("nature-rss1-synthetic-shape.xml"))
            .unwrap()
            .papers;
        assert_eq!(papers.len(), 2);
        let p = &papers[0];
        assert_eq!(p.key.to_string(), "doi:10.1038/s41586-000-00001-x");
        assert_eq!(p.venue, "Nature");
        assert_eq!(p.authors, ["Ada Example", "Bo Placeholder"]);
        assert_eq!(
            p.abstract_text,
            "Invented abstract sentence used only to exercise parsing of content:encoded."
        );
        assert!(p.announce_type.is_none());
    }

    #[test]
    fn biorxiv_rss1_items_keep_surname_initial_authors_together() {
        let papers = parse_feed(&fixture("biorxiv-rss1-genomics.xml"))
            .unwrap()
            .papers;
        let p = &papers[0];
        assert!(p.title.starts_with("Complete genome of the Medicago"));
        assert!(!p.title.contains('\n'));
        assert_eq!(p.key.to_string(), "doi:10.1101/2023.12.16.571984");
        assert_eq!(p.venue, "bioRxiv");
        assert_eq!(p.authors.len(), 10, "{:?}", p.authors);
        assert_eq!(p.authors[0], "LAPALU, N.");
        assert_eq!(p.authors[3], "Plaumann, P.-L.");
        assert_eq!(p.authors[9], "O'Connell, R. J.");
    }

    #[test]
    fn first_last_author_lists_are_split_at_commas() {
        let names = ["Pritam Dey, Zhengwu Zhang and David B. Dunson"];
        assert_eq!(
            split_authors(names.into_iter()),
            ["Pritam Dey", "Zhengwu Zhang", "David B. Dunson"]
        );
        let repeated = ["Ada Example", "Bo Placeholder"];
        assert_eq!(split_authors(repeated.into_iter()), repeated);
    }

    #[test]
    fn something_that_is_not_a_feed_is_a_clear_error() {
        let err = parse_feed(b"<html><body>502 Bad Gateway</body></html>").unwrap_err();
        assert!(err.to_string().starts_with("not a feed"), "{err}");
        assert!(parse_feed(b"not xml at all").is_err());
    }

    #[test]
    fn only_web_links_are_kept_and_arxiv_papers_link_to_their_abstract_page() {
        let feed = br#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>hostile</title><link>https://evil.test/</link><description>x</description>
<item><title>Script link</title><link>javascript:alert(document.cookie)</link><guid isPermaLink="false">x1</guid></item>
<item><title>Script link, web guid</title><link>javascript:alert(1)</link><guid>https://journal.test/paper/2</guid></item>
<item><title>Claims an arXiv paper</title><link>https://evil.test/phish</link><guid isPermaLink="false">oai:arXiv.org:2205.06398v9</guid></item>
</channel></rss>"#;
        let papers = parse_feed(feed).unwrap().papers;
        let urls: Vec<&str> = papers.iter().map(|p| p.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://journal.test/paper/2",
                "https://arxiv.org/abs/2205.06398"
            ],
            "an item with no web link at all is dropped"
        );
    }

    #[test]
    fn items_that_cannot_be_papers_are_counted_with_their_reason() {
        let feed = br#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>t</title><link>https://j.test/</link><description>x</description>
<item><title>Fine</title><link>https://j.test/1</link></item>
<item><link>https://j.test/2</link></item>
<item><title>No link</title><guid isPermaLink="false">x</guid></item>
</channel></rss>"#;
        let parsed = parse_feed(feed).unwrap();
        assert_eq!(parsed.papers.len(), 1);
        assert_eq!(parsed.skipped, [NO_TITLE, NO_LINK]);
        assert_eq!(parsed.beyond_limit, 0);
    }

    #[test]
    fn a_latin1_feed_labelled_utf8_is_read_as_latin1_and_a_declared_encoding_is_honoured() {
        let mislabelled = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title><link>https://j.test/</link><description>x</description><item><title>Caf\xe9 na\xefve</title><link>https://j.test/1</link></item></channel></rss>";
        let parsed = parse_feed(mislabelled).unwrap();
        assert_eq!(parsed.papers[0].title, "Café naïve");
        let declared = b"<?xml version='1.0' encoding='ISO-8859-1'?><rss version=\"2.0\"><channel><title>t</title><link>https://j.test/</link><description>x</description><item><title>Gr\xfc\xdfe</title><link>https://j.test/1</link></item></channel></rss>";
        assert_eq!(parse_feed(declared).unwrap().papers[0].title, "Grüße");
        let utf8 = "<rss version=\"2.0\"><channel><title>t</title><link>https://j.test/</link><description>x</description><item><title>图神经网络</title><link>https://j.test/1</link></item></channel></rss>";
        assert_eq!(
            parse_feed(utf8.as_bytes()).unwrap().papers[0].title,
            "图神经网络"
        );
    }

    #[test]
    fn a_feed_is_cut_after_its_last_allowed_item_and_still_parses() {
        let items: String = (0..5)
            .map(|n| format!("<entry><id>https://j.test/{n}</id><title>P{n}</title><link href=\"https://j.test/{n}\"/><updated>2026-11-24T00:00:00Z</updated></entry>"))
            .collect();
        let feed = format!(
            "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><id>x</id><updated>2026-11-24T00:00:00Z</updated>{items}</feed>"
        );
        let (capped, left_out) = cap_items(feed.as_bytes(), 2);
        assert_eq!(left_out, 3);
        let parsed = feed_rs::parser::parse(&capped[..]).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        let (whole, left_out) = cap_items(feed.as_bytes(), 5);
        assert_eq!((whole.len(), left_out), (feed.len(), 0));
    }

    #[test]
    fn a_feed_that_makes_the_parser_panic_is_an_error_not_a_crash() {
        let feed = "<rss version=\"2.0\"><channel><title>t</title><link>https://j.test/</link><description>x</description><managingEditor>rss-h\u{203a}\u{2039}p@arxiv.org</managingEditor><item><title>T</title><link>https://j.test/1</link></item></channel></rss>";
        let err = parse_feed(feed.as_bytes()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the feed parser failed on this feed"),
            "{err}"
        );
    }

    #[test]
    fn html_abstracts_become_plain_text() {
        assert_eq!(html_to_text("<p>A &amp; B</p>\n<i>c</i>"), "A & B c");
    }

    /// A damaged recorded feed: one of the recorded feeds (its first 64 KiB,
    /// as the fuzzer's inputs), then a few cuts, insertions and overwrites.
    fn damaged_feed() -> impl Strategy<Value = Vec<u8>> {
        let seeds: Vec<Vec<u8>> = [
            "arxiv-rss2-cs.CV-2026-04-21-real-day.xml",
            "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
            "arxiv-atom-cs.LG-2026-09-25.xml",
            "biorxiv-rss1-genomics.xml",
            "nature-rss1-real-2024-07-18.rss",
        ]
        .iter()
        .map(|name| fixture(name).into_iter().take(64 * 1024).collect())
        .collect();
        // Markup pieces a damaged feed is likely to get wrong, beside random bytes.
        let piece = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..24),
            prop::sample::select(vec![
                b"<".to_vec(),
                b"</item>".to_vec(),
                b"<![CDATA[".to_vec(),
                b"&#x".to_vec(),
                b"&amp".to_vec(),
                "\u{2039}@".as_bytes().to_vec(),
                b"\xff\xfe".to_vec(),
                b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>".to_vec(),
            ]),
        ];
        let edit = (any::<prop::sample::Index>(), 0usize..64, piece);
        (
            prop::sample::select(seeds),
            prop::collection::vec(edit, 1..6),
        )
            .prop_map(|(mut bytes, edits)| {
                for (at, cut, piece) in edits {
                    let at = at.index(bytes.len() + 1);
                    let end = (at + cut).min(bytes.len());
                    bytes.splice(at..end, piece);
                }
                bytes
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// What the fuzz target (`fuzz/`) checks, on damaged real feeds,
        /// in every test run: parsing returns papers or an error, never a
        /// panic, and every paper it returns has a title and a web link.
        /// Real coverage-guided fuzzing is the local command in DEVELOPERS.md.
        #[test]
        fn a_damaged_feed_parses_or_is_an_error_and_never_panics(bytes in damaged_feed()) {
            if let Ok(parsed) = parse_feed(&bytes) {
                for paper in &parsed.papers {
                    prop_assert!(!paper.title.is_empty());
                    prop_assert!(is_web_url(&paper.url), "{}", paper.url);
                }
            }
        }
    }
}
