use std::fmt;
use std::str::FromStr;

/// The language a subscriber reads their briefing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    #[default]
    En,
    Zh,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown locale {0:?}: use \"en\" or \"zh\"")]
pub struct LocaleError(String);

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Zh];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
        }
    }
}

impl FromStr for Locale {
    type Err = LocaleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en-gb" => Ok(Self::En),
            "zh" | "zh-cn" | "zh-hans" => Ok(Self::Zh),
            other => Err(LocaleError(other.to_owned())),
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The keys of a strings file (`a`, `a.b` one level down), sorted: both
/// languages of a strings file must have the same.
#[cfg(test)]
pub(crate) fn string_keys(source: &str) -> Vec<String> {
    let table: toml::Table = toml::from_str(source).expect("a TOML strings file");
    let mut keys: Vec<String> = Vec::new();
    for (k, v) in &table {
        keys.push(k.clone());
        if let Some(inner) = v.as_table() {
            keys.extend(inner.keys().map(|i| format!("{k}.{i}")));
        }
    }
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_locales_and_rejects_others() {
        assert_eq!("zh-CN".parse::<Locale>(), Ok(Locale::Zh));
        assert_eq!("en".parse::<Locale>(), Ok(Locale::En));
        assert!("fr".parse::<Locale>().is_err());
    }
}
