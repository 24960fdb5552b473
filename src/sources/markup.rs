//! Marked-up text → one readable line. Pure, linear, never fails.
//!
//! The APIs hand over titles and abstracts with markup in them: Crossref
//! and bioRxiv in JATS (`<jats:sec><jats:title>Background</jats:title>
//! <jats:p>…`), PubMed with HTML-ish inline tags (`H<sub>2</sub>O`) and
//! MathML. A briefing shows plain text, so the markup goes, but what it
//! meant stays readable: blocks (paragraphs, sections, titles) keep a word
//! boundary between them, inline elements join without one, a section title
//! leads its text as `Title: `, and a formula reads as `V̇O_{2max}` rather
//! than vanishing.
//!
//! This is deliberately not an XML parser: what arrives is a fragment that
//! may be broken (an unclosed tag, a stray `<` in `P < 0.05`), and a broken
//! fragment still has to yield its words. A formula nested absurdly deep is
//! read flat beyond [`MAX_MATH_DEPTH`], which keeps the work linear.
//!
//! The XML answers themselves (PubMed, OAI-PMH) are well-formed documents
//! and are walked with quick-xml by [`XmlWalk`], which reads each leaf's
//! inner markup through [`to_text`].

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::page::ApiError;

/// MathML elements that get a structure of their own at most this deep;
/// deeper ones read as plain text in order.
const MAX_MATH_DEPTH: usize = 32;
/// Section titles nested deeper than this are read as plain blocks.
const MAX_TITLE_DEPTH: usize = 8;

/// The readable one-line text of `s`: tags dropped, entities decoded,
/// white space collapsed. See the module doc for what is kept of the markup.
pub fn to_text(s: &str) -> String {
    let mut out = Text::default();
    for token in Tokens::new(s) {
        match token {
            Token::Text(text) => out.text(&html_escape::decode_html_entities(text)),
            Token::Verbatim(text) => out.text(text),
            Token::Start(name) => out.start(local_name(name)),
            Token::End(name) => out.end(local_name(name)),
            Token::Empty(name) => out.empty(local_name(name)),
        }
    }
    out.finish()
}

/// `jats:p` → `p`, `mml:msub` → `msub`, lower-cased (HTML is case-blind).
fn local_name(name: &str) -> String {
    local_name_of(name).to_ascii_lowercase()
}

/// Elements that stand apart from their neighbours: a word boundary is kept
/// where one starts or ends. Anything else is inline.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "sec"
            | "title"
            | "div"
            | "br"
            | "hr"
            | "li"
            | "ul"
            | "ol"
            | "list"
            | "list-item"
            | "abstract"
            | "trans-abstract"
            | "section"
            | "blockquote"
            | "disp-quote"
            | "table"
            | "tr"
            | "td"
            | "th"
            | "caption"
            | "label"
            | "fig"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
    )
}

/// MathML elements whose content is written text rather than layout.
fn is_math_token(name: &str) -> bool {
    matches!(name, "mi" | "mn" | "mo" | "mtext" | "ms")
}

