//! arXiv OAI-PMH `ListRecords` answers (`metadataPrefix=arXiv`) → papers.
//! Pure: no I/O.
//!
//! OAI-PMH is how a whole arXiv archive or a past date range is harvested,
//! beside the daily RSS: `export.arxiv.org/oai2?verb=ListRecords&…` lists
//! the records changed in a window, a few hundred a page, continued by a
//! `resumptionToken`. The `arXiv` metadata format gives the parts the RSS
//! joins together (each author's keyname and forenames, the categories, the
//! DOI). Its `created` date is the first version's, the paper's own date.
//!
//! OAI-PMH reports an empty window as the error `noRecordsMatch`; that is an
//! empty last page here. Every other OAI error (`badArgument`,
//! `badResumptionToken`, …) is a refusal carrying its code and text.

use chrono::{DateTime, NaiveDate, Utc};
use quick_xml::events::BytesStart;

use super::markup::{Step, XmlWalk, attribute};
use super::page::{ApiError, Page};
use crate::domain::{ArxivId, Paper, PaperKey};

const API: &str = "arXiv OAI-PMH";

/// Why a record is not a paper.
const DELETED: &str = "deleted from arXiv";
const NO_ID: &str = "no arXiv identifier";
const NO_TITLE: &str = "no title";

/// Reads one `ListRecords` page.
pub fn parse_list_records(body: &[u8]) -> Result<Page, ApiError> {
    let body = std::str::from_utf8(body).map_err(|e| ApiError::Malformed {
        api: API,
        detail: format!("not UTF-8: {e}"),
    })?;
    let mut walk = XmlWalk::new(body, API);
    let mut page = Page::default();
    let mut record: Option<Record> = None;
    loop {
        match walk.next()? {
            Step::Open(start) if walk.depth() == 1 => {
                let root = start.local_name().as_ref().to_owned();
                if root != "OAI-PMH" {
                    return Err(ApiError::Malformed {
                        api: API,
                        detail: format!("<{root}> where <OAI-PMH> was expected"),
                    });
                }
            }
            Step::Open(start) => {
                if walk.at(&["OAI-PMH", "error"]) {
                    let code = attribute(&start, "code").unwrap_or_default();
                    let text = walk.text()?;
                    if code == "noRecordsMatch" {
                        return Ok(Page::default());
                    }
                    return Err(ApiError::Refused {
                        api: API,
                        message: format!("{code}: {text}"),
                    });
                } else if walk.at(&["ListRecords", "record"]) {
                    record = Some(Record::default());
                } else if walk.at(&["ListRecords", "resumptionToken"]) {
                    page.total = attribute(&start, "completeListSize").and_then(|n| n.parse().ok());
                    page.next = Some(walk.text()?).filter(|token| !token.is_empty());
                } else if let Some(record) = record.as_mut() {
                    record.read(&mut walk, &start)?;
                }
            }
            Step::Close(name) => {
                if name == "record"
                    && walk.at(&["ListRecords"])
                    && let Some(done) = record.take()
                {
                    match done.into_paper() {
                        Ok(paper) => page.papers.push(paper),
                        Err(reason) => page.skipped.push(reason),
                    }
                } else if name == "author"
                    && let Some(record) = record.as_mut()
                {
                    record.close_author();
                }
            }
            Step::End => break,
        }
    }
    Ok(page)
}

/// What one `record` has said so far.
#[derive(Default)]
struct Record {
    deleted: bool,
    identifier: String,
    id: String,
    created: String,
    title: String,
    abstract_text: String,
    categories: String,
    doi: String,
    authors: Vec<String>,
    /// The author being read: forenames, keyname, suffix.
    author: [String; 3],
}

