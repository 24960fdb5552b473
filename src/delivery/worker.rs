//! Draining the outbox: parallel workers, each with its own connection,
//! paced by the configured rate limits.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::mailer::Connection;
use super::{Mailer, SendError, Sender};
use crate::domain::MessageBody;
use crate::domain::OutgoingMessage;
use crate::store::{ClaimedMessage, Store, StoreError};
use crate::telemetry::{Reader, metrics};

/// How long a claim outlasts the longest exchange a send may take: a worker
/// that is still sending holds its row, and one that died releases it soon.
const LEASE_MARGIN_SECS: i64 = 30;
/// A batch is claimed for this many exchanges' time and renewed as it runs
/// low, so a worker that dies parks its batch for minutes, not for the time
/// the whole batch could take.
const LEASE_EXCHANGES: i64 = 2;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// A message the server keeps deferring (4xx) is given up this long
    /// after it was queued; outages do not count against it.
    pub give_up_after_secs: i64,
    /// A briefing not sent this long after it was made is expired, not sent
    /// late.
    pub briefing_expires_after_secs: i64,
}

impl RetryPolicy {
    /// One minute after the first deferral, doubling, at most six hours,
    /// with up to a fifth taken off at random so that messages deferred
    /// together do not all come back together.
    fn delay_secs(attempts: i64, rng: &mut impl Rng) -> i64 {
        let exponent = (attempts - 1).clamp(0, 16) as u32;
        let full = (60_i64 << exponent).min(6 * 3600);
        full - rng.random_range(0..=full / 5)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Deferred by the server for this recipient: retried later.
    pub deferred: usize,
    /// Refused for good (the address is suppressed) or deferred for too long.
    pub failed: usize,
    /// Briefings that waited past their usefulness.
    pub expired: usize,
    /// Outcomes not recorded because another worker had taken the row over.
    pub lost_leases: usize,
    /// Messages found in flight from a worker that stopped mid-send: sent
    /// again now, so they may arrive twice.
    pub interrupted: usize,
}

/// What became of messages, as the report and the metrics count it.
#[derive(Debug, Clone, Copy)]
enum Settled {
    Sent,
    Deferred,
    Failed,
    Expired,
}

impl DeliveryReport {
    /// Counts `n` messages that came to `outcome`, in this report and in
    /// the process's metrics at once, so the two never disagree.
    fn count(&mut self, outcome: Settled, n: usize) {
        let (field, label) = match outcome {
            Settled::Sent => (&mut self.sent, "sent"),
            Settled::Deferred => (&mut self.deferred, "deferred"),
            Settled::Failed => (&mut self.failed, "failed"),
            Settled::Expired => (&mut self.expired, "expired"),
        };
        *field += n;
        metrics::messages(label, n);
    }

    fn add(&mut self, other: &Self) {
        self.sent += other.sent;
        self.deferred += other.deferred;
        self.failed += other.failed;
        self.expired += other.expired;
        self.lost_leases += other.lost_leases;
        self.interrupted += other.interrupted;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "delivery stopped: the mail server refused {refused} messages in a row, for {} different \
         domains ({}), last with \"{last}\"; that is a refusal of our sender, not of each \
         reader: check delivery.from and delivery.bounce_address (the envelope sender), the relay's \
         credentials and whether it lets us send from that domain, and its log for MAIL FROM. \
         Nobody was suppressed; {pending} message(s) wait in the outbox for the next run",
        domains.len(),
        domains.join(", ")
    )]
    SenderRefused {
        refused: usize,
        domains: Vec<String>,
        last: String,
        pending: i64,
        report: DeliveryReport,
    },
    #[error("{source}; {pending} message(s) kept in the outbox and retried on the next run")]
    Unavailable {
        #[source]
        source: SendError,
        pending: i64,
        report: DeliveryReport,
    },
}

/// How fast to send, in all and per recipient domain (`delivery.max_per_second`,
/// `delivery.domain_max_per_second`).
pub struct Pace {
    all: Option<DefaultDirectRateLimiter>,
    domains: HashMap<String, DefaultDirectRateLimiter>,
}

