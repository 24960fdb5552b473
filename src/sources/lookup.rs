//! One paper asked for by its key: a topic's `like:` example that no feed
//! brought. The reader names it when saving the topic, so it is asked for
//! then, once, and stored: arXiv's query API for an arXiv id, Crossref's
//! `works/<DOI>` for a DOI. Its text is what new papers are compared with.
//!
//! The paper is stored as a backfilled one (first seen when it was
//! published), so being named as an example makes it nobody's news. A
//! stranger's form could name many unknown papers and have us ask the
//! services for each, so the application limits how many one save may look
//! up (`domain::MAX_LOOKUPS_PER_SAVE`); each request keeps its provider's
//! pace, shared with collection.

use reqwest::StatusCode;

use super::{ApiError, Collector, FetchError, Lookup, crossref, parse_feed};
use crate::domain::{Paper, PaperKey};
use crate::store::{Arrival, StoreError};

/// The source row example papers are stored under (it is never collected).
const EXAMPLES_SOURCE: &str = "examples (like:)";

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{service} could not be asked: {source}")]
    Fetch {
        service: &'static str,
        #[source]
        source: FetchError,
    },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the {service} answer could not be read: {detail}")]
    Unreadable {
        service: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Collector {
    /// Asks the service `key` belongs to for that one paper and stores it.
    /// `Ok(false)`: the service has no such paper (or `key` is a URL, which
    /// no service is asked for); `Ok(true)` once it is stored.
    pub async fn look_up(&self, key: &PaperKey, now: i64) -> Result<bool, LookupError> {
        let Some(lookup) = Lookup::of(key, &self.endpoints) else {
            return Ok(false);
        };
        let source = self
            .store
            .ensure_source(EXAMPLES_SOURCE, EXAMPLES_SOURCE, now)
            .await?;
        match self.ask(&lookup, key).await {
            Ok(Some(paper)) => {
                self.store
                    .upsert_papers(
                        std::slice::from_ref(&paper),
                        source.id,
                        now,
                        Arrival::Backfilled,
                    )
                    .await?;
                self.store
                    .record_fetch_success(source.id, None, None, None, now, now)
                    .await?;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => {
                // Seen by operators in `academichub stats` and `feeds`.
                self.store
                    .record_fetch_error(source.id, &e.to_string(), now)
                    .await?;
                Err(e)
            }
        }
    }

    /// The one request, and the paper it answers with.
    async fn ask(&self, lookup: &Lookup, key: &PaperKey) -> Result<Option<Paper>, LookupError> {
        let service = lookup.service();
        let url = url::Url::parse(lookup.url()).map_err(|e| LookupError::Unreadable {
            service,
            detail: format!("bad URL: {e}"),
        })?;
        let answer = self
            .fetcher
            .get(&url, &lookup.politeness())
            .await
            .map_err(|source| LookupError::Fetch { service, source })?;
        Ok(match (lookup, answer.status) {
            (Lookup::Crossref { .. }, StatusCode::NOT_FOUND) => None,
            (Lookup::Crossref { .. }, status) if status.is_success() => {
                Some(crossref::parse_work(&answer.body)?)
            }
            (Lookup::Crossref { .. }, status) => {
                return Err(crossref::refusal(status.as_u16(), &answer.body).into());
            }
            // arXiv answers an unknown id with an empty feed.
            (Lookup::Arxiv { .. }, status) if status.is_success() => parse_feed(&answer.body)
                .map_err(|e| LookupError::Unreadable {
                    service,
                    detail: e.to_string(),
                })?
                .papers
                .into_iter()
                .find(|paper| paper.key == *key),
            (Lookup::Arxiv { .. }, status) => {
                return Err(ApiError::Refused {
                    api: service,
                    message: format!("HTTP {status}"),
                }
                .into());
            }
        })
    }
}