impl Record {
    /// Takes in the element just opened, when it is one of the record's fields.
    fn read(&mut self, walk: &mut XmlWalk<'_>, start: &BytesStart<'_>) -> Result<(), ApiError> {
        if walk.at(&["record", "header"]) {
            self.deleted = attribute(start, "status").as_deref() == Some("deleted");
            return Ok(());
        }
        let field = if walk.at(&["header", "identifier"]) {
            &mut self.identifier
        } else if walk.at(&["metadata", "arXiv", "id"]) {
            &mut self.id
        } else if walk.at(&["metadata", "arXiv", "created"]) {
            &mut self.created
        } else if walk.at(&["metadata", "arXiv", "title"]) {
            &mut self.title
        } else if walk.at(&["metadata", "arXiv", "abstract"]) {
            &mut self.abstract_text
        } else if walk.at(&["metadata", "arXiv", "categories"]) {
            &mut self.categories
        } else if walk.at(&["metadata", "arXiv", "doi"]) {
            &mut self.doi
        } else if walk.at(&["authors", "author", "forenames"]) {
            &mut self.author[0]
        } else if walk.at(&["authors", "author", "keyname"]) {
            &mut self.author[1]
        } else if walk.at(&["authors", "author", "suffix"]) {
            &mut self.author[2]
        } else {
            return Ok(());
        };
        *field = walk.text()?;
        Ok(())
    }

    fn close_author(&mut self) {
        let name = self
            .author
            .iter()
            .filter(|part| !part.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        self.author = Default::default();
        if !name.is_empty() {
            self.authors.push(name);
        }
    }

    fn into_paper(self) -> Result<Paper, &'static str> {
        if self.deleted {
            return Err(DELETED);
        }
        let source = if self.id.is_empty() {
            &self.identifier
        } else {
            &self.id
        };
        let (id, _) = ArxivId::parse_with_version(source).map_err(|_| NO_ID)?;
        if self.title.is_empty() {
            return Err(NO_TITLE);
        }
        Ok(Paper {
            key: PaperKey::Arxiv(id.clone()),
            url: id.abs_url(),
            arxiv: Some((id, None)),
            // arXiv lists a paper's DOIs space-separated; the first is its own.
            doi: self
                .doi
                .split_whitespace()
                .next()
                .and_then(PaperKey::normalize_doi),
            related: Vec::new(),
            title: self.title,
            abstract_text: self.abstract_text,
            authors: self.authors,
            categories: self
                .categories
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            venue: "arXiv".to_owned(),
            announce_type: None,
            published: day(&self.created),
        })
    }
}

