//! Real mail servers for the bounce tests: a private Postfix relay that
//! returns real delivery status notifications (RFC 3464), and a private
//! Dovecot serving the mailbox those notifications land in over IMAP.
//!
//! Both are Debian's own servers (`postfix`, `dovecot-imapd`, installed by
//! `scripts/test-deps.sh`), started per test from configuration written into
//! a temporary folder, on free loopback ports: nothing in `/etc/postfix`,
//! `/etc/dovecot` or `/var/spool/postfix` is read or written, so tests may run
//! several of each at once. Postfix must be started as root (its master
//! daemon opens privileged files and drops privileges per service).
//!
//! The relay's domains, and what Postfix itself does with mail to them:
//!
//! | domain         | recipients                          | outcome                                   |
//! |----------------|-------------------------------------|-------------------------------------------|
//! | `readers.test` | the users the test names            | delivered to `readers/USER/` (a Maildir)  |
//! | `readers.test` | anyone else                         | accepted, then a DSN: failed, 5.1.1       |
//! | `soft.test`    | anyone                              | accepted, deferred (4.4.1): a DSN delayed at once, then failed 4.4.1 after ~3 s |
//! | `bounces.test` | `bounces` and `bounces+ANYTHING`    | delivered to the one bounce Maildir       |
//! | anything else  |                                     | accepted, then a DSN: failed, 5.1.2       |
//!
//! What Postfix sends back, measured here (its DSNs all say `Reporting-MTA:
//! dns; relay.test` and `Diagnostic-Code: X-Postfix; …`):
//!
//! - unknown `readers.test` user: within ~0.1 s, "Undelivered Mail Returned to
//!   Sender", `Action: failed`, `Status: 5.1.1`, `Diagnostic-Code: X-Postfix;
//!   unknown user: "ghost@readers.test"`, the whole message enclosed;
//! - `soft.test`: TWO notices per message. Within ~0.1 s "Delayed Mail (still
//!   being retried)", `Action: delayed`, `Status: 4.4.1`, `Will-Retry-Until`,
//!   headers enclosed; then, when the 3 s queue lifetime has run out (2–3.5 s
//!   after sending: Postfix counts whole seconds and retries each second),
//!   "Undelivered Mail Returned to Sender", `Action: failed` with the last
//!   temporary `Status: 4.4.1`, `Diagnostic-Code: X-Postfix; soft.test is
//!   unreachable for this test`, the whole message enclosed. A soft-bounce
//!   threshold counted per DSN sees two per message.
//!
//! DSNs go to the envelope sender, so a message sent from
//! `bounces+TOKEN@bounces.test` comes back into the bounce Maildir that
//! [`ImapServer`] serves, with the VERP address intact in `X-Original-To`,
//! `Delivered-To` and `To` (and in the report's `X-Postfix-Sender` and the
//! returned headers' `Return-Path`).

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::process::Command;

use crate::helpers::{TestCa, free_port, python, skip};

/// The domain whose named users have mailboxes and whose others do not.
pub const READERS: &str = "readers.test";
/// The domain whose mail is deferred with a temporary failure, then expires.
pub const SOFT: &str = "soft.test";
/// The bounce domain: `bounces+ANYTHING@bounces.test` lands in one Maildir.
pub const BOUNCES: &str = "bounces.test";

/// The uid and gid that own the Maildirs: Debian's `nobody` and `nogroup`.
/// Postfix's virtual(8) writes as them and Dovecot reads as them, so no
/// system user has to be created for the tests; both refuse root.
const MAIL_UID: u32 = 65534;

/// How long `soft.test` mail stays queued before Postfix gives up on it.
const SOFT_LIFETIME: &str = "3s";