impl Pace {
    pub fn new(max_per_second: u32, domains: &BTreeMap<String, u32>) -> Self {
        let limiter =
            |n: u32| NonZeroU32::new(n).map(|n| RateLimiter::direct(Quota::per_second(n)));
        Self {
            all: limiter(max_per_second),
            domains: domains
                .iter()
                .filter_map(|(domain, &n)| Some((domain.to_ascii_lowercase(), limiter(n)?)))
                .collect(),
        }
    }

    /// Waits until a message to an address at `domain` may go.
    async fn wait(&self, domain: &str) {
        if let Some(all) = &self.all {
            all.until_ready().await;
        }
        if let Some(limit) = self.domains.get(&domain.to_ascii_lowercase()) {
            limit.until_ready().await;
        }
    }
}

/// Tells a relay that refuses our sender from relays that refuse a
/// reader's address. lettre does not say whether a 5xx answered MAIL FROM
/// or RCPT TO, so a refusal is only a suspect, held (its row stays
/// `sending` under its lease) until the run says which it was:
/// - a later message is accepted: the relay takes our sender, so the
///   suspects were their recipients' fault (failed, address suppressed);
/// - refusals pile up, `limit` in a row for as many different domains:
///   the relay refuses our sender; delivery stops and every suspect goes
///   back to the queue, the attempt not counted;
/// - the queue runs dry: suspects are settled as refused if any message
///   of the run went through, else deferred (nothing to compare with).
struct Breaker {
    limit: usize,
    streak: std::sync::Mutex<Streak>,
}

#[derive(Default)]
struct Streak {
    /// Refused since the last accepted message, with the server's answer.
    held: Vec<(ClaimedMessage, String)>,
    domains: std::collections::BTreeSet<String>,
    any_sent: bool,
    tripped: bool,
}

/// What a refusal means once the breaker has seen it.
enum Refusal {
    /// Held until the run tells.
    Held,
    /// The breaker tripped on this refusal: these go back to the queue.
    Tripped {
        release: Vec<(ClaimedMessage, String)>,
        domains: Vec<String>,
    },
    /// Another worker tripped it before: this one goes back to the queue,
    /// and that worker reports why.
    AlreadyTripped,
}

