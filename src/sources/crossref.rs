//! Crossref REST `work-list` answers → papers. Pure: no I/O.
//!
//! `api.crossref.org/works` (and the `/journals/…/works`, `/members/…/works`,
//! `/prefixes/…/works` routes) list registered works with a deep-paging
//! cursor. Crossref is the journals' side of the collection: the works are
//! keyed by DOI, abstracts arrive in JATS when the publisher deposited one
//! (many do not: such works are kept, with an empty abstract), and the
//! `relation` block names the preprint a journal article came from, so the
//! two are stored as one paper.
//!
//! Crossref hands out a `next-cursor` on every page, the empty last one
//! included; the walk ends on the first page without items. Its refusals
//! come as JSON (`validation-failure`, `resource-failure`) or as plain text
//! ("Resource not found."); [`refusal`] reads both.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::markup;
use super::page::{ApiError, Page};
use crate::domain::{ArxivId, Paper, PaperKey};

const API: &str = "Crossref";

/// Why a work is not a paper.
const NO_DOI: &str = "no DOI";
const NO_TITLE: &str = "no title";
const NOT_A_WORK: &str = "not a work (JSON object expected)";

/// The date fields a work may carry, the most telling first: when readers
/// could first see it.
const DATE_FIELDS: [&str; 5] = [
    "published-online",
    "published-print",
    "published",
    "issued",
    "created",
];

/// Relations that make two DOIs one work for a reader.
const SAME_WORK: [&str; 4] = [
    "has-preprint",
    "is-preprint-of",
    "is-version-of",
    "has-version",
];

/// arXiv's DataCite DOIs (`10.48550/arXiv.2101.00001`) name an arXiv paper.
const ARXIV_DOI_PREFIX: &str = "10.48550/arxiv.";

/// Longest piece of a plain-text refusal quoted in an error.
const MAX_QUOTED: usize = 200;

fn malformed(detail: &str) -> ApiError {
    ApiError::Malformed {
        api: API,
        detail: detail.to_owned(),
    }
}

/// The `message` of an answer of `message_type` (`work-list`, `work`), or
/// what Crossref said instead.
fn message_of(body: &[u8], message_type: &str) -> Result<Value, ApiError> {
    let mut answer: Value =
        serde_json::from_slice(body).map_err(|e| malformed(&format!("not JSON: {e}")))?;
    match answer.get("status").and_then(Value::as_str) {
        Some("ok") => {}
        Some("failed") => {
            return Err(ApiError::Refused {
                api: API,
                message: describe_failure(&answer),
            });
        }
        _ => return Err(malformed("no \"status\": \"ok\"")),
    }
    if answer.get("message-type").and_then(Value::as_str) != Some(message_type) {
        return Err(malformed(&format!("not a {message_type}")));
    }
    answer
        .get_mut("message")
        .map(Value::take)
        .ok_or_else(|| malformed("no message"))
}

/// Reads one `work-list` page.
pub fn parse_works(body: &[u8]) -> Result<Page, ApiError> {
    let message = message_of(body, "work-list")?;
    let items = message
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no items array"))?;
    let mut page = Page {
        total: message.get("total-results").and_then(Value::as_u64),
        next: if items.is_empty() {
            None
        } else {
            message
                .get("next-cursor")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
        },
        ..Page::default()
    };
    for item in items {
        match paper(item) {
            Ok(paper) => page.papers.push(paper),
            Err(reason) => page.skipped.push(reason),
        }
    }
    Ok(page)
}

/// Reads one `works/<DOI>` answer: the work as a paper.
pub fn parse_work(body: &[u8]) -> Result<Paper, ApiError> {
    paper(&message_of(body, "work")?).map_err(malformed)
}

/// What Crossref said when it answered `status` (not 2xx) with `body`:
/// `HTTP 404: cursor-invalid: Cursor specified but it is invalid`, or the
/// plain-text body, trimmed and shortened.
pub fn refusal(status: u16, body: &[u8]) -> ApiError {
    let said = match serde_json::from_slice::<Value>(body) {
        Ok(answer) if answer.is_object() => describe_failure(&answer),
        _ => quote(&String::from_utf8_lossy(body)),
    };
    let message = if said.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        format!("HTTP {status}: {said}")
    };
    ApiError::Refused { api: API, message }
}

