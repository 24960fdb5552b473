use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};

use super::BriefingContent;
use super::compose::cut_at_word;
use super::strings::{SOURCES, Strings};
use crate::domain::Locale;

const LAYOUT: &str = "briefing.mjml";
const BODY: &str = "partials/body.html";
const TEXT_TEMPLATE: &str = "briefing.txt";
const NOTICE_MJML: &str = "notice.mjml";
const NOTICE_TEXT: &str = "notice.txt";

/// The templates, compiled into the binary so a deployed daemon cannot
/// drift from the files it was tested with.
const TEMPLATES: [(&str, &str); 8] = [
    (LAYOUT, include_str!("../../emails/briefing.mjml")),
    (
        "partials/header.mjml",
        include_str!("../../emails/partials/header.mjml"),
    ),
    (
        "partials/footer.mjml",
        include_str!("../../emails/partials/footer.mjml"),
    ),
    (BODY, include_str!("../../emails/partials/body.html")),
    (
        "partials/paper.html",
        include_str!("../../emails/partials/paper.html"),
    ),
    (TEXT_TEMPLATE, include_str!("../../emails/briefing.txt")),
    (NOTICE_MJML, include_str!("../../emails/notice.mjml")),
    (NOTICE_TEXT, include_str!("../../emails/notice.txt")),
];

/// Longest subject, in characters, before topics are left out: what a
/// phone's mail list shows in one line (CJK characters are twice as wide).
const SUBJECT_CHARS: [(Locale, usize); 2] = [(Locale::En, 60), (Locale::Zh, 30)];
/// The preheader (the grey line after the subject in a mail list).
const PREHEADER_CHARS: usize = 140;

/// Mail about the subscription itself, with one button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// "Confirm your subscription" (double opt-in).
    Confirm,
    /// "You are already subscribed; here are your preferences."
    AlreadySubscribed,
}

impl Notice {
    /// The table of strings in `emails/i18n/*.toml`; also the outbox kind.
    pub fn key(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::AlreadySubscribed => "already",
        }
    }
}
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("email template error: {0:#}")]
    Template(#[from] minijinja::Error),
    #[error("email strings emails/i18n/{locale}.toml are invalid: {message}")]
    Strings { locale: Locale, message: String },
    #[error("the briefing template is not valid MJML: {0}")]
    Mjml(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Built once at start-up; rendering is then cheap and cannot fail on a
/// missing file.
///
/// MJML is costly to turn into HTML (mrml parses and lays out the whole
/// document), so the briefing's layout goes through it once per language,
/// with markers where each reader's values go ([`Shell`]); a briefing is
/// then the layout's pieces with those values, escaped, in between, and
/// its papers rendered from plain-HTML partials.
pub struct Renderer {
    env: Environment<'static>,
    languages: Vec<Language>,
}

struct Language {
    locale: Locale,
    strings: Strings,
    /// `strings` as the templates see them.
    t: Value,
    shell: Shell,
}

/// What differs per reader in the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Subject,
    Preheader,
    Date,
    /// The analysis and the papers: HTML, escaped when it was rendered.
    Body,
    PreferencesUrl,
    ViewUrl,
    UnsubscribeUrl,
    Contact,
}

const SLOTS: [(Slot, &str); 8] = [
    (Slot::Subject, "subject"),
    (Slot::Preheader, "preheader"),
    (Slot::Date, "date"),
    (Slot::Body, "body"),
    (Slot::PreferencesUrl, "preferences_url"),
    (Slot::ViewUrl, "view_url"),
    (Slot::UnsubscribeUrl, "unsubscribe_url"),
    (Slot::Contact, "contact"),
];

/// Markers are letters and `@`, which neither minijinja nor mrml escapes.
fn marker(name: &str) -> String {
    format!("@@ah-{name}@@")
}

/// The layout as HTML, cut where the reader's values go.
struct Shell {
    pieces: Vec<Piece>,
    len: usize,
}

enum Piece {
    Html(String),
    Slot(Slot),
}

impl Shell {
    fn new(html: &str) -> Result<Self, RenderError> {
        let mut pieces = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find("@@ah-") {
            let (slot, name) = SLOTS
                .iter()
                .find(|(_, name)| rest[start..].starts_with(&marker(name)))
                .ok_or_else(|| {
                    let near: String = rest[start..].chars().take(24).collect();
                    RenderError::Mjml(format!("unknown marker at …{near}"))
                })?;
            pieces.push(Piece::Html(rest[..start].to_owned()));
            pieces.push(Piece::Slot(*slot));
            rest = &rest[start + marker(name).len()..];
        }
        pieces.push(Piece::Html(rest.to_owned()));
        for (slot, name) in SLOTS {
            if !pieces
                .iter()
                .any(|p| matches!(p, Piece::Slot(s) if *s == slot))
            {
                return Err(RenderError::Mjml(format!(
                    "the layout lost `slot.{name}` on its way through MJML"
                )));
            }
        }
        let len = pieces
            .iter()
            .map(|p| match p {
                Piece::Html(h) => h.len(),
                Piece::Slot(_) => 0,
            })
            .sum();
        Ok(Self { pieces, len })
    }

    /// The HTML with `value(slot)` in each slot: escaped, except the body.
    fn fill<'v>(&self, value: impl Fn(Slot) -> &'v str) -> String {
        let mut html = String::with_capacity(self.len + value(Slot::Body).len() + 2048);
        for piece in &self.pieces {
            match piece {
                Piece::Html(h) => html.push_str(h),
                Piece::Slot(Slot::Body) => html.push_str(value(Slot::Body)),
                Piece::Slot(slot) => {
                    html_escape::encode_double_quoted_attribute_to_string(value(*slot), &mut html);
                }
            }
        }
        html
    }
}

