//! PubMed E-utilities answers → a search result and papers. Pure: no I/O.
//!
//! Collecting from PubMed takes two calls: `esearch` finds the PMIDs a
//! query matches (and, with `usehistory=y`, parks them on the server as a
//! `WebEnv` + `query_key`), then `efetch` returns the articles, a few
//! hundred at a time. The collector pages `efetch` itself, so an efetch
//! page carries no continuation.
//!
//! Articles are keyed by DOI when PubMed knows one, so the same paper
//! found through Crossref or a journal feed is stored once; otherwise by
//! their PubMed address. Only the article's own identifiers count: the
//! reference list of a 2025 record carries dozens of other DOIs and PMIDs,
//! so every field is read at its exact place in the record. A structured
//! abstract keeps its section labels (`OBJECTIVE: …`), and MathML in an
//! abstract reads as linear notation (see [`markup`]).
//!
//! The date an article counts as published is when PubMed listed it (the
//! `entrez` date): that is when a reader could first find it there, and
//! the only date every record has in the same precision.

use chrono::{DateTime, NaiveDate, Utc};
use quick_xml::events::BytesStart;

use super::markup::{Step, XmlWalk, attribute};
use super::page::{ApiError, Page};
use crate::domain::{Paper, PaperKey};

const API: &str = "PubMed";

/// Why a record is not a paper.
const NO_PMID: &str = "no PMID";
const NO_TITLE: &str = "no title";
const BOOK: &str = "a book or chapter (PubmedBookArticle), not an article";

/// What an esearch call found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// How many records match in all (not just the ids returned).
    pub count: u64,
    /// With `WebEnv`, where the server parked the result for efetch.
    pub query_key: Option<String>,
    pub web_env: Option<String>,
    /// The PMIDs of this page of the result.
    pub ids: Vec<String>,
    /// What PubMed said about the query: phrases it did not find or
    /// ignored, output messages ("No items found.").
    pub warnings: Vec<String>,
}

/// Reads an `eSearchResult`. Only its own `Count` is the result's size:
/// the `TranslationStack` holds a count per search term as well.
pub fn parse_esearch(body: &[u8]) -> Result<Search, ApiError> {
    let mut walk = XmlWalk::new(as_text(body)?, API);
    let mut search = Search::default();
    let mut count = None;
    loop {
        let start = match walk.next()? {
            Step::Open(start) => start,
            Step::Close(_) => continue,
            Step::End => break,
        };
        if walk.depth() == 1 {
            expect_root(&walk, &start, "eSearchResult")?;
            continue;
        }
        if walk.depth() > 3 {
            continue;
        }
        let name = local(&start);
        if walk.at(&["eSearchResult", "Count"]) {
            let text = walk.text()?;
            count = Some(text.parse().map_err(|_| ApiError::Malformed {
                api: API,
                detail: format!("Count {text:?} is not a number"),
            })?);
        } else if walk.at(&["eSearchResult", "QueryKey"]) {
            search.query_key = Some(walk.text()?).filter(|k| !k.is_empty());
        } else if walk.at(&["eSearchResult", "WebEnv"]) {
            search.web_env = Some(walk.text()?).filter(|w| !w.is_empty());
        } else if walk.at(&["eSearchResult", "ERROR"]) {
            return Err(refused(walk.text()?));
        } else if walk.at(&["eSearchResult", "IdList", "Id"]) {
            search.ids.push(walk.text()?);
        } else if walk.at(&["eSearchResult", "ErrorList", name.as_str()])
            || walk.at(&["eSearchResult", "WarningList", name.as_str()])
        {
            let text = walk.text()?;
            if !text.is_empty() {
                search.warnings.push(warning(&name, &text));
            }
        }
    }
    search.count = count.ok_or_else(|| ApiError::Malformed {
        api: API,
        detail: "eSearchResult without a Count".to_owned(),
    })?;
    Ok(search)
}

