//! What one answer from a paged API yields, whichever API it was: the
//! papers, why items were left out, and where the walk goes on. The routes
//! differ in how they page (a cursor token, an offset, a resumption token),
//! so the continuation is kept as the text the next request carries.

use crate::domain::Paper;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub papers: Vec<Paper>,
    /// Why each item that could not be a paper was left out, in order.
    pub skipped: Vec<&'static str>,
    /// What the next request carries (Crossref's `next-cursor`, bioRxiv's
    /// next offset, OAI-PMH's `resumptionToken`); `None` on the last page.
    pub next: Option<String>,
    /// How many items the whole walk holds, when the server says.
    pub total: Option<u64>,
}

/// An answer that is not what the API documents, or a refusal the API
/// explains in its body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("the {api} answer is not what its API documents ({detail}); it is retried later")]
    Malformed { api: &'static str, detail: String },
    #[error("{api} refused the request: {message}")]
    Refused { api: &'static str, message: String },
}