impl Breaker {
    fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(2),
            streak: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Streak> {
        self.streak.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn refused(&self, claim: ClaimedMessage, error: String) -> Refusal {
        let mut streak = self.lock();
        if streak.tripped {
            return Refusal::AlreadyTripped;
        }
        streak
            .domains
            .insert(claim.message.recipient.domain().to_ascii_lowercase());
        streak.held.push((claim, error));
        if streak.domains.len() < self.limit {
            return Refusal::Held;
        }
        streak.tripped = true;
        Refusal::Tripped {
            release: std::mem::take(&mut streak.held),
            domains: std::mem::take(&mut streak.domains).into_iter().collect(),
        }
    }

    /// A message went through: the suspects so far were refused for
    /// themselves.
    fn sent(&self) -> Vec<(ClaimedMessage, String)> {
        let mut streak = self.lock();
        streak.any_sent = true;
        streak.domains.clear();
        std::mem::take(&mut streak.held)
    }

    /// The suspects left when the queue ran dry, and whether any message
    /// of the run went through.
    fn finish(&self) -> (Vec<(ClaimedMessage, String)>, bool) {
        let mut streak = self.lock();
        (std::mem::take(&mut streak.held), streak.any_sent)
    }
}

/// What every sending worker shares.
#[derive(Clone)]
pub struct Outbox {
    pub store: Store,
    pub mailer: Mailer,
    pub sender: Arc<Sender>,
    pub policy: RetryPolicy,
    pub pace: Arc<Pace>,
    /// Sending workers, each with its own connection.
    pub concurrency: usize,
    /// Refusals in a row, for as many domains, that stop delivery
    /// (`delivery.stop_after_refusals`).
    pub stop_after_refusals: usize,
    pub clock: fn() -> i64,
}

/// Messages a worker claims at a time: few enough that a worker that dies
/// holds little, enough that claiming is not a query per message.
const CLAIM_BATCH: usize = 16;

/// Sends every message due now, `concurrency` at a time, until none is
/// left, or `stop` is cancelled (messages in flight are finished first).
///
/// First, briefings older than their usefulness expire, messages deferred
/// for too long are given up, and those due again are queued. Then each
/// worker claims a few messages at a time (recorded as `sending`, under a
/// lease token) before their SMTP transactions, and records each outcome
/// after it, for that claim only:
/// - accepted → `sent`;
/// - refused (5xx) → held as a suspect (see [`Breaker`]): then `failed`
///   with the address suppressed, or back to the queue when the relay turns
///   out to refuse our sender (every worker stops), or `retry` when the run
///   had nothing to compare with;
/// - deferred for this recipient (4xx) → `retry` with backoff and jitter,
///   or given up once older than `give_up_after_secs`; the queue goes on;
/// - the server is unavailable (refused connection, TLS, AUTH, 421, no
///   answer) → back to `queued`, the attempt not counted, and every worker
///   stops: every other message would fail the same way.
pub async fn drain_outbox(
    outbox: &Outbox,
    stop: &CancellationToken,
) -> Result<DeliveryReport, DeliveryError> {
    let mut report = DeliveryReport::default();
    let started = (outbox.clock)();
    let policy = outbox.policy;
    let swept = outbox
        .store
        .sweep(
            started,
            started - policy.briefing_expires_after_secs,
            started - policy.give_up_after_secs,
        )
        .await?;
    report.count(Settled::Expired, swept.expired as usize);
    report.count(Settled::Failed, swept.given_up as usize);
    report.interrupted = swept.interrupted as usize;
    if swept.interrupted > 0 {
        tracing::warn!(
            count = swept.interrupted,
            "messages were being sent when a worker stopped; they are sent again and may arrive twice"
        );
    }
    // An outage stops every worker, not the process.
    let outage = stop.child_token();
    let breaker = Arc::new(Breaker::new(outbox.stop_after_refusals));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..outbox.concurrency.max(1) {
        workers.spawn(work(outbox.clone(), breaker.clone(), outage.clone()));
    }
    let mut first_error = None;
    while let Some(done) = workers.join_next().await {
        let (counts, error) = done.expect("a sending worker panicked");
        report.add(&counts);
        if let Some(e) = error {
            outage.cancel();
            first_error.get_or_insert(e);
        }
    }
    // Suspects still held: refused for themselves if anything went through.
    let (held, any_sent) = breaker.finish();
    for (claim, error) in held {
        let to = reader(&claim);
        let recorded = if any_sent {
            reject(outbox, &claim, &error, &mut report).await?;
            true
        } else if matches!(first_error, Some(WorkerError::Unavailable(_))) {
            outbox.store.release_after_outage(&claim, &error).await?
        } else {
            let delay = RetryPolicy::delay_secs(claim.attempts, &mut rand::rng());
            tracing::warn!(%to, %error, delay, "refused, but no message of this run went through to tell a refusal of this address from one of our sender: tried again later");
            report.count(Settled::Deferred, 1);
            let why = format!("{error} (held: no message of the run went through to compare)");
            outbox
                .store
                .mark_retry(&claim, &why, (outbox.clock)(), (outbox.clock)() + delay)
                .await?
        };
        if !recorded {
            report.lost_leases += 1;
        }
    }
    match first_error {
        None => Ok(report),
        Some(WorkerError::Store(e)) => Err(e.into()),
        Some(WorkerError::SenderRefused {
            refused,
            domains,
            last,
        }) => {
            let pending = outbox.store.outbox_counts().await?.pending();
            Err(DeliveryError::SenderRefused {
                refused,
                domains,
                last,
                pending,
                report,
            })
        }
        Some(WorkerError::Unavailable(source)) => {
            let pending = outbox.store.outbox_counts().await?.pending();
            Err(DeliveryError::Unavailable {
                source,
                pending,
                report,
            })
        }
    }
}

enum WorkerError {
    Store(StoreError),
    Unavailable(SendError),
    /// The breaker tripped: the relay refuses our sender.
    SenderRefused {
        refused: usize,
        domains: Vec<String>,
        last: String,
    },
}

impl From<StoreError> for WorkerError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// One sending worker: claim a few, send each on this worker's connection,
/// record each outcome; until the queue is empty, an outage, or `stop`.
async fn work(
    outbox: Outbox,
    breaker: Arc<Breaker>,
    stop: CancellationToken,
) -> (DeliveryReport, Option<WorkerError>) {
    let mut report = DeliveryReport::default();
    let mut connection = outbox.mailer.connection();
    let error = send_claimed(&outbox, &breaker, &stop, &mut connection, &mut report)
        .await
        .err();
    connection.close().await;
    (report, error)
}

async fn send_claimed(
    outbox: &Outbox,
    breaker: &Breaker,
    stop: &CancellationToken,
    connection: &mut Connection<'_>,
    report: &mut DeliveryReport,
) -> Result<(), WorkerError> {
    let store = &outbox.store;
    let now = outbox.clock;
    let policy = outbox.policy;
    let per_message = outbox.mailer.deadline().as_secs() as i64 + LEASE_MARGIN_SECS;
    let lease_secs = per_message * LEASE_EXCHANGES;
    while !stop.is_cancelled() {
        let mut lease_until = now() + lease_secs;
        let claimed = store
            .claim_messages(lease_until, CLAIM_BATCH as i64)
            .await?;
        if claimed.is_empty() {
            break;
        }
        let mut claimed = claimed.into_iter();
        while let Some(mut claim) = claimed.next() {
            if stop.is_cancelled() {
                // Not tried: back to the queue, the attempt not counted.
                for c in std::iter::once(claim).chain(claimed.by_ref()) {
                    store
                        .release_after_outage(&c, "delivery stopped before sending it")
                        .await?;
                }
                break;
            }
            outbox.pace.wait(claim.message.recipient.domain()).await;
            // The claim must outlast this exchange.
            if now() + per_message > lease_until {
                lease_until = now() + lease_secs;
                if !store.renew_lease(&claim.lease, lease_until).await? {
                    let lost = 1 + claimed.len();
                    tracing::warn!(
                        lost,
                        "lease lost before sending: another worker took this batch over"
                    );
                    report.lost_leases += lost;
                    break;
                }
            }
            // The body moves into the message: the claim keeps the rest.
            let empty = MessageBody::Plain {
                html: String::new(),
                text: String::new(),
            };
            let outgoing = OutgoingMessage {
                body: std::mem::replace(&mut claim.message.body, empty),
                ..claim.message.clone()
            };
            let outcome = match outbox.sender.message(outgoing, claim.returns) {
                Ok(message) => {
                    let started = std::time::Instant::now();
                    let outcome = connection.send(&message).await;
                    metrics::smtp_send(
                        match &outcome {
                            Ok(()) => "accepted",
                            Err(SendError::Permanent(_)) => "refused",
                            Err(SendError::Transient(_)) => "deferred",
                            Err(SendError::Unavailable { .. }) => "unavailable",
                        },
                        started.elapsed(),
                    );
                    outcome
                }
                Err(e) => Err(SendError::Permanent(e)),
            };
            let to = reader(&claim);
            let recorded = match &outcome {
                Ok(()) => {
                    tracing::info!(%to, id = claim.id, "mail sent");
                    report.count(Settled::Sent, 1);
                    let sent = store.mark_sent(&claim, now()).await?;
                    for (refused, error) in breaker.sent() {
                        reject(outbox, &refused, &error, report).await?;
                    }
                    sent
                }
                Err(SendError::Permanent(e)) => {
                    tracing::warn!(%to, error = %e, "refused; held until the run tells the address's fault from our sender's");
                    let (release, tripped) = match breaker.refused(claim.clone(), e.clone()) {
                        Refusal::Held => continue,
                        Refusal::Tripped { release, domains } => (release, Some(domains)),
                        Refusal::AlreadyTripped => (vec![(claim, e.clone())], None),
                    };
                    for (c, error) in &release {
                        store.release_after_outage(c, error).await?;
                    }
                    for c in claimed {
                        store
                            .release_after_outage(
                                &c,
                                "delivery stopped: the relay refuses our sender",
                            )
                            .await?;
                    }
                    return match tripped {
                        Some(domains) => Err(WorkerError::SenderRefused {
                            refused: release.len(),
                            domains,
                            last: e.clone(),
                        }),
                        None => Ok(()),
                    };
                }
                Err(e @ SendError::Transient(_)) if too_old(&claim, &policy, now()) => {
                    let error = format!(
                        "gave up after {} h of deferrals: {e}",
                        policy.give_up_after_secs / 3600
                    );
                    tracing::error!(%to, %error, "mail not sent");
                    report.count(Settled::Failed, 1);
                    store.mark_failed(&claim, &error, now()).await?
                }
                Err(e @ SendError::Transient(_)) => {
                    let message = e.to_string();
                    let delay = RetryPolicy::delay_secs(claim.attempts, &mut rand::rng());
                    tracing::warn!(%to, error = %message, attempt = claim.attempts, delay, "mail deferred");
                    report.count(Settled::Deferred, 1);
                    store
                        .mark_retry(&claim, &message, now(), now() + delay)
                        .await?
                }
                Err(e @ SendError::Unavailable { .. }) => {
                    store.release_after_outage(&claim, &e.to_string()).await?
                }
            };
            if !recorded {
                tracing::warn!(%to, id = claim.id, "lease lost: another worker took this message over; its outcome is theirs to record");
                report.lost_leases += 1;
            }
            if let Err(e @ SendError::Unavailable { .. }) = outcome {
                for c in claimed {
                    store.release_after_outage(&c, &e.to_string()).await?;
                }
                return Err(WorkerError::Unavailable(e));
            }
        }
    }
    Ok(())
}

/// Whom a message goes to, as a log line may name them.
fn reader(claim: &ClaimedMessage) -> Reader<'_> {
    Reader::new(
        claim.returns.map(|(ids, _)| ids.subscriber),
        &claim.message.recipient,
    )
}

