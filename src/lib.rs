//! AcademicHub: a daemon that sends each subscriber a daily briefing of new
//! research papers that match their radar.
//!
//! # Pipeline
//!
//! ```text
//! sources → store → radar → briefing → delivery
//! collect   persist  match    compose+render  send
//! ```
//!
//! 1. [`sources`] collects what the configured sources (presets such as
//!    `arxiv:cs.LG`, `biorxiv:genomics`, `journal:nejm`, or feed URLs) hold,
//!    politely (each provider's pace, conditional GET, backoff): feeds, and
//!    the bioRxiv, Crossref, PubMed and arXiv OAI-PMH APIs walked page by
//!    page, into [`domain::Paper`]s, one per work however many sources
//!    announce it.
//! 2. [`store`] keeps papers, subscribers and their radar, briefings and the
//!    outbox, in SQLite or PostgreSQL.
//! 3. [`radar`] matches a subscriber's topics against the new papers.
//! 4. [`round`] runs the day: it claims the subscribers who are due, matches
//!    their radars, asks [`writing`] for the TL;DRs and the opening analysis
//!    (by an LLM through [`analysis`] when one is configured, else built in),
//!    has [`briefing`] compose the MJML email in the reader's language and
//!    render it to HTML and text, and queues it in the outbox.
//! 5. [`delivery`] sends queued briefings over SMTP (or into a folder),
//!    recording each send before and after.
//!
//! A **radar** is the set of topics one subscriber follows. A **briefing**
//! is one subscriber's email for one edition (their local date). The
//! **outbox** is the table of messages waiting to be sent.
//!
//! Around the pipeline, [`web`] serves the reader's side: the subscribe page
//! and API, and every signed link in our mail (confirm, unsubscribe,
//! preferences, feedback, a briefing in the browser).
//!
//! # Layout
//!
//! [`app`] builds the stages once and is the one way in to each use-case:
//! [`cli`], [`scheduler`] and [`web`] drive it ([`daemon`] runs the last two
//! together) and never reach the store themselves. [`config`] is the one
//! settings tree; [`domain`] has the types that are valid by construction,
//! and `domain::input` the one check of what people type; [`links`] signs
//! what our mail links to.

pub mod analysis;
pub mod app;
pub mod bounces;
pub mod briefing;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod domain;
pub mod links;
pub mod radar;
pub mod redact;
pub mod round;
pub mod scheduler;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod writing;

/// One crypto stack (ring) for HTTPS feeds and SMTP TLS, installed by
/// whatever builds a TLS client first. Installing fails only when a provider
/// is already installed, which is fine.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
