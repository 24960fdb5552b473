use std::fmt;
use std::str::FromStr;

/// Why arXiv lists a paper in today's mailing (`Announce Type:` in its RSS).
///
/// `new` and `cross` are first appearances in a category; `replace` and
/// `replace-cross` are new versions of older papers; `absonly` is an
/// abstract-only update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnounceType {
    New,
    Cross,
    Replace,
    ReplaceCross,
    AbsOnly,
}

impl AnnounceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Cross => "cross",
            Self::Replace => "replace",
            Self::ReplaceCross => "replace-cross",
            Self::AbsOnly => "absonly",
        }
    }
}

impl FromStr for AnnounceType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "new" => Ok(Self::New),
            "cross" => Ok(Self::Cross),
            "replace" => Ok(Self::Replace),
            "replace-cross" => Ok(Self::ReplaceCross),
            "absonly" => Ok(Self::AbsOnly),
            other => Err(format!("unknown arXiv announce type {other:?}")),
        }
    }
}

impl fmt::Display for AnnounceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in [
            AnnounceType::New,
            AnnounceType::Cross,
            AnnounceType::Replace,
            AnnounceType::ReplaceCross,
            AnnounceType::AbsOnly,
        ] {
            assert_eq!(t.as_str().parse::<AnnounceType>(), Ok(t));
        }
    }

    #[test]
    fn unknown_types_are_rejected() {
        assert!("replaced".parse::<AnnounceType>().is_err());
    }
}
