use std::fmt;
use std::str::FromStr;

use super::ArxivId;

/// The identity under which a paper is stored once, however many feeds
/// announce it: its arXiv id when it has one, else its DOI, else its URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PaperKey {
    Arxiv(ArxivId),
    /// A DOI, lower-cased (DOIs are case-insensitive), without `doi:`.
    Doi(String),
    Url(String),
}

impl PaperKey {
    /// `10.1038/X`, `doi:10.1038/X` or `https://doi.org/10.1038/X` → `10.1038/x`;
    /// `None` for anything that does not start with the DOI directory indicator.
    pub fn normalize_doi(raw: &str) -> Option<String> {
        let s = raw.trim();
        let s = s
            .strip_prefix("doi:")
            .or_else(|| s.strip_prefix("https://doi.org/"))
            .or_else(|| s.strip_prefix("http://dx.doi.org/"))
            .unwrap_or(s);
        (s.starts_with("10.") && s.contains('/')).then(|| s.to_lowercase())
    }

    /// The key a reader's reference to a paper names: an arXiv id (any
    /// version, `arXiv:` prefix allowed) or a DOI in any of its spellings.
    pub fn from_reference(reference: &str) -> Option<Self> {
        let reference = reference.trim();
        let bare = reference.strip_prefix("arXiv:").unwrap_or(reference);
        match ArxivId::parse_with_version(bare) {
            Ok((id, _)) => Some(Self::Arxiv(id)),
            Err(_) => Self::normalize_doi(reference).map(Self::Doi),
        }
    }
}

impl fmt::Display for PaperKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Arxiv(id) => write!(f, "arxiv:{id}"),
            Self::Doi(doi) => write!(f, "doi:{doi}"),
            Self::Url(url) => write!(f, "url:{url}"),
        }
    }
}

/// Reads back what `Display` wrote.
impl FromStr for PaperKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a paper key (arxiv:…, doi:… or url:…)");
        match s.split_once(':') {
            Some(("arxiv", id)) => match ArxivId::parse_with_version(id) {
                Ok((id, None)) => Ok(PaperKey::Arxiv(id)),
                _ => Err(bad()),
            },
            Some(("doi", doi)) => PaperKey::normalize_doi(doi)
                .map(PaperKey::Doi)
                .ok_or_else(bad),
            Some(("url", url)) if !url.is_empty() => Ok(PaperKey::Url(url.to_owned())),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dois_are_recognised_in_their_usual_spellings() {
        let want = Some("10.1038/s41586-000-00001-x".to_owned());
        assert_eq!(
            PaperKey::normalize_doi("doi:10.1038/s41586-000-00001-X"),
            want
        );
        assert_eq!(
            PaperKey::normalize_doi("https://doi.org/10.1038/s41586-000-00001-x"),
            want
        );
        assert_eq!(PaperKey::normalize_doi("10.1038/s41586-000-00001-x"), want);
        assert_eq!(PaperKey::normalize_doi("not a doi"), None);
    }

    #[test]
    fn keys_print_with_their_kind() {
        let (id, _) = ArxivId::parse_with_version("2609.26811v1").unwrap();
        let key = PaperKey::Arxiv(id);
        assert_eq!(key.to_string(), "arxiv:2609.26811");
        assert_eq!(key.to_string().parse(), Ok(key));
        let doi = PaperKey::Doi(PaperKey::normalize_doi("10.1/x").unwrap());
        assert_eq!(doi.to_string().parse(), Ok(doi));
        assert!("isbn:123".parse::<PaperKey>().is_err());
    }
}