/// `type: message` for each error a failure answer lists, `; `-joined; the
/// message type when it lists none.
fn describe_failure(answer: &Value) -> String {
    let errors: Vec<String> = match answer.get("message") {
        Some(Value::Array(errors)) => errors
            .iter()
            .filter_map(|error| {
                let kind = error.get("type").and_then(Value::as_str);
                let text = error.get("message").and_then(Value::as_str);
                match (kind, text) {
                    (Some(kind), Some(text)) => Some(format!("{kind}: {}", quote(text))),
                    (Some(one), None) | (None, Some(one)) => Some(quote(one)),
                    (None, None) => None,
                }
            })
            .collect(),
        Some(Value::String(text)) => vec![quote(text)],
        _ => Vec::new(),
    };
    if errors.is_empty() {
        let kind = answer.get("message-type").and_then(Value::as_str);
        return kind.unwrap_or("no explanation given").to_owned();
    }
    errors.join("; ")
}

/// Text from the server, on one line and at most [`MAX_QUOTED`] characters.
fn quote(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

fn paper(item: &Value) -> Result<Paper, &'static str> {
    if !item.is_object() {
        return Err(NOT_A_WORK);
    }
    let doi = item
        .get("DOI")
        .and_then(Value::as_str)
        .and_then(PaperKey::normalize_doi)
        .ok_or(NO_DOI)?;
    let title = markup::to_text(first(item, "title").unwrap_or(""));
    if title.is_empty() {
        return Err(NO_TITLE);
    }
    let url = item
        .get("URL")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map_or_else(|| format!("https://doi.org/{doi}"), str::to_owned);
    let venue = first(item, "container-title")
        .map(markup::to_text)
        .filter(|v| !v.is_empty())
        .or_else(|| {
            item.get("publisher")
                .and_then(Value::as_str)
                .map(markup::to_text)
                .filter(|p| !p.is_empty())
        })
        .unwrap_or_else(|| API.to_owned());
    Ok(Paper {
        key: PaperKey::Doi(doi.clone()),
        arxiv: None,
        related: related(item, &doi),
        doi: Some(doi),
        title,
        abstract_text: item
            .get("abstract")
            .and_then(Value::as_str)
            .map(markup::to_text)
            .unwrap_or_default(),
        url,
        authors: authors(item),
        categories: strings(item.get("subject")).map(markup::to_text).collect(),
        venue,
        announce_type: None,
        published: DATE_FIELDS.iter().find_map(|field| date(item.get(field)?)),
    })
}

/// The first non-blank string of an array field (`title`, `container-title`).
fn first<'a>(item: &'a Value, field: &str) -> Option<&'a str> {
    strings(item.get(field)).find(|s| !s.trim().is_empty())
}

