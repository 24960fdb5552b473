//! One typed settings tree: built-in defaults, then a TOML file, then
//! `ACADEMICHUB_…` environment variables (`__` separates levels, e.g.
//! `ACADEMICHUB_DELIVERY__SMTP__HOST`).
//!
//! Unknown keys are errors, not silently ignored, and every value is checked
//! here, at start-up, so the rest of the program receives settings it can
//! trust. Secrets are wrapped so that `Debug` output and logs never show them.
//! `deploy/academichub.example.toml` lists every key with its default.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

use crate::domain::LinkSecret;
use crate::redact::redact_url;

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "academichub.toml";

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub collect: CollectSettings,
    pub briefing: BriefingSettings,
    pub delivery: DeliverySettings,
    pub web: WebSettings,
    pub links: LinkSettings,
    pub subscriptions: SubscriptionSettings,
    pub schedule: ScheduleSettings,
    pub llm: LlmSettings,
    pub sources: SourceSettings,
    pub bounces: BounceSettings,
    pub metrics: MetricsSettings,
    pub log: LogSettings,
}

/// Numbers for a monitoring system (`[metrics]`): served at `/metrics` on
/// `web.listen` in Prometheus's text format. Restrict that path at the
/// reverse proxy: it is for the monitor, not for readers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Record and serve them; `false`: nothing is recorded and `/metrics`
    /// answers 404.
    pub enabled: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// How log lines are written (`[log]`); `--log-format` overrides it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (default) or `json`, one object a line.
    pub format: crate::telemetry::LogFormat,
}

/// Reading bounces and complaints (`[bounces]`): what they do, and the
/// mailbox they are polled from. Bounces come back to
/// `delivery.bounce_address`; they reach us through that mailbox
/// (`[bounces.imap]`), or through `academichub bounce`, which an MTA pipes
/// each one to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BounceSettings {
    /// Soft bounces (4.x.x, "delayed") of this many different messages ...
    pub soft_limit: u32,
    /// ... within this many days suppress the address.
    pub soft_window_days: u32,
    /// Where `academichub bounce` keeps a message it cannot read, for a
    /// person to look at (the IMAP poll leaves such messages in the mailbox).
    pub unreadable_folder: PathBuf,
    /// Poll this mailbox; unset: no polling.
    pub imap: Option<ImapSettings>,
}

impl Default for BounceSettings {
    fn default() -> Self {
        Self {
            soft_limit: 3,
            soft_window_days: 14,
            unreadable_folder: PathBuf::from("var/bounces-unreadable"),
            imap: None,
        }
    }
}

/// The IMAP mailbox bounces are delivered to (`[bounces.imap]`). The
/// password is best given through the environment:
/// `ACADEMICHUB_BOUNCES__IMAP__PASSWORD`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapSettings {
    pub host: String,
    /// 993 for `tls`, 143 otherwise, when unset.
    pub port: Option<u16>,
    /// `tls` (implicit, port 993), `starttls`, or `none` (loopback only).
    pub tls: TlsMode,
    /// PEM file of extra CA certificates to trust (a private CA).
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub password: Option<Secret>,
    /// The folder bounces arrive in.
    pub folder: String,
    /// Handled messages are moved here; unset: deleted. Messages we cannot
    /// read stay where they are, flagged `$AcademicHubUnreadable`.
    pub done_folder: Option<String>,
    /// Minutes between polls when the daemon runs.
    pub poll_minutes: u32,
    /// Messages handled in one poll at most (the rest wait for the next).
    pub max_per_poll: u32,
    pub timeout_secs: u64,
}

impl Default for ImapSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: None,
            tls: TlsMode::Tls,
            ca_file: None,
            username: String::new(),
            password: None,
            folder: "INBOX".into(),
            done_folder: None,
            poll_minutes: 10,
            max_per_poll: 500,
            timeout_secs: 30,
        }
    }
}

impl ImapSettings {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Tls => 993,
            TlsMode::Starttls | TlsMode::None => 143,
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (created on first run) or `postgres://…`.
    #[serde(serialize_with = "redacted")]
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://var/academichub.db".into(),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectSettings {
    pub user_agent: String,
    pub timeout_secs: u64,
    /// How long to wait after a successful fetch before asking a feed again.
    pub interval_minutes: u64,
    pub feeds: Vec<FeedSettings>,
}

