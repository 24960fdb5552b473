//! What a person types to subscribe or to change their briefing, and the
//! one place where it is checked.
//!
//! A subscription arrives through four doors: the subscribe API and form,
//! a line of an import file, and the CLI's `subscribe`. Each builds a
//! [`SubscriberInput`] and calls [`SubscriberInput::check`], so a rule (the
//! send hour, the topic limit, an address the relay can deliver) cannot be
//! bypassed by choosing another door. The preferences form has its own
//! shape ([`PreferencesInput`]) but the same checks for the same fields.
//!
//! What is wrong comes back as an [`InputError`]: its `Display` is the
//! English sentence the API and the CLI say; the web pages show each
//! variant in the reader's language from their own strings.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{
    Cadence, EmailAddress, EmailAddressError, Locale, NewSubscriber, Preferences, Topic, TopicError,
};

/// Most papers per topic a reader may ask for.
pub const MAX_PAPERS_PER_TOPIC: u32 = 50;

/// Example papers (`like:`) not yet collected that one save may have
/// looked up at arXiv or Crossref: a stranger's form must not make us ask
/// the services for dozens, and each waits its turn (arXiv: 3 s apart).
pub const MAX_LOOKUPS_PER_SAVE: usize = 3;

/// A subscription as typed: the subscribe API's body, the form's fields,
/// an import or export line, the CLI's arguments.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberInput {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_hour: Option<u32>,
    /// `daily` (the default) or `weekly:mon` … `weekly:sun`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cadence: Option<String>,
    pub topics: Vec<TopicInput>,
}

/// One topic as typed: either `query` in the text form
/// (`"a phrase" OR word -excluded cat:cs.LG`), or the simple lists, whose
/// terms may be lists or comma-separated.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TopicInput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// What the preferences form sends, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct PreferencesInput {
    pub locale: String,
    pub timezone: String,
    pub send_hour: String,
    /// `daily` or `weekly`.
    pub cadence: String,
    /// `mon` … `sun`, for weekly.
    pub weekday: String,
    /// Empty: the default.
    pub max_per_topic: String,
    /// `YYYY-MM-DD` or empty.
    pub paused_until: String,
    pub topics: Vec<TopicInput>,
}

/// What this instance fills in and allows: its settings, as the checks need them.
#[derive(Debug, Clone)]
pub struct InputRules {
    /// The relay takes addresses in any script (`delivery.smtp.smtputf8`).
    pub smtputf8: bool,
    pub default_timezone: Tz,
    pub default_send_hour: SendHour,
}

impl InputRules {
    /// An address as this instance's relay can deliver it: ASCII, or any
    /// script when the relay supports SMTPUTF8.
    pub fn address(&self, input: &str) -> Result<EmailAddress, EmailAddressError> {
        if self.smtputf8 {
            EmailAddress::parse_international(input)
        } else {
            EmailAddress::parse(input)
        }
    }
}

/// A local hour from which a briefing is due: 0 to 23.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(try_from = "u32")]
pub struct SendHour(u8);

impl TryFrom<u32> for SendHour {
    type Error = InputError;

    fn try_from(hour: u32) -> Result<Self, InputError> {
        Self::new(hour)
    }
}

impl SendHour {
    pub fn new(hour: u32) -> Result<Self, InputError> {
        u8::try_from(hour)
            .ok()
            .filter(|h| *h <= 23)
            .map(Self)
            .ok_or_else(|| InputError::SendHour(hour.to_string()))
    }

    /// An hour as a form field holds it.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        text.trim()
            .parse::<u32>()
            .map_err(|_| InputError::SendHour(format!("{:?}", text.trim())))
            .and_then(Self::new)
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

/// The number, padded as asked: `{:02}` gives `07`.
impl std::fmt::Display for SendHour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

/// A reader's topics, checked together: at most
/// [`Topic::MAX_PER_SUBSCRIBER`], at least one, each named once, none that
/// would match every paper.
#[derive(Debug, Clone, PartialEq)]
pub struct Radar(Vec<Topic>);

impl Radar {
    pub fn new(topics: Vec<Topic>) -> Result<Self, InputError> {
        if topics.is_empty() {
            return Err(InputError::NoTopics);
        }
        if topics.len() > Topic::MAX_PER_SUBSCRIBER {
            return Err(InputError::TooManyTopics(topics.len()));
        }
        if let Some((topic, words)) = topics
            .iter()
            .find_map(|t| Some((t, t.query().common_words_only()?)))
        {
            return Err(InputError::CommonWordsOnly {
                topic: topic.name().to_owned(),
                words,
            });
        }
        let mut names: Vec<String> = topics.iter().map(|t| t.name().to_lowercase()).collect();
        names.sort();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(InputError::SameName(pair[0].clone()));
        }
        Ok(Self(topics))
    }

    pub fn topics(&self) -> &[Topic] {
        &self.0
    }

    pub fn into_topics(self) -> Vec<Topic> {
        self.0
    }
}

