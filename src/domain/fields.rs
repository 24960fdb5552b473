//! Fields of research and the words their papers use without naming the
//! field: a sensor, an imaging modality, an organ, a benchmark, a sub-task.
//!
//! A reader types the name of their field ("remote sensing"); many of its
//! papers never say it and write "UAV imagery" or "Sentinel-2" instead.
//! Neither the glossary (which only pairs acronyms with long forms) nor
//! the day's own papers can teach that: the words are knowledge about the
//! field. So the service ships a reviewed vocabulary, `fields.toml`, as it
//! ships [`super::REVIEWED_ABBREVIATIONS`]: each field with the names a
//! reader gives it and the terms its papers use. A topic that names a field
//! also matches its other names ("long video understanding" brings "video
//! understanding") and its terms ([`super::Glossary::expansions`]), below
//! the reader's own words and only where a paper leans on one (in its
//! title or at least twice in its abstract, [`FIELD_TERM_MIN_MENTIONS`]):
//! one passing mention of "UAV" does not make a paper remote sensing. A
//! keyword that opens with a field's name and says more ("medical image
//! classification") brings the field's words only together with the rest
//! ("MRI" where the paper also says "classification"). The reader sees
//! every such term under "also matching" and drops any one.
//!
//! The vocabulary was written from knowledge of the fields, without
//! looking at the labelled papers the radar is measured on (see
//! `tests/fixtures/relevance/README.md`).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::long_form_key;

/// A field term counts in a paper that has it in its title or at least
/// this many times in its abstract.
pub const FIELD_TERM_MIN_MENTIONS: u16 = 2;

/// One field: what readers call it and what its papers say.
#[derive(Debug, Clone, Deserialize)]
pub struct Field {
    /// Lower-case words, shown as "used by papers on <name>".
    pub name: String,
    /// Phrasings readers type for the field (as a keyword).
    names: Vec<String>,
    /// Words and phrases its papers use without naming the field.
    pub terms: Vec<String>,
}

impl Field {
    /// The phrasings readers type for the field.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// The reviewed vocabulary, by the names readers type.
#[derive(Debug)]
pub struct Fields {
    fields: Vec<Field>,
    /// [`long_form_key`] of each name → its field.
    by_name: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct File {
    field: Vec<Field>,
}

static BUILTIN: LazyLock<Fields> = LazyLock::new(|| {
    Fields::parse(include_str!("fields.toml"))
        .expect("src/domain/fields.toml is checked by its tests")
});

impl Fields {
    /// The vocabulary shipped with the service (`src/domain/fields.toml`).
    pub fn builtin() -> &'static Fields {
        &BUILTIN
    }

    /// A vocabulary from its TOML text; refuses a name given to two fields
    /// or a field without names or terms.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_name = HashMap::new();
        for (i, field) in file.field.iter().enumerate() {
            if field.names.is_empty() || field.terms.is_empty() {
                return Err(format!("field {:?} needs names and terms", field.name));
            }
            for name in &field.names {
                let key = long_form_key(name);
                if let Some(other) = by_name.insert(key, i) {
                    return Err(format!(
                        "{name:?} names both {:?} and {:?}",
                        file.field[other].name, field.name
                    ));
                }
            }
        }
        Ok(Self {
            fields: file.field,
            by_name,
        })
    }

    /// The field a keyword names (one of the names readers give it, case,
    /// plurals and hyphens aside), or else the field its opening words name
    /// with the words after them ("medical image classification": medical
    /// imaging, and "classification", which a paper must then have too).
    pub fn named_in(&self, keyword: &str) -> Option<(&Field, Option<String>)> {
        let key = long_form_key(keyword);
        if let Some(&i) = self.by_name.get(&key) {
            return Some((&self.fields[i], None));
        }
        let words: Vec<&str> = key.split(' ').collect();
        (1..words.len()).rev().find_map(|n| {
            let &i = self.by_name.get(&words[..n].join(" "))?;
            Some((&self.fields[i], Some(words[n..].join(" "))))
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field a keyword names as a whole, if any.
    fn named<'f>(fields: &'f Fields, keyword: &str) -> Option<&'f Field> {
        fields
            .named_in(keyword)
            .and_then(|(field, rest)| rest.is_none().then_some(field))
    }

    #[test]
    fn the_shipped_vocabulary_parses_and_each_name_leads_to_one_field() {
        let fields = Fields::builtin();
        assert!(
            fields.iter().count() >= 50,
            "{} fields",
            fields.iter().count()
        );
        for field in fields.iter() {
            for name in &field.names {
                assert_eq!(named(fields, name).unwrap().name, field.name);
            }
            for term in &field.terms {
                assert!(
                    named(fields, term).is_none_or(|f| f.name == field.name),
                    "{term:?} of {:?} names another field",
                    field.name
                );
            }
        }
    }

    #[test]
    fn a_name_is_found_whatever_its_case_plural_or_hyphens() {
        let fields = Fields::parse(
            "[[field]]\nname = \"remote sensing\"\nnames = [\"remote sensing\", \"satellite image\"]\nterms = [\"UAV\"]\n",
        )
        .unwrap();
        assert_eq!(
            named(&fields, "Satellite Images").unwrap().name,
            "remote sensing"
        );
        assert_eq!(named(&fields, "remote-sensing").unwrap().terms, ["UAV"]);
        assert!(fields.named_in("sensing").is_none());
    }

    #[test]
    fn a_keyword_opening_with_a_name_keeps_the_words_after_it() {
        let fields = Fields::parse(
            "[[field]]\nname = \"medical imaging\"\nnames = [\"medical image\"]\nterms = [\"MRI\"]\n",
        )
        .unwrap();
        let (field, rest) = fields.named_in("Medical-Image Classification").unwrap();
        assert_eq!(
            (field.name.as_str(), rest.as_deref()),
            ("medical imaging", Some("classification"))
        );
        assert_eq!(fields.named_in("medical images").unwrap().1, None);
        assert!(
            fields
                .named_in("classification of medical images")
                .is_none()
        );
    }

    #[test]
    fn a_name_given_to_two_fields_is_refused() {
        let err = Fields::parse(
            "[[field]]\nname = \"a\"\nnames = [\"x y\"]\nterms = [\"t\"]\n[[field]]\nname = \"b\"\nnames = [\"X-Y\"]\nterms = [\"u\"]\n",
        )
        .unwrap_err();
        assert!(err.contains("names both"), "{err}");
    }
}
