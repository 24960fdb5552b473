//! What `academichub sources` prints: every name a config may use, where
//! it is collected from, whether abstracts come, and how politely.

use std::fmt::Write;

use super::route::RULES;
use crate::domain::{JOURNALS, JournalRoute, PreprintServer};

fn pace(provider: &str) -> String {
    let rule = RULES
        .iter()
        .find(|r| r.provider == provider)
        .expect("a rule per provider");
    format!(
        "1 request / {} ms ({})",
        rule.interval.as_millis(),
        rule.why
    )
}

/// The catalogue as a table, then the subjects of bioRxiv and medRxiv.
pub fn catalogue() -> String {
    let mut rows: Vec<[String; 5]> = vec![
        [
            "arxiv:<category>[+<category>…]".into(),
            "arXiv (Cornell)".into(),
            "rss.arxiv.org RSS; backfill through OAI-PMH".into(),
            "yes".into(),
            pace("arxiv"),
        ],
        [
            "biorxiv[:<subject>]".into(),
            "Cold Spring Harbor Laboratory".into(),
            "api.biorxiv.org details, by posting day".into(),
            "yes".into(),
            pace("biorxiv"),
        ],
        [
            "medrxiv[:<subject>]".into(),
            "Cold Spring Harbor Laboratory".into(),
            "api.biorxiv.org details, by posting day".into(),
            "yes".into(),
            pace("biorxiv"),
        ],
        [
            "crossref:<ISSN>".into(),
            "any journal".into(),
            "Crossref journals/<ISSN>/works, by index day".into(),
            "when the publisher deposits them (about half)".into(),
            pace("crossref"),
        ],
        [
            "pubmed:<query>".into(),
            "NLM".into(),
            "E-utilities esearch (by entry day) + efetch".into(),
            "yes, structured sections kept".into(),
            pace("pubmed"),
        ],
        [
            "chemrxiv".into(),
            "American Chemical Society et al.".into(),
            "Crossref prefixes/10.26434 (posted content)".into(),
            "yes".into(),
            pace("crossref"),
        ],
        [
            "https://… | file:///…".into(),
            "any RSS, Atom or JSON feed".into(),
            "conditional GET".into(),
            "as the feed gives them".into(),
            "1 request / 1000 ms per host".into(),
        ],
    ];
    for journal in JOURNALS {
        let (route, abstracts, provider) = match journal.route {
            JournalRoute::NatureRss(code) => {
                (format!("nature.com/{code}.rss"), "a summary", "nature")
            }
            JournalRoute::Pubmed(ta) => (format!("PubMed \"{ta}\"[ta]"), "yes", "pubmed"),
            JournalRoute::Crossref => (
                format!("Crossref ISSN {}", journal.issn),
                "when deposited",
                "crossref",
            ),
        };
        rows.push([
            format!("journal:{}", journal.name),
            format!("{} — {}", journal.title, journal.publisher),
            route,
            abstracts.into(),
            pace(provider),
        ]);
    }
    let header = ["NAME", "PUBLISHER", "ROUTE", "ABSTRACTS", "PACE"].map(String::from);
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        for (i, cell) in row.iter().enumerate() {
            if i < 4 {
                let _ = write!(out, "{cell:<width$}  ", width = widths[i]);
            } else {
                let _ = writeln!(out, "{cell}");
            }
        }
    }
    for server in [PreprintServer::Biorxiv, PreprintServer::Medrxiv] {
        let _ = writeln!(
            out,
            "\n{} subjects: {}",
            server.path(),
            server
                .subjects()
                .iter()
                .map(|s| s.replace(' ', "-"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}
