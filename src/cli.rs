//! The command line: what an operator can do, each command one call into
//! the `Application`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::app::{Application, CollectTick};
use crate::config::{ConfigError, DEFAULT_CONFIG_FILE, Settings};
use crate::domain::{SubscriberInput, TopicInput, Verdict};
use crate::redact::redact_url;
use crate::telemetry::{self, LogFormat};
use crate::writing::{SuggestReport, TldrReport};
use crate::{daemon, sources};

#[derive(Debug, Parser)]
#[command(
    name = "academichub",
    version,
    about = "Daily research-paper briefings by email"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./academichub.toml if it exists.
    #[arg(long, global = true, env = "ACADEMICHUB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log lines as `text` or `json` (one object a line); overrides `log.format`.
    #[arg(long, global = true, value_name = "text|json")]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: collect and deliver on the configured schedule, and
    /// serve the subscribe page and readers' links on `web.listen`.
    Serve,
    /// Collect, match, render and send what is due now, then exit.
    RunOnce {
        /// Ignore subscribers' send hour: everyone without today's briefing gets it now.
        #[arg(long)]
        force: bool,
    },
    /// Fetch every due feed and store new papers.
    Collect,
    /// Show each feed's collection state: last fetch, next check, last error.
    Feeds,
    /// List the sources a config may name: presets, the journal catalogue,
    /// each with its route, whether abstracts come, and its pace.
    Sources,
    /// Fill the store with what a source published since a day (arXiv
    /// through OAI-PMH). Interrupted, the same command goes on from the
    /// last stored page. Backfilled papers are not news for existing readers.
    Backfill {
        /// A preset, as in `collect.feeds`: arxiv:cs.LG, biorxiv:genomics, journal:pnas, …
        source: String,
        /// The first day to fill, YYYY-MM-DD.
        #[arg(long)]
        since: chrono::NaiveDate,
    },
    /// Add a subscriber, or add topics to one. Repeat --topic to add several;
    /// --query, or --keywords, --category and --exclude, belong to the
    /// --topic before them.
    Subscribe(SubscribeArgs),
    /// Record a subscriber's "more / less like this" on a paper, as the
    /// links in a briefing do.
    Feedback {
        email: String,
        /// arXiv id (2604.12345), DOI, link or stored id.
        paper: String,
        #[arg(value_parser = ["more", "less"])]
        verdict: String,
    },
    /// Show how a subscriber's radar scores one paper, term by term.
    Explain {
        email: String,
        /// arXiv id (2604.12345), DOI, link or stored id.
        paper: String,
    },
    /// List subscribers: status, language, schedule, topics; or import or
    /// export them in bulk.
    Subscribers {
        /// Show one subscriber in full: topics, the history of their
        /// subscription (proof of consent) and their feedback.
        #[arg(long, value_name = "EMAIL")]
        show: Option<String>,
        #[command(subcommand)]
        bulk: Option<Bulk>,
    },
    /// Write the briefing a subscriber would receive now to an HTML file.
    Preview {
        email: String,
        #[arg(long, value_name = "FILE.html")]
        out: PathBuf,
        /// Also screenshot it as a mail client 600 px wide would show it,
        /// with headless Chromium (found on PATH or through $CHROME).
        #[arg(long, value_name = "FILE.png")]
        png: Option<PathBuf>,
    },
    /// Send one test message to EMAIL now (not through the outbox), to check
    /// the mail set-up: server, TLS, login, sender.
    SendTest { email: String },
    /// Read one returned message (a bounce, a spam complaint) on standard
    /// input and act on it: for an MTA's pipe (an alias such as
    /// `bounces: "|academichub bounce"`), or by hand. Exit status 0: done
    /// with (including a forged or unreadable message, which changes
    /// nothing); 75 (EX_TEMPFAIL): not stored, offer it again later.
    Bounce {
        /// The address the message was delivered to, when the MTA gives it
        /// (Postfix's local delivery sets $ORIGINAL_RECIPIENT).
        #[arg(long, env = "ORIGINAL_RECIPIENT", value_name = "ADDRESS")]
        recipient: Option<String>,
    },
    /// Read what waits in the bounce mailbox (`[bounces.imap]`) once, as
    /// the daemon does every `poll_minutes`.
    PollBounces,
    /// How today went, on one screen: briefings due and made, messages
    /// sent, deferred, failed and expired, readers suppressed, bounces, the
    /// outbox, each source's health, the LLM's tokens, the database's size;
    /// then messages and returned reports per day (UTC).
    Stats {
        /// How many days back the per-day table goes, today included.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// The time zone "today" is in. Default: `briefing.default_timezone`.
        #[arg(long, value_name = "ZONE")]
        timezone: Option<String>,
        /// Everything as one JSON object, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Check a configuration file as the daemon would read it.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Apply database migrations and exit.
    Migrate,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load FILE (default: --config, else ./academichub.toml) and the
    /// environment as the daemon does, check every value and what start-up
    /// checks without a database (TLS files, DKIM key, addresses), and
    /// print the effective settings with secrets masked. Exits 78 naming
    /// the key of the first problem.
    Check { file: Option<PathBuf> },
}

