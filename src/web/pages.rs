//! The pages readers see: templates and strings compiled into the binary,
//! rendered in strict mode with HTML escaping, in English or Chinese.

use axum::http::{HeaderMap, header};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context};
use serde::Serialize;

use crate::domain::{InputError, Locale};

const TEMPLATES: [(&str, &str); 5] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("topics.html", include_str!("templates/topics.html")),
    ("subscribe.html", include_str!("templates/subscribe.html")),
    ("message.html", include_str!("templates/message.html")),
    (
        "preferences.html",
        include_str!("templates/preferences.html"),
    ),
];
const STRINGS: [(Locale, &str); 2] = [
    (Locale::En, include_str!("i18n/en.toml")),
    (Locale::Zh, include_str!("i18n/zh.toml")),
];

/// A page with a title, some text, at most one button (a POST form) and
/// some links: every confirmation, result and error page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MessagePage {
    pub title: String,
    pub paragraphs: Vec<String>,
    /// Shown small under the text: an address, a paper title.
    pub detail: Option<String>,
    pub button: Option<Button>,
    pub links: Vec<PageLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Button {
    pub action: String,
    pub label: String,
    /// CSS class: "" (primary), "secondary" or "danger".
    pub style: &'static str,
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageLink {
    pub url: String,
    pub label: String,
}

/// One language as offered in a select.
#[derive(Debug, Clone, Serialize)]
struct LocaleOption {
    code: &'static str,
    name: &'static str,
}

const LOCALES: [LocaleOption; 2] = [
    LocaleOption {
        code: "en",
        name: "English",
    },
    LocaleOption {
        code: "zh",
        name: "中文",
    },
];

pub struct Pages {
    env: Environment<'static>,
    strings: Vec<(Locale, Value)>,
    /// The path of `web.public_url` (`""` or `/hub`), before every local URL.
    prefix: String,
}

impl Pages {
    pub fn new(prefix: String) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let strings = STRINGS
            .iter()
            .map(|(locale, source)| {
                let table: toml::Table = toml::from_str(source).map_err(|e| {
                    anyhow::anyhow!("page strings src/web/i18n/{locale}.toml are invalid: {e}")
                })?;
                Ok((*locale, Value::from_serialize(table)))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            env,
            strings,
            prefix,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn strings(&self, locale: Locale) -> &Value {
        &self
            .strings
            .iter()
            .find(|(l, _)| *l == locale)
            .expect("every locale has strings")
            .1
    }

    /// The string at `section.key`, e.g. `confirm.title`.
    pub fn text(&self, locale: Locale, path: &str) -> String {
        let mut value = self.strings(locale).clone();
        for part in path.split('.') {
            value = value
                .get_attr(part)
                .unwrap_or_else(|e| panic!("page string {path}: {e}"));
        }
        value
            .as_str()
            .unwrap_or_else(|| panic!("page string {path} is not a string"))
            .to_owned()
    }

    /// What is wrong with typed input, in `locale`.
    pub fn input_error(&self, locale: Locale, error: &InputError) -> String {
        let (key, values) = super::input_errors::describe(error);
        super::input_errors::fill(&self.text(locale, &format!("input.{key}")), &values)
    }

    /// Renders `template` with the strings, the URL prefix, the language
    /// choices and `ctx`.
    pub fn render(
        &self,
        template: &str,
        locale: Locale,
        other_language_url: Option<String>,
        ctx: Value,
    ) -> Result<String, minijinja::Error> {
        let ctx = context! {
            t => self.strings(locale),
            prefix => &self.prefix,
            locales => LOCALES,
            other_language => match locale { Locale::En => "zh", Locale::Zh => "en" },
            other_language_url,
            ..ctx
        };
        self.env.get_template(template)?.render(ctx)
    }

    pub fn message(&self, locale: Locale, page: &MessagePage) -> Result<String, minijinja::Error> {
        self.render("message.html", locale, None, context! { page })
    }
}

/// The reader's language for a page: `?lang=`, else the first language of
/// `Accept-Language` we have, else English.
pub fn negotiate(lang: Option<&str>, headers: &HeaderMap) -> Locale {
    if let Some(locale) = lang.and_then(|l| l.parse().ok()) {
        return locale;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut ranked: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse().ok())
                .unwrap_or(1.0);
            Some((q, tag))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked
        .iter()
        .find_map(|(_, tag)| tag.split('-').next()?.parse().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_page_strings() {
        assert_eq!(
            crate::domain::string_keys(STRINGS[0].1),
            crate::domain::string_keys(STRINGS[1].1)
        );
    }

    #[test]
    fn the_language_is_the_query_else_the_browsers_first_choice_we_have() {
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_LANGUAGE, v.parse().unwrap());
            h
        };
        assert_eq!(negotiate(None, &HeaderMap::new()), Locale::En);
        assert_eq!(
            negotiate(None, &headers("zh-CN,zh;q=0.9,en;q=0.8")),
            Locale::Zh
        );
        assert_eq!(
            negotiate(None, &headers("fr;q=1, en;q=0.5, zh;q=0.7")),
            Locale::Zh
        );
        assert_eq!(negotiate(None, &headers("fr")), Locale::En);
        assert_eq!(negotiate(Some("en"), &headers("zh-CN")), Locale::En);
    }

    #[test]
    fn every_template_renders_and_escapes_what_it_is_given() {
        let pages = Pages::new(String::new()).unwrap();
        for locale in Locale::ALL {
            let html = pages
                .message(
                    locale,
                    &MessagePage {
                        title: "<b>T</b>".into(),
                        paragraphs: vec!["p".into()],
                        detail: Some("a@example.org".into()),
                        button: Some(Button {
                            action: "/x".into(),
                            label: "Go".into(),
                            style: "",
                            fields: vec![("k".into(), "\"v\"".into())],
                        }),
                        links: vec![PageLink {
                            url: "/y".into(),
                            label: "Y".into(),
                        }],
                    },
                )
                .unwrap();
            assert!(html.contains("&lt;b&gt;T&lt;&#x2f;b&gt;"), "{html}");
            assert!(html.contains("value=\"&quot;v&quot;\""), "{html}");
            assert!(html.contains(&format!("lang=\"{locale}\"")));
        }
    }
}