fn is_root() -> bool {
    StdCommand::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn mail_version() -> Option<String> {
    let out = StdCommand::new("postconf")
        .args(["-d", "-h", "mail_version"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Messages in a Maildir (`new/` and `cur/`), oldest first.
fn maildir_files(maildir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort_by_key(|p| {
        (
            std::fs::metadata(p).and_then(|m| m.modified()).ok(),
            p.file_name().map(|n| n.to_owned()),
        )
    });
    files
}

// ---------------------------------------------------------------- Postfix

/// A private Postfix instance: the relay the daemon sends to, which delivers
/// to the named users of `readers.test`, bounces the rest with real DSNs, and
/// delivers those DSNs to the bounce Maildir. Stopped on drop.
///
/// Layout of its temporary folder: `etc/` (`main.cf`, `master.cf`, maps),
/// `spool/` (the queue), `data/`, `mail/` (the Maildirs, owned by `nobody`:
/// `mail/readers/USER/` and `mail/bounces/`), `maillog`.
pub struct PostfixRelay {
    dir: TempDir,
    port: u16,
    running: bool,
}

impl PostfixRelay {
    /// A relay whose `readers.test` knows `ada` and `bob`; `None` (after
    /// saying so) when Postfix is missing or we are not root, unless
    /// `TEST_REQUIRE_SERVICES=1`, where that fails the test.
    pub async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, &["ada", "bob"]).await
    }

    /// A relay whose `readers.test` has a mailbox for each of `users`
    /// (local parts: letters, digits, `.`, `-`, `_`).
    pub async fn start_with(test: &str, users: &[&str]) -> Option<Self> {
        Self::launch(test, users, None).await
    }

    /// A relay that hands every `bounces+…@bounces.test` message to
    /// `command` instead of the Maildir, the way mailing-list managers are
    /// wired: `bounces.test` is local, and the alias `bounces` (which
    /// `bounces+ANYTHING` falls back to) is `"|command"`, run by local(8) as
    /// `nobody` with `$ORIGINAL_RECIPIENT` set. Exit status 75 defers the
    /// message (Postfix tries again), 0 delivers it.
    pub async fn start_piping(test: &str, users: &[&str], command: &str) -> Option<Self> {
        Self::launch(test, users, Some(command)).await
    }

    async fn launch(test: &str, users: &[&str], pipe: Option<&str>) -> Option<Self> {
        let Some(version) = mail_version() else {
            skip(
                test,
                "no Postfix relay: postfix (Debian package) is missing",
            );
            return None;
        };
        if !is_root() {
            skip(test, "no Postfix relay: starting Postfix needs root");
            return None;
        }
        for user in users {
            assert!(
                !user.is_empty()
                    && user
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{test}: {user:?} is not a plain local part"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("postfix-relay.")
            .tempdir()
            .unwrap();
        let root = dir.path();
        // The delivery agent works as `nobody` below this folder, and
        // Postfix's own services as `postfix` in the queue.
        set_mode(root, 0o755);
        let (etc, spool, mail) = (root.join("etc"), root.join("spool"), root.join("mail"));
        for d in [&etc, &spool, &mail] {
            std::fs::create_dir(d).unwrap();
        }
        std::os::unix::fs::chown(&mail, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        let port = free_port();

        let mut mailboxes: String = users
            .iter()
            .map(|u| format!("{u}@{READERS} readers/{u}/\n"))
            .collect();
        // With `recipient_delimiter = +`, bounces+TOKEN@ falls back to this entry.
        mailboxes.push_str(&format!("bounces@{BOUNCES} bounces/\n"));
        std::fs::write(etc.join("mailboxes"), mailboxes).unwrap();
        if let Some(command) = pipe {
            assert!(!command.contains('"'), "{test}: a command without quotes");
            std::fs::write(etc.join("aliases"), format!("bounces \"|{command}\"\n")).unwrap();
        }
        std::fs::write(
            etc.join("transport"),
            format!("{SOFT} retry:4.4.1 {SOFT} is unreachable for this test\n"),
        )
        .unwrap();
        let mut main = main_cf(root, &version);
        if pipe.is_some() {
            main = piping(&main, root);
        }
        std::fs::write(etc.join("main.cf"), main).unwrap();
        std::fs::write(etc.join("master.cf"), master_cf(port)).unwrap();

        let relay = Self {
            dir,
            port,
            running: true,
        };
        // `postfix start` creates the queue and data folders with their
        // owners, checks the configuration and waits for the master daemon.
        let out = Command::new("postfix")
            .arg("-c")
            .arg(relay.etc())
            .arg("start")
            .output()
            .await
            .expect("postfix runs");
        if !out.status.success() {
            let mut relay = relay;
            relay.running = false;
            panic!(
                "{test}: postfix -c {} start failed: {}{}\nmaillog:\n{}",
                relay.etc().display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                relay.maillog()
            );
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "{test}: Postfix did not listen on port {port} within 15 s; maillog:\n{}",
                relay.maillog()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(relay)
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    /// The SMTP port on 127.0.0.1 (no TLS, no AUTH: loopback is `mynetworks`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many messages were delivered to `user@readers.test`.
    pub fn delivered(&self, user: &str) -> usize {
        maildir_files(&self.dir.path().join("mail/readers").join(user)).len()
    }

    /// The Maildir every `bounces+…@bounces.test` message is delivered to,
    /// owned by uid/gid 65534.
    pub fn bounce_maildir(&self) -> PathBuf {
        self.dir.path().join("mail/bounces")
    }

    /// The files in the bounce Maildir, oldest first, as Postfix wrote them
    /// (LF line ends; Dovecot moves them from `new/` to `cur/` once an IMAP
    /// client has seen them).
    pub fn bounces(&self) -> Vec<PathBuf> {
        maildir_files(&self.bounce_maildir())
    }

    /// Postfix's log so far (`maillog_file`), for failure messages.
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Stops the master daemon and its services, waiting (up to 5 s) until
    /// it has gone.
    pub async fn stop(mut self) {
        self.running = false;
        let dir = self.dir.path().to_owned();
        let _ = tokio::task::spawn_blocking(move || shut_down(&dir)).await;
    }
}

impl Drop for PostfixRelay {
    fn drop(&mut self) {
        if self.running {
            shut_down(self.dir.path());
        }
    }
}

/// `postfix stop`, and if that has not returned within 10 s (a Postfix
/// whose logging is wedged waits for ever), SIGKILL to the master's whole
/// session (it calls setsid), so that no test run is left hanging.
fn shut_down(dir: &Path) {
    let Ok(mut stop) = StdCommand::new("postfix")
        .arg("-c")
        .arg(dir.join("etc"))
        .arg("stop")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while stop.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = stop.kill();
            let _ = stop.wait();
            let pid = std::fs::read_to_string(dir.join("spool/pid/master.pid")).unwrap_or_default();
            let pid = pid.trim();
            if !pid.is_empty() {
                let _ = StdCommand::new("pkill").args(["-9", "-s", pid]).status();
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn main_cf(root: &Path, version: &str) -> String {
    let root = root.display();
    format!(
        "# A private Postfix {version} relay for one test: {root}
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.test
mydomain = relay.test
myorigin = relay.test
# Nothing is delivered by local(8): no aliases, no /etc files.
mydestination =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
# Leave the sender's headers as they are, as a relay does for other hosts.
local_header_rewrite_clients =
smtpd_peername_lookup = no
biff = no

# readers.test: named users only, the others accepted and bounced by virtual(8).
# bounces.test: bounces+ANYTHING@ lands in one Maildir.
virtual_mailbox_domains = {READERS}, {BOUNCES}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/etc/mailboxes
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_UID}
recipient_delimiter = +
smtpd_reject_unlisted_recipient = no

# soft.test: a temporary failure on every attempt, retried each second,
# reported as delayed at once and as failed when the message expires. Delays
# in seconds make bounce(8) warn \"zero result in delay template conversion\"
# and its text say \"0 hour(s)\": harmless.
transport_maps = texthash:{root}/etc/transport
delay_warning_time = 1s
maximal_queue_lifetime = {SOFT_LIFETIME}
bounce_queue_lifetime = {SOFT_LIFETIME}
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 1s

# Anything else would leave the machine: it bounces instead.
default_transport = error:5.1.2 this test relay delivers nowhere else
relay_transport = error:5.1.2 this test relay delivers nowhere else
"
    )
}

/// What `start_piping` changes in `main`: `bounces.test` is delivered by
/// local(8) through the alias file. Settings are replaced, not given twice:
/// each daemon would warn about an overridden entry at start-up, and that
/// burst of log records (the kernel queues 10 datagrams per socket here) can
/// block postlogd(8) on its own socket for good.
fn piping(main: &str, root: &Path) -> String {
    let root = root.display();
    let mut out = String::new();
    for line in main.lines() {
        let line = match line.split_once('=').map(|(key, _)| key.trim()) {
            Some("virtual_mailbox_domains") => format!("virtual_mailbox_domains = {READERS}"),
            Some("mydestination") => format!(
                "# bounces.test is local: bounces+ANYTHING@ goes to the alias `bounces`, a pipe.\n\
                 mydestination = {BOUNCES}\n\
                 local_recipient_maps = $alias_maps\n\
                 allow_mail_to_commands = alias\n\
                 default_privs = nobody"
            ),
            Some("alias_maps") => format!("alias_maps = texthash:{root}/etc/aliases"),
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Postfix's services, none chrooted (the queue is a temporary folder
/// without the copies of /etc a chroot needs), smtpd on `port` only.
fn master_cf(port: u16) -> String {
    format!(
        "127.0.0.1:{port} inet n - n - - smtpd
pickup    unix       n - n 60 1 pickup
cleanup   unix       n - n -  0 cleanup
qmgr      unix       n - n 300 1 qmgr
rewrite   unix       - - n -  - trivial-rewrite
bounce    unix       - - n -  0 bounce
defer     unix       - - n -  0 bounce
trace     unix       - - n -  0 bounce
verify    unix       - - n -  1 verify
flush     unix       n - n 1000? 0 flush
proxymap  unix       - - n -  - proxymap
showq     unix       n - n -  - showq
error     unix       - - n -  - error
retry     unix       - - n -  - error
discard   unix       - - n -  - discard
virtual   unix       - n n -  - virtual
anvil     unix       - - n -  1 anvil
scache    unix       - - n -  1 scache
postlog   unix-dgram n - n -  1 postlogd
local     unix       - n n -  - local
"
    )
}

// ---------------------------------------------------------------- Dovecot

/// A private Dovecot serving one Maildir (the relay's bounce mailbox) as
/// the INBOX of one user over plain IMAP on loopback. Messages Postfix
/// delivers later are seen by the next IMAP command; no restart needed.
/// Stopped on drop.
pub struct ImapServer {
    dir: TempDir,
    port: u16,
    /// Implicit TLS (IMAPS), with a certificate of [`TestCa`]; the plain port
    /// offers STARTTLS with the same certificate.
    tls_port: u16,
    ca: TestCa,
    child: Option<std::process::Child>,
}

const IMAP_USER: &str = "bounces";
const IMAP_PASSWORD: &str = "bounce-mailbox-secret";

impl ImapServer {
    /// Dovecot serving `relay`'s bounce Maildir; `None` (after saying so)
    /// when Dovecot is missing, unless `TEST_REQUIRE_SERVICES=1`.
    pub async fn start(test: &str, relay: &PostfixRelay) -> Option<Self> {
        Self::start_on(test, &relay.bounce_maildir()).await
    }

    /// Dovecot serving `maildir` (created if missing, owned by uid/gid 65534
    /// as the relay's are: Dovecot works as that user, never as root).
    pub async fn start_on(test: &str, maildir: &Path) -> Option<Self> {
        let has_dovecot = StdCommand::new("dovecot")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_dovecot {
            skip(
                test,
                "no IMAP server: dovecot (Debian package dovecot-imapd) is missing",
            );
            return None;
        }
        if !maildir.exists() {
            std::fs::create_dir_all(maildir).unwrap();
            std::os::unix::fs::chown(maildir, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        }
        let dir = tempfile::Builder::new()
            .prefix("dovecot.")
            .tempdir()
            .unwrap();
        let root = dir.path();
        let port = free_port();
        let tls_port = free_port();
        let ca = TestCa::create(root);
        std::fs::write(
            root.join("users"),
            format!("{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n"),
        )
        .unwrap();
        let conf = root.join("dovecot.conf");
        std::fs::write(&conf, dovecot_conf(root, maildir, port, tls_port, &ca)).unwrap();
        let child = StdCommand::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{test}: cannot start dovecot: {e}"));
        let mut server = Self {
            dir,
            port,
            tls_port,
            ca,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Some(status) = server.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                server.child = None;
                panic!(
                    "{test}: dovecot exited with {status} before listening; its log:\n{}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{test}: dovecot did not listen on port {port} within 15 s; its log:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(server)
    }

    /// The IMAP port on 127.0.0.1 (plain IMAP, STARTTLS offered).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The IMAPS port on 127.0.0.1 (implicit TLS).
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca.ca
    }

    /// The one user, whose INBOX is the Maildir.
    pub fn user(&self) -> &'static str {
        IMAP_USER
    }

    /// Its password, accepted in clear (AUTHENTICATE PLAIN or LOGIN).
    pub fn password(&self) -> &'static str {
        IMAP_PASSWORD
    }

    /// Dovecot's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Every message in `folder`, read with Python's imaplib (a client we
    /// did not write) in a read-only session, so nothing is flagged or moved.
    pub async fn messages_in(&self, folder: &str) -> Vec<Vec<u8>> {
        let python = python().expect("the .venv Python (scripts/test-deps.sh)");
        let out = Command::new(&python)
            .arg("-c")
            .arg(IMAP_FETCH_ALL)
            .args([
                "127.0.0.1",
                &self.port().to_string(),
                self.user(),
                self.password(),
                folder,
            ])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "imaplib could not read {folder}: {}\ndovecot's log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        let encoded: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        use base64::Engine;
        encoded
            .iter()
            .map(|m| base64::engine::general_purpose::STANDARD.decode(m).unwrap())
            .collect()
    }

    /// Every message in the INBOX.
    pub async fn messages(&self) -> Vec<Vec<u8>> {
        self.messages_in("INBOX").await
    }

    /// Stops Dovecot (SIGTERM), waiting up to 5 s.
    pub async fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = StdCommand::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// argv: host port user password folder; prints a JSON list of base64 messages.
const IMAP_FETCH_ALL: &str = r#"
import base64, imaplib, json, sys
host, port, user, password, folder = sys.argv[1:6]
with imaplib.IMAP4(host, int(port)) as imap:
    imap.login(user, password)
    status, detail = imap.select(folder, readonly=True)
    if status != "OK":
        sys.exit(f"SELECT {folder}: {detail}")
    _, found = imap.uid("SEARCH", None, "ALL")
    messages = []
    for uid in found[0].split():
        _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        messages.append(base64.b64encode(parts[0][1]).decode())
print(json.dumps(messages))
"#;

fn dovecot_conf(root: &Path, maildir: &Path, port: u16, tls_port: u16, ca: &TestCa) -> String {
    let (root, maildir) = (root.display(), maildir.display());
    let (cert, key) = (ca.cert.display(), ca.key.display());
    format!(
        "# A private Dovecot for one test: {root}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
# Loopback only: clear-text passwords are allowed on the plain port (2.3
# names), which also offers STARTTLS; the imaps port is TLS from the start.
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{maildir}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_UID} home={maildir}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"
    )
}

// ---------------------------------------------------------------- the test

/// The fields of the per-recipient block of a DSN's delivery-status part
/// that names `recipient`, with the `Action` to tell notices apart.
fn report_for(raw: &str, recipient: &str, action: &str) -> Option<Vec<(String, String)>> {
    let text = raw.replace("\r\n", "\n");
    let wanted = format!("Final-Recipient: rfc822; {recipient}");
    text.split("\n\n")
        .filter(|block| block.lines().any(|l| l == wanted))
        .map(|block| {
            block
                .lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<Vec<_>>()
        })
        .find(|fields| fields.iter().any(|(k, v)| k == "Action" && v == action))
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse(raw)?;
    parsed.header_raw(name).map(|v| v.trim().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn postfix_returns_real_bounces_to_the_imap_mailbox() {
    const TEST: &str = "postfix_returns_real_bounces_to_the_imap_mailbox";
    let Some(relay) = PostfixRelay::start(TEST).await else {
        return;
    };
    let Some(imap) = ImapServer::start(TEST, &relay).await else {
        return;
    };

    use lettre::AsyncTransport;
    let verp = format!("bounces+tok1@{BOUNCES}");
    let recipients = [
        format!("ada@{READERS}"),
        format!("ghost@{READERS}"),
        format!("carl@{SOFT}"),
    ];
    let envelope = lettre::address::Envelope::new(
        Some(verp.parse().unwrap()),
        recipients.iter().map(|r| r.parse().unwrap()).collect(),
    )
    .unwrap();
    let message = format!(
        "From: AcademicHub <briefing@hub.test>\r\nTo: readers@hub.test\r\n\
         Date: {}\r\nSubject: Your briefing\r\nMessage-ID: <tok1@hub.test>\r\n\r\nPapers.\r\n",
        chrono::Utc::now().to_rfc2822()
    );
    let smtp = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(relay.port())
        .build();
    let sent = Instant::now();
    smtp.send_raw(&envelope, message.as_bytes())
        .await
        .expect("the relay accepts all three recipients");

    // Postfix reports ghost at once, carl as delayed at once and as failed
    // when the message expires: three DSNs, read over IMAP as they arrive.
    const HARD: (&str, &str) = ("ghost@readers.test", "failed");
    const SOFT_FAILED: (&str, &str) = ("carl@soft.test", "failed");
    const DELAYED: (&str, &str) = ("carl@soft.test", "delayed");
    let find = |dsns: &[Vec<u8>], (recipient, action): (&str, &str)| {
        dsns.iter()
            .find_map(|m| report_for(&String::from_utf8_lossy(m), recipient, action))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let dsns = loop {
        let dsns = imap.messages().await;
        if [HARD, SOFT_FAILED, DELAYED]
            .into_iter()
            .all(|kind| find(&dsns, kind).is_some())
        {
            break dsns;
        }
        assert!(
            Instant::now() < deadline,
            "the hard, soft and delayed DSNs did not all arrive within 30 s; {} did:\n{}\n\
             Postfix's maillog:\n{}\nDovecot's log:\n{}",
            dsns.len(),
            dsns.iter()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect::<Vec<_>>()
                .join("\n-----\n"),
            relay.maillog(),
            imap.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let elapsed = sent.elapsed();
    assert_eq!(relay.delivered("ada"), 1, "{}", relay.maillog());
    assert_eq!(relay.delivered("bob"), 0);
    assert_eq!(dsns.len(), 3, "one DSN each, nothing else");

    let hard = find(&dsns, HARD).unwrap();
    assert_eq!(field(&hard, "Status"), "5.1.1");
    assert!(field(&hard, "Diagnostic-Code").contains("unknown user"));
    for kind in [SOFT_FAILED, DELAYED] {
        let report = find(&dsns, kind).unwrap();
        assert!(
            field(&report, "Status").starts_with("4."),
            "a temporary status: {report:?}"
        );
    }
    for dsn in &dsns {
        // The VERP address survives: local delivery records it in
        // X-Original-To and Delivered-To; the notice is addressed To it,
        // from the null sender so that it cannot bounce in turn.
        assert_eq!(header(dsn, "X-Original-To").as_deref(), Some(verp.as_str()));
        assert_eq!(header(dsn, "Delivered-To").as_deref(), Some(verp.as_str()));
        assert_eq!(header(dsn, "To").as_deref(), Some(verp.as_str()));
        assert_eq!(header(dsn, "Return-Path").as_deref(), Some("<>"));
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "{TEST}: 3 DSNs over IMAP {:.1} s after sending",
        elapsed.as_secs_f64()
    );

    if std::env::var("RECORD_POSTFIX_DSNS").is_ok_and(|v| v == "1") {
        record_fixtures(&relay);
    }
    imap.stop().await;
    relay.stop().await;
}

/// With `RECORD_POSTFIX_DSNS=1`, the hard DSN and the expired (failed, 4.4.1)
/// soft DSN are copied, byte for byte as delivered, into
/// `tests/fixtures/bounces/` as `postfix-local-hard.eml` and
/// `postfix-local-soft.eml`, and the delay notice as
/// `postfix-local-delayed.eml` (see that folder's SOURCES.txt).
fn record_fixtures(relay: &PostfixRelay) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bounces");
    std::fs::create_dir_all(&folder).unwrap();
    for file in relay.bounces() {
        let raw = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&raw);
        let name = if report_for(&text, "ghost@readers.test", "failed").is_some() {
            "postfix-local-hard.eml"
        } else if report_for(&text, "carl@soft.test", "failed").is_some() {
            "postfix-local-soft.eml"
        } else if report_for(&text, "carl@soft.test", "delayed").is_some() {
            "postfix-local-delayed.eml"
        } else {
            continue;
        };
        std::fs::write(folder.join(name), &raw).unwrap();
    }
}
