use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};

use super::BriefingContent;
use crate::domain::Locale;

const MJML_TEMPLATE: &str = "briefing.mjml";
const TEXT_TEMPLATE: &str = "briefing.txt";
const NOTICE_MJML: &str = "notice.mjml";
const NOTICE_TEXT: &str = "notice.txt";

/// The templates and strings, compiled into the binary so a deployed daemon
/// cannot drift from the files it was tested with.
const TEMPLATES: [(&str, &str); 4] = [
    (MJML_TEMPLATE, include_str!("../../emails/briefing.mjml")),
    (TEXT_TEMPLATE, include_str!("../../emails/briefing.txt")),
    (NOTICE_MJML, include_str!("../../emails/notice.mjml")),
    (NOTICE_TEXT, include_str!("../../emails/notice.txt")),
];

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
const STRINGS: [(Locale, &str); 2] = [
    (Locale::En, include_str!("../../emails/i18n/en.toml")),
    (Locale::Zh, include_str!("../../emails/i18n/zh.toml")),
];

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
pub struct Renderer {
    env: Environment<'static>,
    strings: Vec<(Locale, Value)>,
}

impl Renderer {
    pub fn new() -> Result<Self, RenderError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".mjml") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let strings = STRINGS
            .iter()
            .map(|(locale, source)| {
                let table: toml::Table =
                    toml::from_str(source).map_err(|e| RenderError::Strings {
                        locale: *locale,
                        message: e.to_string(),
                    })?;
                Ok((*locale, Value::from_serialize(table)))
            })
            .collect::<Result<_, RenderError>>()?;
        Ok(Self { env, strings })
    }

    fn strings(&self, locale: Locale) -> &Value {
        &self
            .strings
            .iter()
            .find(|(l, _)| *l == locale)
            .expect("every locale has strings")
            .1
    }

    pub fn render(
        &self,
        content: &BriefingContent,
        locale: Locale,
    ) -> Result<RenderedMail, RenderError> {
        let t = self.strings(locale);
        let base = context! { t => t, ..Value::from_serialize(content) };
        let line = |key: &str| -> Result<String, RenderError> {
            let template = t.get_attr(key)?;
            let template = template.as_str().ok_or_else(|| RenderError::Strings {
                locale,
                message: format!("`{key}` must be a string"),
            })?;
            Ok(self
                .env
                .render_str(template, base.clone())?
                .trim()
                .to_owned())
        };
        let subject = line("subject")?;
        let preheader = line("preheader")?;
        let ctx = context! { subject, preheader, ..base.clone() };

        Ok(RenderedMail {
            subject: ctx.get_attr("subject")?.to_string(),
            html: self.mjml_to_html(MJML_TEMPLATE, &ctx)?,
            text: self.env.get_template(TEXT_TEMPLATE)?.render(&ctx)?,
        })
    }

    /// A mail about the subscription with one button that opens `url`.
    pub fn render_notice(
        &self,
        notice: Notice,
        locale: Locale,
        url: &str,
    ) -> Result<RenderedMail, RenderError> {
        let t = self.strings(locale);
        let n = t.get_attr(notice.key())?;
        let ctx = context! { t, n, url };
        Ok(RenderedMail {
            subject: n.get_attr("subject")?.to_string(),
            html: self.mjml_to_html(NOTICE_MJML, &ctx)?,
            text: self.env.get_template(NOTICE_TEXT)?.render(&ctx)?,
        })
    }

    fn mjml_to_html(&self, template: &str, ctx: &Value) -> Result<String, RenderError> {
        let mjml = self.env.get_template(template)?.render(ctx)?;
        let parsed = mrml::parse(&mjml).map_err(|e| RenderError::Mjml(e.to_string()))?;
        parsed
            .element
            .render(&mrml::prelude::render::RenderOptions::default())
            .map_err(|e| RenderError::Mjml(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::briefing::{PaperView, SectionView};

    fn content(title: &str) -> BriefingContent {
        BriefingContent {
            edition: "2026-11-23".into(),
            count: 1,
            sections: vec![SectionView {
                topic: "Graphs <&>".into(),
                papers: vec![PaperView {
                    title: title.into(),
                    url: Some("https://arxiv.org/abs/2609.26811".into()),
                    more_url: "https://hub.example/feedback/more".into(),
                    less_url: "https://hub.example/feedback/less".into(),
                    authors: "Ada Example, Bo Placeholder".into(),
                    venue: "arXiv".into(),
                    category: Some("cs.LG".into()),
                    announce_key: Some("replace-cross".into()),
                    summary: "One line.".into(),
                    matched: "graphs".into(),
                }],
            }],
            unsubscribe_url: "https://hub.example/unsubscribe/abc".into(),
            preferences_url: "https://hub.example/preferences/abc".into(),
            view_url: "https://hub.example/b/abc".into(),
        }
    }

    #[test]
    fn both_locales_have_the_same_string_keys() {
        assert_eq!(
            crate::domain::string_keys(STRINGS[0].1),
            crate::domain::string_keys(STRINGS[1].1)
        );
    }

    #[test]
    fn paper_text_is_escaped_in_html_and_kept_verbatim_in_text() {
        let rendered = Renderer::new()
            .unwrap()
            .render(&content("<script>alert(1)</script> & co"), Locale::En)
            .unwrap();
        assert!(!rendered.html.contains("<script>alert"));
        assert!(
            rendered
                .html
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co")
        );
        assert!(rendered.html.contains("Graphs &lt;&amp;&gt;"));
        assert!(rendered.text.contains("<script>alert(1)</script> & co"));
        assert!(rendered.html.contains("Updated cross-list"));
        assert_eq!(
            rendered.subject,
            "AcademicHub · 2026-11-23 · 1 new paper on your radar"
        );
    }

    #[test]
    fn chinese_readers_get_chinese_strings() {
        let rendered = Renderer::new()
            .unwrap()
            .render(&content("T"), Locale::Zh)
            .unwrap();
        assert!(
            rendered.subject.contains("篇新论文"),
            "{}",
            rendered.subject
        );
        assert!(rendered.html.contains("您的科研简报"));
        assert!(rendered.html.contains("lang=\"zh\""));
        assert!(rendered.text.contains("退订"));
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
}
