//! The bounce desk: one returned message in, its outcome stored.
//!
//! Trust comes from the return address, not from what the report says: a
//! report acts on a subscriber only when it was mailed to (or quotes) a
//! return address we signed for that subscriber and message
//! ([`crate::domain::BounceAddress`]). What the report says then decides
//! how: its status for the recipient we mailed. A report naming another
//! recipient than the one the message went to is someone replaying their
//! own return address against a stranger, and changes nothing. A 5.7.x
//! refusal (policy) and a feedback report that is not a reader's complaint
//! (a DMARC auth-failure report) are often about our own sender, so
//! neither stops a reader's mail at once.

use crate::domain::{BounceAddress, BounceOutcome, LinkKeys, ReturnIds, ReturnToken};
use crate::store::{BounceApplied, BounceRecord, SoftLimit, Store, StoreError};
use crate::telemetry::metrics;

use super::report::{self, Action, Report, ReportKind};

/// What the desk did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub outcome: BounceOutcome,
    pub applied: BounceApplied,
    /// One line for the operator: what the report said, what was done.
    pub summary: String,
}

/// Reads returned messages and applies the policy (`[bounces]`).
#[derive(Clone)]
pub struct BounceDesk {
    store: Store,
    address: BounceAddress,
    keys: LinkKeys,
    soft_limit: u32,
    soft_window_days: u32,
}

/// What a report comes to before it is stored.
struct Verdict {
    outcome: BounceOutcome,
    target: Option<ReturnIds>,
    status: Option<String>,
    detail: String,
}

impl BounceDesk {
    pub fn new(
        store: Store,
        address: BounceAddress,
        keys: LinkKeys,
        soft_limit: u32,
        soft_window_days: u32,
    ) -> Self {
        Self {
            store,
            address,
            keys,
            soft_limit,
            soft_window_days,
        }
    }

    /// Reads one message (`envelope_to`: the address it was delivered to,
    /// when the MTA says), records its outcome and applies it. Fails only
    /// when the outcome cannot be stored: the message must then be kept
    /// and offered again.
    pub async fn handle(
        &self,
        raw: &[u8],
        envelope_to: Option<&str>,
        now: i64,
    ) -> Result<Handled, StoreError> {
        let (verdict, report_id) = match report::read(raw) {
            Ok(report) => (self.judge(&report, envelope_to).await?, report.message_id),
            Err(e) => (
                Verdict {
                    outcome: BounceOutcome::Unreadable,
                    target: None,
                    status: None,
                    detail: e.to_string(),
                },
                None,
            ),
        };
        let record = BounceRecord {
            outcome: verdict.outcome,
            target: verdict.target,
            status: verdict.status,
            detail: verdict.detail,
            report_id,
        };
        let soft = SoftLimit {
            limit: self.soft_limit,
            days: self.soft_window_days,
            since: now - i64::from(self.soft_window_days) * 86_400,
        };
        let applied = self.store.record_bounce(&record, soft, now).await?;
        metrics::bounce_read(record.outcome.as_str());
        Ok(Handled {
            outcome: record.outcome,
            summary: summary(&record, &applied),
            applied,
        })
    }

