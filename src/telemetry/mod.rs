//! What the daemon tells its operator while it runs: log lines, and numbers
//! for a monitoring system ([`metrics`], scraped at `/metrics`).
//!
//! Logs go to stderr through `tracing`, filtered by `RUST_LOG`. By default
//! the daemon logs its own `info` and everyone's warnings; one-shot
//! commands, which print their own results and warnings, log only errors.
//! Plain text (colours only on a terminal, so journald and files stay
//! plain) or one JSON object a line (`log.format = "json"` or
//! `--log-format json`) for a log shipper. A line about a reader carries the
//! subscriber's id; the address itself only at `debug`, so logs kept for
//! weeks on another machine hold no reader's address.

pub mod metrics;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per event: time, level, target, message, fields.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("{other:?} is neither \"text\" nor \"json\"")),
        }
    }
}

/// A reader as a log line names them: by subscriber id, and by address
/// only while academichub logs at `debug` (logs are kept longer, shipped
/// further and read by more people than the database).
pub struct Reader<'a> {
    id: Option<i64>,
    /// `None` unless debug lines are written.
    address: Option<&'a (dyn std::fmt::Display + Sync)>,
}

impl<'a> Reader<'a> {
    /// Made before the line is logged: whether debug lines are written is
    /// asked here, never while a line is being written (the subscriber is
    /// busy with that line then).
    pub fn new(id: Option<i64>, address: &'a (dyn std::fmt::Display + Sync)) -> Self {
        Self {
            id,
            address: tracing::enabled!(tracing::Level::DEBUG).then_some(address),
        }
    }
}

impl std::fmt::Display for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.id {
            Some(id) => write!(f, "subscriber {id}")?,
            None => f.write_str("no subscriber")?,
        }
        if let Some(address) = self.address {
            write!(f, " <{address}>")?;
        }
        Ok(())
    }
}

pub fn init(default_filter: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}