impl Renderer {
    pub fn new() -> Result<Self, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".mjml") || name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let mut loaded = Vec::new();
        for (locale, source) in SOURCES {
            let strings = Strings::load(locale, source)?;
            env.add_template_owned(format!("{locale}/subject"), strings.subject.clone())?;
            env.add_template_owned(format!("{locale}/date"), strings.date.clone())?;
            loaded.push((locale, strings));
        }
        let mut languages = Vec::new();
        for (locale, strings) in loaded {
            let t = Value::from_serialize(&strings);
            let slot: std::collections::BTreeMap<&str, String> = SLOTS
                .iter()
                .map(|(_, name)| (*name, marker(name)))
                .collect();
            let layout = mjml_to_html(&env, LAYOUT, &context! { t, slot })?;
            let shell = Shell::new(&layout)?;
            languages.push(Language {
                locale,
                strings,
                t,
                shell,
            });
        }
        Ok(Self { env, languages })
    }

    fn language(&self, locale: Locale) -> &Language {
        self.languages
            .iter()
            .find(|l| l.locale == locale)
            .expect("every locale has strings")
    }

    /// The words of a briefing in `locale`.
    pub fn strings(&self, locale: Locale) -> &Strings {
        &self.language(locale).strings
    }

    pub fn render(
        &self,
        content: &BriefingContent,
        locale: Locale,
    ) -> Result<RenderedMail, RenderError> {
        let lang = self.language(locale);
        let ctx = context! { t => lang.t.clone(), ..Value::from_serialize(content) };
        let date = self
            .env
            .get_template(&format!("{locale}/date"))?
            .render(context! { t => lang.t.clone(), d => content.date })?;
        let subject = self.subject(lang, content)?;
        let preheader = cut_at_word(&content.analysis_text, PREHEADER_CHARS);
        let body = self.env.get_template(BODY)?.render(&ctx)?;
        let html = lang.shell.fill(|slot| match slot {
            Slot::Subject => &subject,
            Slot::Preheader => &preheader,
            Slot::Date => &date,
            Slot::Body => &body,
            Slot::PreferencesUrl => &content.preferences_url,
            Slot::ViewUrl => &content.view_url,
            Slot::UnsubscribeUrl => &content.unsubscribe_url,
            Slot::Contact => &content.contact,
        });
        let text = self
            .env
            .get_template(TEXT_TEMPLATE)?
            .render(context! { date => &date, ..ctx })?;
        Ok(RenderedMail {
            subject,
            html,
            text,
        })
    }

    /// "3 new on A, B +1 more": as many of the topics as fit on a phone's line.
    fn subject(&self, lang: &Language, content: &BriefingContent) -> Result<String, RenderError> {
        let template = self.env.get_template(&format!("{}/subject", lang.locale))?;
        let limit = SUBJECT_CHARS
            .iter()
            .find(|(l, _)| *l == lang.locale)
            .map_or(60, |(_, n)| *n);
        let similar = [super::compose::similar_topic(&lang.strings).to_owned()];
        let topics = if content.topics.is_empty() {
            &similar[..]
        } else {
            &content.topics[..]
        };
        let mut subject = String::new();
        for shown in (1..=topics.len()).rev() {
            subject = template.render(context! {
                count => content.count,
                topics => topics[..shown].join(&lang.strings.analysis.comma),
                others => topics.len() - shown,
            })?;
            if subject.chars().count() <= limit {
                break;
            }
        }
        Ok(cut_at_word(subject.trim(), limit))
    }

    /// A mail about the subscription with one button that opens `url`.
    pub fn render_notice(
        &self,
        notice: Notice,
        locale: Locale,
        url: &str,
    ) -> Result<RenderedMail, RenderError> {
        let t = &self.language(locale).t;
        let n = t.get_attr(notice.key())?;
        let ctx = context! { t, n, url };
        Ok(RenderedMail {
            subject: n.get_attr("subject")?.to_string(),
            html: mjml_to_html(&self.env, NOTICE_MJML, &ctx)?,
            text: self.env.get_template(NOTICE_TEXT)?.render(&ctx)?,
        })
    }
}

