//! The opening analysis of a briefing: a few sentences across the reader's
//! topics, which may name papers of the same briefing.
//!
//! Whoever wrote it (an LLM, or the built-in summariser), it reaches the
//! templates as text and paper references, never as markup: a reference is
//! a paper id of this briefing, and the renderer turns it into a link it
//! builds itself. An answer that names a paper the briefing does not hold
//! cannot become an `Analysis`.

use std::collections::HashMap;

/// One piece of the analysis, in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisPart {
    Text(String),
    /// A paper of this briefing, by its stored id: shown as its title, linked.
    Paper(i64),
}

/// Who wrote an analysis or a TL;DR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// The built-in, deterministic summariser.
    BuiltIn,
    /// An LLM, by model name.
    Llm(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    parts: Vec<AnalysisPart>,
    writer: Writer,
}

/// Why text with paper markers could not become an analysis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    #[error("the analysis is empty")]
    Empty,
    #[error("the analysis names paper [{0}], which is not in this briefing")]
    UnknownPaper(String),
    #[error("the analysis has {0} characters; at most {1} are allowed")]
    TooLong(usize, usize),
}

/// Longest analysis accepted, in characters (about six long sentences).
pub const ANALYSIS_MAX_CHARS: usize = 1200;

impl Analysis {
    /// Pieces as written by the built-in summariser (trusted: it only names
    /// papers it was given); adjacent texts become one.
    pub fn built_in(pieces: Vec<AnalysisPart>) -> Self {
        let mut parts = Vec::with_capacity(pieces.len());
        for piece in pieces {
            match piece {
                AnalysisPart::Text(text) => push_text(&mut parts, &text),
                paper => parts.push(paper),
            }
        }
        Self {
            parts,
            writer: Writer::BuiltIn,
        }
    }

    /// Text in which papers are named by markers such as `[P3]`, each a key
    /// of `papers` (marker → paper id). Any other bracketed `[P…]` marker, an
    /// empty text or one over [`ANALYSIS_MAX_CHARS`] is refused.
    pub fn from_marked(
        text: &str,
        papers: &HashMap<String, i64>,
        writer: Writer,
    ) -> Result<Self, AnalysisError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AnalysisError::Empty);
        }
        let chars = text.chars().count();
        if chars > ANALYSIS_MAX_CHARS {
            return Err(AnalysisError::TooLong(chars, ANALYSIS_MAX_CHARS));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("[P") {
            let Some(len) = rest[start + 1..].find(']') else {
                break;
            };
            let marker = &rest[start + 1..start + 1 + len];
            if !marker[1..].chars().all(|c| c.is_ascii_digit()) || marker.len() < 2 {
                // "[Pre-print]" and the like: ordinary text.
                push_text(&mut parts, &rest[..start + 2]);
                rest = &rest[start + 2..];
                continue;
            }
            let id = *papers
                .get(marker)
                .ok_or_else(|| AnalysisError::UnknownPaper(marker.to_owned()))?;
            push_text(&mut parts, &rest[..start]);
            parts.push(AnalysisPart::Paper(id));
            rest = &rest[start + 2 + len..];
        }
        push_text(&mut parts, rest);
        Ok(Self { parts, writer })
    }

    pub fn parts(&self) -> &[AnalysisPart] {
        &self.parts
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The papers it names, in order of first mention.
    pub fn papers(&self) -> Vec<i64> {
        let mut seen = Vec::new();
        for part in &self.parts {
            if let AnalysisPart::Paper(id) = part
                && !seen.contains(id)
            {
                seen.push(*id);
            }
        }
        seen
    }
}

fn push_text(parts: &mut Vec<AnalysisPart>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(AnalysisPart::Text(last)) = parts.last_mut() {
        last.push_str(text);
    } else {
        parts.push(AnalysisPart::Text(text.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> HashMap<String, i64> {
        [("P1".to_owned(), 11), ("P2".to_owned(), 22)].into()
    }

    #[test]
    fn markers_become_paper_references() {
        let a = Analysis::from_marked(
            "Two papers [P1] and [P2] share a method; [P1] leads.",
            &keys(),
            Writer::Llm("m".into()),
        )
        .unwrap();
        assert_eq!(
            a.parts(),
            [
                AnalysisPart::Text("Two papers ".into()),
                AnalysisPart::Paper(11),
                AnalysisPart::Text(" and ".into()),
                AnalysisPart::Paper(22),
                AnalysisPart::Text(" share a method; ".into()),
                AnalysisPart::Paper(11),
                AnalysisPart::Text(" leads.".into()),
            ]
        );
        assert_eq!(a.papers(), [11, 22]);
    }

    #[test]
    fn an_unknown_paper_is_refused() {
        assert_eq!(
            Analysis::from_marked("See [P9].", &keys(), Writer::BuiltIn),
            Err(AnalysisError::UnknownPaper("P9".into()))
        );
    }

    #[test]
    fn other_brackets_are_text() {
        let a =
            Analysis::from_marked("A [Pre-print] and [P] [P1", &keys(), Writer::BuiltIn).unwrap();
        assert_eq!(
            a.parts(),
            [AnalysisPart::Text("A [Pre-print] and [P] [P1".into())]
        );
    }

    #[test]
    fn empty_and_overlong_texts_are_refused() {
        assert_eq!(
            Analysis::from_marked("  ", &keys(), Writer::BuiltIn),
            Err(AnalysisError::Empty)
        );
        let long = "word ".repeat(300);
        assert!(matches!(
            Analysis::from_marked(&long, &keys(), Writer::BuiltIn),
            Err(AnalysisError::TooLong(..))
        ));
    }
}
