//! bioRxiv / medRxiv `details` answers → papers. Pure: no I/O.
//!
//! `api.biorxiv.org/details/<server>/<from>/<to>/<cursor>` lists every
//! preprint version posted in a date window, 100 a page at most (30 in
//! practice), for both servers. The preprints are keyed by DOI: the DOI
//! stays the same across versions, so a new version updates the stored
//! paper (announced as a replacement) instead of adding another. The
//! journal version a preprint became, when the server knows it, is kept
//! as a related identity.
//!
//! The server pages by offset: the next request carries `cursor + count`
//! until it reaches `total`. Numbers come as JSON numbers or as strings,
//! depending on the field and the day, so both are read. A window with
//! nothing in it is answered with a status other than "ok" (e.g. "no posts
//! found"): that is an empty last page, not an error.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::markup;
use super::page::{ApiError, Page};
use crate::domain::{AnnounceType, Paper, PaperKey};

/// Why a record is not a paper.
const NO_TITLE: &str = "no title";
const NO_DOI: &str = "no DOI";
const OTHER_SUBJECT: &str = "not in the subject asked for";
const NOT_A_RECORD: &str = "not a record (JSON object expected)";

/// Reads one `details` page. `venue` is "bioRxiv" or "medRxiv" (it names the
/// papers' venue and site); with a `subject`, records of other categories are
/// skipped, compared without regard to case or `_` for a space.
pub fn parse_details(body: &[u8], venue: &str, subject: Option<&str>) -> Result<Page, ApiError> {
    let api = api_name(venue);
    let malformed = |detail: &str| ApiError::Malformed {
        api,
        detail: detail.to_owned(),
    };
    let answer: Value =
        serde_json::from_slice(body).map_err(|e| malformed(&format!("not JSON: {e}")))?;
    let message = answer
        .get("messages")
        .and_then(|m| m.get(0))
        .ok_or_else(|| malformed("no messages[0]"))?;
    if message.get("status").and_then(Value::as_str) != Some("ok") {
        return Ok(Page::default());
    }
    let records = answer
        .get("collection")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("status ok but no collection array"))?;
    let (next, total) = paging(message)
        .ok_or_else(|| malformed("messages[0] lacks a numeric cursor, count or total"))?;
    let server = Server::of(venue);
    let subject = subject.map(subject_key);
    let mut page = Page {
        next,
        total: Some(total),
        ..Page::default()
    };
    for record in records {
        match paper(record, &server, subject.as_deref()) {
            Ok(paper) => page.papers.push(paper),
            Err(reason) => page.skipped.push(reason),
        }
    }
    Ok(page)
}

/// The API name errors carry: the server asked, as its operators spell it.
fn api_name(venue: &str) -> &'static str {
    if venue.eq_ignore_ascii_case("medrxiv") {
        "medRxiv"
    } else {
        "bioRxiv"
    }
}

struct Server {
    venue: &'static str,
    host: &'static str,
}

impl Server {
    fn of(venue: &str) -> Self {
        match api_name(venue) {
            "medRxiv" => Server {
                venue: "medRxiv",
                host: "www.medrxiv.org",
            },
            _ => Server {
                venue: "bioRxiv",
                host: "www.biorxiv.org",
            },
        }
    }
}

/// The next offset (while `cursor + count` is short of `total`) and the total.
fn paging(message: &Value) -> Option<(Option<String>, u64)> {
    let cursor = number(message.get("cursor")?)?;
    let count = number(message.get("count")?)?;
    let total = number(message.get("total")?)?;
    let after = cursor.checked_add(count)?;
    let next = (count > 0 && after < total).then(|| after.to_string());
    Some((next, total))
}

/// A count the API writes as `30` one day and `"30"` the next.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `Cancer_Biology` and `cancer biology` name the same subject.
fn subject_key(subject: &str) -> String {
    subject.trim().replace('_', " ").to_lowercase()
}

