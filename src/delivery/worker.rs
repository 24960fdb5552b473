use lettre::message::Mailbox;

use super::{Mailer, SendError, build_message};
use crate::store::{Store, StoreError};

/// How long a claimed message stays ours before another worker may take it
/// over; longer than any SMTP timeout.
const LEASE_SECS: i64 = 600;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// After this many tries, a message the server defers (4xx) is given up.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// One minute after the first failure, doubling, at most six hours.
    fn delay_secs(attempts: i64) -> i64 {
        let exponent = (attempts - 1).clamp(0, 16) as u32;
        (60_i64 << exponent).min(6 * 3600)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
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
/// Each message is claimed (`sending`) before the SMTP transaction and marked
/// `sent` or `retry`/`failed` after it. The connection (TLS, AUTH) is checked
/// before the first message is sent. When the server is unavailable the drain
/// stops at once (every other message would fail the same way) and reports
/// how many remain queued. An unavailable server never makes a message give
/// up; only the server deferring that message (4xx) does, once the message
/// has been tried `max_attempts` times.
pub async fn drain_outbox(
    store: &Store,
    mailer: &Mailer,
    from: &Mailbox,
    policy: RetryPolicy,
    now: impl Fn() -> i64,
) -> Result<DeliveryReport, DeliveryError> {
    let mut report = DeliveryReport::default();
    let started = now();
    let mut connection_checked = false;
    while let Some(claimed) = store
        .claim_message(now(), now() + LEASE_SECS, started)
        .await?
    {
        let outcome = async {
            if !connection_checked {
                mailer.check().await?;
                connection_checked = true;
            }
            let message = build_message(from, &claimed.message).map_err(SendError::Permanent)?;
            mailer.send(message).await
        }
        .await;
        match outcome {
            Ok(()) => {
                store.mark_sent(claimed.id, now()).await?;
                tracing::info!(to = %claimed.message.recipient, id = claimed.id, "briefing sent");
                report.sent += 1;
            }
            Err(SendError::Permanent(e)) => {
                store.mark_failed(claimed.id, &e).await?;
                tracing::error!(to = %claimed.message.recipient, error = %e, "briefing rejected; not retried");
                report.failed += 1;
            }
            Err(e @ SendError::Transient(_))
                if claimed.attempts >= i64::from(policy.max_attempts) =>
            {
                let error = format!("gave up after {} attempts: {e}", claimed.attempts);
                store.mark_failed(claimed.id, &error).await?;
                tracing::error!(to = %claimed.message.recipient, %error, "briefing not sent");
                report.failed += 1;
            }
            Err(e) => {
                let message = e.to_string();
                let retry_at = now() + RetryPolicy::delay_secs(claimed.attempts);
                store.mark_retry(claimed.id, &message, retry_at).await?;
                tracing::warn!(to = %claimed.message.recipient, error = %message, attempt = claimed.attempts, "briefing deferred");
                report.deferred += 1;
                if matches!(e, SendError::Unavailable { .. }) {
                    let pending = store.outbox_counts().await?.pending();
                    return Err(DeliveryError::Unavailable {
                        source: e,
                        pending,
                        report,
                    });
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_from_a_minute_up_to_six_hours() {
        assert_eq!(RetryPolicy::delay_secs(1), 60);
        assert_eq!(RetryPolicy::delay_secs(2), 120);
        assert_eq!(RetryPolicy::delay_secs(30), 6 * 3600);
    }
}
