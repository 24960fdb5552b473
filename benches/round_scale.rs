//! The daily round at scale, end to end through the real binary.
//!
//! `cargo bench --bench round_scale -- --subscribers 100000`
//! (or `scripts/bench-round.sh 100000`) in a fresh work folder:
//! 1. writes a day of `--papers` papers (default 1,000) as an arXiv RSS
//!    feed file, and `--subscribers` subscribers as JSON lines, from the
//!    seeded generator over real text (`common/`): 3 to 5 topics each,
//!    send hour 0 UTC (so everyone is due), addresses over 20 domains;
//! 2. `academichub subscribers import`, then `collect`;
//! 3. starts Postfix's `smtp-sink` on a loopback port and runs
//!    `--daemons` (default 1) `academichub run-once` processes at once on
//!    the database (SQLite in the work folder, or `--postgres URL`, a fresh
//!    database made there), each under `/usr/bin/time` for its peak RSS;
//! 4. has Postfix's `smtp-source` send the same number of messages, of the
//!    same average size (measured on the MIME messages the daemon built),
//!    into the same sink with as many connections as the daemon's workers.
//!
//! Every message goes out from its own signed return address
//! (`delivery.bounce_address`), as a production set-up would; `--no-verp`
//! sends from the From address instead, to measure what that costs.
//! Metrics are recorded, as by default; `--no-metrics` turns them off, to
//! measure what they cost.
//!
//! Prints `subscribers=N seconds=S sent=K peak_rss_mib=M` (S: the round,
//! collect excluded; M: the largest daemon), then the import rate and the
//! sending rates: the daemon's (its delivery phase) against `smtp-source`'s
//! (at the size of the messages a 300-subscriber pilot wrote as files).
//!
//! `--days D` (default 1) then runs D - 1 more daily rounds, each on a new
//! day of papers (the same texts under new ids) with the daemon's clock
//! that many days ahead (libfaketime), and prints the database's size per
//! reader per retained day (`academichub stats --json`;
//! `delivery.keep_messages_days` is 30).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use academichub::domain::Paper;
use common::{arg, papers, topic_query, vocabulary};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BIN: &str = env!("CARGO_BIN_EXE_academichub");

fn text_arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The papers as one arXiv RSS 2.0 feed of `day` (0: the first);
/// synthetic papers, and every paper after the first day, get fresh ids.
fn write_feed(path: &Path, papers: &[Paper], day: usize) {
    let mut xml = String::from(
        "<?xml version='1.0' encoding='UTF-8'?>\n<rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\" version=\"2.0\"><channel>\
         <title>cs.CV updates on arXiv.org</title><link>http://rss.arxiv.org/rss/cs.CV</link>\
         <description>bench day</description>\n",
    );
    let mut seen = std::collections::HashSet::new();
    for (i, p) in papers.iter().enumerate() {
        let real = p.arxiv.as_ref().map(|(id, _)| id.to_string());
        let id = match real {
            Some(id) if day == 0 && seen.insert(id.clone()) => id,
            _ => format!("2699.{:05}", day * papers.len() + i),
        };
        let announce = if i % 7 == 0 { "cross" } else { "new" };
        xml.push_str(&format!(
            "<item><title>{}</title><link>https://arxiv.org/abs/{id}</link>\
             <description>arXiv:{id}v1 Announce Type: {announce} \nAbstract: {}</description>\
             <guid isPermaLink=\"false\">oai:arXiv.org:{id}v1</guid>{}\
             <dc:creator>{}</dc:creator></item>\n",
            escape(&p.title),
            escape(&p.abstract_text),
            p.categories
                .iter()
                .map(|c| format!("<category>{}</category>", escape(c)))
                .collect::<String>(),
            escape(&p.authors.join(", ")),
        ));
    }
    xml.push_str("</channel></rss>\n");
    std::fs::write(path, xml).unwrap();
}

