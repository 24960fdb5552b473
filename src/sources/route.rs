//! From a source's name to the requests that collect it, and how politely.
//!
//! A [`Route`] is a source resolved against the configured base URLs: a
//! feed URL, or an API with the parameters its requests carry. Which host
//! is asked how often is data here ([`RULES`]), not code in the collector:
//! arXiv asks for one request every 3 s across all its services, NCBI for
//! at most 3 a second without a key, Crossref's polite pool for at most 10.

use std::time::Duration;

use url::Url;

use crate::config::SourceSettings;
use crate::domain::{JournalRoute, PaperKey, PreprintServer, Source};

/// Where each API lives; the defaults are the public services.
#[derive(Debug, Clone)]
pub struct Endpoints {
    arxiv_rss: String,
    arxiv_oai: String,
    arxiv_api: String,
    biorxiv: String,
    crossref: String,
    pubmed: String,
    nature: String,
}

impl Endpoints {
    pub fn new(settings: &SourceSettings) -> Self {
        let base = |configured: &Option<String>, default: &str| {
            configured
                .as_deref()
                .unwrap_or(default)
                .trim_end_matches('/')
                .to_owned()
        };
        let urls = &settings.base_urls;
        // One `arxiv` base for a mirror serves the feeds, OAI-PMH and the
        // query API.
        let (arxiv_rss, arxiv_oai, arxiv_api) = match &urls.arxiv {
            Some(b) => {
                let b = b.trim_end_matches('/');
                (b.to_owned(), format!("{b}/oai"), format!("{b}/api/query"))
            }
            None => (
                "https://rss.arxiv.org".to_owned(),
                "https://oaipmh.arxiv.org/oai".to_owned(),
                "https://export.arxiv.org/api/query".to_owned(),
            ),
        };
        Self {
            arxiv_rss,
            arxiv_oai,
            arxiv_api,
            biorxiv: base(&urls.biorxiv, "https://api.biorxiv.org"),
            crossref: base(&urls.crossref, "https://api.crossref.org"),
            pubmed: base(
                &urls.pubmed,
                "https://eutils.ncbi.nlm.nih.gov/entrez/eutils",
            ),
            nature: base(&urls.nature, "https://www.nature.com"),
        }
    }
}

/// How a source is collected.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// One conditional GET of an RSS, Atom or JSON feed.
    Feed { url: String },
    /// `details/<server>/<from>/<to>/<offset>`, filtered by subject.
    Preprints {
        base: String,
        server: PreprintServer,
        subject: Option<&'static str>,
    },
    /// `<path>/works` by index date, with cursor paging.
    Crossref {
        base: String,
        /// `journals/<ISSN>` or `prefixes/<DOI prefix>`.
        path: String,
        /// Only `posted-content` (a preprint server registered at Crossref).
        preprints_only: bool,
        /// The venue to name when Crossref names none (ChemRxiv).
        venue: Option<&'static str>,
    },
    /// E-utilities: `esearch` by entry date with history, then `efetch`.
    Pubmed { base: String, query: String },
    /// arXiv's OAI-PMH `ListRecords` (backfill only; the daily feed is RSS).
    ArxivOai {
        base: String,
        set: String,
        categories: Vec<String>,
    },
}

/// ChemRxiv's DOI prefix at Crossref (its own API moved in 2024).
const CHEMRXIV_PREFIX: &str = "10.26434";

impl Route {
    /// The route that collects a source every day.
    pub fn collect(source: &Source, endpoints: &Endpoints) -> Self {
        match source {
            Source::Feed(url) => Self::Feed { url: url.clone() },
            Source::Arxiv(categories) => Self::Feed {
                url: format!("{}/rss/{}", endpoints.arxiv_rss, categories.join("+")),
            },
            Source::Preprints { server, subject } => Self::Preprints {
                base: endpoints.biorxiv.clone(),
                server: *server,
                subject: *subject,
            },
            Source::Crossref(issn) => Self::crossref_journal(endpoints, issn.as_str()),
            Source::ChemRxiv => Self::Crossref {
                base: endpoints.crossref.clone(),
                path: format!("prefixes/{CHEMRXIV_PREFIX}"),
                preprints_only: true,
                venue: Some("ChemRxiv"),
            },
            Source::Pubmed(query) => Self::Pubmed {
                base: endpoints.pubmed.clone(),
                query: query.clone(),
            },
            Source::Journal(journal) => match journal.route {
                JournalRoute::NatureRss(code) => Self::Feed {
                    url: format!("{}/{code}.rss", endpoints.nature),
                },
                JournalRoute::Pubmed(abbreviation) => Self::Pubmed {
                    base: endpoints.pubmed.clone(),
                    query: format!("\"{abbreviation}\"[ta]"),
                },
                JournalRoute::Crossref => Self::crossref_journal(endpoints, journal.issn),
            },
        }
    }