enum Token<'a> {
    /// Text with entities still in it.
    Text(&'a str),
    /// Text to take as it is (a CDATA section).
    Verbatim(&'a str),
    Start(&'a str),
    End(&'a str),
    Empty(&'a str),
}

/// A forgiving tokenizer: `<` starts a tag only when a name, `/`, `!` or
/// `?` follows and a `>` closes it; otherwise it is text.
struct Tokens<'a> {
    rest: &'a str,
    /// No `>` is left in `rest`: every further `<` is text.
    no_close: bool,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens {
            rest: s,
            no_close: false,
        }
    }

    /// The text up to the next `<` that may open a tag.
    fn text(&mut self) -> Token<'a> {
        let bytes = self.rest.as_bytes();
        let mut end = bytes.len();
        if !self.no_close {
            // Position 0 is never a tag here (`next` checked it).
            for (i, b) in bytes.iter().enumerate().skip(1) {
                if *b == b'<' && opens_tag(&bytes[i + 1..]) {
                    end = i;
                    break;
                }
            }
        }
        // `<` is ASCII, so `end` is a character boundary.
        let (text, rest) = self.rest.split_at(end);
        self.rest = rest;
        Token::Text(text)
    }

    /// The markup at the start of `rest`: `Some(token)` for a tag or a CDATA
    /// section, `Some(None)` for what reads as nothing (a comment, a
    /// declaration), `None` when no `>` closes it (then it is text).
    fn markup(&mut self) -> Option<Option<Token<'a>>> {
        let rest = self.rest;
        if let Some(body) = rest.strip_prefix("<!--") {
            // An unclosed comment hides the rest, as in a browser.
            let end = body.find("-->").map_or(body.len(), |e| e + 3);
            self.rest = &body[end..];
            return Some(None);
        }
        if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let (text, after) = match body.find("]]>") {
                Some(e) => (&body[..e], &body[e + 3..]),
                None => (body, ""),
            };
            self.rest = after;
            return Some(Some(Token::Verbatim(text)));
        }
        let Some(close) = rest.find('>') else {
            self.no_close = true;
            return None;
        };
        let inner = &rest[1..close];
        self.rest = &rest[close + 1..];
        if inner.starts_with(['!', '?']) {
            return Some(None);
        }
        let (is_end, inner) = match inner.strip_prefix('/') {
            Some(name) => (true, name),
            None => (false, inner),
        };
        let is_empty = inner.ends_with('/');
        let name = inner
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        Some(Some(match (is_end, is_empty) {
            (true, _) => Token::End(name),
            (false, true) => Token::Empty(name),
            (false, false) => Token::Start(name),
        }))
    }
}

/// Whether what follows a `<` can be markup: a name, `/name`, `!` or `?`.
fn opens_tag(after: &[u8]) -> bool {
    match after.first() {
        Some(b'/') => after.get(1).is_some_and(|b| b.is_ascii_alphabetic()),
        Some(b) => b.is_ascii_alphabetic() || *b == b'!' || *b == b'?',
        None => false,
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        while !self.rest.is_empty() {
            let bytes = self.rest.as_bytes();
            if bytes[0] == b'<' && !self.no_close && opens_tag(&bytes[1..]) {
                match self.markup() {
                    Some(Some(token)) => return Some(token),
                    Some(None) => continue,
                    None => {}
                }
            }
            return Some(self.text());
        }
        None
    }
}

/// One MathML element being read: its name and the readings of its
/// children (for a token element, its text).
struct MathFrame {
    name: String,
    parts: Vec<String>,
}

#[derive(Default)]
struct Text {
    out: String,
    /// Where the first non-blank character was written, if any was.
    first_content: Option<usize>,
    /// Where each open section title's text starts in `out`.
    titles: Vec<usize>,
    /// The open MathML elements, `math` first; empty outside a formula.
    math: Vec<MathFrame>,
    /// Elements opened inside a formula beyond [`MAX_MATH_DEPTH`].
    math_overflow: usize,
}

impl Text {
    fn text(&mut self, text: &str) {
        if let Some(frame) = self.math.last_mut() {
            if is_math_token(&frame.name) {
                match frame.parts.last_mut() {
                    Some(part) => part.push_str(text),
                    None => frame.parts.push(text.to_owned()),
                }
            } else if !text.trim().is_empty() {
                frame.parts.push(text.trim().to_owned());
            }
            return;
        }
        if self.first_content.is_none() && !text.trim().is_empty() {
            self.first_content = Some(self.out.len());
        }
        self.out.push_str(text);
    }

    fn start(&mut self, name: String) {
        if !self.math.is_empty() || name == "math" {
            if self.math.len() < MAX_MATH_DEPTH {
                self.math.push(MathFrame {
                    name,
                    parts: Vec::new(),
                });
            } else {
                self.math_overflow += 1;
            }
            return;
        }
        if is_block(&name) {
            self.out.push(' ');
        }
        if name == "title" && self.titles.len() < MAX_TITLE_DEPTH {
            self.titles.push(self.out.len());
        }
    }

