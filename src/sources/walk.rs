//! Walking a paged API over a window of days, one page at a time.
//!
//! The collector stores each page before it asks for the next, and can
//! save [`Walker::position`] after each: a walk interrupted (a stop, a
//! crash, a server that gives up) resumes where it was, and no page whose
//! papers were stored is asked for twice.

use chrono::NaiveDate;
use url::Url;

use super::fetch::{Answer, FetchError, Fetcher};
use super::route::{Politeness, Route};
use super::{ApiError, Page, biorxiv, crossref, oai, pubmed};

/// The days a walk asks for, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("HTTP {status} from {api}{}", .detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        api: &'static str,
        status: reqwest::StatusCode,
        detail: Option<String>,
        retry_after: Option<std::time::Duration>,
    },
}

impl WalkError {
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Fetch(e) => e.retry_after(),
            Self::Status { retry_after, .. } => *retry_after,
            Self::Api(_) => None,
        }
    }
}

/// Who collection says it is, where the API asks (Crossref's `mailto`,
/// NCBI's `tool` and `email`), and NCBI's key.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub contact: Option<String>,
    pub ncbi_api_key: Option<String>,
}

/// PubMed's search, kept on NCBI's history server between pages.
#[derive(Debug, Clone)]
struct History {
    query_key: String,
    web_env: String,
    count: u64,
}

/// Records per PubMed `efetch` and per Crossref or bioRxiv page.
const PUBMED_PAGE: u64 = 200;
const CROSSREF_ROWS: u32 = 100;

pub struct Walker<'a> {
    fetcher: &'a Fetcher,
    route: &'a Route,
    window: Window,
    credentials: &'a Credentials,
    polite: Politeness,
    /// Where the next request starts; `None` before the first.
    position: Option<String>,
    done: bool,
    history: Option<History>,
    /// What the API said besides papers (PubMed's warnings).
    pub warnings: Vec<String>,
}

impl<'a> Walker<'a> {
    /// A walk from its start, or from a saved position.
    pub fn new(
        fetcher: &'a Fetcher,
        route: &'a Route,
        window: Window,
        credentials: &'a Credentials,
        position: Option<String>,
    ) -> Self {
        Self {
            fetcher,
            route,
            window,
            credentials,
            polite: route.politeness(credentials.ncbi_api_key.is_some()),
            position,
            done: false,
            history: None,
            warnings: Vec::new(),
        }
    }

    /// Where the walk goes on (save it after storing a page).
    pub fn position(&self) -> Option<&str> {
        self.position.as_deref()
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next page, or `None` when the walk is over.
    pub async fn next_page(&mut self) -> Result<Option<Page>, WalkError> {
        if self.done {
            return Ok(None);
        }
        let page = match self.route {
            Route::Feed { .. } => unreachable!("feeds are fetched, not walked"),
            Route::Preprints {
                base,
                server,
                subject,
            } => {
                let offset = self.position.clone().unwrap_or_else(|| "0".into());
                let mut url = api_url(&format!(
                    "{base}/details/{}/{}/{}/{offset}",
                    server.path(),
                    self.window.from,
                    self.window.to
                ))?;
                if let Some(subject) = subject {
                    url.query_pairs_mut()
                        .append_pair("category", &subject.replace(' ', "_"));
                }
                let body = self.ok_body(&url, server.venue()).await?;
                biorxiv::parse_details(&body, server.venue(), *subject)?
            }
            Route::Crossref {
                base,
                path,
                preprints_only,
                venue,
            } => {
                let mut url = api_url(&format!("{base}/{path}/works"))?;
                let mut filter = format!(
                    "from-index-date:{},until-index-date:{}",
                    self.window.from, self.window.to
                );
                if *preprints_only {
                    filter.push_str(",type:posted-content");
                }
                {
                    let mut query = url.query_pairs_mut();
                    query
                        .append_pair("filter", &filter)
                        .append_pair("rows", &CROSSREF_ROWS.to_string())
                        .append_pair("cursor", self.position.as_deref().unwrap_or("*"));
                    if let Some(contact) = &self.credentials.contact {
                        query.append_pair("mailto", contact);
                    }
                }
                let answer = self.fetcher.get(&url, &self.polite).await?;
                if !answer.status.is_success() {
                    // A busy server's wait is kept for the backoff; any
                    // other refusal is explained in Crossref's own words.
                    return Err(if answer.retry_after.is_some() {
                        status_error("Crossref", answer)
                    } else {
                        crossref::refusal(answer.status.as_u16(), &answer.body).into()
                    });
                }
                let mut page = crossref::parse_works(&answer.body)?;
                if let Some(venue) = venue {
                    for paper in &mut page.papers {
                        paper.venue = (*venue).to_owned();
                    }
                }
                page
            }
            Route::Pubmed { base, query } => self.pubmed_page(base, query).await?,
            Route::ArxivOai {
                base,
                set,
                categories,
            } => {
                let mut url = api_url(base)?;
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("verb", "ListRecords");
                    match &self.position {
                        Some(token) => {
                            q.append_pair("resumptionToken", token);
                        }
                        None => {
                            q.append_pair("metadataPrefix", "arXiv")
                                .append_pair("from", &self.window.from.to_string())
                                .append_pair("until", &self.window.to.to_string())
                                .append_pair("set", set);
                        }
                    }
                }
                let body = self.ok_body(&url, "arXiv OAI-PMH").await?;
                let mut page = oai::parse_list_records(&body)?;
                let wanted = |c: &String| {
                    categories
                        .iter()
                        .any(|w| c == w || (!w.contains('.') && c.starts_with(&format!("{w}."))))
                };
                let before = page.papers.len();
                page.papers.retain(|p| p.categories.iter().any(wanted));
                page.skipped.extend(std::iter::repeat_n(
                    "outside the categories asked for",
                    before - page.papers.len(),
                ));
                page
            }
        };
        match &page.next {
            Some(next) => self.position = Some(next.clone()),
            None => self.done = true,
        }
        Ok(Some(page))
    }

