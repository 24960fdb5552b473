use std::process::ExitCode;

use academichub::cli::{self, Command};
use academichub::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let (cli, matches) = cli::parse();
    telemetry::init(if matches!(cli.command, Command::Serve) {
        "info"
    } else {
        "error"
    });
    // The rustls provider for HTTPS feeds and SMTP TLS; one crypto stack.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli::run(cli, &matches).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