/// Reads a `PubmedArticleSet` (efetch, `retmode=xml`) into papers.
pub fn parse_efetch(body: &[u8]) -> Result<Page, ApiError> {
    let mut walk = XmlWalk::new(as_text(body)?, API);
    let mut page = Page::default();
    let mut article: Option<Article> = None;
    loop {
        match walk.next()? {
            Step::Open(start) if walk.depth() == 1 => {
                if local(&start) == "eFetchResult" {
                    return Err(efetch_error(&mut walk));
                }
                expect_root(&walk, &start, "PubmedArticleSet")?;
            }
            Step::Open(start) if walk.depth() == 2 => match local(&start).as_str() {
                "PubmedArticle" => article = Some(Article::default()),
                "PubmedBookArticle" => page.skipped.push(BOOK),
                _ => {}
            },
            Step::Open(start) => {
                if let Some(article) = article.as_mut() {
                    article.read(&mut walk, &start)?;
                }
            }
            Step::Close(name) => {
                if name == "PubmedArticle" && walk.depth() == 1 {
                    if let Some(done) = article.take() {
                        match done.into_paper() {
                            Ok(paper) => page.papers.push(paper),
                            Err(reason) => page.skipped.push(reason),
                        }
                    }
                } else if let Some(article) = article.as_mut() {
                    article.close(&walk, &name);
                }
            }
            Step::End => break,
        }
    }
    Ok(page)
}

/// The body as text: E-utilities answer in UTF-8.
fn as_text(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| ApiError::Malformed {
        api: API,
        detail: format!("not UTF-8: {e}"),
    })
}

fn local(start: &BytesStart<'_>) -> String {
    start.local_name().as_ref().to_owned()
}

fn expect_root(walk: &XmlWalk<'_>, start: &BytesStart<'_>, want: &str) -> Result<(), ApiError> {
    let root = local(start);
    if walk.depth() == 1 && root == want {
        Ok(())
    } else {
        Err(ApiError::Malformed {
            api: API,
            detail: format!("<{root}> where <{want}> was expected"),
        })
    }
}

fn refused(text: String) -> ApiError {
    let message = if text.is_empty() {
        "an ERROR without an explanation".to_owned()
    } else {
        text
    };
    ApiError::Refused { api: API, message }
}

/// efetch's `<eFetchResult><ERROR>…</ERROR></eFetchResult>`, or what else
/// stands in its place.
fn efetch_error(walk: &mut XmlWalk<'_>) -> ApiError {
    loop {
        match walk.next() {
            Ok(Step::Open(_)) if walk.at(&["eFetchResult", "ERROR"]) => {
                return match walk.text() {
                    Ok(text) => refused(text),
                    Err(e) => e,
                };
            }
            Ok(Step::End) => return refused(String::new()),
            Ok(_) => {}
            Err(e) => return e,
        }
    }
}

