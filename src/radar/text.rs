//! Text normalisation shared by papers and queries, so that both sides of
//! a match are spelled the same way.
//!
//! Real abstracts need more than lower-casing: Unicode NFKC (ligatures,
//! full-width letters), every dash and apostrophe variant, LaTeX
//! (`$\mathcal{O}(n)$`, `\emph{…}`), English plurals and other word forms
//! (Snowball stemming: "attributions" and "attribution" are one stem), and
//! the abbreviations papers use interchangeably with their long forms
//! (a reviewed table: "LLMs" reads as "large language model"). Chinese,
//! Japanese and Korean characters become one token each, so a phrase of
//! them matches wherever those characters stand together.
//!
//! Every text yields two token streams: *stems* (stemmed, abbreviations
//! expanded) for ordinary terms, and *words* (only folded) for exact terms.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;

use crate::domain::REVIEWED_ABBREVIATIONS;

/// LaTeX commands that only format their argument: the command goes, the
/// argument stays.
const FORMATTING: &[&str] = &[
    "emph",
    "textbf",
    "textit",
    "texttt",
    "textrm",
    "textsc",
    "text",
    "mathrm",
    "mathbf",
    "mathit",
    "mathcal",
    "mathbb",
    "mathsf",
    "mathtt",
    "mathfrak",
    "boldsymbol",
    "operatorname",
    "bm",
    "left",
    "right",
    "cite",
    "ref",
    "url",
    "href",
];

static EXPANSIONS: LazyLock<HashMap<&'static str, Vec<String>>> = LazyLock::new(|| {
    REVIEWED_ABBREVIATIONS
        .iter()
        .map(|(short, long)| (*short, long.split(' ').map(stem).collect()))
        .collect()
});

thread_local! {
    static STEMMER: Stemmer = Stemmer::create(Algorithm::English);
    /// Stems of words seen on this thread: a day's papers share most words.
    static STEMS: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
}

fn stem(word: &str) -> String {
    STEMMER.with(|s| s.stem(word).into_owned())
}

fn cached_stem(word: &str) -> String {
    STEMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(s) = cache.get(word) {
            return s.clone();
        }
        if cache.len() > 200_000 {
            cache.clear();
        }
        let s = stem(word);
        cache.insert(word.to_owned(), s.clone());
        s
    })
}

/// A text's two token streams.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Stemmed, abbreviations expanded.
    pub stems: Vec<String>,
    /// Folded words as written, for exact terms.
    pub words: Vec<String>,
}

pub fn tokens(text: &str) -> Tokens {
    let (words, plural_acronyms) = marked_words(text);
    let mut stems = Vec::with_capacity(words.len() + 4);
    for (i, word) in words.iter().enumerate() {
        if let Some(long) = expansion(word) {
            stems.extend(long.iter().cloned());
        } else if plural_acronyms.contains(&i) {
            // "WSIs" is the plural of "WSI"; the stemmer keeps the s.
            stems.push(word[..word.len() - 1].to_owned());
        } else if is_cjk_char(word) {
            stems.push(word.clone());
        } else {
            stems.push(cached_stem(word));
        }
    }
    Tokens { stems, words }
}

/// The long form's stems when `word` (or its plural) is in the table.
fn expansion(word: &str) -> Option<&'static Vec<String>> {
    EXPANSIONS
        .get(word)
        .or_else(|| word.strip_suffix('s').and_then(|w| EXPANSIONS.get(w)))
}

/// Folded words: NFKC, lower case, LaTeX unwrapped, split at every
/// character that is not a letter or digit, possessive `'s` dropped.
pub fn words(text: &str) -> Vec<String> {
    marked_words(text).0
}

/// [`words`], and the positions of acronym plurals among them: words
/// written as two or more capitals or digits and a lower-case `s` ("WSIs").
fn marked_words(text: &str) -> (Vec<String>, Vec<usize>) {
    let text = strip_latex(text);
    let mut out: Vec<String> = Vec::new();
    let mut plurals: Vec<usize> = Vec::new();
    let mut current = String::new();
    // Capitals and digits so far in the word, and whether a lower-case s
    // followed them as the last letter.
    let mut caps = 0usize;
    let mut other = false;
    let mut s_after_caps = false;
    let mut after_apostrophe = false;
    let mut flush =
        |current: &mut String, out: &mut Vec<String>, after_apostrophe: bool, plural: bool| {
            if !current.is_empty() {
                if !(after_apostrophe && current == "s") {
                    if plural {
                        plurals.push(out.len());
                    }
                    out.push(std::mem::take(current));
                }
                current.clear();
            }
        };
    for c in text.nfkc() {
        if is_cjk(c) {
            flush(&mut current, &mut out, after_apostrophe, false);
            out.push(c.to_string());
            (caps, other, s_after_caps) = (0, false, false);
            after_apostrophe = false;
        } else if c.is_alphanumeric() {
            if s_after_caps {
                other = true;
            }
            if c == 's' && caps >= 2 && !other {
                s_after_caps = true;
            } else if c.is_uppercase() || c.is_ascii_digit() {
                caps += usize::from(c.is_uppercase());
            } else {
                other = true;
            }
            current.extend(c.to_lowercase());
        } else {
            let plural = s_after_caps && !other;
            flush(&mut current, &mut out, after_apostrophe, plural);
            (caps, other, s_after_caps) = (0, false, false);
            after_apostrophe = matches!(c, '\'' | '’' | 'ʼ' | '`' | '´');
        }
    }
    flush(
        &mut current,
        &mut out,
        after_apostrophe,
        s_after_caps && !other,
    );
    (out, plurals)
}