impl Default for CollectSettings {
    fn default() -> Self {
        Self {
            user_agent: format!(
                "AcademicHub/{} (research-paper briefings)",
                env!("CARGO_PKG_VERSION")
            ),
            timeout_secs: 30,
            interval_minutes: 60,
            feeds: Vec::new(),
        }
    }
}

/// One entry of `collect.feeds`: a preset name or URL as a string
/// (`"journal:nature"`), or a table with `url` or `preset` and a `name`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "FeedEntry")]
pub struct FeedSettings {
    pub source: crate::domain::Source,
    /// Shown in logs; defaults to the source's name (a URL without its
    /// credentials).
    pub name: Option<String>,
}

impl FeedSettings {
    /// A feed of its own, by URL (tests and callers that build settings).
    pub fn url(url: &str, name: Option<&str>) -> Result<Self, crate::domain::SourceError> {
        Ok(Self {
            source: url.parse()?,
            name: name.map(str::to_owned),
        })
    }
}

/// Printed as the table form, the URL without credentials.
impl Serialize for FeedSettings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        match &self.source {
            crate::domain::Source::Feed(url) => map.serialize_entry("url", &redact_url(url))?,
            preset => map.serialize_entry("preset", &preset.to_string())?,
        }
        if let Some(name) = &self.name {
            map.serialize_entry("name", name)?;
        }
        map.end()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FeedEntry {
    Name(String),
    Table(FeedTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedTable {
    url: Option<String>,
    preset: Option<String>,
    name: Option<String>,
}

impl TryFrom<FeedEntry> for FeedSettings {
    type Error = String;

    fn try_from(entry: FeedEntry) -> Result<Self, String> {
        let (spec, name) = match entry {
            FeedEntry::Name(spec) => (spec, None),
            FeedEntry::Table(FeedTable {
                url: Some(spec),
                preset: None,
                name,
            })
            | FeedEntry::Table(FeedTable {
                url: None,
                preset: Some(spec),
                name,
            }) => (spec, name),
            FeedEntry::Table(_) => {
                return Err("a feed table needs either `url` or `preset` (not both)".into());
            }
        };
        Ok(Self {
            source: spec
                .parse()
                .map_err(|e: crate::domain::SourceError| e.to_string())?,
            name,
        })
    }
}

/// How the routes behind the presets are reached.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceSettings {
    /// Where each API lives, for mirrors and recorded responses in tests:
    /// keys `arxiv`, `biorxiv`, `crossref`, `pubmed`, `nature`.
    pub base_urls: BaseUrls,
    /// Named in the User-Agent and as Crossref's `mailto` and NCBI's
    /// `email`, as both ask of polite clients. Default: `delivery.from`'s
    /// address.
    pub contact_email: Option<String>,
    /// An NCBI API key: PubMed then allows 10 requests a second, not 3.
    pub ncbi_api_key: Option<Secret>,
    /// An item an API route returns that was published more than this many
    /// days before the window asked for is a metadata update of an old work
    /// (Crossref re-announces those), not news: it is left out.
    pub max_age_days: u32,
    /// Pages one walk of an API reads at most in a run (30 to 200 papers
    /// a page); what is beyond is noted in `feeds` and not read.
    pub max_pages: u32,
}

impl Default for SourceSettings {
    fn default() -> Self {
        Self {
            base_urls: BaseUrls::default(),
            contact_email: None,
            ncbi_api_key: None,
            max_age_days: 30,
            max_pages: 50,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaseUrls {
    #[serde(serialize_with = "redacted_option")]
    pub arxiv: Option<String>,
    #[serde(serialize_with = "redacted_option")]
    pub biorxiv: Option<String>,
    #[serde(serialize_with = "redacted_option")]
    pub crossref: Option<String>,
    #[serde(serialize_with = "redacted_option")]
    pub pubmed: Option<String>,
    #[serde(serialize_with = "redacted_option")]
    pub nature: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BriefingSettings {
    /// Papers first seen this long ago or earlier are not news any more.
    pub lookback_hours: u32,
    /// A reader's first briefing draws on this many days (a welcome
    /// edition: nobody waits for a busy day); 0: the usual window.
    pub welcome_days: u32,
    pub max_per_topic: usize,
    /// Papers in one briefing, all topics together, taken in turns from
    /// each topic's best: a long briefing is not read, and Gmail clips a
    /// message above 102 KB.
    pub max_papers: usize,
    /// Local hour at which new subscribers receive their briefing.
    pub default_send_hour: crate::domain::SendHour,
    /// IANA time zone for new subscribers, e.g. `Europe/Berlin`.
    pub default_timezone: String,
    /// Who sends the briefing and how to reach them (a postal address,
    /// where the law asks for one), in every briefing's footer. Unset: each
    /// language's own line from `emails/i18n/` (the service's name).
    pub contact_line: Option<String>,
    /// The contact line in a given language (`zh = "…"`), for readers of
    /// that language; others get `contact_line`.
    pub contact_lines: std::collections::BTreeMap<String, String>,
}

impl Default for BriefingSettings {
    fn default() -> Self {
        Self {
            lookback_hours: 48,
            welcome_days: 7,
            max_per_topic: 10,
            max_papers: 12,
            default_send_hour: crate::domain::SendHour::new(7).expect("an hour"),
            default_timezone: "UTC".into(),
            contact_line: None,
            contact_lines: std::collections::BTreeMap::new(),
        }
    }
}

impl BriefingSettings {
    /// The oldest a paper may be (unix seconds) to count as news at `now`.
    pub fn news_since(&self, now: chrono::DateTime<chrono::Utc>) -> i64 {
        now.timestamp() - i64::from(self.lookback_hours) * 3600
    }

    /// The oldest a paper may be for a reader's first briefing: the
    /// longer of `welcome_days` and the usual news window.
    pub fn welcome_since(&self, now: chrono::DateTime<chrono::Utc>) -> i64 {
        self.news_since(now)
            .min(now.timestamp() - i64::from(self.welcome_days) * 86_400)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// Write `.eml` files into `delivery.folder`.
    Folder,
    Smtp,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySettings {
    pub transport: TransportKind,
    /// The From header, e.g. `AcademicHub <briefing@example.org>`.
    pub from: String,
    pub folder: PathBuf,
    /// DKIM-sign every message (`[delivery.dkim]`); unset: no signature.
    pub dkim: Option<DkimSettings>,
    /// A message the server keeps deferring (4xx) is given up this many
    /// hours after it was queued. Outages do not count against it.
    pub give_up_after_hours: u32,
    /// A briefing not sent within this many hours of being made is expired
    /// rather than sent late.
    pub briefing_expires_after_hours: u32,
    /// Messages in flight at once: each sending worker has its own SMTP
    /// connection.
    pub concurrency: u32,
    /// At most this many messages per second in all; 0: no limit.
    pub max_per_second: u32,
    /// Per recipient domain, at most this many messages per second, e.g.
    /// `{ "gmail.com" = 20 }`: big mailbox providers throttle senders that
    /// burst.
    pub domain_max_per_second: std::collections::BTreeMap<String, u32>,
    /// The record of a sent, failed or expired message (recipient,
    /// Message-ID, when, the last error: the proof of sending) is deleted
    /// this many days after the message was made. 0: kept for ever. A message's body goes
    /// as soon as it is settled; the briefing's own list of papers stays
    /// (for "already sent" and the web view, which renders it again).
    pub keep_messages_days: u32,
    /// The mailbox bounces go to, e.g. `bounces@bounce.example.org`: each
    /// message is sent from its own signed variant of it
    /// (`bounces+<message>-<subscriber>-<tag>@bounce.example.org`), so a
    /// bounce names the message it returns. Unset: the From address is the
    /// envelope sender, and bounces are not read.
    pub bounce_address: Option<String>,
    /// Delivery stops when the relay refuses (5xx) this many messages in a
    /// row for this many different recipient domains: that is the relay
    /// refusing our sender, not each reader's address. Refused messages
    /// are then kept queued and nobody is suppressed.
    pub stop_after_refusals: u32,
    pub smtp: SmtpSettings,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            transport: TransportKind::Folder,
            from: "AcademicHub <briefing@localhost>".into(),
            folder: PathBuf::from("var/mail"),
            dkim: None,
            give_up_after_hours: 72,
            briefing_expires_after_hours: 36,
            concurrency: 8,
            max_per_second: 0,
            domain_max_per_second: std::collections::BTreeMap::new(),
            keep_messages_days: 30,
            bounce_address: None,
            stop_after_refusals: 5,
            smtp: SmtpSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The signing domain (`d=`), normally the domain of `delivery.from`.
    pub domain: String,
    /// The selector (`s=`): the key is published at
    /// `SELECTOR._domainkey.DOMAIN`.
    pub selector: String,
    /// An RSA key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`, e.g.
    /// `openssl genrsa -traditional 2048`), or an Ed25519 key as the base64
    /// of its 32-byte seed.
    pub private_key_file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text; only for a relay on the same host or a test server.
    None,
    Starttls,
    /// Implicit TLS (SMTPS, usually port 465).
    Tls,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// PEM file of extra CA certificates to trust, for a relay whose
    /// certificate is issued by a private CA. Public CAs are always trusted.
    pub ca_file: Option<PathBuf>,
    /// Whether the relay delivers internationalised addresses (`jöhn@…`,
    /// RFC 6531). Off: such addresses are refused at subscribe time.
    pub smtputf8: bool,
    pub timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 587,
            tls: TlsMode::Starttls,
            username: None,
            password: None,
            ca_file: None,
            smtputf8: false,
            timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Where readers' links point; the HTTP endpoints live under it.
    pub public_url: String,
    /// Address the web server listens on (`serve`).
    pub listen: String,
    /// Subscribe requests one client IP may make per hour.
    pub subscribe_per_ip_per_hour: u32,
    /// Behind a reverse proxy, the header it puts the client's address in
    /// (`X-Forwarded-For`: its last entry; `X-Real-IP`). Unset: the address
    /// of the connection, which behind a proxy is the proxy's own.
    pub client_ip_header: Option<String>,
    /// Seconds a client has to send a request's head; also how long an
    /// idle keep-alive connection is kept.
    pub header_timeout_secs: u64,
    /// Seconds a request may take from its head to the end of our answer
    /// (reading the body included); 408 beyond.
    pub request_timeout_secs: u64,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one address (not applied when
    /// `client_ip_header` is set: every connection is the proxy's); more
    /// are answered 429 and closed.
    pub max_connections_per_client: usize,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            public_url: "http://localhost:8080".into(),
            listen: "127.0.0.1:8080".into(),
            subscribe_per_ip_per_hour: 20,
            client_ip_header: None,
            header_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections: 512,
            max_connections_per_client: 16,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkSettings {
    /// HMAC key(s) for links in emails, each at least 32 bytes: one string,
    /// or a list whose first key signs and all of which verify (rotation).
    /// When unset, a random key is generated once and kept in the database,
    /// so every instance sharing that database signs alike.
    pub secret: Option<Secrets>,
}

/// One secret or several (`secret = "…"` or `secret = ["new", "old"]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Secrets {
    One(Secret),
    Many(Vec<Secret>),
}

impl Secrets {
    pub fn all(&self) -> &[Secret] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionSettings {
    /// A subscription never confirmed is deleted after this many days.
    pub pending_expiry_days: u32,
    /// Confirmation (or "you are already subscribed") mails one mailbox
    /// (all its `+tag` sub-addresses together) may receive per 24 hours,
    /// however often someone asks.
    pub confirmations_per_address_per_day: u32,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            pending_expiry_days: 7,
            confirmations_per_address_per_day: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSettings {
    /// Cron expression (seconds first, UTC) for collecting feeds.
    pub collect: String,
    /// Cron expression (seconds first, UTC) for the tick that builds and
    /// sends briefings to everyone whose local send hour has come.
    pub deliver: String,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            collect: "0 0 * * * *".into(),
            deliver: "0 */5 * * * *".into(),
        }
    }
}

/// An OpenAI-compatible chat-completions server that writes the briefing's
/// TL;DRs and opening analysis. Off unless `base_url` is set; without it (or
/// whenever it fails) the built-in summariser writes them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// The API root, without `/chat/completions`: `https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1` (Ollama). Unset: no LLM.
    #[serde(serialize_with = "redacted_option")]
    pub base_url: Option<String>,
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<Secret>,
    /// The longest one request may take, answer included.
    pub timeout_secs: u64,
    /// The most tokens one answer may have.
    pub max_tokens: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Tokens (prompt and answer) all requests of one day may use; 0: no limit.
    pub daily_token_budget: u64,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            model: "gpt-4o-mini".into(),
            api_key: None,
            timeout_secs: 20,
            max_tokens: 700,
            concurrency: 4,
            daily_token_budget: 200_000,
        }
    }
}

/// A string that never prints. Taken from any scalar, so that an all-digit
/// password given through the environment (which figment reads as a
/// number) is a password, not a type error that echoes it.
#[derive(Clone)]
pub struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl serde::de::Visitor<'_> for Scalar {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
        }
        deserializer.deserialize_any(Scalar)
    }
}

/// Secrets print as `<redacted>` in `config check` too.
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// A URL as `config check` prints it: credentials replaced (`redact_url`).
fn redacted<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

fn redacted_option<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serializer.serialize_some(&redact_url(url)),
        None => serializer.serialize_none(),
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("invalid configuration: `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl Settings {
    /// Defaults → `file` (or `academichub.toml` if present) → environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE))
            }
            None => {}
        }
        let figment = figment.merge(
            Env::prefixed("ACADEMICHUB_")
                .ignore(&["config"])
                .split("__"),
        );
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: String| Err(ConfigError::Invalid { key, problem });
        let db = &self.database.url;
        if db.starts_with("sqlite:") && !db.starts_with("sqlite://") {
            return invalid(
                "database.url",
                format!(
                    "{:?} needs two slashes: sqlite://PATH (relative) or sqlite:///PATH (absolute)",
                    redact_url(db)
                ),
            );
        }
        if !(db.starts_with("sqlite://")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return invalid(
                "database.url",
                format!(
                    "{:?} must start with sqlite:// or postgres://",
                    redact_url(db)
                ),
            );
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1".into());
        }
        let base_urls = &self.sources.base_urls;
        for (key, url) in [
            ("sources.base_urls.arxiv", &base_urls.arxiv),
            ("sources.base_urls.biorxiv", &base_urls.biorxiv),
            ("sources.base_urls.crossref", &base_urls.crossref),
            ("sources.base_urls.pubmed", &base_urls.pubmed),
            ("sources.base_urls.nature", &base_urls.nature),
        ] {
            if let Some(url) = url
                && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            {
                return invalid(
                    key,
                    format!("{:?} is not an http(s):// URL", redact_url(url)),
                );
            }
        }
        if self.sources.max_pages == 0 {
            return invalid("sources.max_pages", "must be at least 1".into());
        }
        if let Some(contact) = &self.sources.contact_email
            && contact.parse::<lettre::Address>().is_err()
        {
            return invalid(
                "sources.contact_email",
                format!("{contact:?} is not an email address"),
            );
        }
        if self.collect.timeout_secs == 0 {
            return invalid("collect.timeout_secs", "must be at least 1".into());
        }
        if chrono_tz::Tz::from_str(&self.briefing.default_timezone).is_err() {
            return invalid(
                "briefing.default_timezone",
                format!(
                    "{:?} is not an IANA time zone such as Europe/Berlin",
                    self.briefing.default_timezone
                ),
            );
        }
        if self.briefing.max_papers == 0 {
            return invalid("briefing.max_papers", "must be at least 1".into());
        }
        if self.briefing.max_per_topic == 0 {
            return invalid("briefing.max_per_topic", "must be at least 1".into());
        }
        if self
            .delivery
            .from
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            return invalid(
                "delivery.from",
                format!(
                    "{:?} is not a mailbox such as \"AcademicHub <briefing@example.org>\"",
                    self.delivery.from
                ),
            );
        }
        if let Some(address) = &self.delivery.bounce_address
            && let Err(problem) = crate::domain::BounceAddress::parse(address)
        {
            return invalid("delivery.bounce_address", problem);
        }
        if self.delivery.stop_after_refusals < 2 {
            return invalid(
                "delivery.stop_after_refusals",
                "must be at least 2 (one refusal cannot tell our sender from a reader's address)"
                    .into(),
            );
        }
        if self.bounces.soft_limit == 0 {
            return invalid("bounces.soft_limit", "must be at least 1".into());
        }
        if self.bounces.soft_window_days == 0 {
            return invalid("bounces.soft_window_days", "must be at least 1".into());
        }
        if let Some(imap) = &self.bounces.imap {
            if self.delivery.bounce_address.is_none() {
                return invalid(
                    "bounces.imap",
                    "needs delivery.bounce_address: without a return address per message, \
                     bounces cannot name the reader they are for"
                        .into(),
                );
            }
            if imap.host.trim().is_empty() || imap.username.is_empty() {
                return invalid(
                    "bounces.imap",
                    "needs host and username (and the password, e.g. in \
                     ACADEMICHUB_BOUNCES__IMAP__PASSWORD)"
                        .into(),
                );
            }
            if imap.password.is_none() {
                return invalid(
                    "bounces.imap.password",
                    "is not set; give it in ACADEMICHUB_BOUNCES__IMAP__PASSWORD".into(),
                );
            }
            if imap.poll_minutes == 0 || imap.max_per_poll == 0 || imap.timeout_secs == 0 {
                return invalid(
                    "bounces.imap",
                    "poll_minutes, max_per_poll and timeout_secs must be at least 1".into(),
                );
            }
            if let Some(ca) = &imap.ca_file
                && !ca.is_file()
            {
                return invalid(
                    "bounces.imap.ca_file",
                    format!("{} is not a readable file", ca.display()),
                );
            }
        }
        if self.delivery.give_up_after_hours == 0 {
            return invalid("delivery.give_up_after_hours", "must be at least 1".into());
        }
        if self.delivery.briefing_expires_after_hours == 0 {
            return invalid(
                "delivery.briefing_expires_after_hours",
                "must be at least 1".into(),
            );
        }
        if self.delivery.transport == TransportKind::Smtp {
            if self.delivery.smtp.host.trim().is_empty() {
                return invalid("delivery.smtp.host", "must name the SMTP server".into());
            }
            if self.delivery.concurrency == 0 {
                return invalid("delivery.concurrency", "must be at least 1".into());
            }
            if let Some(ca) = &self.delivery.smtp.ca_file
                && !ca.is_file()
            {
                return invalid(
                    "delivery.smtp.ca_file",
                    format!("{} is not a readable file", ca.display()),
                );
            }
            if self.delivery.smtp.password.is_some() != self.delivery.smtp.username.is_some() {
                return invalid(
                    "delivery.smtp.username",
                    "and delivery.smtp.password must be set together".into(),
                );
            }
        }
        match url::Url::parse(&self.web.public_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return invalid(
                    "web.public_url",
                    format!("{:?} is not an http(s):// URL", self.web.public_url),
                );
            }
        }
        if let Err(problem) = self.link_secrets() {
            return invalid("links.secret", problem);
        }
        if self.web.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid(
                "web.listen",
                format!(
                    "{:?} is not an IP address and port such as 127.0.0.1:8080",
                    self.web.listen
                ),
            );
        }
        if let Some(name) = &self.web.client_ip_header
            && axum::http::HeaderName::try_from(name.as_str()).is_err()
        {
            return invalid(
                "web.client_ip_header",
                format!("{name:?} is not an HTTP header name such as X-Forwarded-For"),
            );
        }
        if self.web.subscribe_per_ip_per_hour == 0 {
            return invalid("web.subscribe_per_ip_per_hour", "must be at least 1".into());
        }
        for (key, value) in [
            ("web.header_timeout_secs", self.web.header_timeout_secs),
            ("web.request_timeout_secs", self.web.request_timeout_secs),
            ("web.max_connections", self.web.max_connections as u64),
            (
                "web.max_connections_per_client",
                self.web.max_connections_per_client as u64,
            ),
        ] {
            if value == 0 {
                return invalid(key, "must be at least 1".into());
            }
        }
        if let Some(lang) = self
            .briefing
            .contact_lines
            .keys()
            .find(|l| l.parse::<crate::domain::Locale>().is_err())
        {
            return invalid(
                "briefing.contact_lines",
                format!("{lang:?} is not a language we write briefings in (en, zh)"),
            );
        }
        if self.subscriptions.pending_expiry_days == 0 {
            return invalid(
                "subscriptions.pending_expiry_days",
                "must be at least 1".into(),
            );
        }
        if self.subscriptions.confirmations_per_address_per_day == 0 {
            return invalid(
                "subscriptions.confirmations_per_address_per_day",
                "must be at least 1".into(),
            );
        }
        if let Some(base) = &self.llm.base_url {
            match url::Url::parse(base) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return invalid(
                        "llm.base_url",
                        format!(
                            "{:?} is not an http(s):// URL such as https://api.openai.com/v1 \
                             or http://127.0.0.1:11434/v1; leave it unset to use the built-in summariser",
                            redact_url(base)
                        ),
                    );
                }
            }
            if self.llm.model.trim().is_empty() {
                return invalid(
                    "llm.model",
                    "must name the model, e.g. \"gpt-4o-mini\" or \"llama3.1\"".into(),
                );
            }
        }
        if self.llm.timeout_secs == 0 {
            return invalid("llm.timeout_secs", "must be at least 1".into());
        }
        if self.llm.max_tokens == 0 {
            return invalid("llm.max_tokens", "must be at least 1".into());
        }
        if self.llm.concurrency == 0 {
            return invalid("llm.concurrency", "must be at least 1".into());
        }
        // The same parser settings tokio-cron-scheduler uses for its jobs.
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build();
        for (key, expr) in [
            ("schedule.collect", &self.schedule.collect),
            ("schedule.deliver", &self.schedule.deliver),
        ] {
            match cron.parse(expr) {
                Err(e) => return invalid(key, format!("{expr:?} is not a cron expression: {e}")),
                // A valid expression for a day that does not exist (31 February)
                // would start a daemon that never does anything.
                Ok(schedule)
                    if schedule
                        .find_next_occurrence(&chrono::Utc::now(), false)
                        .is_err() =>
                {
                    return invalid(key, format!("{expr:?} never fires"));
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// The address APIs are told to reach us at: `sources.contact_email`,
    /// else the sender's.
    pub fn contact_email(&self) -> String {
        self.sources
            .contact_email
            .clone()
            .unwrap_or_else(|| self.from_mailbox().email.to_string())
    }

    /// `collect.user_agent` with the contact address in it, as API
    /// providers ask (never a browser's name).
    pub fn user_agent(&self) -> String {
        let ua = self.collect.user_agent.trim();
        let contact = self.contact_email();
        if ua.contains("mailto:") {
            ua.to_owned()
        } else if let Some(open) = ua.strip_suffix(')') {
            format!("{open}; mailto:{contact})")
        } else {
            format!("{ua} (mailto:{contact})")
        }
    }

    /// `delivery.bounce_address`; validated at load time.
    pub fn bounce_address(&self) -> Option<crate::domain::BounceAddress> {
        self.delivery
            .bounce_address
            .as_ref()
            .map(|a| crate::domain::BounceAddress::parse(a).expect("validated in Settings::load"))
    }

    /// The sender mailbox; validated at load time.
    pub fn from_mailbox(&self) -> lettre::message::Mailbox {
        self.delivery
            .from
            .parse()
            .expect("validated in Settings::load")
    }

    /// The configured link keys, first the one that signs; empty when
    /// `links.secret` is unset (the database then provides one).
    pub fn link_secrets(&self) -> Result<Vec<LinkSecret>, String> {
        let Some(secrets) = &self.links.secret else {
            return Ok(Vec::new());
        };
        if secrets.all().is_empty() {
            return Err("is an empty list; give at least one key or leave it unset".into());
        }
        secrets
            .all()
            .iter()
            .map(|s| LinkSecret::new(s.expose().as_bytes().to_vec()))
            .collect()
    }

    pub fn default_timezone(&self) -> chrono_tz::Tz {
        self.briefing
            .default_timezone
            .parse()
            .expect("validated in Settings::load")
    }

    /// The footer's contact line for readers of `locale`, if configured.
    pub fn contact_line(&self, locale: crate::domain::Locale) -> Option<&str> {
        self.briefing
            .contact_lines
            .get(locale.as_str())
            .or(self.briefing.contact_line.as_ref())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(settings: &Settings) -> String {
        settings
            .validate()
            .expect_err("invalid settings")
            .to_string()
    }

    #[test]
    fn the_llm_is_off_by_default_and_its_settings_are_checked_at_load() {
        let defaults = Settings::default();
        assert!(defaults.llm.base_url.is_none());
        defaults.validate().unwrap();

        let mut s = Settings::default();
        s.llm.base_url = Some("http://127.0.0.1:11434/v1".into());
        s.validate().unwrap();

        s.llm.base_url = Some("127.0.0.1:11434/v1".into());
        assert!(problem(&s).contains("llm.base_url"), "{}", problem(&s));
        s.llm.base_url = Some("https://api.openai.com/v1".into());
        s.llm.timeout_secs = 0;
        assert!(problem(&s).contains("llm.timeout_secs"));
        s.llm.timeout_secs = 20;
        s.llm.concurrency = 0;
        assert!(problem(&s).contains("llm.concurrency"));
    }

    #[test]
    fn the_llm_api_key_never_prints() {
        let llm: LlmSettings =
            toml::from_str("base_url = \"https://api.openai.com/v1\"\napi_key = \"sk-secret\"")
                .unwrap();
        assert_eq!(llm.api_key.as_ref().unwrap().expose(), "sk-secret");
        assert!(!format!("{llm:?}").contains("sk-secret"));
    }
}
