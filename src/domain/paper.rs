use std::collections::HashSet;

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
    /// Other identities of the same work: the journal version a preprint
    /// server says it became, or the preprint a journal article names.
    /// Collection stores one record for all of them.
    pub related: Vec<PaperKey>,
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

/// Where preprints are posted; a paper from anywhere else is a journal's.
const PREPRINT_VENUES: [&str; 4] = ["arXiv", "bioRxiv", "medRxiv", "ChemRxiv"];

impl Paper {
    /// A preprint rather than a journal's version of record.
    pub fn is_preprint(&self) -> bool {
        is_preprint(self.arxiv.is_some(), &self.venue)
    }
}

/// Whether a paper (on arXiv or not, from `venue`) is a preprint; for a
/// stored paper read without its whole record.
pub fn is_preprint(on_arxiv: bool, venue: &str) -> bool {
    on_arxiv || PREPRINT_VENUES.contains(&venue)
}

/// The recent papers a subscriber has been sent, by stored paper id: what
/// matching needs to send each paper once, and a revised one again only to
/// topics that ask for updates.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SentPapers {
    /// Sent in the version stored now (or a later one): never again.
    pub current: HashSet<i64>,
    /// Sent only in an earlier version than the one stored now.
    pub earlier: HashSet<i64>,
}

impl SentPapers {
    /// Records that a paper was sent, in its current version or not.
    pub fn insert(&mut self, paper: i64, current: bool) {
        if current {
            self.earlier.remove(&paper);
            self.current.insert(paper);
        } else if !self.current.contains(&paper) {
            self.earlier.insert(paper);
        }
    }

    /// Whether the paper was sent in any version.
    pub fn contains(&self, paper: i64) -> bool {
        self.current.contains(&paper) || self.earlier.contains(&paper)
    }
}
