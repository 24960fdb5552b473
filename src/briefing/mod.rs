//! Briefings: a subscriber's matched papers → an email's subject, HTML and
//! plain text.
//!
//! `compose` turns radar hits into what a reader sees per paper (title, link,
//! authors, venue and category, a one-line abstract) in the subscriber's
//! language; `render` fills the MJML and text templates under `emails/` in
//! strict mode (a missing variable is an error, every value HTML-escaped) and
//! turns the MJML into HTML with mrml. Links are built by code and passed in;
//! templates never assemble URLs. Sending is not this module's business.

mod compose;
mod render;
mod strings;

pub use compose::{
    AnalysisView, Briefing, BriefingContent, BriefingLinks, DateView, PaperView, Pick, Section,
    SectionView, compose, similar_topic, source_badge, tldr_of_abstract,
};
pub use render::{Notice, RenderError, RenderedMail, Renderer};
pub use strings::{AnalysisStrings, NoticeStrings, Strings};
