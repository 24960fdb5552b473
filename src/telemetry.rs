//! Logging: `tracing` to stderr, filtered by `RUST_LOG`. By default the
//! daemon logs its own `info` and everyone's warnings; one-shot commands,
//! which print their own results and warnings, log only errors. Colours only
//! on a terminal, so journald and log files stay plain text.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