    fn end(&mut self, name: String) {
        if !self.math.is_empty() {
            if self.math_overflow > 0 {
                self.math_overflow -= 1;
            } else if let Some(open) = self.math.iter().rposition(|f| f.name == name) {
                while self.math.len() > open {
                    self.close_math();
                }
            }
            return;
        }
        if name == "title"
            && let Some(start) = self.titles.pop()
        {
            self.close_title(start);
        }
        if is_block(&name) {
            self.out.push(' ');
        }
    }

    fn empty(&mut self, name: String) {
        match self.math.last_mut() {
            Some(frame) => frame.parts.push(if name == "mspace" {
                " ".to_owned()
            } else {
                String::new()
            }),
            None if is_block(&name) => self.out.push(' '),
            None => {}
        }
    }

    /// A leading "Abstract" heading says nothing; any other title leads its
    /// section as `Title: `.
    fn close_title(&mut self, start: usize) {
        let Some(title) = self.out.get(start..) else {
            return;
        };
        let title = title.trim();
        if title.is_empty() {
            return;
        }
        let leads = self.first_content.is_none_or(|first| first >= start);
        if leads
            && title
                .trim_end_matches([':', '.'])
                .eq_ignore_ascii_case("abstract")
        {
            self.out.truncate(start);
            self.first_content = None;
            return;
        }
        if !title.ends_with([':', '.', '?', '!']) {
            let end = self.out.trim_end().len();
            self.out.truncate(end);
            self.out.push(':');
        }
    }

    /// Closes the innermost MathML element, handing its reading to its
    /// parent, or to the text when it is the formula itself.
    fn close_math(&mut self) {
        let Some(frame) = self.math.pop() else {
            return;
        };
        let reading = read_math(&frame);
        match self.math.last_mut() {
            Some(parent) => parent.parts.push(reading),
            None => self.text(&reading),
        }
    }

    fn finish(mut self) -> String {
        while !self.math.is_empty() {
            self.close_math();
        }
        self.out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// One MathML element in linear notation: `x_i`, `x^{2n}`, `a/b`, `√x`.
fn read_math(frame: &MathFrame) -> String {
    let part = |i: usize| frame.parts.get(i).map_or("", |p| p.trim());
    match frame.name.as_str() {
        "annotation" | "annotation-xml" => String::new(),
        "msub" | "munder" => format!("{}_{}", part(0), group(part(1))),
        "msup" => format!("{}^{}", part(0), group(part(1))),
        "msubsup" | "munderover" => {
            format!("{}_{}^{}", part(0), group(part(1)), group(part(2)))
        }
        "mover" => match accent(part(1)) {
            Some(mark) => format!("{}{mark}", part(0)),
            None => format!("{}^{}", part(0), group(part(1))),
        },
        "mfrac" => format!("{}/{}", group(part(0)), group(part(1))),
        "msqrt" => format!("√{}", group(frame.parts.concat().trim())),
        "mroot" => format!("{}√{}", group(part(1)), group(part(0))),
        "mtext" | "ms" => frame.parts.concat(),
        _ if is_math_token(&frame.name) => frame.parts.concat().trim().to_owned(),
        _ => frame.parts.concat(),
    }
}

/// A script of one character stands alone; a longer one is braced.
fn group(script: &str) -> String {
    if script.chars().count() <= 1 {
        script.to_owned()
    } else {
        format!("{{{script}}}")
    }
}

/// The combining mark for an accent written over a symbol (`V̇` for a dot).
fn accent(over: &str) -> Option<char> {
    match over {
        "." | "˙" | "\u{307}" => Some('\u{307}'),
        ".." | "¨" | "\u{308}" => Some('\u{308}'),
        "^" | "ˆ" => Some('\u{302}'),
        "~" | "˜" => Some('\u{303}'),
        "¯" | "‾" | "_" => Some('\u{304}'),
        "→" | "⃗" => Some('\u{20d7}'),
        _ => None,
    }
}

/// A streaming walk over one XML answer that knows where it is (the open
/// elements) and turns a document that breaks off or does not nest into
/// [`ApiError::Malformed`].
pub(super) struct XmlWalk<'a> {
    reader: Reader<&'a [u8]>,
    /// Qualified names of the open elements, outermost first.
    path: Vec<String>,
    /// Whether any element was met: an answer without one is not XML.
    met_element: bool,
    api: &'static str,
}

/// What the walk met next.
pub(super) enum Step<'a> {
    /// An element opened; it is now the innermost open one.
    Open(BytesStart<'a>),
    /// An element closed (its local name); it is no longer open.
    Close(String),
    /// The document ended, every element closed.
    End,
}

impl<'a> XmlWalk<'a> {
    pub(super) fn new(body: &'a str, api: &'static str) -> Self {
        let mut reader = Reader::from_str(body);
        // `<IdList/>` reads as an open and a close, like `<IdList></IdList>`.
        reader.config_mut().expand_empty_elements = true;
        XmlWalk {
            reader,
            path: Vec::new(),
            met_element: false,
            api,
        }
    }

