//! The writing stage: the words a briefing carries beyond its papers'
//! own, a TL;DR per paper and the opening analysis across the reader's
//! topics.
//!
//! Two writers share the work. The LLM (`llm.rs`, through [`crate::analysis`]'s
//! client, only when `[llm]` is set) writes TL;DRs and topic expansions
//! after collection and analyses during the round, within a timeout, a
//! concurrency limit and a daily token budget, and keeps what it wrote in
//! the store. The built-in summariser (`summary.rs`) writes the analysis
//! whenever the LLM did not, in microseconds and deterministically; a
//! paper without a TL;DR shows its abstract's start. So a briefing always
//! goes out on time, whatever the LLM does.
//!
//! This stage produces text; it does not choose papers (the radar does)
//! nor lay out the mail (the briefing does).

mod llm;
mod summary;

pub use llm::{BriefingPapers, SuggestReport, TldrReport, Words, Writing};
pub use summary::summarise;