/// The strings in an array value; nothing for anything else.
fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `given family` for people, `name` for organisations.
fn authors(item: &Value) -> Vec<String> {
    let Some(people) = item.get("author").and_then(Value::as_array) else {
        return Vec::new();
    };
    people
        .iter()
        .filter_map(|person| {
            let part = |key| person.get(key).and_then(Value::as_str).unwrap_or("");
            let name = match (part("given").trim(), part("family").trim()) {
                ("", "") => part("name").trim().to_owned(),
                ("", family) => family.to_owned(),
                (given, "") => given.to_owned(),
                (given, family) => format!("{given} {family}"),
            };
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// `{"date-parts": [[2020, 11, 13]]}` → that day, midnight UTC; a missing
/// month or day is the first. `[[null]]` (no date known) is no date.
fn date(field: &Value) -> Option<DateTime<Utc>> {
    let parts = field.get("date-parts")?.get(0)?.as_array()?;
    let part = |i: usize, default: u32| match parts.get(i) {
        None | Some(Value::Null) => Some(default),
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()),
    };
    let year = i32::try_from(parts.first()?.as_i64()?).ok()?;
    let day = NaiveDate::from_ymd_opt(year, part(1, 1)?, part(2, 1)?)?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

/// The other DOIs (or arXiv ids) of the same work, each once, never the
/// work's own.
fn related(item: &Value, own: &str) -> Vec<PaperKey> {
    let mut keys: Vec<PaperKey> = Vec::new();
    let Some(relation) = item.get("relation") else {
        return keys;
    };
    for kind in SAME_WORK {
        let Some(entries) = relation.get(kind).and_then(Value::as_array) else {
            continue;
        };
        for entry in entries {
            let is_doi = entry
                .get("id-type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("doi"));
            let Some(doi) = entry
                .get("id")
                .and_then(Value::as_str)
                .filter(|_| is_doi)
                .and_then(PaperKey::normalize_doi)
                .filter(|doi| doi != own)
            else {
                continue;
            };
            let key = doi_key(doi);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// arXiv's own DOIs become arXiv keys: that is how arXiv papers are stored.
fn doi_key(doi: String) -> PaperKey {
    doi.strip_prefix(ARXIV_DOI_PREFIX)
        .and_then(|id| ArxivId::parse_with_version(id).ok())
        .map_or(PaperKey::Doi(doi.clone()), |(id, _)| PaperKey::Arxiv(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sources::api_fixture as fixture;

    fn peerj() -> Page {
        parse_works(&fixture(
            "crossref_journal_works_2167-8359_peerj_2026-06-16.json",
        ))
        .unwrap()
    }

    #[test]
    fn journal_works_yield_doi_keyed_papers_with_jats_abstracts_as_text() {
        let page = peerj();
        assert_eq!(page.papers.len(), 20);
        assert!(page.skipped.is_empty());
        assert_eq!(
            (page.total, page.next),
            (Some(21244), None),
            "no cursor asked"
        );
        let p = &page.papers[0];
        assert_eq!(p.key, PaperKey::Doi("10.7717/peerj.17172".into()));
        assert_eq!(p.doi.as_deref(), Some("10.7717/peerj.17172"));
        assert_eq!(p.url, "https://doi.org/10.7717/peerj.17172");
        assert!(
            p.title.starts_with(
                "Discovery of a peculiar insular race of Ravenna nivea (Nire, 1920) (Lepidoptera"
            ),
            "{}",
            p.title
        );
        assert!(
            p.abstract_text
                .starts_with("A peculiar population of Ravenna nivea (Nire, 1920) was discovered")
        );
        assert!(
            p.abstract_text
                .contains("subspecies ngiunmoiae Lo & Hsu, subsp. nov.")
        );
        assert_eq!(p.authors[..2], ["Yu-Feng Hsu", "Yik Fui Philip Lo"]);
        assert_eq!(p.venue, "PeerJ");
        assert!(p.categories.is_empty());
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "2024-04-23T00:00:00+00:00"
        );
        assert_eq!(p.announce_type, None);
        assert!(p.related.is_empty());
    }

    #[test]
    fn structured_jats_abstracts_keep_their_section_titles() {
        let page = peerj();
        let grazers = &page.papers[1].abstract_text;
        assert!(
            grazers.starts_with("Background: Grazing activity on periphytic mats"),
            "{grazers}"
        );
        assert!(grazers.contains("mohthpart morphology. Methods: An enclosure experiment"));
        assert!(
            grazers.contains("chlorophyll a(Chl a)"),
            "inline italics join without spaces"
        );
        assert!(!grazers.contains('<') && !grazers.contains("  "));
    }

    #[test]
    fn works_without_an_abstract_are_kept() {
        let page = peerj();
        let crabs = &page.papers[6];
        assert_eq!(crabs.key.to_string(), "doi:10.7717/peerj.1246");
        assert_eq!(crabs.abstract_text, "");
        assert_eq!(crabs.authors[1], "Nancy J. O\u{2019}Connor");
    }

    #[test]
    fn one_work_is_read_as_its_paper_and_a_list_is_not_one_work() {
        let paper = parse_work(&fixture(
            "crossref_work_10.1371_journal.pone.0033693_2026-06-16.json",
        ))
        .unwrap();
        assert_eq!(paper.key.to_string(), "doi:10.1371/journal.pone.0033693");
        assert_eq!(
            paper.title,
            "Methylphenidate Exposure Induces Dopamine Neuron Loss and Activation of Microglia \
             in the Basal Ganglia of Mice"
        );
        assert_eq!(paper.venue, "PLoS ONE");
        assert_eq!(paper.authors[0], "Shankar Sadasivan");
        assert_eq!(paper.abstract_text, "", "none deposited");
        let list = parse_work(&fixture(
            "crossref_journal_works_2167-8359_peerj_2026-06-16.json",
        ))
        .unwrap_err();
        assert!(list.to_string().contains("not a work"), "{list}");
    }

    #[test]
    fn a_cursor_page_carries_the_next_cursor_and_mixed_works() {
        let page = parse_works(&fixture(
            "crossref_works_query_cursor_first_page_2026-06-16.json",
        ))
        .unwrap();
        assert_eq!(page.papers.len(), 20);
        assert_eq!(page.total, Some(454));
        assert!(
            page.next
                .as_deref()
                .unwrap()
                .starts_with("DnF1ZXJ5VGhlbkZldGNo")
        );
        let chapter = &page.papers[0];
        assert_eq!(chapter.key.to_string(), "doi:10.1007/978-1-4302-0197-7_9");
        assert_eq!(
            chapter.venue,
            "Practical JavaScript™, DOM Scripting, and Ajax Projects"
        );
        assert!(chapter.authors.is_empty());
        // issued is [[null]]: the next field that has a date is created.
        assert_eq!(
            chapter.published.unwrap().to_rfc3339(),
            "2007-09-08T00:00:00+00:00"
        );
        // published-print [[2020]] is less telling than published-online.
        assert_eq!(
            page.papers[2].published.unwrap().to_rfc3339(),
            "2020-11-13T00:00:00+00:00"
        );
        // A month alone is the first of the month.
        let afrcon = &page.papers[5];
        assert_eq!(
            afrcon.published.unwrap().to_rfc3339(),
            "2009-09-01T00:00:00+00:00"
        );
        // posted-content without container-title: the publisher is the venue.
        let blog = &page.papers[19];
        assert_eq!(blog.venue, "Front Matter");
        assert!(
            blog.abstract_text
                .starts_with("In addition to this Swing-based screenshot")
        );
        assert_eq!(blog.url, "https://doi.org/10.59350/7mtwq-q3661");
    }

    #[test]
    fn the_second_page_of_a_member_walk_reads_the_same() {
        let page = parse_works(&fixture(
            "crossref_member_works_cursor_next_page_2026-06-16.json",
        ))
        .unwrap();
        assert_eq!(page.papers.len(), 5);
        assert_eq!(page.total, Some(138567));
        assert!(page.next.is_some());
        assert_eq!(page.papers[0].key.to_string(), "doi:10.1111/dth.13147");
        assert_eq!(page.papers[0].venue, "Dermatologic Therapy");
        assert_eq!(
            page.papers[3].published.unwrap().to_rfc3339(),
            "2002-06-01T00:00:00+00:00"
        );
    }

    #[test]
    fn standards_with_unknown_issue_dates_fall_back_to_their_creation() {
        let page = parse_works(&fixture(
            "crossref_member_works_from-index-date_2023-02-20.json",
        ))
        .unwrap();
        assert_eq!(page.papers.len(), 20);
        assert_eq!(page.total, Some(411));
        let p = &page.papers[0];
        assert_eq!(p.venue, "BSI British Standards");
        assert_eq!(
            p.title, "Dentistry \u{fffd} Endodontic instruments",
            "recorded with U+FFFD"
        );
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "2023-02-16T00:00:00+00:00"
        );
        assert!(page.papers.iter().all(|p| p.abstract_text.is_empty()));
    }

    #[test]
    fn an_empty_page_ends_the_walk() {
        let page = parse_works(&fixture("crossref_prefix_works_empty_2026-06-16.json")).unwrap();
        assert_eq!(
            page,
            Page {
                total: Some(0),
                ..Page::default()
            }
        );
        // Not recorded: Crossref's cursor on an empty last page is not followed.
        let last = br#"{"status":"ok","message-type":"work-list","message":{"items":[],"next-cursor":"abc","total-results":5}}"#;
        assert_eq!(parse_works(last).unwrap().next, None);
    }

    #[test]
    fn preprint_relations_become_related_keys_and_arxiv_dois_arxiv_keys() {
        // Not recorded (no recorded work has a relation): a relation block in
        // the shape Crossref documents.
        let body = br#"{"status":"ok","message-type":"work-list","message":{"total-results":1,"items":[
          {"DOI":"10.1000/J.1","title":["T"],"relation":{
            "has-preprint":[{"id-type":"doi","id":"10.1101/2020.01.01.000001","asserted-by":"object"},
                            {"id-type":"doi","id":"10.48550/arXiv.2101.00001","asserted-by":"object"}],
            "is-version-of":[{"id-type":"doi","id":"https://doi.org/10.1101/2020.01.01.000001"}],
            "cites":[{"id-type":"doi","id":"10.9/cited"}],
            "has-version":[{"id-type":"uri","id":"https://example.org/x"}]}}]}}"#;
        let page = parse_works(body).unwrap();
        let p = &page.papers[0];
        assert_eq!(p.key.to_string(), "doi:10.1000/j.1");
        let (arxiv, _) = ArxivId::parse_with_version("2101.00001").unwrap();
        assert_eq!(
            p.related,
            [
                PaperKey::Doi("10.1101/2020.01.01.000001".into()),
                PaperKey::Arxiv(arxiv)
            ]
        );
        assert_eq!(p.published, None);
        assert_eq!(p.venue, "Crossref");
    }

    #[test]
    fn works_without_doi_or_title_are_skipped_with_a_reason() {
        // Not recorded: minimal items.
        let body = br#"{"status":"ok","message-type":"work-list","message":{"items":[
            {"DOI":"10.1/x","title":[]},{"title":["T"]},7,
            {"DOI":"10.1/y","title":["T"],"issued":{"date-parts":[[2020,13,40]]},"author":[{"name":"BSI"}],"subject":["Ecology"]}]}}"#;
        let page = parse_works(body).unwrap();
        assert_eq!(page.skipped, [NO_TITLE, NO_DOI, NOT_A_WORK]);
        assert_eq!(
            page.papers[0].published, None,
            "an impossible date is no date"
        );
        assert_eq!(page.papers[0].authors, ["BSI"]);
        assert_eq!(page.papers[0].categories, ["Ecology"]);
    }

    #[test]
    fn refusals_name_the_status_the_error_type_and_crossrefs_words() {
        let cases = [
            (
                404,
                "crossref_error_404_cursor_invalid_2026-06-16.json",
                "HTTP 404: cursor-invalid: Cursor specified but it is invalid",
            ),
            (
                400,
                "crossref_error_400_validation_failure_2026-06-16.json",
                "HTTP 400: parameter-not-allowed: This route does not support filter",
            ),
            (
                404,
                "crossref_error_404_journal_not_found_2026-06-16.txt",
                "HTTP 404: Resource not found.",
            ),
        ];
        for (status, name, want) in cases {
            assert_eq!(
                refusal(status, &fixture(name)),
                ApiError::Refused {
                    api: API,
                    message: want.to_owned()
                }
            );
        }
        let long = "x".repeat(1000);
        let ApiError::Refused { message, .. } = refusal(503, long.as_bytes()) else {
            unreachable!()
        };
        assert_eq!(message.chars().count(), "HTTP 503: ".len() + MAX_QUOTED + 1);
        assert_eq!(
            refusal(502, b"  \n"),
            ApiError::Refused {
                api: API,
                message: "HTTP 502 with an empty body".into()
            }
        );
        // A failure answered with 200 is a refusal too.
        let err = parse_works(&fixture(
            "crossref_error_404_cursor_invalid_2026-06-16.json",
        ));
        assert!(matches!(err, Err(ApiError::Refused { .. })), "{err:?}");
    }

    #[test]
    fn anything_else_is_malformed_never_a_panic() {
        let whole = fixture("crossref_works_query_cursor_first_page_2026-06-16.json");
        let half = &whole[..whole.len() / 2];
        let not_a_list = br#"{"status":"ok","message-type":"work","message":{}}"#;
        for body in [half, b"<html>".as_slice(), b"{}", b"", b"null", not_a_list] {
            let got = parse_works(body);
            assert!(
                matches!(got, Err(ApiError::Malformed { api: API, .. })),
                "{:?}: {got:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