    /// How many elements are open.
    pub(super) fn depth(&self) -> usize {
        self.path.len()
    }

    /// Whether the open elements end with `tail`, compared by local name.
    pub(super) fn at(&self, tail: &[&str]) -> bool {
        self.path.len() >= tail.len()
            && self.path[self.path.len() - tail.len()..]
                .iter()
                .zip(tail)
                .all(|(open, want)| local_name_of(open) == *want)
    }

    pub(super) fn next(&mut self) -> Result<Step<'a>, ApiError> {
        loop {
            match self.reader.read_event() {
                Ok(Event::Start(start)) => {
                    let name = start.name().as_ref().to_owned();
                    self.path.push(name);
                    self.met_element = true;
                    return Ok(Step::Open(start));
                }
                Ok(Event::End(_)) => {
                    let name = self.path.pop().unwrap_or_default();
                    return Ok(Step::Close(local_name_of(&name).to_owned()));
                }
                Ok(Event::Eof) => {
                    return match self.path.last() {
                        Some(open) => {
                            Err(self.malformed(format!("the document breaks off inside <{open}>")))
                        }
                        None if !self.met_element => {
                            Err(self.malformed("no XML element in it".to_owned()))
                        }
                        None => Ok(Step::End),
                    };
                }
                Ok(_) => {}
                Err(e) => return Err(self.malformed(e.to_string())),
            }
        }
    }

    /// The readable text of the element just opened, up to its end, which
    /// closes it (no [`Step::Close`] follows for it).
    pub(super) fn text(&mut self) -> Result<String, ApiError> {
        let Some(name) = self.path.pop() else {
            return Ok(String::new());
        };
        let raw = self
            .reader
            .read_text(quick_xml::name::QName(name.as_str()))
            .map_err(|e| self.malformed(format!("inside <{name}>: {e}")))?;
        Ok(to_text(&raw.into_inner()))
    }

    fn malformed(&self, detail: String) -> ApiError {
        ApiError::Malformed {
            api: self.api,
            detail: format!("{detail} (byte {})", self.reader.error_position()),
        }
    }
}