/// Drops formatting commands and math delimiters; keeps arguments and the
/// names of symbols (`\alpha` reads as "alpha").
fn strip_latex(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\\', '$']) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push(' '),
            '\\' => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if !n.is_ascii_alphabetic() {
                        break;
                    }
                    name.push(n);
                    chars.next();
                }
                if name.is_empty() {
                    // An escaped character (`\%`, `\{`): a separator.
                    chars.next();
                    out.push(' ');
                } else if !FORMATTING.contains(&name.as_str()) {
                    out.push(' ');
                    out.push_str(&name);
                    out.push(' ');
                } else {
                    out.push(' ');
                }
            }
            _ => out.push(c),
        }
    }
    out.into()
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FFFF) // Extensions B and later
}

fn is_cjk_char(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(is_cjk) && chars.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(text: &str) -> Vec<String> {
        tokens(text).stems
    }

    #[test]
    fn plurals_and_word_forms_share_a_stem() {
        assert_eq!(stems("World Models"), stems("world model"));
        assert_eq!(
            stems("Recommendation systems"),
            stems("recommendation system")
        );
        assert_eq!(stems("attributions"), stems("attribution"));
        assert_eq!(stems("language models"), stems("language model"));
        assert_ne!(stems("model"), stems("modal"));
        // Acronym plurals, which the stemmer leaves alone; not words that end so.
        assert_eq!(stems("WSIs and 3DGSs"), stems("WSI and 3DGS"));
        assert_eq!(stems("WSIs"), ["wsi"]);
        assert_eq!(stems("gas"), ["gas"]);
        assert_eq!(stems("GPUs"), stems("GPU"));
        assert_eq!(stems("CASTs"), ["cast"]);
        assert_eq!(
            stems("GANs"),
            stems("GAN"),
            "table abbreviations still expand"
        );
        assert_eq!(words("WSIs"), ["wsis"], "exact words stay as written");
    }

    #[test]
    fn case_width_ligatures_dashes_and_apostrophes_are_folded() {
        assert_eq!(words("Self‐Supervised"), ["self", "supervised"]); // U+2010
        assert_eq!(words("self—supervised"), ["self", "supervised"]);
        assert_eq!(words("ＬＬａＭＡ"), ["llama"]);
        assert_eq!(words("ﬁne-tuning"), ["fine", "tuning"]);
        assert_eq!(
            words("Bayes’ rule and Kalman's filter"),
            ["bayes", "rule", "and", "kalman", "filter"]
        );
        assert_eq!(words("ÉCOLE"), ["école"]);
    }

    #[test]
    fn latex_fragments_read_as_their_words() {
        assert_eq!(words(r"$\mathcal{O}(n)$ time"), ["o", "n", "time"]);
        assert_eq!(
            words(r"\emph{conformal prediction}"),
            ["conformal", "prediction"]
        );
        assert_eq!(words(r"$\alpha$-divergence"), ["alpha", "divergence"]);
        assert_eq!(words(r"50\% fewer"), ["50", "fewer"]);
    }

    #[test]
    fn abbreviations_and_their_plurals_read_as_the_long_form() {
        assert_eq!(stems("LLMs"), stems("large language models"));
        assert_eq!(stems("GNN"), stems("Graph Neural Networks"));
        assert_eq!(stems("offline RL"), stems("offline reinforcement learning"));
        // Exact words keep the abbreviation.
        assert_eq!(tokens("LLMs").words, ["llms"]);
        // Not an abbreviation inside another word.
        assert_eq!(stems("URL"), ["url"]);
    }

    #[test]
    fn cjk_characters_are_one_token_each() {
        assert_eq!(
            words("大语言模型 agents"),
            ["大", "语", "言", "模", "型", "agents"]
        );
    }
}