/// A refusal the run has shown to be the address's own: the message fails
/// and the address is suppressed.
async fn reject(
    outbox: &Outbox,
    claim: &ClaimedMessage,
    error: &str,
    report: &mut DeliveryReport,
) -> Result<(), StoreError> {
    let to = reader(claim);
    tracing::error!(%to, id = claim.id, %error, "refused for good; the address is suppressed");
    report.count(Settled::Failed, 1);
    if !outbox
        .store
        .mark_rejected(claim, error, (outbox.clock)())
        .await?
    {
        report.lost_leases += 1;
    }
    Ok(())
}

fn too_old(claimed: &ClaimedMessage, policy: &RetryPolicy, now: i64) -> bool {
    now - claimed.created_at >= policy.give_up_after_secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_from_a_minute_up_to_six_hours_less_some_jitter() {
        let mut rng = rand::rng();
        for _ in 0..100 {
            let first = RetryPolicy::delay_secs(1, &mut rng);
            assert!((48..=60).contains(&first), "{first}");
            let second = RetryPolicy::delay_secs(2, &mut rng);
            assert!((96..=120).contains(&second), "{second}");
            let late = RetryPolicy::delay_secs(30, &mut rng);
            assert!((6 * 3600 * 4 / 5..=6 * 3600).contains(&late), "{late}");
        }
        let spread: std::collections::HashSet<i64> = (0..50)
            .map(|_| RetryPolicy::delay_secs(5, &mut rng))
            .collect();
        assert!(spread.len() > 1, "jitter spreads retries");
    }
}