/// `PhraseNotFound` + `abcXYZ` → `phrase not found: abcXYZ`; an output
/// message is its own text.
fn warning(kind: &str, text: &str) -> String {
    if kind == "OutputMessage" {
        return text.to_owned();
    }
    let mut words = String::new();
    for c in kind.chars() {
        if c.is_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    format!("{words}: {text}")
}

/// Which date a date element holds.
#[derive(Clone, Copy, PartialEq)]
enum DateKind {
    Entrez,
    Pubmed,
    /// `ArticleDate`: the electronic publication.
    Article,
    /// The journal issue's `PubDate`.
    Issue,
    /// Any other `PubMedPubDate` (received, accepted, medline…).
    Other,
}

/// The elements a date is written in.
const DATE_PARTS: [&str; 6] = ["Year", "Month", "Day", "Hour", "Minute", "MedlineDate"];

#[derive(Default)]
struct DateParts {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    minute: Option<u32>,
}

impl DateParts {
    /// The date, the missing parts taken as the earliest.
    fn date(&self) -> Option<DateTime<Utc>> {
        let day =
            NaiveDate::from_ymd_opt(self.year?, self.month.unwrap_or(1), self.day.unwrap_or(1))?;
        Some(
            day.and_hms_opt(self.hour.unwrap_or(0), self.minute.unwrap_or(0), 0)?
                .and_utc(),
        )
    }

    /// Takes in one of [`DATE_PARTS`]; what does not read as a number is
    /// left unknown.
    fn set(&mut self, part: &str, text: &str) {
        match part {
            "Year" => self.year = text.parse().ok(),
            "Month" => self.month = month(text),
            "Day" => self.day = text.parse().ok(),
            "Hour" => self.hour = text.parse().ok(),
            "Minute" => self.minute = text.parse().ok(),
            _ => *self = DateParts::medline(text),
        }
    }

    /// A `MedlineDate` such as `1998 Dec-1999 Jan`: its first year and month.
    fn medline(text: &str) -> Self {
        let mut words = text.split_whitespace();
        DateParts {
            year: words
                .next()
                .and_then(|w| w.get(..4))
                .and_then(|y| y.parse().ok()),
            month: words.next().and_then(month),
            ..DateParts::default()
        }
    }
}

/// `9`, `09` or `Sep`.
fn month(text: &str) -> Option<u32> {
    if let Ok(n) = text.parse() {
        return Some(n);
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let head = text.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == head)
        .and_then(|i| u32::try_from(i + 1).ok())
}

#[derive(Default)]
struct Author {
    last: String,
    fore: String,
    collective: String,
}

/// What one `PubmedArticle` has said so far.
#[derive(Default)]
struct Article {
    pmid: String,
    title: String,
    abstract_parts: Vec<String>,
    authors: Vec<String>,
    author: Option<Author>,
    journal: String,
    doi: Option<String>,
    location_doi: Option<String>,
    mesh: Vec<String>,
    date: Option<(DateKind, DateParts)>,
    dates: Vec<(DateKind, DateTime<Utc>)>,
}

impl Article {
    /// Takes in the element just opened, when it is one of the article's
    /// own fields.
    fn read(&mut self, walk: &mut XmlWalk<'_>, start: &BytesStart<'_>) -> Result<(), ApiError> {
        const CITATION: &str = "MedlineCitation";
        if walk.at(&[CITATION, "PMID"]) {
            self.pmid = walk.text()?;
        } else if walk.at(&[CITATION, "Article", "ArticleTitle"]) {
            self.title = walk.text()?;
        } else if walk.at(&["Article", "Abstract", "AbstractText"]) {
            let text = walk.text()?;
            let part = match attribute(start, "Label").filter(|l| !l.is_empty()) {
                Some(label) if !text.is_empty() => format!("{label}: {text}"),
                _ => text,
            };
            if !part.is_empty() {
                self.abstract_parts.push(part);
            }
        } else if walk.at(&["Article", "Journal", "Title"]) {
            self.journal = walk.text()?;
        } else if walk.at(&["Article", "AuthorList", "Author"]) {
            self.author = Some(Author::default());
        } else if walk.at(&["AuthorList", "Author", "LastName"]) {
            let text = walk.text()?;
            self.author.get_or_insert_default().last = text;
        } else if walk.at(&["AuthorList", "Author", "ForeName"]) {
            let text = walk.text()?;
            self.author.get_or_insert_default().fore = text;
        } else if walk.at(&["AuthorList", "Author", "CollectiveName"]) {
            let text = walk.text()?;
            self.author.get_or_insert_default().collective = text;
        } else if walk.at(&["MeshHeadingList", "MeshHeading", "DescriptorName"]) {
            let text = walk.text()?;
            if !text.is_empty() {
                self.mesh.push(text);
            }
        } else if walk.at(&["PubmedData", "ArticleIdList", "ArticleId"])
            && attribute(start, "IdType").as_deref() == Some("doi")
        {
            self.doi = self.doi.take().or(PaperKey::normalize_doi(&walk.text()?));
        } else if walk.at(&[CITATION, "Article", "ELocationID"])
            && attribute(start, "EIdType").as_deref() == Some("doi")
        {
            self.location_doi = self
                .location_doi
                .take()
                .or(PaperKey::normalize_doi(&walk.text()?));
        } else if let Some(kind) = date_kind(walk, start) {
            self.date = Some((kind, DateParts::default()));
        } else if let Some((_, parts)) = self.date.as_mut() {
            let part = local(start);
            if DATE_PARTS.contains(&part.as_str()) {
                parts.set(&part, &walk.text()?);
            }
        }
        Ok(())
    }

    /// Finishes an author or a date when its element closes.
    fn close(&mut self, walk: &XmlWalk<'_>, name: &str) {
        match name {
            "Author" if walk.at(&["Article", "AuthorList"]) => {
                if let Some(author) = self.author.take() {
                    let name = match (author.fore.as_str(), author.last.as_str()) {
                        (_, "") => author.collective,
                        ("", last) => last.to_owned(),
                        (fore, last) => format!("{fore} {last}"),
                    };
                    if !name.is_empty() {
                        self.authors.push(name);
                    }
                }
            }
            "PubMedPubDate" | "ArticleDate" | "PubDate" => {
                if let Some((kind, parts)) = self.date.take()
                    && let Some(date) = parts.date()
                {
                    self.dates.push((kind, date));
                }
            }
            _ => {}
        }
    }

    fn into_paper(self) -> Result<Paper, &'static str> {
        if self.pmid.is_empty() {
            return Err(NO_PMID);
        }
        if self.title.is_empty() {
            return Err(NO_TITLE);
        }
        let url = format!("https://pubmed.ncbi.nlm.nih.gov/{}/", self.pmid);
        let doi = self.doi.or(self.location_doi);
        let date = |kind| self.dates.iter().find(|(k, _)| *k == kind).map(|(_, d)| *d);
        let published = [
            DateKind::Entrez,
            DateKind::Pubmed,
            DateKind::Article,
            DateKind::Issue,
        ]
        .into_iter()
        .find_map(date);
        Ok(Paper {
            key: match &doi {
                Some(doi) => PaperKey::Doi(doi.clone()),
                None => PaperKey::Url(url.clone()),
            },
            arxiv: None,
            doi,
            related: Vec::new(),
            title: self.title,
            abstract_text: self.abstract_parts.join(" "),
            url,
            authors: self.authors,
            categories: self.mesh,
            venue: if self.journal.is_empty() {
                API.to_owned()
            } else {
                self.journal
            },
            announce_type: None,
            published,
        })
    }
}

