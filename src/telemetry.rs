//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default: `info`
//! for the daemon, `error` for one-shot commands, which print their own results and warnings).

use tracing_subscriber::EnvFilter;

pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
