use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tempfile::TempDir;
use tokio::process::{Child, Command};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/feeds");

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn services_required() -> bool {
    std::env::var("TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1") || std::env::var("CI").is_ok()
}

/// Either skips loudly or, where services are required, fails.
pub fn skip(test: &str, why: &str) {
    if services_required() {
        panic!(
            "{test}: {why} (TEST_REQUIRE_SERVICES=1 or CI is set, so this is a failure, not a skip)"
        );
    }
    // Written to stderr directly: libtest captures `eprintln!`, and a skip
    // must be seen even when the test passes.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why}. Run scripts/test.sh to set everything up."
    );
}

// ---------------------------------------------------------------- databases

/// A throw-away database: a SQLite file, or a fresh PostgreSQL database.
pub struct TestDb {
    pub url: String,
    pub label: &'static str,
    _dir: Option<TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("hub.db").display());
        Self {
            url,
            label: "sqlite",
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// `None` (after saying so) when no PostgreSQL is configured.
    pub async fn postgres(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var("TEST_POSTGRES_URL") else {
            skip(
                test,
                "PostgreSQL half skipped: TEST_POSTGRES_URL is not set",
            );
            return None;
        };
        use sqlx::Connection;
        let name = format!("ah_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("{test}: cannot connect to TEST_POSTGRES_URL={admin_url}: {e}")
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        Some(Self {
            url: url.to_string(),
            label: "postgres",
            _dir: None,
            postgres: Some((admin_url, name)),
        })
    }

    /// SQLite always; PostgreSQL when configured.
    pub async fn all(test: &str) -> Vec<Self> {
        let mut dbs = vec![Self::sqlite()];
        dbs.extend(Self::postgres(test).await);
        dbs
    }

    pub async fn drop_db(self) {
        if let Some((admin_url, name)) = &self.postgres {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
        }
    }
}

/// The application in-process on `db`, mail into the folder `mail`,
/// collecting a recorded feed with papers on outlier detection.
pub async fn app_on(db: &TestDb, mail: &std::path::Path) -> academichub::app::Application {
    let mut settings = academichub::config::Settings::default();
    settings.database.url = db.url.clone();
    settings.delivery.folder = mail.to_path_buf();
    settings.collect.feeds = vec![
        academichub::config::FeedSettings::url(
            &format!("file://{FIXTURES}/arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml"),
            None,
        )
        .unwrap(),
    ];
    academichub::app::Application::build(settings)
        .await
        .unwrap()
}

// ---------------------------------------------------------------- feeds

#[derive(Clone)]
pub enum Route {
    /// Serves the body with an ETag, and 304 to a matching If-None-Match.
    Feed(Vec<u8>),
    Status(StatusCode, &'static str),
    /// 503 Service Unavailable asking the client to come back after N seconds.
    RetryAfter(u64),
    /// Answers 200 with the body only after this long.
    Slow(Duration, Vec<u8>),
}

/// What the feed server saw of one request.
#[derive(Clone, Debug)]
pub struct FeedRequest {
    /// The path asked for, with its query when it had one.
    pub path: String,
    pub user_agent: Option<String>,
    pub if_none_match: Option<String>,
}

#[derive(Clone, Default)]
struct FeedState {
    routes: Arc<HashMap<String, Route>>,
    requests: Arc<Mutex<Vec<FeedRequest>>>,
}

/// Recorded feeds served over real HTTP on loopback.
pub struct FeedServer {
    pub addr: SocketAddr,
    state: FeedState,
}

impl FeedServer {
    pub async fn start(routes: impl IntoIterator<Item = (&'static str, Route)>) -> Self {
        let state = FeedState {
            routes: Arc::new(
                routes
                    .into_iter()
                    .map(|(p, r)| (p.trim_start_matches('/').to_owned(), r))
                    .collect(),
            ),
            requests: Arc::default(),
        };
        let app = Router::new()
            .route("/{*path}", get(serve_feed))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<FeedRequest> {
        self.state.requests.lock().unwrap().clone()
    }
}

async fn serve_feed(
    State(state): State<FeedState>,
    UrlPath(path): UrlPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let get = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let if_none_match = get(header::IF_NONE_MATCH);
    // A route may name its query too (`api/query?id_list=…`).
    let with_query = query.map(|q| format!("{path}?{q}"));
    state.requests.lock().unwrap().push(FeedRequest {
        path: with_query.clone().unwrap_or_else(|| path.clone()),
        user_agent: get(header::USER_AGENT),
        if_none_match: if_none_match.clone(),
    });
    let route = with_query
        .and_then(|p| state.routes.get(&p))
        .or_else(|| state.routes.get(&path));
    match route {
        Some(Route::Feed(body)) => {
            let etag = format!("\"{}\"", body.len());
            if if_none_match.as_deref() == Some(etag.as_str()) {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            (
                [
                    (header::CONTENT_TYPE, "application/rss+xml"),
                    (header::ETAG, etag.as_str()),
                ],
                body.clone(),
            )
                .into_response()
        }
        Some(Route::Status(status, body)) => (*status, *body).into_response(),
        Some(Route::Slow(delay, body)) => {
            tokio::time::sleep(*delay).await;
            body.clone().into_response()
        }
        Some(Route::RetryAfter(secs)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, secs.to_string())],
            "busy",
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The recorded arXiv RSS feed at `ok.rss`: one paper on outlier detection.
/// The real cs.CV day (501 papers) served as `cs.CV.rss`.
pub async fn cv_day_feed() -> FeedServer {
    FeedServer::start([(
        "cs.CV.rss",
        Route::Feed(fixture("arxiv-rss2-cs.CV-2026-04-21-real-day.xml")),
    )])
    .await
}

pub async fn outliers_feed() -> FeedServer {
    FeedServer::start([(
        "ok.rss",
        Route::Feed(fixture(
            "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
        )),
    )])
    .await
}

// ---------------------------------------------------------------- SMTP

/// aiosmtpd on loopback (driven by `tests/smtp_server.py`), storing every
/// message it accepts in a Maildir.
pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    rules: PathBuf,
    child: Child,
    tls: Option<TestCa>,
    _dir: TempDir,
}

/// How the SMTP test server is secured.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmtpOptions {
    /// `starttls` or `tls` (implicit), with a certificate from a test CA.
    pub tls: Option<&'static str>,
    /// Required AUTH credentials.
    pub auth: Option<(&'static str, &'static str)>,
    /// Answer RCPT as `SmtpServer::set_rules` says.
    pub rules: bool,
}

pub struct Mail {
    pub raw: String,
}

impl Mail {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(self.raw.as_bytes())
            .expect("a parseable message")
    }

    pub fn to(&self) -> String {
        let parsed = self.parsed();
        parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned()
    }
}

pub fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TEST_SMTP_PYTHON") {
        return Some(p.into());
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    venv.exists().then_some(venv)
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throw-away CA and a server certificate for 127.0.0.1 it signed,
/// made with the openssl command-line tool.
pub struct TestCa {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// A CA and a server certificate for 127.0.0.1, made with openssl in `dir`.
    pub fn create(dir: &Path) -> Self {
        let path = |name: &str| dir.join(name);
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl is installed");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=AcademicHub test CA",
                ],
                &[
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            path("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        Self {
            ca: path("ca.pem"),
            cert: path("server.pem"),
            key: path("server.key"),
        }
    }
}

impl SmtpServer {
    /// A plain SMTP server; `None` (after saying so) when aiosmtpd is missing.
    pub async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, SmtpOptions::default()).await
    }

    /// A plain SMTP server that answers as `set_rules` says.
    pub async fn ruled(test: &str) -> Option<Self> {
        Self::start_with(
            test,
            SmtpOptions {
                rules: true,
                ..SmtpOptions::default()
            },
        )
        .await
    }

    pub async fn start_with(test: &str, options: SmtpOptions) -> Option<Self> {
        let Some(python) = python() else {
            skip(
                test,
                "no SMTP test server: .venv/bin/python with aiosmtpd is missing",
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let mut command = Command::new(&python);
        command.arg(script).arg(port.to_string()).arg(&maildir);
        let tls = options.tls.map(|mode| {
            let ca = TestCa::create(dir.path());
            command
                .args(["--tls", mode, "--cert"])
                .arg(&ca.cert)
                .arg("--key")
                .arg(&ca.key);
            ca
        });
        if let Some((user, password)) = options.auth {
            command.args(["--user", user, "--password", password]);
        }
        let rules = dir.path().join("rules.json");
        if options.rules {
            command.arg("--rules").arg(&rules);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the SMTP test server exited with {status} before listening (is aiosmtpd installed for {}?)",
                    python.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP test server did not listen on port {port} within 15 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Self {
            port,
            maildir,
            rules,
            child,
            tls,
            _dir: dir,
        })
    }

    /// How RCPT is answered from now on: `(address or "*", reply)`, the
    /// reply an SMTP reply line, `"stall"` or `"drop"`. Needs `rules: true`.
    pub fn set_rules(&self, rules: &[(&str, &str)]) {
        let map: serde_json::Map<String, serde_json::Value> = rules
            .iter()
            .map(|(who, reply)| ((*who).to_owned(), serde_json::Value::from(*reply)))
            .collect();
        std::fs::write(&self.rules, serde_json::Value::Object(map).to_string()).unwrap();
    }

    /// The test CA's certificate, when the server speaks TLS.
    pub fn ca_file(&self) -> &Path {
        &self.tls.as_ref().expect("a TLS server").ca
    }

    /// Every message the server has accepted, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<_> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).unwrap());
        files
            .iter()
            .map(|p| Mail {
                raw: std::fs::read_to_string(p).unwrap(),
            })
            .collect()
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

// ---------------------------------------------------------------- the binary

/// Sends SIGTERM and waits (at most 30 s) for the process to stop.
pub async fn terminate(child: Child) -> Output {
    let pid = child.id().expect("still running").to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("stops within 30 s of SIGTERM")
        .unwrap();
    out.into()
}

pub struct Output {
    pub success: bool,
    /// The exit status; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    fn from(out: std::process::Output) -> Self {
        Self {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A config file in a temp folder, and the real `academichub` binary run
/// against it with nothing inherited from the environment.
pub struct Hub {
    pub dir: TempDir,
    pub config: PathBuf,
}

impl Hub {
    pub fn new(config_toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("academichub.toml");
        std::fs::write(&config, config_toml).unwrap();
        Self { dir, config }
    }

    pub fn rewrite_config(&self, config_toml: &str) {
        std::fs::write(&self.config, config_toml).unwrap();
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[]).await
    }

    /// `academichub --config FILE ARGS…`, inheriting nothing from the environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_academichub"));
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_clear()
            .current_dir(self.dir.path());
        command
    }

    pub async fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args)
            .envs(env.iter().copied())
            .output()
            .await
            .unwrap()
            .into()
    }

    /// `academichub serve` in the background, its stderr kept for `terminate`.
    pub fn spawn_daemon(&self) -> Child {
        self.spawn(&["serve"])
    }

    /// `academichub ARGS…` as an unprivileged user (`nobody`, with
    /// util-linux's `setpriv`) when the tests run as root, as the systemd
    /// unit runs it: file permissions bind it, as they do not bind root.
    /// The config folder is opened to that user.
    pub fn unprivileged(&self, args: &[&str]) -> Command {
        let as_root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let mut command = if as_root {
            open_to_all(self.dir.path());
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_academichub"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_academichub"))
        };
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_clear()
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        command
    }

    /// `academichub ARGS…` in the background, its stderr kept.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    /// Subscribes ada@example.org to outlier detection, which the recorded
    /// arXiv RSS feed has one paper on.
    pub async fn subscribe_ada_to_outliers(&self) {
        self.ok(&[
            "subscribe",
            "ada@example.org",
            "--topic",
            "Outliers",
            "--keywords",
            "outlier detection",
        ])
        .await;
    }

    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.success,
            "academichub {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }
}

