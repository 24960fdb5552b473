//! Inline LaTeX in titles, abstracts and TL;DRs, as readable text.
//!
//! arXiv titles carry their math as authors typed it (`$\alpha$-divergence`,
//! `90$^\circ$`, `$O(n^2)$`): in a mail or a subject line that reads as
//! noise. Each `$…$` or `\(…\)` span becomes Unicode (`α-divergence`,
//! `90°`, `O(n²)`); text outside math is left alone, and so is a lone `$`
//! (`$5 million`). The symbols, sub- and superscripts come from the
//! `unicodeit` table; before it, the few constructs it would garble are
//! rewritten: operator names (`\log` would become `łog`, `\left` `≤ft`),
//! text wrappers (`\text{eff}`, `{\rm GeV}`), `\frac` and `\sqrt`, degrees.
//! What stays unknown keeps its backslash, as the author wrote it.
//!
//! Applied where text is shown (mail, pages, subjects), never to what is
//! stored or matched: a reader's `alpha-divergence` still finds the paper.

use std::borrow::Cow;

/// Operators written as words in print.
const OPERATOR_WORDS: [&str; 22] = [
    "arg", "cos", "cosh", "cot", "deg", "det", "dim", "exp", "gcd", "inf", "ker", "lg", "lim",
    "ln", "log", "max", "min", "Pr", "sin", "sinh", "sup", "tan",
];
/// Commands that only size or style what follows: dropped, their argument kept.
const DROPPED: [&str; 26] = [
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "displaystyle",
    "textstyle",
    "limits",
    "nolimits",
    "text",
    "textrm",
    "mathrm",
    "mathit",
    "textit",
    "mathbf",
    "textbf",
    "mathsf",
    "texttt",
    "operatorname",
    "emph",
    "boldsymbol",
];
/// Old-style font switches inside braces (`{\rm GeV}`).
const SWITCHES: [&str; 4] = ["rm", "it", "bf", "bm"];

/// `text` with every inline math span made readable; borrowed when there
/// is none.
pub fn readable_math(text: &str) -> Cow<'_, str> {
    if !text.contains('$') && !text.contains("\\(") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, inner, after)) = next_span(rest) {
        out.push_str(before);
        out.push_str(&math_to_text(inner));
        rest = after;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The text before the next math span, the span's content, and the text
/// after it; `None` when no complete span is left. A `$` opens math only
/// with no space after it and closes it only with no space before it and
/// no digit after it (pandoc's rule), so prices stay prices.
fn next_span(text: &str) -> Option<(&str, &str, &str)> {
    let dollar = opening_dollar(text);
    let paren = text.find("\\(");
    let (start, open, close) = match (dollar, paren) {
        (Some(d), Some(p)) if p < d => (p, "\\(", "\\)"),
        (Some(d), _) => (d, "$", "$"),
        (None, Some(p)) => (p, "\\(", "\\)"),
        (None, None) => return None,
    };
    let body = &text[start + open.len()..];
    let end = if close == "$" {
        closing_dollar(body)?
    } else {
        body.find(close)?
    };
    Some((&text[..start], &body[..end], &body[end + close.len()..]))
}

/// Positions of `$` not escaped by a backslash.
fn dollars(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.match_indices('$')
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || text.as_bytes()[i - 1] != b'\\')
}

fn opening_dollar(text: &str) -> Option<usize> {
    dollars(text).find(|&i| {
        text[i + 1..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '$')
    })
}

fn closing_dollar(body: &str) -> Option<usize> {
    dollars(body).find(|&i| {
        i > 0
            && !body[..i].ends_with(char::is_whitespace)
            && !body[i + 1..].starts_with(|c: char| c.is_ascii_digit())
    })
}

