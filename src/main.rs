use std::process::ExitCode;

use academichub::cli::{self, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let (cli, matches) = cli::parse();
    // An MTA piping a bounce to us retries on EX_TEMPFAIL, whatever failed.
    let piped = matches!(cli.command, Command::Bounce { .. });
    match cli::run(cli, &matches).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (status, line) = cli::failure(&e);
            eprintln!("error: {line}");
            ExitCode::from(if piped { cli::EXIT_TEMPFAIL } else { status })
        }
    }
}