    /// The route that fills past days: the same API, except that arXiv's
    /// past is in OAI-PMH and a feed has no past to ask for.
    pub fn backfill(source: &Source, endpoints: &Endpoints) -> Result<Self, String> {
        match Self::collect(source, endpoints) {
            Self::Feed { .. } => match source {
                Source::Arxiv(categories) => Ok(Self::ArxivOai {
                    base: endpoints.arxiv_oai.clone(),
                    set: oai_set(categories)?,
                    categories: categories.clone(),
                }),
                Source::Journal(journal) => Ok(Self::crossref_journal(endpoints, journal.issn)),
                _ => Err(format!(
                    "{source} is a feed, which holds only its latest items: backfill a preset \
                     (arxiv:, biorxiv:, medrxiv:, crossref:, pubmed:, chemrxiv, journal:)"
                )),
            },
            route => Ok(route),
        }
    }

    fn crossref_journal(endpoints: &Endpoints, issn: &str) -> Self {
        Self::Crossref {
            base: endpoints.crossref.clone(),
            path: format!("journals/{issn}"),
            preprints_only: false,
            venue: None,
        }
    }

    /// Who is asked, and how often at most.
    pub fn politeness(&self, ncbi_key: bool) -> Politeness {
        match self {
            Self::Feed { url } => Politeness::for_url(url),
            Self::Preprints { .. } => provider_politeness("biorxiv"),
            Self::Crossref { .. } => provider_politeness("crossref"),
            Self::Pubmed { .. } if ncbi_key => Politeness {
                key: "pubmed".into(),
                interval: Duration::from_millis(100),
            },
            Self::Pubmed { .. } => provider_politeness("pubmed"),
            Self::ArxivOai { .. } => provider_politeness("arxiv"),
        }
    }
}

/// Where one paper is asked for by its key: a topic's `like:` example
/// that no feed brought.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// arXiv's query API by id: an Atom feed of the one paper, or of none.
    Arxiv { url: String },
    /// Crossref's `works/<DOI>`: the work, or 404.
    Crossref { url: String },
}

impl Lookup {
    /// `None` for a paper known only by its URL: no service to ask.
    pub fn of(key: &PaperKey, endpoints: &Endpoints) -> Option<Self> {
        match key {
            PaperKey::Arxiv(id) => Some(Self::Arxiv {
                url: format!("{}?id_list={id}", endpoints.arxiv_api),
            }),
            PaperKey::Doi(doi) => Some(Self::Crossref {
                url: format!("{}/works/{doi}", endpoints.crossref),
            }),
            PaperKey::Url(_) => None,
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Arxiv { url } | Self::Crossref { url } => url,
        }
    }

    /// The service's name, for messages.
    pub fn service(&self) -> &'static str {
        match self {
            Self::Arxiv { .. } => "arXiv",
            Self::Crossref { .. } => "Crossref",
        }
    }

    /// The same pace as the service's collection: one gate per provider.
    pub fn politeness(&self) -> Politeness {
        let provider = match self {
            Self::Arxiv { .. } => "arxiv",
            Self::Crossref { .. } => "crossref",
        };
        provider_politeness(provider)
    }
}

/// A provider's pace, by its name in [`RULES`].
fn provider_politeness(name: &str) -> Politeness {
    let rule = RULES.iter().find(|r| r.provider == name).expect("a rule");
    Politeness {
        key: rule.provider.to_owned(),
        interval: rule.interval,
    }
}

/// arXiv's OAI-PMH sets (oaipmh.arxiv.org, since 2025) are
/// `group:archive[:category]`: `cs:cs:LG`, `math:math`, `physics:hep-th`,
/// `physics:astro-ph:GA`. One category is its own set; several of one
/// archive share the archive's; several archives are several backfills.
fn oai_set(categories: &[String]) -> Result<String, String> {
    let split = |c: &str| -> (String, Option<String>) {
        match c.split_once('.') {
            Some((archive, sub)) => (archive.to_owned(), Some(sub.to_owned())),
            None => (c.to_owned(), None),
        }
    };
    let group = |archive: &str| match archive {
        "cs" | "math" | "stat" | "q-bio" | "q-fin" | "eess" | "econ" => archive.to_owned(),
        _ => "physics".to_owned(),
    };
    let (archive, sub) = split(&categories[0]);
    if categories.iter().any(|c| split(c).0 != archive) {
        return Err(format!(
            "arxiv:{} spans several archives: backfill one at a time (e.g. arxiv:{})",
            categories.join("+"),
            categories[0]
        ));
    }
    let base = format!("{}:{archive}", group(&archive));
    Ok(match sub {
        Some(sub) if categories.len() == 1 => format!("{base}:{sub}"),
        _ => base,
    })
}

/// One request at a time per key, at least `interval` apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Politeness {
    pub key: String,
    pub interval: Duration,
}