#[derive(Debug, Subcommand)]
pub enum Bulk {
    /// Add subscribers from a file of JSON lines, one subscriber a line in
    /// the subscribe API's shape: {"email", "locale", "timezone",
    /// "send_hour", "cadence", "topics": [{"name", "query"} or {"name",
    /// "keywords", "categories", "exclude"}]}. All or nothing: bad lines
    /// are listed by number and then nothing is imported. Addresses already
    /// subscribed are left as they are.
    Import {
        /// The file; `-` reads standard input.
        file: PathBuf,
        /// Subscribers wait for their own confirmation (mailed to them)
        /// instead of being active at once.
        #[arg(long)]
        pending: bool,
    },
    /// Write every active subscriber as a JSON line, in the shape `import` reads.
    Export {
        /// Default: standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct SubscribeArgs {
    pub email: String,
    #[arg(long, value_name = "NAME")]
    pub topic: Vec<String>,
    /// The topic in the text form: "a phrase" OR word -excluded cat:cs.LG
    /// ~cat:stat.ML author:"Name" =exact weight:2 only:new (no revised
    /// versions) or with:updates (a new version of a paper already sent);
    /// -also:CIR turns off one learned expansion (see `explain`);
    /// like:2604.12345 or like:10.1038/… adds papers like that example.
    #[arg(long, value_name = "QUERY")]
    pub query: Vec<String>,
    /// Comma-separated keywords and phrases (any of them).
    #[arg(long, value_name = "\"a, b c\"")]
    pub keywords: Vec<String>,
    /// arXiv categories the topic is confined to (comma-separated or repeated).
    #[arg(long, value_name = "cs.LG")]
    pub category: Vec<String>,
    /// Comma-separated phrases that rule a paper out of the topic.
    #[arg(long, value_name = "\"a, b\"")]
    pub exclude: Vec<String>,
    /// en or zh (kept as is for an existing subscriber when not given).
    #[arg(long)]
    pub locale: Option<String>,
    /// IANA time zone, e.g. Asia/Shanghai.
    #[arg(long)]
    pub timezone: Option<String>,
    /// Local hour (0-23) from which the daily briefing is sent.
    #[arg(long)]
    pub hour: Option<u32>,
}

/// Parses the command line, keeping the raw matches (topic grouping needs
/// argument positions).
pub fn parse() -> (Cli, ArgMatches) {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    (cli, matches)
}

/// The exit status for a failure that starting again cannot fix (a bad
/// configuration, a database file that cannot be written, a database
/// migrated by a newer version): sysexits' EX_CONFIG. The systemd unit
/// lists it in `RestartPreventExitStatus`, so it stops instead of looping.
pub const EXIT_PERMANENT: u8 = 78;

/// The exit status `bounce` gives an MTA for a message it could not
/// store: sysexits' EX_TEMPFAIL, which MTAs answer by trying again later.
pub const EXIT_TEMPFAIL: u8 = 75;

/// How a failed command ends: its status and the one line to print.
pub fn failure(e: &anyhow::Error) -> (u8, String) {
    let permanent = e.chain().any(|cause| {
        cause.downcast_ref::<ConfigError>().is_some() || crate::app::is_permanent(cause)
    });
    (if permanent { EXIT_PERMANENT } else { 1 }, describe(e))
}

/// The error and its causes on one line, each cause said once: a cause
/// whose text the line already holds (sqlx repeats its source's message
/// in its own) is left out.
fn describe(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

pub async fn run(cli: Cli, matches: &ArgMatches) -> anyhow::Result<()> {
    if let Command::Sources = cli.command {
        print!("{}", sources::catalogue());
        return Ok(());
    }
    if let Command::Config {
        action: ConfigCommand::Check { file },
    } = &cli.command
    {
        let file = file.as_deref().or(cli.config.as_deref());
        let settings = Settings::load(file)?;
        Application::check_settings(&settings)?;
        print!(
            "{}",
            toml::to_string_pretty(&settings).context("cannot print the settings")?
        );
        eprintln!(
            "configuration ok: {} and the environment",
            file.map_or_else(
                || format!("{DEFAULT_CONFIG_FILE} (if present)"),
                |f| f.display().to_string()
            )
        );
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(
        if matches!(cli.command, Command::Serve) {
            "warn,academichub=info"
        } else {
            "error"
        },
        cli.log_format.unwrap_or(settings.log.format),
    );
    let app = Arc::new(Application::build(settings).await?);
    let result = dispatch(&app, cli.command, matches).await;
    app.close().await;
    result
}

async fn backfill(
    app: &Arc<Application>,
    source: &str,
    since: chrono::NaiveDate,
) -> anyhow::Result<()> {
    let source: crate::domain::Source = source.parse()?;
    // indicatif draws only when stderr is a terminal.
    let progress = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} items ({eta} left)",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    progress.set_message(source.to_string());
    let stopper = {
        let app = app.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                app.stop();
            }
        })
    };
    let report = app.backfill(&source, since, &progress).await;
    stopper.abort();
    progress.finish_and_clear();
    let report = report?;
    let c = report.counts;
    if report.already_done {
        println!("{source} was backfilled from {since} already; nothing to do");
    } else if report.complete {
        println!(
            "{source} backfilled from {since}{}: {} page(s), {} new paper(s), {} known, {} merged with another source's",
            if report.resumed { " (resumed)" } else { "" },
            report.pages,
            c.new,
            c.updated,
            c.merged
        );
    } else {
        println!(
            "{source}: stopped after {} page(s) ({} new paper(s)); run the same command again to go on",
            report.pages, c.new
        );
    }
    Ok(())
}