fn write_subscribers(path: &Path, n: usize, vocab: &[String], rng: &mut StdRng) {
    let mut out = String::new();
    for i in 0..n {
        let topics: Vec<serde_json::Value> = (0..rng.random_range(3..=5))
            .map(|t| serde_json::json!({"name": format!("topic {t}"), "query": topic_query(vocab, rng)}))
            .collect();
        let line = serde_json::json!({
            "email": format!("reader{i}@lab{}.example.org", i % 20),
            "locale": if i % 4 == 0 { "zh" } else { "en" },
            "timezone": "UTC",
            "send_hour": 0,
            "topics": topics,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

fn hub(config: &Path, args: &[&str]) -> String {
    hub_on_day(config, 0, args)
}

/// `academichub` run `day` days from today.
fn hub_on_day(config: &Path, day: usize, args: &[&str]) -> String {
    let mut command = Command::new(BIN);
    if day > 0 {
        days_ahead(&mut command, day);
    }
    let out = command
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "academichub {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The number before `word` in `text` (e.g. "1000 sent").
fn number_before(text: &str, word: &str) -> f64 {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1].trim_matches(|c: char| !c.is_alphanumeric()) == word)
        .and_then(|w| w[0].trim_start_matches('(').parse().ok())
        .unwrap_or(0.0)
}

/// Seconds after "in" in `line` ("… (via …, in 12.3 s)").
fn seconds_in(line: &str) -> f64 {
    line.rsplit("in ")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn smtp_sink(port: u16) -> std::process::Child {
    let mut cmd = Command::new("smtp-sink");
    // As root, smtp-sink insists on dropping privileges.
    if is_root() {
        cmd.args(["-u", "nobody"]);
    }
    let mut child = cmd
        .args([format!("127.0.0.1:{port}"), "1000".into()])
        .stdout(Stdio::null())
        .spawn()
        .expect("smtp-sink (Debian package postfix) is installed");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("smtp-sink did not start on port {port}");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        == Some("0")
}

/// The average size of the MIME messages the daemon builds: the first
/// 300 subscribers' briefings, made on their own database and written as
/// files by the folder transport (a sent message's body is not kept).
fn pilot_message_bytes(dir: &Path, subscribers: &Path, verp: &str) -> usize {
    let pilot = dir.join("pilot");
    std::fs::create_dir_all(&pilot).unwrap();
    let lines: String = std::fs::read_to_string(subscribers)
        .unwrap()
        .lines()
        .take(300)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(pilot.join("subscribers.jsonl"), lines).unwrap();
    let config = pilot.join("academichub.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{p}/hub.db\"\n\
             [collect]\nfeeds = [{{ url = \"file://{d}/day.xml\" }}]\n\
             [delivery]\ntransport = \"folder\"\nfolder = \"{p}/mail\"\n{verp}",
            p = pilot.display(),
            d = dir.display(),
        ),
    )
    .unwrap();
    let jsonl = pilot.join("subscribers.jsonl");
    hub(
        &config,
        &["subscribers", "import", &jsonl.to_string_lossy()],
    );
    hub(&config, &["collect"]);
    hub(&config, &["run-once"]);
    let sizes: Vec<u64> = std::fs::read_dir(pilot.join("mail"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    (sizes.iter().sum::<u64>() / sizes.len().max(1) as u64) as usize
}

/// The daemon's clock `day` days ahead (libfaketime, Debian package
/// `faketime`): tomorrow's round runs as it will, on rows written once, so
/// PostgreSQL's tables and indexes grow as in production (moving every
/// stored time back instead rewrote every row each day, and the bloat of
/// those rewrites was measured as the readers').
fn days_ahead(command: &mut Command, day: usize) {
    const LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    assert!(
        Path::new(LIB).exists(),
        "--days needs libfaketime: apt-get install faketime (scripts/test-deps.sh installs it)"
    );
    command
        .env("LD_PRELOAD", LIB)
        .env("FAKETIME", format!("+{day}d"))
        // Timers and timeouts keep the real monotonic clock.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
}

/// What autovacuum does within a day: dead rows' space (the bodies
/// dropped, the outbox rows rewritten as they are sent) is free for
/// tomorrow's.
fn vacuum(database: &str) {
    if database.starts_with("sqlite:") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(database).await.unwrap();
        sqlx::query("VACUUM").execute(&pool).await.unwrap();
        pool.close().await;
    });
}

/// The database's size as `academichub stats` reports it.
fn database_bytes(config: &Path) -> f64 {
    let stats: serde_json::Value =
        serde_json::from_str(&hub(config, &["stats", "--json", "--days", "1"])).unwrap();
    stats["today"]["database_bytes"].as_f64().unwrap()
}

fn fresh_postgres(admin: &str) -> String {
    use sqlx::Connection;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(admin).await.unwrap();
        sqlx::query("DROP DATABASE IF EXISTS bench_round WITH (FORCE)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("CREATE DATABASE bench_round")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (base, _) = admin.rsplit_once('/').expect("a URL ending in /DATABASE");
    format!("{base}/bench_round")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = arg(&args, "--subscribers", 10_000);
    let n_papers = arg(&args, "--papers", 1_000);
    let daemons = arg(&args, "--daemons", 1);
    let days = arg(&args, "--days", 1).max(1);
    let concurrency = arg(&args, "--concurrency", 8);
    let seed = arg(&args, "--seed", 7) as u64;
    // Absolute: the feed is read from a file:// URL.
    let dir = std::path::absolute(PathBuf::from(
        text_arg(&args, "--dir")
            .unwrap_or_else(|| format!("{}/target/bench-round", env!("CARGO_MANIFEST_DIR"))),
    ))
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let database = match text_arg(&args, "--postgres") {
        Some(admin) => fresh_postgres(&admin),
        None => format!("sqlite://{}/hub.db", dir.display()),
    };

    let mut rng = StdRng::seed_from_u64(seed);
    let papers = papers(n_papers, &mut rng);
    let vocab = vocabulary(&papers);
    write_feed(&dir.join("day.xml"), &papers, 0);
    write_subscribers(&dir.join("subscribers.jsonl"), n, &vocab, &mut rng);

    let port = free_port();
    let mut sink = smtp_sink(port);
    let config = dir.join("academichub.toml");
    let verp = if args.iter().any(|a| a == "--no-verp") {
        ""
    } else {
        "bounce_address = \"bounces@bounce.example.org\"\n"
    };
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{database}\"\n\
             [collect]\nfeeds = [{{ url = \"file://{}/day.xml\" }}]\n\
             [delivery]\ntransport = \"smtp\"\nconcurrency = {concurrency}\n{verp}\
             [delivery.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             [metrics]\nenabled = {}\n",
            dir.display(),
            !args.iter().any(|a| a == "--no-metrics"),
        ),
    )
    .unwrap();

    let started = Instant::now();
    hub(
        &config,
        &[
            "subscribers",
            "import",
            &dir.join("subscribers.jsonl").to_string_lossy(),
        ],
    );
    let import_secs = started.elapsed().as_secs_f64();
    let collected = hub(&config, &["collect"]);

    let started = Instant::now();
    let rounds: Vec<_> = (0..daemons)
        .map(|i| {
            Command::new("/usr/bin/time")
                .args(["-f", "%M", "-o"])
                .arg(dir.join(format!("rss-{i}")))
                .arg(BIN)
                .arg("--config")
                .arg(&config)
                .arg("run-once")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<String> = rounds
        .into_iter()
        .map(|r| {
            let out = r.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "run-once: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_mib = (0..daemons)
        .filter_map(|i| {
            std::fs::read_to_string(dir.join(format!("rss-{i}")))
                .ok()?
                .trim()
                .lines()
                .last()?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap_or(0)
        / 1024;
    let delivery_lines: Vec<&str> = outputs
        .iter()
        .filter_map(|o| o.lines().find(|l| l.starts_with("delivery:")))
        .collect();
    let briefing_lines: Vec<&str> = outputs
        .iter()
        .filter_map(|o| o.lines().find(|l| l.starts_with("briefings:")))
        .collect();
    let sent: f64 = delivery_lines
        .iter()
        .map(|l| number_before(l, "sent"))
        .sum();
    let queued: f64 = briefing_lines
        .iter()
        .map(|l| number_before(l, "queued"))
        .sum();
    let send_secs = delivery_lines
        .iter()
        .map(|l| seconds_in(l))
        .fold(0.0, f64::max);
    let prepare_secs = briefing_lines
        .iter()
        .map(|l| seconds_in(l))
        .fold(0.0, f64::max);
    println!("subscribers={n} seconds={seconds:.1} sent={sent} peak_rss_mib={peak_rss_mib}");
    println!(
        "papers={} import_seconds={import_secs:.2} import_rows_per_s={:.0} daemons={daemons} queued={queued} prepare_seconds={prepare_secs:.1} send_seconds={send_secs:.1}",
        number_before(&collected, "new"),
        n as f64 / import_secs,
    );

    // The same number of messages of the same size, from Postfix's own load generator.
    let size = pilot_message_bytes(&dir, &dir.join("subscribers.jsonl"), verp);
    let daemon_rate = sent / send_secs.max(0.001);
    let started = Instant::now();
    let status = Command::new("smtp-source")
        .args([
            "-s",
            &concurrency.to_string(),
            "-m",
            &(sent as usize).max(1).to_string(),
            "-l",
            &size.to_string(),
            &format!("127.0.0.1:{port}"),
        ])
        .status()
        .expect("smtp-source (Debian package postfix) is installed");
    assert!(status.success());
    let source_rate = sent.max(1.0) / started.elapsed().as_secs_f64();
    println!(
        "message_bytes={size} daemon_sends_per_s={daemon_rate:.0} smtp_source_per_s={source_rate:.0} ratio={:.2}",
        daemon_rate / source_rate
    );

    // The days after, each a round on new papers.
    if days > 1 {
        let after_one = database_bytes(&config);
        for day in 1..days {
            vacuum(&database);
            write_feed(&dir.join("day.xml"), &papers, day);
            hub_on_day(&config, day, &["collect"]);
            let out = hub_on_day(&config, day, &["run-once"]);
            let sent = out
                .lines()
                .find(|l| l.starts_with("delivery:"))
                .map_or(0.0, |l| number_before(l, "sent"));
            eprintln!("day {}: {sent} sent", day + 1);
            // Nothing sent: the day did not come (the clock stayed), and
            // the figure would measure nothing.
            assert!(sent > 0.0, "day {}: nothing sent: {out}", day + 1);
        }
        let bytes = database_bytes(&config);
        let retained = days.min(30) as f64;
        // Growth: what each further day added, papers (shared) included.
        println!(
            "days={days} database_bytes_after_one_day={after_one:.0} database_bytes={bytes:.0} \
             bytes_per_reader_per_retained_day={:.0} growth_per_reader_per_day={:.0}",
            bytes / (n as f64 * retained),
            (bytes - after_one) / (n as f64 * (days - 1) as f64)
        );
    }
    let _ = sink.kill();
    let _ = sink.wait();
}
