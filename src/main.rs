use std::process::ExitCode;

use academichub::cli::{self, Command};
use academichub::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let (cli, matches) = cli::parse();
    telemetry::init(if matches!(cli.command, Command::Serve) {
        "warn,academichub=info"
    } else {
        "error"
    });
    match cli::run(cli, &matches).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (status, line) = cli::failure(&e);
            eprintln!("error: {line}");
            ExitCode::from(status)
        }
    }
}