/// `2014-12-29` → midnight UTC that day.
fn day(date: &str) -> Option<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &[u8] = include_bytes!(
        "../../tests/fixtures/api/arxiv_oai_listrecords_arXiv_from2015-01-01_recorded_2018-06-21.xml"
    );
    const RETRY_LATER: &[u8] =
        include_bytes!("../../tests/fixtures/api/arxiv_oai_error_503_retry_after_2018-06-21.html");

    /// Not recorded: the OAI-PMH envelope around a body of its own.
    fn oai(inner: &str) -> Vec<u8> {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2026-01-01T00:00:00Z</responseDate><request verb="ListRecords">http://export.arxiv.org/oai2</request>{inner}</OAI-PMH>"#
        )
        .into_bytes()
    }

    #[test]
    fn records_yield_arxiv_keyed_papers_with_authors_categories_doi_and_created_date() {
        let page = parse_list_records(LIST).unwrap();
        assert_eq!(page.papers.len(), 2);
        assert!(page.skipped.is_empty());
        assert_eq!(
            (page.next.as_ref(), page.total),
            (None, None),
            "no resumptionToken"
        );
        let p = &page.papers[0];
        assert_eq!(p.key.to_string(), "arxiv:1412.8544");
        assert_eq!(
            p.arxiv.as_ref().map(|(id, v)| (id.as_str(), *v)),
            Some(("1412.8544", None))
        );
        assert_eq!(p.url, "https://arxiv.org/abs/1412.8544");
        assert_eq!(
            p.title,
            "A Kochen-Specker system has at least 22 vectors (extended abstract)"
        );
        assert_eq!(p.authors, ["Sander Uijlen", "Bas Westerbaan"]);
        assert_eq!(p.categories, ["cs.DM"]);
        assert_eq!(p.doi.as_deref(), Some("10.4204/eptcs.172.11"));
        assert_eq!(p.venue, "arXiv");
        assert_eq!(p.announce_type, None);
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "2014-12-29T00:00:00+00:00"
        );
        assert!(p.abstract_text.starts_with(
            "At the heart of the Conway-Kochen Free Will theorem and Kochen and Specker's argument"
        ));
        assert!(p.abstract_text.ends_with("improve the lower bound to 22."));
        assert!(!p.abstract_text.contains('\n') && !p.abstract_text.contains("  "));
    }

    #[test]
    fn old_style_ids_and_tex_in_abstracts_are_kept() {
        let page = parse_list_records(LIST).unwrap();
        let p = &page.papers[1];
        assert_eq!(p.key.to_string(), "arxiv:hep-th/9504118");
        assert_eq!(p.url, "https://arxiv.org/abs/hep-th/9504118");
        assert_eq!(p.authors, ["M. Requardt"]);
        assert_eq!(p.categories, ["hep-th"]);
        assert_eq!(p.doi, None);
        assert!(
            p.abstract_text
                .contains("a '{\\it cellular network}' consisting of cells")
        );
        assert!(p.abstract_text.contains("the \"strength\" of the bonds"));
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "1995-04-24T00:00:00+00:00"
        );
    }

    #[test]
    fn a_resumption_token_continues_the_walk_and_deleted_records_are_skipped() {
        // Not recorded (the recorded window fits one page): a deleted record,
        // one with two categories and two DOIs, and a resumption token.
        let body = oai(r#"<ListRecords>
            <record><header status="deleted"><identifier>oai:arXiv.org:0704.0001</identifier><datestamp>2020-01-01</datestamp></header></record>
            <record><header><identifier>oai:arXiv.org:math/0501001</identifier></header><metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/">
              <id>math/0501001</id><created>2005-01-01</created><authors><author><keyname>Doe</keyname><forenames>J.</forenames><suffix>Jr</suffix></author></authors>
              <title>T</title><categories>math.AG math.NT</categories><doi>10.1/A 10.1/b</doi><abstract>x</abstract></arXiv></metadata></record>
            <resumptionToken cursor="0" completeListSize="2735">6960524|1001</resumptionToken></ListRecords>"#);
        let page = parse_list_records(&body).unwrap();
        assert_eq!(page.skipped, [DELETED]);
        let p = &page.papers[0];
        assert_eq!(p.key.to_string(), "arxiv:math/0501001");
        assert_eq!(p.authors, ["J. Doe Jr"]);
        assert_eq!(p.categories, ["math.AG", "math.NT"]);
        assert_eq!(p.doi.as_deref(), Some("10.1/a"));
        assert_eq!(page.next.as_deref(), Some("6960524|1001"));
        assert_eq!(page.total, Some(2735));

        let last = oai(
            r#"<ListRecords><resumptionToken cursor="1000" completeListSize="1001"/></ListRecords>"#,
        );
        let page = parse_list_records(&last).unwrap();
        assert_eq!((page.next, page.total), (None, Some(1001)));
    }

    #[test]
    fn records_without_id_or_title_are_skipped_with_a_reason() {
        // Not recorded: minimal records.
        let body = oai(
            r#"<ListRecords><record><header><identifier>oai:x:y</identifier></header><metadata><arXiv><id>nonsense</id><title>T</title></arXiv></metadata></record><record><header/><metadata><arXiv><id>2101.00001</id><title> </title></arXiv></metadata></record></ListRecords>"#,
        );
        let page = parse_list_records(&body).unwrap();
        assert!(page.papers.is_empty());
        assert_eq!(page.skipped, [NO_ID, NO_TITLE]);
    }

    #[test]
    fn no_records_is_an_empty_page_and_other_oai_errors_are_refusals() {
        // Not recorded: OAI-PMH errors as the protocol specifies them.
        let none = oai(r#"<error code="noRecordsMatch">No records match</error>"#);
        assert_eq!(parse_list_records(&none), Ok(Page::default()));
        let bad = oai(
            r#"<error code="badResumptionToken">The value of the resumptionToken argument is invalid or expired.</error>"#,
        );
        assert_eq!(
            parse_list_records(&bad),
            Err(ApiError::Refused {
                api: API,
                message: "badResumptionToken: The value of the resumptionToken argument is invalid or expired.".into()
            })
        );
    }

    #[test]
    fn anything_else_is_malformed_never_a_panic() {
        let text = std::str::from_utf8(LIST).unwrap();
        let half = &text.as_bytes()[..text.floor_char_boundary(text.len() / 2)];
        for body in [half, RETRY_LATER, b"<html>", b"{}", b"", b"\xff"] {
            let got = parse_list_records(body);
            assert!(
                matches!(got, Err(ApiError::Malformed { api: API, .. })),
                "{got:?}"
            );
        }
    }
}