    /// What the report means for the subscriber its return address names.
    async fn judge(
        &self,
        report: &Report,
        envelope_to: Option<&str>,
    ) -> Result<Verdict, StoreError> {
        let verdict = |outcome, target, status, detail: String| Verdict {
            outcome,
            target,
            status,
            detail,
        };
        let token: Option<ReturnToken> = envelope_to
            .into_iter()
            .chain(report.addresses.iter().map(String::as_str))
            .find_map(|a| self.address.token_in(a));
        let Some(token) = token else {
            let what = match report.kind {
                ReportKind::AutoReply => "an automatic reply",
                _ => "a report",
            };
            return Ok(verdict(
                BounceOutcome::Ignored,
                None,
                None,
                format!(
                    "{what} that names none of our return addresses ({}+…@…): not about a message we sent",
                    self.address
                ),
            ));
        };
        let ids = token.ids;
        let Some(target) = self.store.return_target(ids).await? else {
            return Ok(verdict(
                BounceOutcome::Ignored,
                None,
                None,
                format!(
                    "names message {} of subscriber {}, who is no longer here",
                    ids.message, ids.subscriber
                ),
            ));
        };
        if !token.verify(&self.keys, target.nonce) {
            return Ok(verdict(
                BounceOutcome::Forged,
                None,
                None,
                format!(
                    "its return address names message {} of subscriber {} but was not signed by us \
                     (forged, or signed before the link keys changed): nothing done",
                    ids.message, ids.subscriber
                ),
            ));
        }
        let mailed = target.recipient.as_deref().unwrap_or(&target.email);
        let ours = |address: &Option<String>| {
            address
                .as_deref()
                .is_none_or(|a| a.trim().eq_ignore_ascii_case(mailed))
        };
        match &report.kind {
            ReportKind::AutoReply => Ok(verdict(
                BounceOutcome::Ignored,
                Some(ids),
                None,
                "an automatic reply (out of office): not a bounce".into(),
            )),
            ReportKind::Complaint(complaint) => {
                if !ours(&complaint.original_recipient) {
                    return Ok(verdict(
                        BounceOutcome::Forged,
                        None,
                        None,
                        format!(
                            "a complaint about {} for a message that went to another address: nothing done",
                            complaint.original_recipient.as_deref().unwrap_or("?")
                        ),
                    ));
                }
                if !complaint.is_reader_complaint() {
                    tracing::warn!(feedback_type = %complaint.feedback_type, "a feedback report that is not a reader's complaint (auth-failure: check our SPF, DKIM and DMARC records)");
                    return Ok(verdict(
                        BounceOutcome::Ignored,
                        Some(ids),
                        None,
                        format!(
                            "a {} feedback report, not a reader's complaint: nothing done to the reader \
                             (an auth-failure report is about our SPF, DKIM or DMARC)",
                            complaint.feedback_type
                        ),
                    ));
                }
                let by = complaint
                    .user_agent
                    .as_deref()
                    .map(|ua| format!(", reported by {ua}"))
                    .unwrap_or_default();
                Ok(verdict(
                    BounceOutcome::Complaint,
                    Some(ids),
                    None,
                    format!("marked as spam ({} report{by})", complaint.feedback_type),
                ))
            }
            ReportKind::Delivery(recipients) => {
                let failures: Vec<_> = recipients
                    .iter()
                    .filter(|r| matches!(r.action, Action::Failed | Action::Delayed))
                    .collect();
                if failures.is_empty() {
                    return Ok(verdict(
                        BounceOutcome::Ignored,
                        Some(ids),
                        None,
                        "a delivery notice, not a failure".into(),
                    ));
                }
                let Some(failure) = failures.iter().find(|r| ours(&r.recipient)) else {
                    return Ok(verdict(
                        BounceOutcome::Forged,
                        None,
                        None,
                        format!(
                            "reports {} for a message that went to another address: nothing done",
                            failures
                                .iter()
                                .filter_map(|r| r.recipient.as_deref())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                };
                // 5.7.x is a policy refusal: as often about our sender (SPF,
                // DKIM, DMARC, reputation) as about the mailbox, so it is
                // counted like a soft bounce, never a dead address at once.
                let policy = failure
                    .status
                    .is_some_and(|s| s.is_permanent() && s.subject() == 7);
                let hard = failure.status.is_some_and(|s| s.is_permanent()) && !policy;
                let mut detail =
                    failure
                        .diagnostic
                        .clone()
                        .unwrap_or_else(|| match failure.action {
                            Action::Delayed => "delayed".into(),
                            _ => "failed".into(),
                        });
                if policy {
                    tracing::warn!(%detail, "a policy refusal (5.7.x): check our SPF, DKIM and DMARC and the sending reputation");
                    detail = format!(
                        "{detail} (a policy refusal, counted as soft: it may be about our sender)"
                    );
                }
                Ok(verdict(
                    if hard {
                        BounceOutcome::Hard
                    } else {
                        BounceOutcome::Soft
                    },
                    Some(ids),
                    failure.status.map(|s| s.to_string()),
                    detail,
                ))
            }
        }
    }
}

/// One line: what the report was, for whom, and what was done.
fn summary(record: &BounceRecord, applied: &BounceApplied) -> String {
    let about = record
        .target
        .map(|t| format!(" (message {}, subscriber {})", t.message, t.subscriber))
        .unwrap_or_default();
    match applied {
        BounceApplied::Suppressed { email, reason } => {
            format!(
                "{} bounce{about}: {email} suppressed, {reason}",
                record.outcome
            )
        }
        BounceApplied::Counted { email, count } => format!(
            "soft bounce{about}: {email}, {count} in the window, not suppressed yet ({} {})",
            record.status.as_deref().unwrap_or("no status"),
            record.detail
        ),
        BounceApplied::Unsubscribed { email, reason } => {
            format!("complaint{about}: {email} unsubscribed and suppressed, {reason}")
        }
        BounceApplied::Unchanged { email, status } => format!(
            "{} bounce{about}: {email} is {} already; recorded, nothing changed",
            record.outcome,
            status.as_str()
        ),
        BounceApplied::AlreadyRecorded => {
            format!("{}{about}: read before; nothing changed", record.outcome)
        }
        BounceApplied::Logged => format!("{}{about}: {}", record.outcome, record.detail),
    }
}
