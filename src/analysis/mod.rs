//! Words written by an LLM: each paper's TL;DR and the briefing's opening
//! analysis, asked of an OpenAI-compatible chat-completions server
//! (`[llm]` in the settings: OpenAI, Ollama, vLLM, llama.cpp's server…).
//!
//! It consumes papers' titles and abstracts (for TL;DRs) and one briefing's
//! papers with their TL;DRs and topics (for the analysis); it produces
//! plain strings and a [`crate::domain::Analysis`], each with the tokens it
//! cost. It owns no tables and knows nothing of subscribers: the caller asks
//! for a paper's TL;DR once and for an analysis once per distinct set of
//! papers, so the cost grows with the papers, not with the subscribers.
//!
//! An answer is untrusted input. It must be the JSON asked for, name exactly
//! the papers it was given, stay short and carry no URL; an analysis names
//! papers only by `[P1]`-style markers, which become references to the
//! briefing's own papers or refuse the answer
//! ([`crate::domain::Analysis::from_marked`]). Nothing from the server
//! reaches an email as markup.
//!
//! Any failure — no answer within `llm.timeout_secs`, 429, 5xx, an answer
//! that does not check out — is an [`LlmError`], and the caller falls back to
//! the built-in summariser. Deliberately, this module never retries, never
//! waits past its timeout, and keeps no budget: the caller counts
//! [`Answer::tokens`] against `llm.daily_token_budget` and bounds requests in
//! flight by [`Llm::concurrency`].

#[cfg(test)]
mod fake_llm;
mod llm;

pub use llm::{AnalysisPaper, AnalysisRequest, Answer, Llm, LlmError, PaperText};
