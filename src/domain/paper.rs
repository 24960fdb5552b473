use chrono::{DateTime, Utc};

use super::{AnnounceType, ArxivId, PaperKey};

/// A paper as collection understood it: everything a briefing shows and the
/// radar matches on, from whichever feed announced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Paper {
    pub key: PaperKey,
    /// arXiv id and version when the paper is on arXiv.
    pub arxiv: Option<(ArxivId, Option<u32>)>,
    pub doi: Option<String>,
    pub title: String,
    /// Plain text, without arXiv's `arXiv:… Announce Type: … Abstract:` prefix.
    pub abstract_text: String,
    pub url: String,
    pub authors: Vec<String>,
    /// arXiv categories (primary first) or a journal's subjects.
    pub categories: Vec<String>,
    /// Where it appeared: `arXiv`, `Nature`, a journal or feed title.
    pub venue: String,
    pub announce_type: Option<AnnounceType>,
    pub published: Option<DateTime<Utc>>,
}