/// `academichub stats`: today on one screen.
fn print_today(t: &crate::app::Today) {
    let m = &t.messages;
    println!("today, {} ({})", t.date, t.timezone);
    println!(
        "  round      {} briefing(s) made; {} active reader(s), {} due and waiting, {} whose briefing failed",
        t.briefings_made, t.round.active, t.round.waiting, t.round.failing
    );
    println!(
        "  messages   {} sent, {} deferred, {} failed, {} expired",
        m.sent, m.deferred, m.failed, m.expired
    );
    let joined = |counts: &std::collections::BTreeMap<String, i64>| {
        if counts.is_empty() {
            "none".to_owned()
        } else {
            counts
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    println!("  readers    {}", joined(&t.readers));
    println!("  returned   {}", joined(&t.reports));
    println!(
        "  outbox     {} waiting{}",
        t.outbox_waiting,
        t.outbox_oldest_secs.map_or_else(String::new, |s| format!(
            ", the oldest for {}",
            human_secs(s)
        ))
    );
    for s in &t.sources {
        let last = s.last_fetched_at.map_or_else(
            || "never fetched".to_owned(),
            |at| format!("fetched {}", at.format("%Y-%m-%d %H:%M UTC")),
        );
        match &s.last_error {
            Some(e) if s.errors_in_a_row > 0 => println!(
                "  source     {}: {last}; FAILING ({} in a row): {e}",
                s.name, s.errors_in_a_row
            ),
            _ => println!("  source     {}: {last}; ok", s.name),
        }
    }
    if let Some(llm) = &t.llm {
        if llm.budget > 0 {
            println!(
                "  llm        {} of {} tokens (UTC day)",
                llm.spent, llm.budget
            );
        } else {
            println!("  llm        {} tokens (UTC day; no budget)", llm.spent);
        }
    }
    println!(
        "  database   {:.1} MiB",
        t.database_bytes as f64 / 1_048_576.0
    );
}

/// `3725` → `1 h 2 min`.
fn human_secs(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

async fn dispatch(
    app: &Arc<Application>,
    command: Command,
    matches: &ArgMatches,
) -> anyhow::Result<()> {
    match command {
        Command::Serve => daemon::serve(app.clone()).await,
        Command::SendTest { email } => {
            let email = app.parse_address(&email)?;
            app.send_test(&email).await?;
            println!(
                "test message to {email} accepted by {}",
                app.mailer().describe()
            );
            Ok(())
        }
        Command::Migrate => {
            app.migrate().await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Collect => {
            print_collect_tick(&app.collect_tick(Utc::now()).await?);
            Ok(())
        }
        Command::RunOnce { force } => run_once(app, force).await,
        Command::Sources | Command::Config { .. } => {
            unreachable!("answered before the database is opened")
        }
        Command::Backfill { source, since } => backfill(app, &source, since).await,
        Command::Feeds => {
            let when = |t: Option<i64>| {
                t.and_then(|t| chrono::DateTime::<Utc>::from_timestamp(t, 0))
                    .map_or_else(
                        || "never".to_owned(),
                        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
                    )
            };
            for f in app.feeds().await? {
                let url = redact_url(&f.url);
                println!(
                    "{}\t{}\tlast fetched {}\tnext check {}\t{}",
                    if f.name == url { "" } else { f.name.as_str() },
                    url,
                    when(f.last_fetched_at),
                    when(Some(f.next_check_at)),
                    match (&f.last_error, &f.last_notes) {
                        (Some(e), _) => format!("{} error(s) in a row, last: {e}", f.error_count),
                        (None, Some(notes)) => format!("ok, but {notes}"),
                        (None, None) => "ok".to_owned(),
                    }
                );
            }
            Ok(())
        }
        Command::Subscribe(args) => {
            let sub_matches = matches
                .subcommand_matches("subscribe")
                .expect("clap matched subscribe");
            subscribe(app, &args, sub_matches).await
        }
        Command::Subscribers {
            bulk: Some(Bulk::Import { file, pending }),
            ..
        } => import(app, &file, pending).await,
        Command::Subscribers {
            bulk: Some(Bulk::Export { out }),
            ..
        } => {
            let written = match out {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    app.export_subscribers(&mut std::io::BufWriter::new(file))
                        .await?
                }
                None => {
                    app.export_subscribers(&mut std::io::stdout().lock())
                        .await?
                }
            };
            eprintln!("exported {written} active subscriber(s)");
            Ok(())
        }
        Command::Subscribers {
            show: None,
            bulk: None,
        } => {
            for s in app.subscriber_summaries().await? {
                println!(
                    "{}\t{}\t{}\t{} {:02}:00\t{}\t{} briefing(s)\ttopics: {}",
                    s.email,
                    s.status,
                    s.locale,
                    s.cadence,
                    s.send_hour,
                    s.timezone,
                    s.briefings,
                    s.topics.join(", ")
                );
            }
            Ok(())
        }
        Command::Subscribers {
            show: Some(email),
            bulk: None,
        } => show_subscriber(app, &email).await,
        Command::Feedback {
            email,
            paper,
            verdict,
        } => {
            let email = app.parse_address(&email)?;
            let verdict: Verdict = verdict.parse().map_err(anyhow::Error::msg)?;
            let title = app
                .record_feedback_for(&email, &paper, verdict, Utc::now())
                .await?;
            println!(
                "{email}: {verdict} like this: {title}",
                verdict = verdict.as_str()
            );
            Ok(())
        }
        Command::Bounce { recipient } => {
            // A returned message quotes ours at most; far more is not a bounce.
            let mut raw = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(std::io::stdin().lock(), 64 << 20),
                &mut raw,
            )
            .context("cannot read the message on standard input")?;
            let handled = app
                .read_bounce(&raw, recipient.as_deref(), Utc::now())
                .await?;
            println!("{}", handled.summary);
            Ok(())
        }
        Command::PollBounces => {
            let report = app.poll_bounces(Utc::now()).await?;
            for handled in &report.handled {
                println!("{}", handled.summary);
            }
            println!(
                "bounce mailbox: {} message(s) read, {} kept for a person (unreadable), {} waiting for the next poll",
                report.handled.len(),
                report.kept,
                report.waiting
            );
            Ok(())
        }
        Command::Stats {
            days,
            timezone,
            json,
        } => {
            use crate::domain::BounceOutcome;
            let now = Utc::now();
            let today = app.today(now, timezone.as_deref()).await?;
            let daily = app.daily_stats(days.max(1), now).await?;
            if json {
                let out = serde_json::json!({ "today": today, "days": daily });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            print_today(&today);
            println!();
            println!("day (UTC)\tsent\thard\tsoft\tcomplaint\tignored\tforged\tunreadable");
            for day in daily {
                let n = |o: BounceOutcome| day.reports.get(&o).copied().unwrap_or(0);
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    day.day,
                    day.sent,
                    n(BounceOutcome::Hard),
                    n(BounceOutcome::Soft),
                    n(BounceOutcome::Complaint),
                    n(BounceOutcome::Ignored),
                    n(BounceOutcome::Forged),
                    n(BounceOutcome::Unreadable)
                );
            }
            Ok(())
        }
        Command::Explain { email, paper } => {
            let email = app.parse_address(&email)?;
            print!("{}", app.explain(&email, &paper, Utc::now()).await?);
            Ok(())
        }
        Command::Preview { email, out, png } => {
            let email = app.parse_address(&email)?;
            match app.preview(&email, Utc::now()).await? {
                Some(html) => {
                    std::fs::write(&out, html)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                    println!("wrote {}", out.display());
                    if let Some(png) = png {
                        tokio::task::spawn_blocking(move || screenshot(&out, &png)).await??;
                    }
                    Ok(())
                }
                None => bail!(
                    "no new papers match the radar of {email}; nothing to preview (run `academichub collect` first?)"
                ),
            }
        }
    }
}

/// Screenshots the HTML file `page` into `png` as headless Chromium shows it
/// 600 px wide, in a throwaway browser profile.
fn screenshot(page: &Path, png: &Path) -> anyhow::Result<()> {
    let browser = std::env::var_os("CHROME")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
                .find(|p| p.is_file())
        })
        .with_context(|| {
            format!(
                "no Chromium to take the screenshot with: install it (apt-get install chromium) \
                 or set CHROME to the browser; the HTML was still written to {}",
                page.display()
            )
        })?;
    let url = std::fs::canonicalize(page)
        .ok()
        .and_then(|p| url::Url::from_file_path(p).ok())
        .with_context(|| format!("{} has no file:// URL", page.display()))?;
    let profile =
        std::env::temp_dir().join(format!("academichub-preview-{}", uuid::Uuid::new_v4()));
    let _ = std::fs::remove_file(png);
    let out = std::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args([
            "--no-first-run",
            "--disable-background-networking",
            "--disable-sync",
        ])
        .arg("--window-size=600,2400")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url.as_str())
        .output();
    let _ = std::fs::remove_dir_all(&profile);
    let out = out.with_context(|| format!("cannot run {}", browser.display()))?;
    if !out.status.success() || !png.is_file() {
        bail!(
            "{} could not screenshot {} ({}); the HTML was still written:\n{}",
            browser.display(),
            page.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    println!("wrote {}", png.display());
    Ok(())
}

async fn show_subscriber(app: &Application, email: &str) -> anyhow::Result<()> {
    let email = app.parse_address(email)?;
    let details = app.subscriber_details(&email).await?;
    let s = &details.subscriber;
    let when = |t: i64| {
        chrono::DateTime::<Utc>::from_timestamp(t, 0).map_or_else(
            || t.to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    };
    println!("email:     {}", s.email);
    println!("status:    {}", s.status);
    println!(
        "schedule:  {} at {:02}:00 {}{}",
        s.cadence,
        s.send_hour,
        s.timezone,
        s.paused_until
            .map(|d| format!(", paused until {d}"))
            .unwrap_or_default()
    );
    println!("language:  {}", s.locale);
    if let Some(n) = s.max_per_topic {
        println!("per topic: {n} papers");
    }
    for t in &s.topics {
        println!("topic:     {}: {}", t.name(), t.query());
    }
    let next = details.next_look;
    if s.status == crate::domain::SubscriptionStatus::Active {
        println!(
            "next look: {}",
            if next == 0 {
                "at the next tick".to_owned()
            } else {
                when(next)
            }
        );
    }
    if let Some(error) = &details.round_error {
        println!("last round failed: {error}");
    }
    for e in &details.events {
        println!(
            "history:   {}\t{}\tvia {}{}{}{}",
            when(e.at),
            e.kind,
            e.source,
            e.ip.as_ref()
                .map(|ip| format!(" from {ip}"))
                .unwrap_or_default(),
            e.user_agent
                .as_ref()
                .map(|ua| format!(" ({ua})"))
                .unwrap_or_default(),
            e.detail
                .as_ref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    for f in &details.feedback {
        println!(
            "feedback:  {}\t{}\t{}\t{}",
            when(f.at),
            f.verdict,
            f.paper_key,
            f.title
        );
    }
    Ok(())
}

/// What the LLM wrote after collection (nothing to say without `[llm]`).
fn print_tldrs(report: &TldrReport) {
    if *report == Default::default() {
        return;
    }
    println!(
        "TL;DRs: {} written by the LLM, {} left to the built-in summariser (the LLM failed), {} not asked for (over the daily token budget)",
        report.written, report.failed, report.over_budget
    );
}

fn print_suggested(report: &SuggestReport) {
    if *report == Default::default() {
        return;
    }
    println!(
        "expansions: suggested by the LLM for {} topic wording(s), {} failed (asked again next time), {} not asked for (over the daily token budget)",
        report.suggested, report.failed, report.over_budget
    );
}

async fn run_once(app: &Application, force: bool) -> anyhow::Result<()> {
    let now = Utc::now();
    if let Some(notice) = app.parked_notice(now).await? {
        eprintln!("warning: {notice}");
    }
    print_collect_tick(&app.collect_tick(now).await?);
    let tick = app.deliver_tick(now, force, true).await?;
    let prepared = &tick.prepared;
    println!(
        "briefings: looked at {} subscriber(s): {} queued, {} with nothing new, {} not due yet, {} already made today, {} failed (in {:.1} s)",
        prepared.examined,
        prepared.queued,
        prepared.nothing_new,
        prepared.not_due,
        prepared.already_done,
        prepared.failed,
        tick.prepare_time.as_secs_f64()
    );
    if tick.expired > 0 {
        println!(
            "{} unconfirmed subscription(s) expired and deleted",
            tick.expired
        );
    }
    let delivered = tick.delivered?;
    println!(
        "delivery: {} sent, {} deferred, {} failed, {} expired (via {}, in {:.1} s)",
        delivered.sent,
        delivered.deferred,
        delivered.failed,
        delivered.expired,
        app.mailer().describe(),
        tick.delivery_time.as_secs_f64()
    );
    if delivered.interrupted > 0 {
        eprintln!(
            "warning: {} message(s) were being sent when an earlier run stopped; they were sent again and may arrive twice",
            delivered.interrupted
        );
    }
    Ok(())
}

fn print_collect_tick(tick: &CollectTick) {
    print_collect(&tick.collected);
    print_tldrs(&tick.tldrs);
    print_suggested(&tick.suggested);
}

fn print_collect(report: &sources::CollectReport) {
    let stored = report.stored();
    let skipped = report
        .feeds
        .iter()
        .filter(|f| matches!(f.outcome, sources::FeedOutcome::Skipped { .. }))
        .count();
    let merged = match stored.merged {
        0 => String::new(),
        n => format!(" ({n} more were papers already stored under another source's key)"),
    };
    println!(
        "collected: {} new and {} updated papers{merged}; {} feed(s) checked, {} not due yet, {} failed",
        stored.new,
        stored.updated,
        report.feeds.len() - skipped,
        skipped,
        report.failures().count()
    );
    for (feed, error) in report.failures() {
        eprintln!("warning: feed {feed}: {error}");
    }
}

async fn subscribe(
    app: &Application,
    args: &SubscribeArgs,
    matches: &ArgMatches,
) -> anyhow::Result<()> {
    let input = SubscriberInput {
        email: args.email.clone(),
        locale: args.locale.clone(),
        timezone: args.timezone.clone(),
        send_hour: args.hour,
        cadence: None,
        topics: group_topics(matches)?,
    };
    let (saved, created) = app.subscribe_by_operator(input, Utc::now()).await?;
    let subscriber = &saved.subscriber;
    println!(
        "{} {} ({}, {:02}:00 {}) with {} topic(s)",
        if created { "subscribed" } else { "updated" },
        subscriber.email,
        subscriber.locale,
        subscriber.send_hour,
        subscriber.timezone,
        saved.radar.topics().len()
    );
    Ok(())
}

/// Each `--query`, `--keywords`, `--category` and `--exclude` belongs to the
/// nearest `--topic` before it on the command line.
fn group_topics(matches: &ArgMatches) -> anyhow::Result<Vec<TopicInput>> {
    let positions = |id: &str| -> Vec<(usize, String)> {
        match (matches.indices_of(id), matches.get_many::<String>(id)) {
            (Some(indices), Some(values)) => indices.zip(values.cloned()).collect(),
            _ => Vec::new(),
        }
    };
    let topics = positions("topic");
    let owner = |flag: &str, index: usize| -> anyhow::Result<usize> {
        topics
            .iter()
            .rposition(|(t, _)| *t < index)
            .with_context(|| format!("--{flag} must come after the --topic it belongs to"))
    };
    let mut grouped: Vec<[Vec<String>; 4]> = vec![Default::default(); topics.len()];
    for (slot, flag) in ["query", "keywords", "category", "exclude"]
        .into_iter()
        .enumerate()
    {
        for (index, value) in positions(flag) {
            grouped[owner(flag, index)?][slot].push(value);
        }
    }
    topics
        .iter()
        .zip(grouped)
        .map(|((_, name), [mut query, keywords, categories, exclude])| {
            if query.len() > 1 {
                bail!("topic {name:?}: give one --query");
            }
            Ok(TopicInput {
                name: name.clone(),
                query: query.pop(),
                keywords,
                categories,
                exclude,
            })
        })
        .collect()
}

/// `subscribers import`: a progress bar on a terminal, bad lines by number.
async fn import(app: &Application, file: &std::path::Path, pending: bool) -> anyhow::Result<()> {
    let input: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let bar = indicatif::ProgressBar::new_spinner().with_message("lines checked");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} {msg} ({per_sec})")
            .expect("a valid template"),
    );
    let started = std::time::Instant::now();
    let report = app
        .import_subscribers(input, pending, Utc::now(), |n| bar.set_position(n as u64))
        .await;
    bar.finish_and_clear();
    let report = report?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "imported {} subscriber(s) ({}) in {seconds:.1} s; {} already subscribed, left as they were{}",
        report.imported,
        if pending { "pending" } else { "active" },
        report.already_here,
        if pending {
            format!("; {} confirmation request(s) queued", report.confirmations)
        } else {
            String::new()
        }
    );
    Ok(())
}
