use rand::Rng;

use super::{Mailer, SendError, Sender};
use crate::store::{ClaimedMessage, Store, StoreError};

/// How long a claim outlasts the longest exchange a send may take: a worker
/// that is still sending holds its row, and one that died releases it soon.
const LEASE_MARGIN_SECS: i64 = 30;

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

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{source}; {pending} message(s) kept in the outbox and retried on the next run")]
    Unavailable {
        #[source]
        source: SendError,
        pending: i64,
        report: DeliveryReport,
    },
}

/// Sends every message due by `now`, one at a time, until none is left.
///
/// First, briefings older than their usefulness expire and messages deferred
/// for too long are given up. Then each message is claimed (`sending`, under
/// a lease token) before the SMTP transaction, and its outcome is recorded
/// after it, for that claim only:
/// - accepted → `sent`;
/// - refused for this recipient (5xx) → `failed`, and the address is
///   suppressed; the queue goes on;
/// - deferred for this recipient (4xx) → `retry` with backoff and jitter,
///   or given up once older than `give_up_after_secs`; the queue goes on;
/// - the server is unavailable (refused connection, TLS, AUTH, 421, no
///   answer) → back to `queued`, the attempt not counted, and the drain
///   stops: every other message would fail the same way.
pub async fn drain_outbox(
    store: &Store,
    mailer: &Mailer,
    sender: &Sender,
    policy: RetryPolicy,
    now: impl Fn() -> i64,
) -> Result<DeliveryReport, DeliveryError> {
    let mut report = DeliveryReport::default();
    let started = now();
    let swept = store
        .sweep(
            started,
            started - policy.briefing_expires_after_secs,
            started - policy.give_up_after_secs,
        )
        .await?;
    report.expired += swept.expired as usize;
    report.failed += swept.given_up as usize;
    report.interrupted = swept.interrupted as usize;
    if swept.interrupted > 0 {
        tracing::warn!(
            count = swept.interrupted,
            "messages were being sent when a worker stopped; they are sent again and may arrive twice"
        );
    }
    let lease_secs = mailer.deadline().as_secs() as i64 + LEASE_MARGIN_SECS;
    let mut connection_checked = false;
    while let Some(claimed) = store
        .claim_message(now(), now() + lease_secs, started)
        .await?
    {
        let outcome = async {
            if !connection_checked {
                mailer.check().await?;
                connection_checked = true;
            }
            let message = sender
                .message(&claimed.message)
                .map_err(SendError::Permanent)?;
            mailer.send(message).await
        }
        .await;
        let to = &claimed.message.recipient;
        let recorded = match &outcome {
            Ok(()) => {
                tracing::info!(%to, id = claimed.id, "mail sent");
                report.sent += 1;
                store.mark_sent(&claimed, now()).await?
            }
            Err(SendError::Permanent(e)) => {
                tracing::error!(%to, error = %e, "refused for good; the address is suppressed");
                report.failed += 1;
                store.mark_rejected(&claimed, e, now()).await?
            }
            Err(e @ SendError::Transient(_)) if too_old(&claimed, &policy, now()) => {
                let error = format!(
                    "gave up after {} h of deferrals: {e}",
                    policy.give_up_after_secs / 3600
                );
                tracing::error!(%to, %error, "mail not sent");
                report.failed += 1;
                store.mark_failed(&claimed, &error).await?
            }
            Err(e @ SendError::Transient(_)) => {
                let message = e.to_string();
                let delay = RetryPolicy::delay_secs(claimed.attempts, &mut rand::rng());
                tracing::warn!(%to, error = %message, attempt = claimed.attempts, delay, "mail deferred");
                report.deferred += 1;
                store.mark_retry(&claimed, &message, now() + delay).await?
            }
            Err(e @ SendError::Unavailable { .. }) => {
                store.release_after_outage(&claimed, &e.to_string()).await?
            }
        };
        if !recorded {
            tracing::warn!(%to, id = claimed.id, "lease lost: another worker took this message over; its outcome is theirs to record");
            report.lost_leases += 1;
        }
        if let Err(e @ SendError::Unavailable { .. }) = outcome {
            let pending = store.outbox_counts().await?.pending();
            return Err(DeliveryError::Unavailable {
                source: e,
                pending,
                report,
            });
        }
    }
    Ok(report)
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