/// TOML for a hub on `db_url`, sending via SMTP on `smtp_port`, collecting `feeds`.
pub fn config(db_url: &str, smtp_port: u16, feeds: &[String]) -> String {
    let mut toml = format!(
        r#"
[database]
url = "{db_url}"

[delivery]
transport = "smtp"
from = "AcademicHub <briefing@hub.test>"

[delivery.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
timeout_secs = 5

[web]
public_url = "https://hub.test/"
listen = "127.0.0.1:0"
"#
    );
    for url in feeds {
        toml.push_str(&format!("\n[[collect.feeds]]\nurl = \"{url}\"\n"));
    }
    toml
}

// ---------------------------------------------------------------- the reader's side

/// The link key the reader tests configure, so they can also sign (and
/// forge, and age) tokens themselves.
pub const LINK_SECRET: &str = "test-link-secret-of-at-least-32-bytes!!";

/// The daemon's link keys, so a test can sign what it signs.
pub fn keys(secrets: &[&str]) -> academichub::domain::LinkKeys {
    use academichub::domain::{LinkKeys, LinkSecret};
    LinkKeys::new(
        secrets
            .iter()
            .map(|s| LinkSecret::new(s.as_bytes().to_vec()).unwrap())
            .collect(),
    )
    .unwrap()
}

/// What a genuine token says, checked with the key the daemon signs with.
pub fn decode_claims(
    key: &str,
    token: &str,
    action: academichub::domain::LinkAction,
) -> academichub::domain::LinkClaims {
    keys(&[key])
        .verify(token, action, chrono::Utc::now().timestamp())
        .expect("the daemon signs with this key")
}

/// `config` plus a web server on a free loopback port, whose public URL is
/// that port, and a delivery tick that will not fire during a test (mail
/// that goes out within the test was sent because a request woke delivery).
pub fn web_config(db_url: &str, smtp_port: u16, feeds: &[String], web_port: u16) -> String {
    let base = config(db_url, smtp_port, feeds).replace(
        "[web]\npublic_url = \"https://hub.test/\"\nlisten = \"127.0.0.1:0\"\n",
        &format!(
            "[web]\npublic_url = \"http://127.0.0.1:{web_port}/\"\nlisten = \"127.0.0.1:{web_port}\"\nsubscribe_per_ip_per_hour = 1000\n"
        ),
    );
    format!(
        "{base}\n[links]\nsecret = \"{LINK_SECRET}\"\n\n[schedule]\ndeliver = \"0 0 3 * * *\"\n"
    )
}

/// `academichub serve` with its web server answering, and an HTTP client
/// for it that follows no redirects.
pub struct Daemon {
    pub base: String,
    pub http: reqwest::Client,
    child: Child,
}

impl Daemon {
    pub async fn start(hub: &Hub, web_port: u16) -> Self {
        Self::watch(hub.spawn_daemon(), web_port).await
    }

    /// `academichub serve` already spawned as `child`, once it answers.
    pub async fn watch(child: Child, web_port: u16) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{web_port}");
        let mut child = child;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let out = child.wait_with_output().await.unwrap();
                panic!(
                    "the daemon exited with {status}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if let Ok(r) = http.get(format!("{base}/healthz")).send().await
                && r.status() == StatusCode::OK
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the web server did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { base, http, child }
    }

    pub async fn get(&self, url: &str) -> (StatusCode, String) {
        let r = self.http.get(url).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// POSTs `fields` as a form.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let r = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn post_json(&self, path: &str, json: &serde_json::Value) -> (StatusCode, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/json")
            .body(json.to_string())
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn stop(self) -> Output {
        terminate(self.child).await
    }

    /// Lowers the running daemon's open-file limit (with util-linux's
    /// `prlimit`), as a small systemd `LimitNOFILE` would.
    pub async fn limit_open_files(&self, limit: u32) {
        let pid = self.child.id().expect("the daemon is running");
        let status = Command::new("prlimit")
            .arg(format!("--pid={pid}"))
            .arg(format!("--nofile={limit}:{limit}"))
            .status()
            .await
            .expect("prlimit (util-linux) runs");
        assert!(status.success(), "prlimit failed: {status}");
    }
}

/// Waits (at most 20 s) until the server holds `count` messages.
pub async fn wait_for_mail(smtp: &SmtpServer, count: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mail = smtp.messages();
        if mail.len() >= count {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "{count} message(s) expected within 20 s, {} arrived",
            mail.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Mail {
    /// Every URL under `base` in the plain-text part, in order.
    pub fn links(&self, base: &str) -> Vec<String> {
        let parsed = self.parsed();
        let text = parsed.body_text(0).expect("a text part").into_owned();
        text.split_whitespace()
            .filter(|w| w.starts_with(base))
            .map(str::to_owned)
            .collect()
    }

    /// The first `/{kind}/` link under `base` after `text` in the text
    /// part: a card's own link, found by its title.
    pub fn link_after(&self, base: &str, kind: &str, text: &str) -> String {
        let parsed = self.parsed();
        let body = parsed.body_text(0).expect("a text part").into_owned();
        let start = body
            .find(text)
            .unwrap_or_else(|| panic!("no {text:?} in:\n{body}"));
        let prefix = format!("{base}/{kind}/");
        body[start..]
            .split_whitespace()
            .find(|w| w.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {kind} link after {text:?} in:\n{body}"))
            .to_owned()
    }

    /// The first link under `base` whose path starts with `/{kind}/`.
    pub fn link(&self, base: &str, kind: &str) -> String {
        let prefix = format!("{base}/{kind}/");
        self.links(base)
            .into_iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {kind} link in:\n{}", self.raw))
    }
}

/// The value of the hidden `form_token` field of a page.
pub fn form_token(page: &str) -> String {
    let marker = "name=\"form_token\" value=\"";
    let start = page.find(marker).expect("a form token") + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// One line of `academichub subscribers` for `email`.
pub async fn listed(hub: &Hub, email: &str) -> Option<String> {
    hub.ok(&["subscribers"])
        .await
        .lines()
        .find(|l| l.starts_with(&format!("{email}\t")))
        .map(str::to_owned)
}

pub async fn status(hub: &Hub, email: &str) -> String {
    listed(hub, email)
        .await
        .unwrap_or_else(|| panic!("{email} is not listed"))
        .split('\t')
        .nth(1)
        .unwrap()
        .to_owned()
}

/// Lets any user read, write and enter `dir` (a test's temporary folder).
pub fn open_to_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
}

/// One number from the database, e.g. a `COUNT(*)`.
pub async fn sql_count(db_url: &str, sql: &'static str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.unwrap();
    let n: i64 = sqlx::Row::get(&sqlx::query(sql).fetch_one(&pool).await.unwrap(), 0);
    pool.close().await;
    n
}

/// Runs one statement against the database, as if time or a crash had
/// left it so.
pub async fn sql_exec(db_url: &str, sql: &'static str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.unwrap();
    sqlx::query(sql).execute(&pool).await.unwrap();
    pool.close().await;
}