/// A checked subscription: who, how often, and what they follow.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub subscriber: NewSubscriber,
    pub cadence: Cadence,
    pub radar: Radar,
}

/// Why typed input cannot be used, one variant per rule. The message says
/// what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Address(#[from] EmailAddressError),
    #[error("{0} is not an address on the internet (its domain has no dot)")]
    NotOnTheInternet(String),
    #[error("unknown language {0:?}: use \"en\" or \"zh\"")]
    Language(String),
    #[error("{0:?} is not an IANA time zone such as Europe/Berlin")]
    TimeZone(String),
    #[error("the send hour must be a whole hour from 0 to 23, not {0}")]
    SendHour(String),
    #[error("{0:?} is not a cadence: use daily or weekly:mon … weekly:sun")]
    Cadence(String),
    #[error("papers per topic must be from 1 to {MAX_PAPERS_PER_TOPIC}, not {0:?}")]
    PapersPerTopic(String),
    #[error("{0:?} is not a date such as 2026-12-31")]
    PauseDate(String),
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error("topic {0:?}: give either a query or keywords, categories and exclude, not both")]
    BothForms(String),
    #[error(
        "topic {topic:?} holds an invisible control character (U+{code:04X}); retype it without one"
    )]
    InvisibleControl { topic: String, code: u32 },
    #[error(
        "topic {topic:?}: {words:?} has only words nearly every paper has, so it would match \
         everything; add a word of the topic's own"
    )]
    CommonWordsOnly { topic: String, words: String },
    #[error("at most {max} topics, please (there are {0})", max = Topic::MAX_PER_SUBSCRIBER)]
    TooManyTopics(usize),
    #[error("two topics are called {0:?}; give each its own name")]
    SameName(String),
    #[error("add at least one topic with a name and a keyword")]
    NoTopics,
    #[error("keep at least one topic; to stop the briefings, unsubscribe instead")]
    KeepOneTopic,
    #[error(
        "topic {topic:?}: like:{reference} is neither a paper AcademicHub has collected nor one \
         arXiv or Crossref knows; check the arXiv id or DOI"
    )]
    UnknownExample { topic: String, reference: String },
    #[error(
        "topic {topic:?}: like:{reference} could not be looked up just now ({why}); save again \
         later, or leave it out for now"
    )]
    ExampleUnreachable {
        topic: String,
        reference: String,
        why: String,
    },
    #[error(
        "topic {topic:?}: like:{reference} is one paper too many to look up at once (at most \
         {max} not yet collected per save); save it again afterwards",
        max = MAX_LOOKUPS_PER_SAVE
    )]
    TooManyLookups { topic: String, reference: String },
    #[error(
        "this form is older than your latest link or was not opened from it; check your changes \
         below and press Save again"
    )]
    StaleForm,
    #[error("that topic is no longer there: reload the page")]
    TopicGone,
    #[error("the form did not say which expansion to turn off")]
    NoExpansionNamed,
    #[error("tick the box to confirm that all your data should go")]
    DeleteNotTicked,
}

impl SubscriberInput {
    /// The one check of a new subscription, whichever door it came in by.
    pub fn check(self, rules: &InputRules) -> Result<Subscription, InputError> {
        let email = rules.address(&self.email)?;
        if !email.domain().contains('.') {
            return Err(InputError::NotOnTheInternet(email.to_string()));
        }
        let locale = match self.locale.as_deref().map(str::trim) {
            None | Some("") => Locale::En,
            Some(l) => parse_locale(l)?,
        };
        let timezone = match self.timezone.as_deref().map(str::trim) {
            None | Some("") => rules.default_timezone,
            Some(tz) => parse_timezone(tz)?,
        };
        let send_hour = match self.send_hour {
            None => rules.default_send_hour,
            Some(h) => SendHour::new(h)?,
        };
        let cadence = match self.cadence.as_deref().map(str::trim) {
            None | Some("") => Cadence::Daily,
            Some(c) => c.parse().map_err(|_| InputError::Cadence(c.to_owned()))?,
        };
        Ok(Subscription {
            subscriber: NewSubscriber {
                email,
                locale,
                timezone,
                send_hour,
            },
            cadence,
            radar: Radar::new(topics_from_input(self.topics)?)?,
        })
    }
}

impl PreferencesInput {
    pub fn check(self) -> Result<Preferences, InputError> {
        let locale = parse_locale(&self.locale)?;
        let timezone = parse_timezone(self.timezone.trim())?;
        let send_hour = SendHour::parse(&self.send_hour)?;
        let cadence = match self.cadence.trim() {
            "weekly" => {
                let weekly = format!("weekly:{}", self.weekday.trim());
                weekly
                    .parse::<Cadence>()
                    .map_err(|_| InputError::Cadence(weekly))?
            }
            _ => Cadence::Daily,
        };
        let max_per_topic = match self.max_per_topic.trim() {
            "" => None,
            n => Some(
                n.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_PAPERS_PER_TOPIC).contains(n))
                    .ok_or_else(|| InputError::PapersPerTopic(n.to_owned()))?,
            ),
        };
        let paused_until = match self.paused_until.trim() {
            "" => None,
            d => Some(
                d.parse::<NaiveDate>()
                    .map_err(|_| InputError::PauseDate(d.to_owned()))?,
            ),
        };
        let radar = match Radar::new(topics_from_input(self.topics)?) {
            Err(InputError::NoTopics) => return Err(InputError::KeepOneTopic),
            other => other?,
        };
        Ok(Preferences {
            locale,
            timezone,
            send_hour,
            cadence,
            max_per_topic,
            paused_until,
            topics: radar.into_topics(),
        })
    }
}