/// One span's content as Unicode text.
fn math_to_text(math: &str) -> String {
    let math = math
        .replace("^{\\circ}", "°")
        .replace("^\\circ", "°")
        .replace("\\%", "%")
        .replace("\\$", "$");
    let rewritten = rewrite_commands(&math);
    let unicode = unicodeit::replace(&rewritten);
    let mut out = String::with_capacity(unicode.len());
    let mut chars = unicode.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' => {}
            '~' => out.push(' '),
            '\\' if matches!(chars.peek(), Some(',' | ';' | ':' | '!' | ' ')) => {
                if chars.next() != Some('!') {
                    out.push(' ');
                }
            }
            _ => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Operator names, wrappers, switches, `\frac` and `\sqrt` rewritten for
/// the symbol table.
fn rewrite_commands(math: &str) -> String {
    let mut out = String::with_capacity(math.len());
    let mut rest = math;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let name_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let tail = &after[name_len..];
        rest = if OPERATOR_WORDS.contains(&name) {
            out.push_str(name);
            tail
        } else if DROPPED.contains(&name) || SWITCHES.contains(&name) {
            tail.trim_start()
        } else if name == "frac" || name == "tfrac" || name == "dfrac" {
            match two_groups(tail) {
                Some((num, den, tail)) => {
                    out.push_str(&grouped(&rewrite_commands(num)));
                    out.push('/');
                    out.push_str(&grouped(&rewrite_commands(den)));
                    tail
                }
                None => {
                    out.push('\\');
                    out.push_str(name);
                    tail
                }
            }
        } else if name == "sqrt" {
            match group(tail) {
                Some((arg, tail)) => {
                    out.push('√');
                    out.push_str(&grouped(&rewrite_commands(arg)));
                    tail
                }
                None => {
                    out.push('√');
                    tail
                }
            }
        } else {
            out.push('\\');
            out.push_str(name);
            tail
        };
    }
    out.push_str(rest);
    out
}

/// `a` as is, `a+b` in parentheses: what a fraction's or root's argument
/// needs once its braces are gone.
fn grouped(text: &str) -> String {
    if text.chars().count() <= 1 || text.chars().all(|c| c.is_alphanumeric()) {
        text.to_owned()
    } else {
        format!("({text})")
    }
}

/// The content of a `{…}` group at the start of `text` (after spaces), and
/// what follows it.
fn group(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let body = text.strip_prefix('{')?;
    let mut depth = 1;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&body[..i], &body[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

fn two_groups(text: &str) -> Option<(&str, &str, &str)> {
    let (first, rest) = group(text)?;
    let (second, rest) = group(rest)?;
    Some((first, second, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_arxiv_title_math_reads_as_text() {
        for (latex, text) in [
            ("$\\alpha$-divergence", "α-divergence"),
            ("Rotating by 90$^\\circ$", "Rotating by 90°"),
            ("in $O(n^2)$ time", "in O(n²) time"),
            ("$\\mathcal{O}(n \\log n)$ sorting", "𝒪(n log n) sorting"),
            (
                "$\\ell_1$ penalties in $\\mathbb{R}^d$",
                "ℓ₁ penalties in ℝᵈ",
            ),
            (
                "$k \\geq 2$ and $\\epsilon < 10^{-3}$",
                "k ≥ 2 and ε < 10⁻³",
            ),
            ("$\\text{SO}(3)$-equivariant", "SO(3)-equivariant"),
            ("a {\\rm GeV} $\\gamma$-ray", "a {\\rm GeV} γ-ray"),
            ("$E = {\\rm 5\\,GeV}$", "E = 5 GeV"),
            ("$\\frac{1}{2}$-approximation", "1/2-approximation"),
            ("$\\frac{n+1}{2}$", "(n+1)/2"),
            ("$\\sqrt{n}$-consistent", "√n-consistent"),
            ("$\\left( x \\right)$", "( x )"),
            ("\\(\\beta\\)-VAE", "β-VAE"),
        ] {
            assert_eq!(readable_math(latex), text, "{latex}");
        }
    }

    #[test]
    fn text_without_math_is_left_alone() {
        for plain in [
            "Graph neural networks",
            "It costs $5 million",
            "US$ and $$",
            "an escaped \\$ sign",
        ] {
            assert_eq!(readable_math(plain), plain);
        }
        assert!(matches!(readable_math("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn an_unknown_command_keeps_its_backslash() {
        assert_eq!(readable_math("$\\foo x$"), "\\foo x");
    }
}
