use std::fmt;

/// An arXiv identifier without its version: `2609.26811` (new style, since
/// 2007) or `hep-th/9901001` (old style). The version, when the source gave
/// one, travels beside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArxivId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an arXiv identifier (expected e.g. 2609.26811v1 or hep-th/9901001)")]
pub struct ArxivIdError(String);

impl ArxivId {
    /// Parses `ID`, `IDvN`, `arXiv:IDvN`, `oai:arXiv.org:IDvN` or an
    /// `arxiv.org/abs/…` / `/pdf/…` URL, returning the id and the version.
    pub fn parse_with_version(input: &str) -> Result<(ArxivId, Option<u32>), ArxivIdError> {
        let err = || ArxivIdError(input.to_owned());
        let mut s = input.trim();
        for marker in ["/abs/", "/pdf/"] {
            if let Some(pos) = s.find(marker) {
                s = &s[pos + marker.len()..];
            }
        }
        for prefix in ["oai:arXiv.org:", "arXiv:", "arxiv:"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                s = rest;
            }
        }
        let s = s.trim_end_matches(".pdf");
        let (id, version) = match s.rfind('v') {
            Some(pos) if pos + 1 < s.len() && s[pos + 1..].bytes().all(|b| b.is_ascii_digit()) => {
                let version = s[pos + 1..].parse().map_err(|_| err())?;
                (&s[..pos], Some(version))
            }
            _ => (s, None),
        };
        if is_new_style(id) || is_old_style(id) {
            Ok((ArxivId(id.to_owned()), version))
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn abs_url(&self) -> String {
        format!("https://arxiv.org/abs/{}", self.0)
    }
}

/// `YYMM.NNNN` (2007–2014) or `YYMM.NNNNN` (since 2015).
fn is_new_style(id: &str) -> bool {
    let Some((yymm, number)) = id.split_once('.') else {
        return false;
    };
    yymm.len() == 4
        && yymm.bytes().all(|b| b.is_ascii_digit())
        && (4..=5).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// `archive(.SUBJ)?/YYMMNNN`, e.g. `hep-th/9901001`, `math.GT/0309136`.
fn is_old_style(id: &str) -> bool {
    let Some((archive, number)) = id.split_once('/') else {
        return false;
    };
    let archive_ok = !archive.is_empty()
        && archive.starts_with(|c: char| c.is_ascii_lowercase())
        && archive
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '.');
    archive_ok && number.len() == 7 && number.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (String, Option<u32>) {
        let (id, v) = ArxivId::parse_with_version(s).unwrap();
        (id.to_string(), v)
    }

    #[test]
    fn reads_the_forms_arxiv_feeds_use() {
        assert_eq!(
            parse("oai:arXiv.org:2609.26811v1"),
            ("2609.26811".into(), Some(1))
        );
        assert_eq!(parse("arXiv:2205.06398v2"), ("2205.06398".into(), Some(2)));
        assert_eq!(
            parse("https://arxiv.org/abs/2009.13987"),
            ("2009.13987".into(), None)
        );
        assert_eq!(
            parse("http://arxiv.org/abs/hep-th/9901001v3"),
            ("hep-th/9901001".into(), Some(3))
        );
        assert_eq!(
            parse("https://arxiv.org/pdf/0801.1234v2.pdf"),
            ("0801.1234".into(), Some(2))
        );
        assert_eq!(parse("math.GT/0309136"), ("math.GT/0309136".into(), None));
    }

    #[test]
    fn rejects_what_is_not_an_arxiv_id() {
        for bad in [
            "",
            "v1",
            "2609.268",
            "abc",
            "https://www.nature.com/articles/x",
            "12345.67890",
        ] {
            assert!(ArxivId::parse_with_version(bad).is_err(), "{bad} accepted");
        }
    }
}