fn paper(record: &Value, server: &Server, subject: Option<&str>) -> Result<Paper, &'static str> {
    if !record.is_object() {
        return Err(NOT_A_RECORD);
    }
    let field = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or("");
    let category = field("category").trim();
    if subject.is_some_and(|s| s != subject_key(category)) {
        return Err(OTHER_SUBJECT);
    }
    let title = markup::to_text(field("title"));
    if title.is_empty() {
        return Err(NO_TITLE);
    }
    let doi = PaperKey::normalize_doi(field("doi")).ok_or(NO_DOI)?;
    let version = record
        .get("version")
        .and_then(number)
        .and_then(|v| u32::try_from(v).ok());
    let url = match version {
        Some(v) => format!("https://{}/content/{doi}v{v}", server.host),
        None => format!("https://{}/content/{doi}", server.host),
    };
    Ok(Paper {
        key: PaperKey::Doi(doi.clone()),
        arxiv: None,
        related: PaperKey::normalize_doi(field("published"))
            .map(PaperKey::Doi)
            .into_iter()
            .collect(),
        doi: Some(doi),
        title,
        abstract_text: markup::to_text(field("abstract")),
        url,
        authors: authors(field("authors")),
        categories: (!category.is_empty())
            .then(|| category.to_owned())
            .into_iter()
            .collect(),
        venue: server.venue.to_owned(),
        announce_type: version.map(|v| {
            if v <= 1 {
                AnnounceType::New
            } else {
                AnnounceType::Replace
            }
        }),
        published: day(field("date")),
    })
}

/// `Evans, T.; Cho, B.-K.; Smith, C. P.` → `["Evans, T.", "Cho, B.-K.", "Smith, C. P."]`:
/// the semicolon separates authors, the comma only surname from initials.
fn authors(list: &str) -> Vec<String> {
    list.split(';')
        .map(|name| name.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|name| !name.is_empty())
        .collect()
}