/// `mml:mi` → `mi`.
fn local_name_of(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The readable value of an attribute, if the element has it.
pub(super) fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    let value = element.try_get_attribute(name).ok()??;
    Some(to_text(&value.value))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn jats_sections_keep_their_titles_and_a_leading_abstract_heading_goes() {
        let jats = "<jats:title>ABSTRACT</jats:title><jats:sec>\n <jats:title>Background</jats:title>\n <jats:p>Grazing <jats:italic>Epeorus</jats:italic> mats.</jats:p></jats:sec><jats:sec><jats:title>Methods</jats:title><jats:p>An enclosure.</jats:p></jats:sec>";
        assert_eq!(
            to_text(jats),
            "Background: Grazing Epeorus mats. Methods: An enclosure."
        );
    }

    #[test]
    fn blocks_keep_a_word_boundary_and_inline_elements_join() {
        assert_eq!(to_text("<p>end</p><p>Start</p>"), "end Start");
        assert_eq!(to_text("H<sub>2</sub>O and x<sup>2</sup>"), "H2O and x2");
        assert_eq!(
            to_text("<i>R. nivea</i>, <b>bold</b><u>!</u>"),
            "R. nivea, bold!"
        );
        assert_eq!(to_text("line<br/>break"), "line break");
    }

    #[test]
    fn entities_are_decoded_after_tags_are_read() {
        assert_eq!(
            to_text("Lo &amp; Hsu &lt;i&gt; &#x2013; &#8212; &quot;q&quot; caf&eacute;"),
            "Lo & Hsu <i> – — \"q\" café"
        );
        assert_eq!(to_text("<![CDATA[a &amp; <b>]]>"), "a &amp; <b>");
    }

    #[test]
    fn an_abstract_title_later_in_the_text_is_kept() {
        assert_eq!(
            to_text("<p>Intro.</p><title>Abstract</title><p>x</p>"),
            "Intro. Abstract: x"
        );
        assert_eq!(to_text("<title>Results.</title> y"), "Results. y");
        assert_eq!(to_text("<title> Methods\n</title>z"), "Methods: z");
    }

    #[test]
    fn mathml_reads_as_linear_notation() {
        let math = r#"( <mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML">
            <mml:msub><mml:mrow><mml:mover><mml:mrow><mml:mi>V</mml:mi></mml:mrow><mml:mo>.</mml:mo></mml:mover><mml:mi>O</mml:mi></mml:mrow>
            <mml:mrow><mml:mn>2</mml:mn><mml:mi>m</mml:mi><mml:mi>a</mml:mi><mml:mi>x</mml:mi></mml:mrow></mml:msub>
            <mml:mtext> </mml:mtext></mml:math> ) 67.6"#;
        assert_eq!(to_text(math), "( V\u{307}O_{2max} ) 67.6");
        assert_eq!(
            to_text(
                "<math><msup><mi>e</mi><mrow><mi>i</mi><mi>π</mi></mrow></msup><mo>=</mo><mfrac><mn>1</mn><mi>n</mi></mfrac></math>"
            ),
            "e^{iπ}=1/n"
        );
        assert_eq!(
            to_text(
                "<math><semantics><mi>x</mi><annotation encoding=\"TeX\">x</annotation></semantics></math>"
            ),
            "x"
        );
    }

    #[test]
    fn broken_markup_still_yields_its_words() {
        assert_eq!(to_text("P < 0.05 and a<b"), "P < 0.05 and a<b");
        assert_eq!(to_text("unclosed <i tag"), "unclosed <i tag");
        assert_eq!(to_text("x <p>y"), "x y");
        assert_eq!(to_text("a</p>b"), "a b");
        assert_eq!(to_text("<math><mi>x</mi>"), "x");
        assert_eq!(to_text("<!-- hidden --> shown <!-- open"), "shown");
        assert_eq!(to_text("<<<>>>"), "<<<>>>");
        assert_eq!(to_text(""), "");
        assert_eq!(to_text("&#xD800; &#0; &"), "&#xD800; &#0; &");
    }

    proptest! {
        /// Any mix of markup pieces and text reads without a panic, on one
        /// line with single spaces.
        #[test]
        fn any_markup_reads_as_one_tidy_line(pieces in prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "<", ">", "</", "/>", "<jats:p>", "</jats:p>", "<title>", "</title>",
                    "<math>", "</math>", "<msub>", "</msub>", "<mi>", "</mi>", "<mover>",
                    "<sub>", "&amp;", "&#x", ";", "<!--", "-->", "<![CDATA[", "]]>", " ", "\n",
                ]).prop_map(str::to_owned),
                "\\PC{0,8}",
            ],
            0..40,
        )) {
            let text = to_text(&pieces.concat());
            prop_assert!(!text.contains("  ") && !text.contains('\n'), "{text:?}");
            prop_assert_eq!(text.trim(), text.as_str());
        }
    }

    #[test]
    fn deep_or_long_input_is_read_in_linear_time() {
        let deep = "<math>".to_owned() + &"<mrow>".repeat(50_000) + "x" + &"</mrow>".repeat(50_000);
        assert_eq!(to_text(&deep), "x");
        let titles = "<title>Abstract</title>".repeat(20_000);
        assert_eq!(to_text(&titles), "", "nothing but leading headings");
        let strays = "<a".repeat(100_000);
        assert_eq!(to_text(&strays).len(), strays.len());
    }
}
