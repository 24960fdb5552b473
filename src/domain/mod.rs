//! Domain types, valid by construction.
//!
//! Every value that crosses a trust boundary (a feed, the command line, a
//! config file, a link in an email, a form on a page) is parsed into one of
//! these types at the edge. Code further in takes the types, not strings, and
//! so never re-checks.

mod analysis;
mod announce;
mod arxiv_id;
mod bounce;
mod email;
mod fields;
mod glossary;
mod inline_math;
mod input;
mod link_token;
mod locale;
mod message_body;
mod outgoing;
mod paper;
mod paper_key;
mod query;
mod return_address;
mod source;
mod subscriber;
mod topic;

pub use analysis::{ANALYSIS_MAX_CHARS, Analysis, AnalysisError, AnalysisPart, Writer};
pub use announce::AnnounceType;
pub use arxiv_id::{ArxivId, ArxivIdError};
pub use bounce::BounceOutcome;
pub use email::{EmailAddress, EmailAddressError};
pub use fields::{FIELD_TERM_MIN_MENTIONS, Field, Fields};
pub use glossary::{
    Definition, Expansion, ExpansionOrigin, Glossary, REVIEWED_ABBREVIATIONS, acronym_key,
    definitions, long_form_key, paper_definitions,
};
pub use inline_math::readable_math;
pub use input::{
    InputError, InputRules, MAX_LOOKUPS_PER_SAVE, MAX_PAPERS_PER_TOPIC, PreferencesInput, Radar,
    SendHour, SubscriberInput, Subscription, TopicInput,
};
pub use link_token::{LinkAction, LinkClaims, LinkError, LinkKeys, LinkSecret};
#[cfg(test)]
pub(crate) use locale::string_keys;
pub use locale::{Locale, LocaleError};
pub use message_body::MessageBody;
pub use outgoing::OutgoingMessage;
pub use paper::{Paper, SentPapers, is_preprint};
pub use paper_key::PaperKey;
pub use query::{Facet, Query, QueryError, Revisions, Term};
pub use return_address::{BounceAddress, ReturnIds, ReturnToken};
pub use source::{Issn, JOURNALS, Journal, JournalRoute, PreprintServer, Source, SourceError};
pub use subscriber::{
    Cadence, ConfirmOutcome, EventOrigin, NewSubscriber, Preferences, Subscriber,
    SubscriptionStatus, Verdict,
};
pub use topic::{Topic, TopicError};