    async fn pubmed_page(&mut self, base: &str, query: &str) -> Result<Page, WalkError> {
        let history = match &self.history {
            Some(history) => history.clone(),
            None => {
                let mut url = api_url(&format!("{base}/esearch.fcgi"))?;
                let date = |d: NaiveDate| d.format("%Y/%m/%d").to_string();
                url.query_pairs_mut()
                    .append_pair("db", "pubmed")
                    .append_pair("term", query)
                    .append_pair("datetype", "edat")
                    .append_pair("mindate", &date(self.window.from))
                    .append_pair("maxdate", &date(self.window.to))
                    .append_pair("usehistory", "y")
                    .append_pair("retmax", "0");
                self.ncbi_identity(&mut url);
                let body = self.ok_body(&url, "PubMed").await?;
                let search = pubmed::parse_esearch(&body)?;
                self.warnings.extend(search.warnings);
                match (search.query_key, search.web_env) {
                    (Some(query_key), Some(web_env)) if search.count > 0 => {
                        let history = History {
                            query_key,
                            web_env,
                            count: search.count,
                        };
                        self.history = Some(history.clone());
                        history
                    }
                    _ => {
                        return Ok(Page {
                            total: Some(search.count),
                            ..Page::default()
                        });
                    }
                }
            }
        };
        let start: u64 = self
            .position
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let mut url = api_url(&format!("{base}/efetch.fcgi"))?;
        url.query_pairs_mut()
            .append_pair("db", "pubmed")
            .append_pair("query_key", &history.query_key)
            .append_pair("WebEnv", &history.web_env)
            .append_pair("retstart", &start.to_string())
            .append_pair("retmax", &PUBMED_PAGE.to_string())
            .append_pair("retmode", "xml");
        self.ncbi_identity(&mut url);
        let body = self.ok_body(&url, "PubMed").await?;
        let mut page = pubmed::parse_efetch(&body)?;
        let next = start + PUBMED_PAGE;
        page.next = (next < history.count).then(|| next.to_string());
        page.total = Some(history.count);
        Ok(page)
    }

    /// NCBI asks every client to name its tool and a contact.
    fn ncbi_identity(&self, url: &mut Url) {
        let mut q = url.query_pairs_mut();
        q.append_pair("tool", "academichub");
        if let Some(contact) = &self.credentials.contact {
            q.append_pair("email", contact);
        }
        if let Some(key) = &self.credentials.ncbi_api_key {
            q.append_pair("api_key", key);
        }
    }

    async fn ok_body(&self, url: &Url, api: &'static str) -> Result<Vec<u8>, WalkError> {
        let answer = self.fetcher.get(url, &self.polite).await?;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(status_error(api, answer))
        }
    }
}

fn api_url(s: &str) -> Result<Url, WalkError> {
    Url::parse(s).map_err(|_| WalkError::Fetch(FetchError::BadUrl(s.to_owned())))
}

/// A refusal, with the first line of what the server said (never more:
/// an HTML error page is not a message).
fn status_error(api: &'static str, answer: Answer) -> WalkError {
    let text = String::from_utf8_lossy(&answer.body);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let detail = line
        .filter(|l| !l.starts_with('<'))
        .map(|l| l.chars().take(200).collect());
    WalkError::Status {
        api,
        status: answer.status,
        detail,
        retry_after: answer.retry_after,
    }
}