/// Which date the element just opened holds, if it is a date of the article.
fn date_kind(walk: &XmlWalk<'_>, start: &BytesStart<'_>) -> Option<DateKind> {
    if walk.at(&["PubmedData", "History", "PubMedPubDate"]) {
        return Some(match attribute(start, "PubStatus").as_deref() {
            Some("entrez") => DateKind::Entrez,
            Some("pubmed") => DateKind::Pubmed,
            _ => DateKind::Other,
        });
    }
    if walk.at(&["MedlineCitation", "Article", "ArticleDate"]) {
        return Some(DateKind::Article);
    }
    walk.at(&["Article", "Journal", "JournalIssue", "PubDate"])
        .then_some(DateKind::Issue)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sources::api_fixture as fixture;

    fn efetch(name: &str) -> Page {
        parse_efetch(&fixture(name)).unwrap()
    }

    #[test]
    fn esearch_with_history_gives_count_key_webenv_and_ids() {
        let search =
            parse_esearch(&fixture("pubmed_esearch_usehistory_reldate_2025-11-26.xml")).unwrap();
        assert_eq!(search.count, 42249);
        assert_eq!(search.query_key.as_deref(), Some("1"));
        assert_eq!(
            search.web_env.as_deref(),
            Some("MCID_6927d6e7fee3e90f880ec190")
        );
        assert_eq!(search.ids.len(), 100);
        assert_eq!(search.ids[0], "41297076");
        assert_eq!(search.ids[99], "41296368");
        assert!(search.warnings.is_empty());
    }

    #[test]
    fn esearch_without_results_says_why() {
        let search =
            parse_esearch(&fixture("pubmed_esearch_no_results_errorlist_2025.xml")).unwrap();
        assert_eq!(
            search,
            Search {
                count: 0,
                warnings: vec!["phrase not found: abcXYZ".into(), "No items found.".into()],
                ..Search::default()
            }
        );
    }

    #[test]
    fn only_the_results_own_count_counts() {
        // Not recorded: a TranslationStack, whose terms carry counts of their own.
        let body = br#"<eSearchResult><Count>7</Count><RetMax>0</RetMax><IdList/><TranslationStack><TermSet><Term>a[All Fields]</Term><Field>All Fields</Field><Count>123456</Count><Explode>N</Explode></TermSet><OP>GROUP</OP></TranslationStack><WarningList><QuotedPhraseNotFound>"x y"</QuotedPhraseNotFound></WarningList></eSearchResult>"#;
        let search = parse_esearch(body).unwrap();
        assert_eq!(search.count, 7);
        assert_eq!(search.warnings, ["quoted phrase not found: \"x y\""]);
    }

    #[test]
    fn an_esearch_error_is_a_refusal() {
        // Not recorded: the shape E-utilities answer with for a bad request.
        let body = b"<?xml version=\"1.0\" ?><eSearchResult><ERROR>Empty term and query_key - nothing todo</ERROR></eSearchResult>";
        assert_eq!(
            parse_esearch(body),
            Err(ApiError::Refused {
                api: API,
                message: "Empty term and query_key - nothing todo".into()
            })
        );
    }

    #[test]
    fn compact_2025_records_yield_pmid_doi_journal_authors_mesh_and_entrez_date() {
        let page = efetch("pubmed_efetch_2records_abstracts_2025.xml");
        assert_eq!(page.papers.len(), 2);
        assert_eq!((page.next.as_ref(), page.total), (None, None));
        let p = &page.papers[0];
        assert_eq!(p.key, PaperKey::Doi("10.1006/cryo.2001.2328".into()));
        assert_eq!(p.doi.as_deref(), Some("10.1006/cryo.2001.2328"));
        assert_eq!(p.url, "https://pubmed.ncbi.nlm.nih.gov/11748933/");
        assert!(
            p.title
                .starts_with("Is cryopreservation a homogeneous process?")
        );
        assert_eq!(p.venue, "Cryobiology");
        assert_eq!(p.authors.len(), 8);
        assert_eq!(p.authors[0], "A R Taddei");
        assert_eq!(p.authors[5], "K J Rana");
        assert!(
            p.abstract_text
                .starts_with("This study subdivides the cryopreservation procedure")
        );
        assert!(p.abstract_text.contains("(P < 0.001)"), "entities decoded");
        assert!(p.categories.contains(&"Sperm Motility".to_owned()));
        assert_eq!(p.categories.len(), 11);
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "2001-12-26T10:00:00+00:00"
        );
        assert_eq!(
            page.papers[1].title,
            "Proton MRI of (13)C distribution by J and chemical shift editing."
        );
    }

    #[test]
    fn an_article_without_doi_or_abstract_is_kept_under_its_pubmed_address() {
        let page = efetch("pubmed_efetch_2records_one_without_abstract_2025.xml");
        assert_eq!(page.papers.len(), 2);
        let p = &page.papers[0];
        assert_eq!(
            p.key,
            PaperKey::Url("https://pubmed.ncbi.nlm.nih.gov/12091962/".into())
        );
        assert_eq!(p.doi, None);
        assert_eq!(p.abstract_text, "");
        assert_eq!(p.authors, ["J Michael Olivero"]);
        assert_eq!(p.venue, "Social justice (San Francisco, Calif.)");
        assert_eq!(p.categories[0], "AIDS Serodiagnosis");
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "1990-04-01T00:00:00+00:00"
        );
        let second = &page.papers[1];
        assert_eq!(second.url, "https://pubmed.ncbi.nlm.nih.gov/9997/");
        assert!(!second.abstract_text.is_empty());
    }

    #[test]
    fn structured_abstracts_keep_their_labels_in_order() {
        let page = efetch("pubmed_efetch_5records_structured_2026-06-13.xml");
        assert_eq!(page.papers.len(), 5);
        assert!(page.skipped.is_empty());
        let p = page
            .papers
            .iter()
            .find(|p| p.url.ends_with("/42286177/"))
            .unwrap();
        assert_eq!(p.key.to_string(), "doi:10.1007/s00330-026-12652-y");
        assert!(
            p.abstract_text.starts_with("OBJECTIVE: "),
            "{}",
            p.abstract_text
        );
        for label in [
            "MATERIALS AND METHODS: ",
            "RESULTS: ",
            "CONCLUSION: ",
            "KEY POINTS: ",
        ] {
            assert!(p.abstract_text.contains(label), "{label}");
        }
        let order: Vec<usize> = [
            "OBJECTIVE:",
            "MATERIALS AND METHODS:",
            "RESULTS:",
            "CONCLUSION:",
        ]
        .iter()
        .map(|l| p.abstract_text.find(l).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(p.venue, "European radiology");
    }

    #[test]
    fn reference_lists_do_not_lend_their_dois() {
        let page = efetch("pubmed_efetch_5records_structured_2026-06-13.xml");
        let dois: Vec<&str> = page
            .papers
            .iter()
            .filter_map(|p| p.doi.as_deref())
            .collect();
        assert_eq!(dois.len(), 5);
        assert!(
            !dois.contains(&"10.1016/s2589-7500(23)00083-3"),
            "a cited paper's DOI"
        );
    }

    #[test]
    fn indented_2018_records_read_the_same_with_sub_and_underline_as_text() {
        let page = efetch("pubmed_efetch_structured_abstract_2018.xml");
        assert_eq!(page.papers.len(), 1);
        let p = &page.papers[0];
        assert_eq!(p.url, "https://pubmed.ncbi.nlm.nih.gov/28775130/");
        let text = &p.abstract_text;
        assert!(
            text.starts_with("OBJECTIVES: Animal studies suggest"),
            "{text}"
        );
        assert!(text.contains("pesticide applicators. METHODS: Self-reported lifetime"));
        assert!(text.contains(" RESULTS: Higher exposure"));
        assert!(text.contains(" CONCLUSIONS: Our results suggest"));
        // `<u>&lt;</u>` is how the record writes "≤": the text keeps the `<`.
        assert!(text.contains("compared with normal TSH (0.4-<4.5 mIU/L)"));
        assert!(text.contains("(ORQ3=4.15, 95% CI"), "<sub> joins its word");
        assert!(!text.contains("  ") && !text.contains('\n'));
    }

    #[test]
    fn mathml_in_an_abstract_stays_readable() {
        let page = efetch("pubmed_efetch_mathml_abstract_2018.xml");
        let p = &page.papers[0];
        assert_eq!(
            p.key.to_string(),
            "doi:10.3389/fphys.2018.01034",
            "from ELocationID"
        );
        assert!(
            p.title
                .starts_with("A \"Blood Relationship\" Between the Overlooked"),
            "{}",
            p.title
        );
        assert!(
            p.abstract_text
                .contains("maximal oxygen uptake ( V\u{307}O_{2max} ) 67.6"),
            "{}",
            p.abstract_text
        );
        assert!(p.abstract_text.contains("(LEmin)"), "<sub> joins its word");
        assert_eq!(p.authors, ["Ibai Garcia-Tabar", "Esteban M Gorostiaga"]);
        assert_eq!(p.published.unwrap().date_naive().to_string(), "2018-08-16");
    }

    #[test]
    fn records_without_pmid_or_title_are_skipped_with_a_reason() {
        // Not recorded: minimal records.
        let body = br#"<PubmedArticleSet><PubmedArticle><MedlineCitation><Article><ArticleTitle>T</ArticleTitle></Article></MedlineCitation></PubmedArticle><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle/><Journal><JournalIssue><PubDate><MedlineDate>1998 Dec-1999 Jan</MedlineDate></PubDate></JournalIssue></Journal></Article></MedlineCitation></PubmedArticle><PubmedBookArticle/><PubmedArticle><MedlineCitation><PMID>2</PMID><Article><Journal><JournalIssue><PubDate><Year>1998</Year><Month>Dec</Month></PubDate></JournalIssue></Journal><ArticleTitle>Kept</ArticleTitle><AuthorList><Author><CollectiveName>The Group</CollectiveName></Author></AuthorList></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"#;
        let page = parse_efetch(body).unwrap();
        assert_eq!(page.skipped, [NO_PMID, NO_TITLE, BOOK]);
        assert_eq!(page.papers[0].authors, ["The Group"]);
        assert_eq!(page.papers[0].venue, "PubMed");
        assert_eq!(
            page.papers[0].published.unwrap().to_rfc3339(),
            "1998-12-01T00:00:00+00:00"
        );
        assert_eq!(month("Sep"), Some(9));
        assert_eq!(
            DateParts::medline("1998 Dec-1999 Jan")
                .date()
                .unwrap()
                .to_rfc3339(),
            "1998-12-01T00:00:00+00:00"
        );
    }

    #[test]
    fn broken_or_foreign_bodies_are_malformed_never_a_panic() {
        let whole = fixture("pubmed_efetch_5records_structured_2026-06-13.xml");
        let text = std::str::from_utf8(&whole).unwrap();
        let half = &text.as_bytes()[..text.floor_char_boundary(text.len() / 2)];
        let esearch = fixture("pubmed_esearch_usehistory_reldate_2025-11-26.xml");
        let esearch_half = &esearch[..esearch.len() / 2];
        for body in [
            half,
            b"<html>".as_slice(),
            b"{}",
            b"",
            b"\xff\xfe",
            b"<PubmedArticleSet><a></b></PubmedArticleSet>",
        ] {
            let got = parse_efetch(body);
            assert!(
                matches!(got, Err(ApiError::Malformed { api: API, .. })),
                "{got:?}"
            );
        }
        for body in [
            esearch_half,
            b"<html>".as_slice(),
            b"{}",
            b"",
            b"<eSearchResult><Count>x</Count></eSearchResult>",
        ] {
            let got = parse_esearch(body);
            assert!(
                matches!(got, Err(ApiError::Malformed { api: API, .. })),
                "{got:?}"
            );
        }
        // Not recorded: efetch's error answer.
        let error = b"<eFetchResult><ERROR>ID list is empty!</ERROR></eFetchResult>";
        assert!(matches!(parse_efetch(error), Err(ApiError::Refused { .. })));
    }
}