/// A provider's hosts and the pace it asks of clients.
pub struct Rule {
    pub provider: &'static str,
    /// Host names it serves from, matched as a suffix (`rss.arxiv.org`).
    pub hosts: &'static [&'static str],
    pub interval: Duration,
    /// Where the pace comes from, for `academichub sources`.
    pub why: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule {
        provider: "arxiv",
        hosts: &["arxiv.org"],
        interval: Duration::from_secs(3),
        why: "arXiv's API terms: one request every 3 s, across RSS, API and OAI-PMH",
    },
    Rule {
        provider: "biorxiv",
        hosts: &["biorxiv.org", "medrxiv.org"],
        interval: Duration::from_secs(1),
        why: "no published limit; one request a second",
    },
    Rule {
        provider: "crossref",
        hosts: &["crossref.org"],
        interval: Duration::from_millis(200),
        why: "Crossref's polite pool (mailto given): at most 10 requests a second",
    },
    Rule {
        provider: "pubmed",
        hosts: &["ncbi.nlm.nih.gov"],
        interval: Duration::from_millis(334),
        why: "NCBI: 3 requests a second, 10 with sources.ncbi_api_key",
    },
    Rule {
        provider: "nature",
        hosts: &["nature.com"],
        interval: Duration::from_secs(1),
        why: "no published limit; one request a second",
    },
];

/// Hosts no rule names: one request a second.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

impl Politeness {
    /// A feed URL's host, under its provider's rule when one names it.
    pub fn for_url(url: &str) -> Self {
        let host = Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| {
                    format!(
                        "{h}{}",
                        u.port().map(|p| format!(":{p}")).unwrap_or_default()
                    )
                })
            })
            .unwrap_or_default();
        let name = host.split(':').next().unwrap_or_default();
        match RULES.iter().find(|rule| {
            rule.hosts
                .iter()
                .any(|h| name == *h || name.ends_with(&format!(".{h}")))
        }) {
            Some(rule) => Self {
                key: rule.provider.to_owned(),
                interval: rule.interval,
            },
            None => Self {
                key: host,
                interval: DEFAULT_INTERVAL,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        Endpoints::new(&SourceSettings::default())
    }

    #[test]
    fn presets_resolve_to_their_routes() {
        let route = |name: &str| Route::collect(&name.parse().unwrap(), &endpoints());
        assert_eq!(
            route("arxiv:cs.LG+stat.ML"),
            Route::Feed {
                url: "https://rss.arxiv.org/rss/cs.LG+stat.ML".into()
            }
        );
        assert_eq!(
            route("journal:nature"),
            Route::Feed {
                url: "https://www.nature.com/nature.rss".into()
            }
        );
        assert_eq!(
            route("journal:nejm"),
            Route::Pubmed {
                base: "https://eutils.ncbi.nlm.nih.gov/entrez/eutils".into(),
                query: "\"N Engl J Med\"[ta]".into()
            }
        );
        assert!(
            matches!(route("journal:science"), Route::Crossref { path, .. } if path == "journals/0036-8075")
        );
        assert!(
            matches!(route("chemrxiv"), Route::Crossref { path, preprints_only: true, .. } if path == "prefixes/10.26434")
        );
    }

    #[test]
    fn a_base_url_moves_a_route_and_keeps_its_pace() {
        let mut settings = SourceSettings::default();
        settings.base_urls.arxiv = Some("http://127.0.0.1:9/".into());
        let endpoints = Endpoints::new(&settings);
        let source = "arxiv:cs.CV".parse().unwrap();
        assert_eq!(
            Route::collect(&source, &endpoints),
            Route::Feed {
                url: "http://127.0.0.1:9/rss/cs.CV".into()
            }
        );
        let oai = Route::backfill(&source, &endpoints).unwrap();
        assert!(
            matches!(&oai, Route::ArxivOai { base, set, .. } if base == "http://127.0.0.1:9/oai" && set == "cs:cs:CV")
        );
        assert_eq!(oai.politeness(false).interval, Duration::from_secs(3));
        assert!(Route::backfill(&"https://j.test/feed.rss".parse().unwrap(), &endpoints).is_err());
    }

    #[test]
    fn hosts_share_their_providers_pace() {
        assert_eq!(
            Politeness::for_url("https://export.arxiv.org/api/query").key,
            "arxiv"
        );
        assert_eq!(
            Politeness::for_url("https://rss.arxiv.org/rss/cs.LG").key,
            "arxiv"
        );
        let other = Politeness::for_url("http://127.0.0.1:8080/feed.rss");
        assert_eq!(
            (other.key.as_str(), other.interval),
            ("127.0.0.1:8080", DEFAULT_INTERVAL)
        );
        let set = |c: &str| oai_set(&c.split('+').map(String::from).collect::<Vec<_>>());
        assert_eq!(set("hep-th").unwrap(), "physics:hep-th");
        assert_eq!(set("math.PR").unwrap(), "math:math:PR");
        assert_eq!(set("astro-ph.GA").unwrap(), "physics:astro-ph:GA");
        assert_eq!(set("cs.LG+cs.AI").unwrap(), "cs:cs");
        assert!(set("cs.LG+stat.ML").unwrap_err().contains("one at a time"));
    }
}
