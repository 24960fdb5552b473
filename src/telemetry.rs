//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default: `info`
//! for the daemon, `warn` for one-shot commands, whose results are printed).

use tracing_subscriber::EnvFilter;

pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