/// `2026-08-01` → midnight UTC that day.
fn day(date: &str) -> Option<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIORXIV: &[u8] = include_bytes!(
        "../../tests/fixtures/api/biorxiv_api_details_2026-08-01_2026-08-05_trimmed_reformatted.json"
    );
    const MEDRXIV: &[u8] = include_bytes!(
        "../../tests/fixtures/api/medrxiv_api_details_2026-08-01_2026-08-05_trimmed_reformatted.json"
    );

    #[test]
    fn a_biorxiv_page_yields_doi_keyed_versions_with_their_links_and_dates() {
        let page = parse_details(BIORXIV, "bioRxiv", None).unwrap();
        assert_eq!(page.papers.len(), 10);
        assert!(page.skipped.is_empty());
        let first = &page.papers[0];
        assert_eq!(
            first.key,
            PaperKey::Doi("10.64898/2026.07.31.741992".into())
        );
        assert_eq!(first.doi.as_deref(), Some("10.64898/2026.07.31.741992"));
        assert_eq!(
            first.title,
            "Sound-shape correspondences in macaques reveal evolutionary roots of sound symbolism"
        );
        assert_eq!(
            first.url,
            "https://www.biorxiv.org/content/10.64898/2026.07.31.741992v1"
        );
        assert_eq!(
            first.authors,
            ["Loconsole, M.", "Xue, C.", "Garcia-Pelegrin, E."]
        );
        assert_eq!(first.categories, ["animal behavior and cognition"]);
        assert_eq!(first.venue, "bioRxiv");
        assert_eq!(first.announce_type, Some(AnnounceType::New));
        assert_eq!(
            first.published.unwrap().to_rfc3339(),
            "2026-08-01T00:00:00+00:00"
        );
        assert!(first.related.is_empty(), "published is \"NA\"");
        assert!(first.abstract_text.starts_with("Humans reliably associate"));

        let revised = &page.papers[2];
        assert_eq!(revised.key.to_string(), "doi:10.1101/2025.04.11.648403");
        assert_eq!(revised.announce_type, Some(AnnounceType::Replace));
        assert!(revised.url.ends_with("/10.1101/2025.04.11.648403v2"));
        assert_eq!(
            revised.authors,
            [
                "Evans, T.",
                "Lee, Y.",
                "Hesketh, A.",
                "Cho, B.-K.",
                "Smith, C. P.",
                "Bucca, G."
            ]
        );
    }

    #[test]
    fn abstracts_become_one_line() {
        let page = parse_details(BIORXIV, "bioRxiv", None).unwrap();
        let sectioned = &page.papers[1].abstract_text;
        assert!(!sectioned.contains('\n'));
        // bioRxiv's own text glues section headings to their first word.
        assert!(sectioned.starts_with("PurposeWe introduce GO_SCPLOWRAC_SCPLOWNPA"));
        assert!(sectioned.contains("this method opens the way"));
    }

    #[test]
    fn the_next_offset_is_cursor_plus_count_until_the_total() {
        let page = parse_details(BIORXIV, "bioRxiv", None).unwrap();
        assert_eq!(page.next.as_deref(), Some("30"));
        assert_eq!(page.total, Some(873));
        let page = parse_details(MEDRXIV, "medRxiv", None).unwrap();
        assert_eq!((page.next.as_deref(), page.total), (Some("30"), Some(246)));

        // Not recorded: the last page of a walk, with the cursor as a string.
        let last = br#"{"messages":[{"status":"ok","cursor":"240","count":6,"total":"246"}],"collection":[]}"#;
        let page = parse_details(last, "medRxiv", None).unwrap();
        assert_eq!((page.next, page.total), (None, Some(246)));
    }

    #[test]
    fn medrxiv_papers_link_to_medrxiv_and_keep_surname_initials() {
        let page = parse_details(MEDRXIV, "medRxiv", None).unwrap();
        assert_eq!(page.papers.len(), 10);
        let p = &page.papers[1];
        assert_eq!(
            p.url,
            "https://www.medrxiv.org/content/10.1101/2025.11.18.25340542v2"
        );
        assert_eq!(p.venue, "medRxiv");
        assert_eq!(p.categories, ["rheumatology"]);
        assert!(
            p.authors.contains(&"Srinivas K, R.".to_owned()),
            "{:?}",
            p.authors
        );
        assert!(p.authors.contains(&"B R, N.".to_owned()));
        let v3 = &page.papers[3];
        assert!(v3.url.ends_with("v3"));
        assert_eq!(v3.announce_type, Some(AnnounceType::Replace));
        assert_eq!(
            page.papers[4].published.unwrap().to_rfc3339(),
            "2026-08-02T00:00:00+00:00"
        );
    }

    #[test]
    fn a_subject_keeps_only_its_category() {
        let page = parse_details(BIORXIV, "bioRxiv", Some("Evolutionary_Biology")).unwrap();
        assert_eq!(page.papers.len(), 2);
        assert!(
            page.papers
                .iter()
                .all(|p| p.categories == ["evolutionary biology"])
        );
        assert_eq!(page.skipped, [OTHER_SUBJECT; 8]);
        assert_eq!(
            page.next.as_deref(),
            Some("30"),
            "paging is the window's, not the subject's"
        );
    }

    #[test]
    fn a_published_journal_doi_becomes_a_related_identity() {
        // Not recorded: one record shaped as the API writes it, with a journal DOI.
        let body = br#"{"messages":[{"status":"ok","cursor":0,"count":1,"total":1}],"collection":[
            {"title":"T","authors":"A, B.","doi":"10.1101/2020.01.01.000001","date":"2020-01-02",
             "version":"3","category":"genomics","abstract":"x","published":"10.1038/S41586-020-0001-X"}]}"#;
        let page = parse_details(body, "bioRxiv", None).unwrap();
        assert_eq!(
            page.papers[0].related,
            [PaperKey::Doi("10.1038/s41586-020-0001-x".into())]
        );
        assert_eq!(page.next, None);
    }

    #[test]
    fn records_without_title_or_doi_are_skipped_with_a_reason() {
        // Not recorded: minimal records.
        let body = br#"{"messages":[{"status":"ok","cursor":0,"count":3,"total":3}],"collection":[
            {"title":" ","doi":"10.1101/1"},{"title":"T","doi":"NA"},"odd"]}"#;
        let page = parse_details(body, "bioRxiv", None).unwrap();
        assert!(page.papers.is_empty());
        assert_eq!(page.skipped, [NO_TITLE, NO_DOI, NOT_A_RECORD]);
    }

    #[test]
    fn an_empty_window_is_an_empty_last_page() {
        // Not recorded: the reply's shape as the API documents it.
        let body = br#"{"messages":[{"status":"no posts found"}],"collection":[]}"#;
        assert_eq!(parse_details(body, "bioRxiv", None), Ok(Page::default()));
    }

    #[test]
    fn anything_else_is_malformed_never_a_panic() {
        let half = &BIORXIV[..BIORXIV.len() / 2];
        for body in [
            half,
            b"<html>".as_slice(),
            b"{}",
            b"",
            b"[]",
            br#"{"messages":[{"status":"ok"}]}"#,
        ] {
            match parse_details(body, "medRxiv", None) {
                Err(ApiError::Malformed { api, .. }) => assert_eq!(api, "medRxiv"),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let no_paging = br#"{"messages":[{"status":"ok"}],"collection":[]}"#;
        assert!(parse_details(no_paging, "bioRxiv", None).is_err());
    }
}