fn parse_locale(text: &str) -> Result<Locale, InputError> {
    text.parse()
        .map_err(|_| InputError::Language(text.trim().to_owned()))
}

fn parse_timezone(tz: &str) -> Result<Tz, InputError> {
    tz.parse().map_err(|_| InputError::TimeZone(tz.to_owned()))
}

/// Topics as typed; rows without a name and terms (an empty row of a
/// form) are left out.
fn topics_from_input(input: Vec<TopicInput>) -> Result<Vec<Topic>, InputError> {
    for t in &input {
        let fields = [&t.name]
            .into_iter()
            .chain(&t.query)
            .chain(&t.keywords)
            .chain(&t.categories)
            .chain(&t.exclude);
        for field in fields {
            if let Some(c) = field.chars().find(|&c| is_invisible_control(c)) {
                return Err(InputError::InvisibleControl {
                    topic: t
                        .name
                        .chars()
                        .filter(|&c| !is_invisible_control(c))
                        .collect(),
                    code: u32::from(c),
                });
            }
        }
    }
    let blank = |t: &TopicInput| {
        t.name.trim().is_empty()
            && t.query.as_deref().is_none_or(|q| q.trim().is_empty())
            && t.keywords.iter().all(|k| k.trim().is_empty())
    };
    input
        .into_iter()
        .filter(|t| !blank(t))
        .map(|t| {
            let lists = [&t.keywords, &t.categories, &t.exclude];
            match &t.query {
                Some(_) if lists.iter().any(|l| l.iter().any(|k| !k.trim().is_empty())) => {
                    Err(InputError::BothForms(t.name.trim().to_owned()))
                }
                Some(query) => Ok(Topic::parse(&t.name, query)?),
                None => Ok(Topic::new(&t.name, &t.keywords, &t.categories, &t.exclude)?),
            }
        })
        .collect()
}

/// Control characters (NUL, ESC, line breaks) and the bidirectional
/// overrides that reorder what follows (U+202E): refused in what readers
/// type, as they would reach mail headers and the database.
fn is_invisible_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> InputRules {
        InputRules {
            smtputf8: false,
            default_timezone: chrono_tz::UTC,
            default_send_hour: SendHour::new(7).unwrap(),
        }
    }

    fn input(topics: usize) -> SubscriberInput {
        SubscriberInput {
            email: "ada@example.org".into(),
            topics: (0..topics)
                .map(|i| TopicInput {
                    name: format!("topic {i}"),
                    keywords: vec![format!("word{i}")],
                    ..TopicInput::default()
                })
                .collect(),
            ..SubscriberInput::default()
        }
    }

    #[test]
    fn the_hour_is_from_0_to_23_in_every_shape() {
        assert_eq!(SendHour::new(23).unwrap().get(), 23);
        assert_eq!(SendHour::new(24), Err(InputError::SendHour("24".into())));
        assert_eq!(SendHour::parse(" 0 ").unwrap().get(), 0);
        assert_eq!(
            SendHour::parse("noon"),
            Err(InputError::SendHour("\"noon\"".into()))
        );
    }

    #[test]
    fn a_radar_holds_its_limit_and_its_names() {
        assert!(input(Topic::MAX_PER_SUBSCRIBER).check(&rules()).is_ok());
        assert_eq!(
            input(Topic::MAX_PER_SUBSCRIBER + 1)
                .check(&rules())
                .unwrap_err(),
            InputError::TooManyTopics(21)
        );
        assert_eq!(input(0).check(&rules()).unwrap_err(), InputError::NoTopics);
        let mut twice = input(2);
        twice.topics[1].name = "TOPIC 0".into();
        assert_eq!(
            twice.check(&rules()).unwrap_err(),
            InputError::SameName("topic 0".into())
        );
    }

    #[test]
    fn defaults_fill_what_was_not_typed() {
        let s = input(1).check(&rules()).unwrap();
        assert_eq!(s.subscriber.send_hour.get(), 7);
        assert_eq!(s.subscriber.timezone, chrono_tz::UTC);
        assert_eq!(s.cadence, Cadence::Daily);
    }

    #[test]
    fn a_hidden_override_is_named_and_stripped_from_the_message() {
        let mut i = input(1);
        i.topics[0].name = "Graphs\u{202E}".into();
        assert_eq!(
            i.check(&rules()).unwrap_err().to_string(),
            "topic \"Graphs\" holds an invisible control character (U+202E); retype it without one"
        );
    }
}