fn mjml_to_html(env: &Environment<'_>, template: &str, ctx: &Value) -> Result<String, RenderError> {
    let mjml = env.get_template(template)?.render(ctx)?;
    let parsed = mrml::parse(&mjml).map_err(|e| RenderError::Mjml(e.to_string()))?;
    // No web fonts: MJML would link Google Fonts for the Roboto in our font
    // stack, and every open would tell Google who reads what. The stack
    // falls back to the reader's own system fonts.
    let options = mrml::prelude::render::RenderOptions {
        fonts: std::collections::HashMap::new(),
        ..Default::default()
    };
    parsed
        .element
        .render(&options)
        .map_err(|e| RenderError::Mjml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::briefing::{Briefing, BriefingLinks, Pick, Section, compose};
    use crate::domain::{Analysis, AnalysisPart, AnnounceType, ArxivId, Paper, PaperKey, Verdict};

    fn paper(title: &str) -> Paper {
        let (id, _) = ArxivId::parse_with_version("2609.26811").unwrap();
        Paper {
            key: PaperKey::Arxiv(id.clone()),
            arxiv: Some((id, Some(2))),
            doi: None,
            related: Vec::new(),
            title: title.into(),
            abstract_text: "We study graphs. They are everywhere.".into(),
            url: "https://arxiv.org/abs/2609.26811".into(),
            authors: vec!["Ada Example".into(), "Bo Placeholder".into()],
            categories: vec!["cs.LG".into()],
            venue: "arXiv".into(),
            announce_type: Some(AnnounceType::ReplaceCross),
            published: None,
        }
    }

    fn render(renderer: &Renderer, title: &str, topics: &[&str], locale: Locale) -> RenderedMail {
        let p = paper(title);
        let sections: Vec<Section> = topics
            .iter()
            .map(|t| Section {
                topic: Some(t),
                picks: vec![Pick {
                    paper_id: 7,
                    paper: &p,
                    matched: vec!["graphs".into()],
                    tldr: None,
                    published_in: Some("Nature <Methods>"),
                }],
                more: 2,
            })
            .collect();
        let strings = renderer.strings(locale);
        let analysis = Analysis::built_in(vec![AnalysisPart::Text("Graphs today.".into())]);
        let feedback = |id: i64, v: Verdict| format!("https://hub.example/feedback/{id}/{v:?}");
        let links = BriefingLinks {
            unsubscribe: "https://hub.example/unsubscribe/abc".into(),
            preferences: "https://hub.example/preferences/abc?a=1&b=2".into(),
            view: "https://hub.example/b/abc".into(),
            feedback: &feedback,
        };
        let content = compose(
            &Briefing {
                sections: &sections,
                analysis: &analysis,
                edition: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
                strings,
                contact: "AcademicHub, 1 Example Street <hello@hub.example>",
            },
            &links,
        );
        renderer.render(&content, locale).unwrap()
    }

    #[test]
    fn paper_text_is_escaped_in_html_and_kept_verbatim_in_text() {
        let renderer = Renderer::new().unwrap();
        let rendered = render(
            &renderer,
            "<script>alert(1)</script> & co",
            &["Graphs <&>"],
            Locale::En,
        );
        assert!(!rendered.html.contains("<script>alert"));
        assert!(
            rendered
                .html
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co")
        );
        assert!(rendered.html.contains("Graphs &lt;&amp;&gt;"));
        assert!(rendered.html.contains("&lt;hello@hub.example&gt;"));
        assert!(rendered.html.contains("preferences/abc?a=1&amp;b=2\""));
        assert!(rendered.text.contains("<script>alert(1)</script> & co"));
        assert!(rendered.html.contains("Revised cross-list · v2"));
        assert!(
            rendered
                .html
                .contains("v2 · Now published in Nature &lt;Methods&gt;")
        );
        assert!(
            rendered
                .text
                .contains("v2 · Now published in Nature <Methods>")
        );
        assert!(rendered.html.contains("2 more on this topic"));
        assert!(rendered.html.contains("Tuesday, 24 November 2026"));
        assert_eq!(rendered.subject, "1 new on Graphs <&>");
    }

    #[test]
    fn long_subjects_name_the_first_topics_and_count_the_rest() {
        let renderer = Renderer::new().unwrap();
        let rendered = render(
            &renderer,
            "T",
            &[
                "conformal prediction",
                "speculative decoding",
                "graph neural networks",
            ],
            Locale::En,
        );
        assert_eq!(
            rendered.subject,
            "3 new on conformal prediction, speculative decoding +1 more"
        );
        let zh = render(
            &renderer,
            "T",
            &["保形预测", "推测解码", "图神经网络", "扩散模型", "强化学习"],
            Locale::Zh,
        );
        assert_eq!(
            zh.subject,
            "保形预测、推测解码、图神经网络、扩散模型等：5 篇新论文"
        );
    }

    #[test]
    fn chinese_readers_get_chinese_strings() {
        let rendered = render(&Renderer::new().unwrap(), "T", &["图"], Locale::Zh);
        assert!(
            rendered.subject.contains("篇新论文"),
            "{}",
            rendered.subject
        );
        assert!(rendered.html.contains("您的科研简报"));
        assert!(rendered.html.contains("2026年11月24日 星期二"));
        assert!(rendered.html.contains("lang=\"zh\""));
        assert!(rendered.text.contains("退订"));
        assert!(rendered.text.contains("已发表于 Nature <Methods>"));
    }

    #[test]
    fn notices_carry_their_one_link_in_both_parts_and_both_languages() {
        let renderer = Renderer::new().unwrap();
        let url = "https://hub.example/confirm/tok?x=1&y=2";
        for locale in Locale::ALL {
            for notice in [Notice::Confirm, Notice::AlreadySubscribed] {
                let mail = renderer.render_notice(notice, locale, url).unwrap();
                assert!(!mail.subject.is_empty());
                assert!(mail.text.contains(url), "{}", mail.text);
                assert!(
                    mail.html.contains(
                        "href=\"https:&#x2f;&#x2f;hub.example&#x2f;confirm&#x2f;tok?x=1&amp;y=2\""
                    ),
                    "{}",
                    mail.html
                );
            }
        }
        let zh = renderer
            .render_notice(Notice::Confirm, Locale::Zh, url)
            .unwrap();
        assert!(zh.subject.contains("确认"), "{}", zh.subject);
    }

    #[test]
    fn a_missing_variable_is_an_error_not_an_empty_string() {
        let renderer = Renderer::new().unwrap();
        let err = renderer
            .env
            .render_str("{{ nope }}", context! {})
            .unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError);
    }

    #[test]
    fn a_layout_that_loses_a_marker_is_refused() {
        assert!(Shell::new("<html>@@ah-body@@</html>").is_err());
        assert!(Shell::new("<html>@@ah-nope@@</html>").is_err());
    }
}
