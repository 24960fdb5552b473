//! One returned mail → what it says. Pure: bytes in, a [`Report`] out.
//!
//! Three kinds of mail reach a return address, and [`read`] tells them
//! apart in this order:
//!
//! 1. **Reports.** A complaint (RFC 5965 `message/feedback-report`, the
//!    "ARF" that mailbox providers' feedback loops send when a reader marks
//!    a message as spam) or a delivery status notification (RFC 3464
//!    `message/delivery-status`, one field group per recipient). Microsoft's
//!    junk-mail reports (JMRP) are complaints without ARF: just the reported
//!    message, naming its reader in `X-HmXmrOriginalRecipient`.
//! 2. **Non-standard bounces**, still common: qmail's "failure notice",
//!    Exim's "Mail delivery failed", Yahoo's, relays that lost the MIME
//!    structure on the way. Recognised by a mailer-daemon sender or a bounce
//!    subject; the failed recipients come from `X-Failed-Recipients` or from
//!    the error text, the status from the first enhanced code (`5.1.1`) or
//!    else SMTP reply code (`550`) near each recipient.
//! 3. **Automatic replies** (RFC 3834 `Auto-Submitted`, vacation and
//!    out-of-office subjects), checked last because mail servers mark their
//!    own bounces `Auto-Submitted: auto-replied` too.
//!
//! Anything else is a [`ReportError`] that says what the mail is, so that
//! whoever fetches it can keep it for an operator instead of losing it.
//!
//! Our own return address (a per-message VERP address) is the most reliable
//! link back to the message and subscriber, and it shows up in different
//! places depending on the server: [`Report::addresses`] collects every
//! candidate, most trusted first, and leaves checking them to the caller.
//! The recipient a report names is informative only: a forged report can
//! name anyone.
//!
//! Returned mail is written by hundreds of programs, many of them old and
//! sloppy, and anyone can send us mail: every input gives a report or an
//! error, never a panic, and the work is bounded (the message is read up to
//! [`MAX_MESSAGE_BYTES`], the texts searched up to a fixed length).

use std::fmt;

use mail_parser::{Header, Message, MessageParser, MimeHeaders, PartType};

/// The part of a message that is read; a bounce that returns a large
/// attachment is cut here. The reports come before the returned message,
/// so what is cut is the original, not the verdict.
pub const MAX_MESSAGE_BYTES: usize = 2 << 20;

/// How much of a notice text or a report part is searched.
const MAX_TEXT_BYTES: usize = 64 << 10;

/// How many recipients of one report are kept.
const MAX_RECIPIENTS: usize = 200;

/// How many candidate return addresses are kept.
const MAX_ADDRESSES: usize = 32;

/// A diagnostic is kept for an operator to read, not as an archive.
const MAX_DIAGNOSTIC_CHARS: usize = 300;

/// What a returned message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: ReportKind,
    /// Addresses where our per-message return address (VERP, e.g.
    /// `bounces+TOKEN@bounce.example.org`) may appear, most trusted first:
    /// the report's `Delivered-To`, `X-Original-To`, `Envelope-To` and `To`
    /// headers; the enclosed original message's `Return-Path` (from a
    /// `message/rfc822`, `message/rfc822-headers` or `text/rfc822-headers`
    /// part, or from the copy a plain-text bounce quotes); then the
    /// envelope sender the report itself names (`X-Postfix-Sender` of a
    /// DSN, `Original-Mail-From` of a feedback report, an
    /// `Original-Envelope-Id` that is an address). Bare addresses,
    /// deduplicated ignoring case, as written.
    pub addresses: Vec<String>,
    /// The report's own Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// The report's subject, decoded.
    pub subject: Option<String>,
    /// Who sent the report (its `From` address), for an operator reading
    /// logs; never a proof of anything.
    pub from: Option<String>,
}

/// The three things a returned message can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportKind {
    /// A delivery status report (RFC 3464) or a non-standard bounce, one
    /// entry per recipient. A bounce whose recipient cannot be found has one
    /// entry with no recipient: the return address still names the message.
    Delivery(Vec<RecipientOutcome>),
    /// An RFC 5965 feedback report (a reader marked the mail as spam), or
    /// Microsoft's non-ARF equivalent.
    Complaint(Complaint),
    /// An out-of-office or other automatic reply (RFC 3834): not a bounce,
    /// ignore.
    AutoReply,
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientOutcome {
    /// The `Final-Recipient` (else `Original-Recipient`) address, `rfc822;`
    /// stripped; for a plain-text bounce the address the error names.
    pub recipient: Option<String>,
    /// The `Original-Recipient`: the address as we sent it, when the
    /// server rewrote it (an alias, a forward) into `recipient`.
    pub original_recipient: Option<String>,
    pub action: Action,
    pub status: Option<Status>,
    /// `Diagnostic-Code` without its type (`smtp;`), unfolded, trimmed, at
    /// most 300 characters; for a plain-text bounce the error text about
    /// this recipient.
    pub diagnostic: Option<String>,
    /// The server that refused (`Remote-MTA`, without `dns;`).
    pub remote_mta: Option<String>,
}

/// RFC 3464 `Action`: what the reporting server did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Gave up: the message will not be delivered.
    Failed,
    /// Still trying: a warning, the message may yet arrive.
    Delayed,
    Delivered,
    /// Passed on to a server that sends no reports.
    Relayed,
    /// Delivered to a list or alias, which passed it on.
    Expanded,
}

impl Action {
    /// Reads an `Action` value, ignoring case and anything after the first
    /// word. Also takes the non-standard words real servers write
    /// (`expired`, `deliverable`).
    pub fn parse(value: &str) -> Option<Self> {
        let word = value
            .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
            .find(|w| !w.is_empty())?
            .to_ascii_lowercase();
        match word.as_str() {
            "failed" | "failure" | "expired" | "undeliverable" => Some(Self::Failed),
            "delayed" | "delay" => Some(Self::Delayed),
            "delivered" | "deliverable" => Some(Self::Delivered),
            "relayed" => Some(Self::Relayed),
            "expanded" => Some(Self::Expanded),
            _ => None,
        }
    }

    /// The RFC 3464 word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Delayed => "delayed",
            Self::Delivered => "delivered",
            Self::Relayed => "relayed",
            Self::Expanded => "expanded",
        }
    }

    /// What a status code implies when a report forgot the `Action`.
    fn implied_by(status: Status) -> Self {
        match status.class() {
            2 => Self::Delivered,
            4 => Self::Delayed,
            _ => Self::Failed,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An enhanced status code (RFC 3463) like `5.1.1`: class 2 (success),
/// 4 (transient failure) or 5 (permanent failure), then a subject and a
/// detail of one to three digits each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status {
    class: u8,
    subject: u16,
    detail: u16,
}

impl Status {
    /// A status from its three numbers; `None` unless the class is 2, 4 or
    /// 5 and the others are at most 999.
    pub fn new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        (matches!(class, 2 | 4 | 5) && subject <= 999 && detail <= 999).then_some(Self {
            class,
            subject,
            detail,
        })
    }

    /// Reads exactly `class.subject.detail` (`5.1.1`, `5.4.312`).
    pub fn parse(text: &str) -> Option<Self> {
        let mut numbers = text.split('.');
        let mut next = |max_digits: usize| -> Option<u16> {
            let digits = numbers.next()?;
            let ok = (1..=max_digits).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| digits.parse().ok()).flatten()
        };
        let (class, subject, detail) = (next(1)?, next(3)?, next(3)?);
        if numbers.next().is_some() {
            return None;
        }
        Self::new(u8::try_from(class).ok()?, subject, detail)
    }

    /// The generic code of an SMTP reply class: 550 → 5.0.0, 421 → 4.0.0.
    fn of_smtp_reply(code: u16) -> Option<Self> {
        match code / 100 {
            5 => Self::new(5, 0, 0),
            4 => Self::new(4, 0, 0),
            _ => None,
        }
    }

    pub fn class(self) -> u8 {
        self.class
    }

    pub fn subject(self) -> u16 {
        self.subject
    }

    pub fn detail(self) -> u16 {
        self.detail
    }

    /// Class 5: retrying will not help (no such mailbox, refused).
    pub fn is_permanent(self) -> bool {
        self.class == 5
    }

    /// Class 4: may work later (mailbox full, greylisted, server down).
    pub fn is_transient(self) -> bool {
        self.class == 4
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A reader's (or a provider's) report about a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// `Feedback-Type`, lower-cased: `abuse` (marked as spam), `fraud`,
    /// `virus`, `other`, `not-spam`, `auth-failure` (RFC 6591, a DMARC
    /// failure report about our domain) and so on. `unknown` when the
    /// report leaves it out; `abuse` for Microsoft's JMRP reports, which
    /// are all "this is junk".
    pub feedback_type: String,
    /// `Original-Rcpt-To`, else the enclosed message's `To`. Some loops
    /// hash or redact it.
    pub original_recipient: Option<String>,
    pub user_agent: Option<String>,
    pub reported_domain: Option<String>,
}

impl Complaint {
    /// Whether a reader told their provider they do not want this mail.
    /// False for a DMARC/SPF/DKIM failure report (`auth-failure`, about our
    /// DNS, not about a reader) and for `not-spam` (the opposite).
    pub fn is_reader_complaint(&self) -> bool {
        !matches!(self.feedback_type.as_str(), "auth-failure" | "not-spam")
    }
}

/// Why a message was not read into a report. Each says what happened to
/// the message and what to check.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error(
        "this is not a mail message ({detail}); it was kept in the mailbox. Whatever hands \
         mail to `academichub bounce` or the bounce poller must pass one whole message \
         (headers, a blank line, the body), not an mbox file or a partial download"
    )]
    NotMail { detail: &'static str },
    #[error(
        "the mail from {from} with subject {subject:?} is neither a bounce, a complaint nor an \
         automatic reply; it was kept in the mailbox for an operator to read. If it is a bounce \
         in a shape we do not know, save it under tests/fixtures/bounces/ and report it"
    )]
    Unrecognised { from: String, subject: String },
    #[error(
        "the feedback report from {from} (report-type=feedback-report) has no \
         message/feedback-report part naming the feedback type and the reader; it was kept in \
         the mailbox: read it, and unsubscribe the reader by hand if a reader complained"
    )]
    IncompleteComplaint { from: String },
}

/// Reads one returned mail.
pub fn read(raw: &[u8]) -> Result<Report, ReportError> {
    let raw = without_mbox_line(&raw[..raw.len().min(MAX_MESSAGE_BYTES)]);
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ReportError::NotMail {
            detail: "it is empty",
        });
    }
    let message = mime(raw, false)
        .map_err(|()| ReportError::NotMail {
            detail: "its MIME structure is too broken to read",
        })?
        .ok_or(ReportError::NotMail {
            detail: "no mail headers were found",
        })?;
    let mail = Mail::new(&message);
    if !mail.has_mail_headers() {
        return Err(ReportError::NotMail {
            detail: "it has none of the usual headers: From, To, Subject, Date, Received…",
        });
    }

    let (kind, forwarded) = mail.kind()?;
    let mut addresses = Addresses::default();
    mail.collect_addresses(&mut addresses);
    if let Some(forwarded) = forwarded {
        forwarded.collect_addresses(&mut addresses);
    }

    Ok(Report {
        kind,
        addresses: addresses.0,
        message_id: message.message_id().map(str::to_owned),
        subject: message.subject().map(|s| s.trim().to_owned()),
        from: mail.sender_address(),
    })
}

/// The MIME parser on `raw` (only its headers if `headers_only`): `None`
/// when it finds no message, `Err` when it gave up.
///
/// mail-parser 0.11 checks some states of its parser with `debug_assert!`
/// that malformed MIME reaches (the fuzzer found one in a few seconds; the
/// input is kept in `fuzz/regressions/bounce_report/`). Release builds skip
/// the checks and the parser recovers; builds with debug assertions (`cargo
/// test`, the fuzzer) panic. The panic is contained here, for that one call,
/// so a broken mail is an error in every build.
fn mime(raw: &[u8], headers_only: bool) -> Result<Option<Message<'_>>, ()> {
    let parser = MessageParser::default();
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if headers_only {
            parser.parse_headers(raw)
        } else {
            parser.parse(raw)
        }
    }))
    .map_err(|_| ())?;
    Ok(parsed.filter(|m| !m.parts.is_empty()))
}

/// An mbox file's `From sender date` separator line is not a header; mail
/// saved from a Unix mailbox starts with one.
fn without_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(end) => &raw[end + 1..],
            None => &[],
        }
    } else {
        raw
    }
}

/// The parsed report and the questions asked of it.
struct Mail<'m, 'x> {
    message: &'m Message<'x>,
}

impl<'m, 'x> Mail<'m, 'x> {
    fn new(message: &'m Message<'x>) -> Self {
        Self { message }
    }

    /// The unfolded values of one header of the report, in order.
    fn headers(&self, name: &str) -> Vec<String> {
        root_headers(self.message, name)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    fn has_mail_headers(&self) -> bool {
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Received",
            "Content-Type",
            "Return-Path",
            "Delivered-To",
        ]
        .iter()
        .any(|name| self.header(name).is_some())
    }

    fn sender_address(&self) -> Option<String> {
        addresses_in(&self.header("From")?).into_iter().next()
    }

    fn subject_lower(&self) -> String {
        self.message
            .subject()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    /// The parts of the report itself (not of the messages it encloses).
    fn parts(&self) -> impl Iterator<Item = &'m mail_parser::MessagePart<'x>> + 'm {
        self.message.parts.iter()
    }

    /// The parts of the report with one of these content types, the top
    /// one included (a DSN can be a lone `message/delivery-status`).
    fn parts_of_type(
        &self,
        types: &'static [(&'static str, &'static str)],
    ) -> impl Iterator<Item = &'m mail_parser::MessagePart<'x>> + 'm {
        self.parts().filter(move |part| is_type(part, types))
    }

    fn report_type(&self) -> Option<String> {
        let ct = self.message.content_type()?;
        let is_report = ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"));
        is_report.then(|| {
            ct.attribute("report-type")
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
    }

    /// What the mail is, and the forwarded report it encloses if that is
    /// where the verdict came from.
    fn kind(&self) -> Result<(ReportKind, Option<Mail<'m, 'x>>), ReportError> {
        if let Some(kind) = self.standard_report() {
            return kind.map(|kind| (kind, None));
        }
        // A gateway that forwards the report it received, as message/rfc822.
        for part in self.parts().skip(1) {
            if let PartType::Message(inner) = &part.body {
                let inner = Mail::new(inner);
                if let Some(Ok(kind)) = inner.standard_report() {
                    return Ok((kind, Some(inner)));
                }
            }
        }
        if let Some(complaint) = self.microsoft_junk_report() {
            return Ok((ReportKind::Complaint(complaint), None));
        }
        // A delivery-status part without a recipient's fields.
        let formal = self.parts_of_type(DELIVERY_STATUS_TYPES).next().is_some();
        if (formal
            || self.report_type().as_deref() == Some("delivery-status")
            || self.looks_like_bounce())
            && let Some(outcomes) = self.plain_text_bounce(formal)
        {
            return Ok((ReportKind::Delivery(outcomes), None));
        }
        if self.is_auto_reply() {
            return Ok((ReportKind::AutoReply, None));
        }
        Err(ReportError::Unrecognised {
            from: self.sender_for_humans(),
            subject: self.message.subject().unwrap_or_default().trim().to_owned(),
        })
    }

    /// A feedback report or a delivery status report, by its MIME parts.
    fn standard_report(&self) -> Option<Result<ReportKind, ReportError>> {
        if let Some(part) = self.parts_of_type(FEEDBACK_TYPES).next() {
            return Some(Ok(ReportKind::Complaint(self.complaint(&part_text(part)))));
        }
        if self.report_type().as_deref() == Some("feedback-report") {
            return Some(Err(ReportError::IncompleteComplaint {
                from: self.sender_for_humans(),
            }));
        }
        let outcomes: Vec<RecipientOutcome> = self
            .parts_of_type(DELIVERY_STATUS_TYPES)
            .flat_map(|part| delivery_status(&part_text(part)).1)
            .take(MAX_RECIPIENTS)
            .collect();
        (!outcomes.is_empty()).then_some(Ok(ReportKind::Delivery(outcomes)))
    }

    /// Where our return address may appear, most trusted first (see
    /// [`Report::addresses`]).
    fn collect_addresses(&self, addresses: &mut Addresses) {
        for name in ["Delivered-To", "X-Original-To", "Envelope-To", "To"] {
            for value in self.headers(name) {
                addresses.extend(addresses_in(&value));
            }
        }
        addresses.extend(self.enclosed_return_paths());
        addresses.extend(self.reported_senders());
    }

    fn sender_for_humans(&self) -> String {
        self.sender_address()
            .or_else(|| self.header("From"))
            .unwrap_or_else(|| "an unknown sender".to_owned())
    }

    fn complaint(&self, fields_text: &str) -> Complaint {
        let fields = Fields::merged(fields_text);
        let original_recipient = fields
            .get("original-rcpt-to")
            .and_then(|v| addresses_in(v).into_iter().next())
            .or_else(|| {
                self.enclosed_headers("To")
                    .iter()
                    .find_map(|v| addresses_in(v).into_iter().next())
            });
        Complaint {
            feedback_type: fields
                .get("feedback-type")
                .and_then(first_word)
                .map(|w| w.to_ascii_lowercase())
                .unwrap_or_else(|| "unknown".to_owned()),
            original_recipient,
            user_agent: fields.get("user-agent").map(str::to_owned),
            reported_domain: fields.get("reported-domain").and_then(first_word),
        }
    }

    /// Outlook.com's Junk Mail Reporting Program forwards the reported
    /// message as a `message/rfc822` part with the reader's address in
    /// `X-HmXmrOriginalRecipient`, without an ARF part.
    fn microsoft_junk_report(&self) -> Option<Complaint> {
        let reader = self.enclosed_headers("X-HmXmrOriginalRecipient");
        let reader = reader.first()?;
        Some(Complaint {
            feedback_type: "abuse".to_owned(),
            original_recipient: addresses_in(reader).into_iter().next(),
            user_agent: None,
            reported_domain: None,
        })
    }

    /// A header of each enclosed original message (a `message/rfc822` part
    /// or a headers-only part), in order.
    fn enclosed_headers(&self, name: &str) -> Vec<String> {
        let mut values = Vec::new();
        for part in self.parts().skip(1) {
            if let PartType::Message(inner) = &part.body {
                values.extend(root_headers(inner, name));
            } else if is_type(part, HEADERS_TYPES) || is_broken_message_part(part) {
                let text = part.contents();
                if let Ok(Some(inner)) = mime(&text[..text.len().min(MAX_TEXT_BYTES)], true) {
                    values.extend(root_headers(&inner, name));
                }
            }
        }
        values
    }

    /// The `Return-Path` of the message we sent, as the report encloses or
    /// quotes it.
    fn enclosed_return_paths(&self) -> Vec<String> {
        let enclosed: Vec<String> = self
            .enclosed_headers("Return-Path")
            .iter()
            .flat_map(|v| addresses_in(v))
            .collect();
        if !enclosed.is_empty() {
            return enclosed;
        }
        let notice = self.notice_text();
        let (_, copy) = split_at_copy(&notice);
        copy.lines()
            .filter_map(|line| strip_field(line, "return-path"))
            .flat_map(addresses_in)
            .collect()
    }

    /// The envelope sender a DSN or a feedback report names.
    fn reported_senders(&self) -> Vec<String> {
        let mut found = Vec::new();
        for part in self.parts_of_type(DELIVERY_STATUS_TYPES) {
            let (per_message, _) = delivery_status(&part_text(part));
            for name in ["x-postfix-sender", "original-envelope-id"] {
                if let Some(value) = per_message.get(name) {
                    found.extend(addresses_in(value));
                }
            }
        }
        for part in self.parts_of_type(FEEDBACK_TYPES) {
            if let Some(value) = Fields::merged(&part_text(part)).get("original-mail-from") {
                found.extend(addresses_in(value));
            }
        }
        if found.is_empty() {
            // A DSN that lost its MIME structure carries the fields in its text.
            let notice = self.notice_text();
            let (per_message, _) = delivery_status(split_at_copy(&notice).0);
            if let Some(value) = per_message.get("x-postfix-sender") {
                found.extend(addresses_in(value));
            }
        }
        found
    }

    /// A mailer daemon's sender or a bounce's subject.
    fn looks_like_bounce(&self) -> bool {
        let from = self.header("From").unwrap_or_default().to_ascii_lowercase();
        // Also `MAILER-DAEMON <>` and a bare `mailer-daemon`, not addresses.
        let from_daemon = DAEMON_LOCAL_PARTS
            .iter()
            .chain(DAEMON_NAMES)
            .any(|name| from.contains(name));
        let subject = self.subject_lower();
        from_daemon || BOUNCE_SUBJECTS.iter().any(|s| subject.contains(s))
    }

    /// The texts a person would read, up to [`MAX_TEXT_BYTES`].
    fn notice_text(&self) -> String {
        let mut text = String::new();
        for pos in 0..self.message.text_body.len().min(4) {
            if let Some(body) = self.message.body_text(pos) {
                text.push_str(&body);
                text.push('\n');
            }
            if text.len() >= MAX_TEXT_BYTES {
                break;
            }
        }
        if text.trim().is_empty() {
            // A report whose MIME boundaries were lost: its body as written.
            if let Some(root) = self.message.parts.first() {
                let raw = self.message.raw_message.as_ref();
                let start = (root.offset_body as usize).min(raw.len());
                let end = if root.offset_end as usize > start {
                    (root.offset_end as usize).min(raw.len())
                } else {
                    raw.len()
                };
                let body = &raw[start..end];
                text =
                    String::from_utf8_lossy(&body[..body.len().min(MAX_TEXT_BYTES)]).into_owned();
            }
        }
        truncate_at_char(&mut text, MAX_TEXT_BYTES);
        text
    }

    /// A bounce without a delivery-status part: fields in the text if a
    /// relay stripped the MIME headers, else recipients and codes from the
    /// error text. `None` when nothing in it looks like a delivery error,
    /// unless the mail has a `formal` delivery-status part that names no
    /// recipient (Postfix writes "Delivery report unavailable" in some):
    /// then one outcome without recipient or status.
    fn plain_text_bounce(&self, formal: bool) -> Option<Vec<RecipientOutcome>> {
        let notice = self.notice_text();
        let (error_text, _) = split_at_copy(&notice);
        let (_, from_fields) = delivery_status(&notice);
        if !from_fields.is_empty() {
            return Some(from_fields);
        }

        let action = if says_delayed(&self.subject_lower(), error_text) {
            Action::Delayed
        } else {
            Action::Failed
        };
        let overall = status_in_text(error_text)
            .or_else(|| smtp_reply_in_text(error_text).and_then(Status::of_smtp_reply));

        let failed_header: Vec<String> = self
            .headers("X-Failed-Recipients")
            .iter()
            .flat_map(|v| addresses_in(v))
            .collect();
        let recipients = if failed_header.is_empty() {
            self.recipients_in_error(error_text)
        } else {
            failed_header
        };
        if recipients.is_empty() && overall.is_none() && !formal {
            return None;
        }
        if recipients.is_empty() {
            return Some(vec![RecipientOutcome {
                recipient: None,
                original_recipient: None,
                action,
                status: overall,
                diagnostic: None,
                remote_mta: None,
            }]);
        }

        let lower = error_text.to_ascii_lowercase();
        let starts: Vec<Option<usize>> = recipients
            .iter()
            .map(|r| lower.find(&r.to_ascii_lowercase()))
            .collect();
        let outcomes = recipients
            .iter()
            .zip(&starts)
            .take(MAX_RECIPIENTS)
            .map(|(recipient, start)| {
                let about = start.map(|start| {
                    let end = starts
                        .iter()
                        .flatten()
                        .copied()
                        .filter(|&other| other > start)
                        .min()
                        .unwrap_or(error_text.len());
                    let after_line = error_text[start..end]
                        .find('\n')
                        .map_or(end, |nl| start + nl + 1);
                    &error_text[after_line.min(end)..end]
                });
                let about = first_paragraph(about.unwrap_or_default());
                let status = status_in_text(about)
                    .or_else(|| smtp_reply_in_text(about).and_then(Status::of_smtp_reply))
                    .or(overall);
                RecipientOutcome {
                    recipient: Some(recipient.clone()),
                    original_recipient: None,
                    action,
                    status,
                    diagnostic: diagnostic(about),
                    remote_mta: None,
                }
            })
            .collect();
        Some(outcomes)
    }

    /// The addresses an error text blames: lines that are an address
    /// (qmail's `<user@host>:`, Exim's indented address), else the first
    /// address in the text that is not ours or the daemon's.
    fn recipients_in_error(&self, error_text: &str) -> Vec<String> {
        let mut on_own_line = Addresses::default();
        for line in error_text.lines() {
            let line = line.trim().trim_end_matches(':').trim();
            let bare = line.trim_start_matches('<').trim_end_matches('>');
            if !bare.is_empty() && !bare.contains(char::is_whitespace) {
                let found = addresses_in(bare);
                if found.len() == 1 && found[0].len() == bare.len() {
                    on_own_line.extend(found);
                }
            }
            if on_own_line.0.len() >= MAX_ADDRESSES {
                break;
            }
        }
        if !on_own_line.0.is_empty() {
            return on_own_line.0;
        }
        let mut ours: Vec<String> = Vec::new();
        for name in [
            "From",
            "To",
            "Delivered-To",
            "X-Original-To",
            "Envelope-To",
            "Return-Path",
        ] {
            for value in self.headers(name) {
                ours.extend(
                    addresses_in(&value)
                        .into_iter()
                        .map(|a| a.to_ascii_lowercase()),
                );
            }
        }
        addresses_in(error_text)
            .into_iter()
            .find(|a| {
                let lower = a.to_ascii_lowercase();
                let local = lower.split('@').next().unwrap_or_default();
                !ours.contains(&lower) && !DAEMON_LOCAL_PARTS.contains(&local)
            })
            .into_iter()
            .collect()
    }

    fn is_auto_reply(&self) -> bool {
        let auto_submitted = self
            .header("Auto-Submitted")
            .and_then(|v| first_word(&v))
            .is_some_and(|v| !v.eq_ignore_ascii_case("no"));
        let precedence = self
            .header("Precedence")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("auto_reply"));
        let flagged = ["X-Autoreply", "X-Autorespond"]
            .iter()
            .any(|name| self.header(name).is_some());
        let subject = self.subject_lower();
        let subject = subject.trim();
        auto_submitted
            || precedence
            || flagged
            || AUTO_REPLY_SUBJECT_STARTS
                .iter()
                .any(|s| subject.starts_with(s))
            || AUTO_REPLY_SUBJECTS.iter().any(|s| subject.contains(s))
    }
}

const FEEDBACK_TYPES: &[(&str, &str)] = &[("message", "feedback-report")];

const DELIVERY_STATUS_TYPES: &[(&str, &str)] = &[
    ("message", "delivery-status"),
    ("message", "global-delivery-status"),
];

const HEADERS_TYPES: &[(&str, &str)] = &[
    ("message", "rfc822-headers"),
    ("text", "rfc822-headers"),
    ("message", "global-headers"),
];

/// Local parts (lower-case) of the addresses bounces come from.
const DAEMON_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "mailer_daemon",
    "mailerdaemon",
    "mail-daemon",
    "postmaster",
];

/// Display names of the same.
const DAEMON_NAMES: &[&str] = &["mail delivery system", "mail delivery subsystem"];

/// Subjects (lower-case, contained) of bounces.
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliverable",
    "undelivered",
    "delivery status notification",
    "failure notice",
    "mail delivery failed",
    "returned mail",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "non-delivery",
    "nondelivery",
    "could not be delivered",
    "mail failure",
    "delayed mail",
    "delivery delayed",
    "returned to sender",
];

/// Subjects (lower-case) of automatic replies: how they start…
const AUTO_REPLY_SUBJECT_STARTS: &[&str] = &["auto:", "vacation", "away from", "on vacation"];
/// …and what they contain.
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "autoresponse",
];

/// Words of a warning that the server is still trying.
const DELAY_WORDS: &[&str] = &[
    "delayed",
    "will retry",
    "will be retried",
    "still being retried",
    "still trying",
    "not yet been delivered",
    "delivery attempts will continue",
];

/// Words that make a delay final.
const GAVE_UP_WORDS: &[&str] = &["permanent", "given up", "giving up", "gave up"];

fn says_delayed(subject: &str, error_text: &str) -> bool {
    let text = error_text.to_ascii_lowercase();
    let delayed = subject.contains("delay")
        || subject.starts_with("warning")
        || DELAY_WORDS.iter().any(|w| text.contains(w));
    delayed && !GAVE_UP_WORDS.iter().any(|w| text.contains(w))
}

/// The text up to the first blank line after some words: the error about
/// one recipient, not the advice that follows it.
fn first_paragraph(text: &str) -> &str {
    let mut offset = 0;
    let mut seen_words = false;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            if seen_words {
                return &text[..offset];
            }
        } else {
            seen_words = true;
        }
        offset += line.len();
    }
    text
}

/// Is the part's content type one of these (`type`, `subtype`)?
fn is_type(part: &mail_parser::MessagePart<'_>, types: &[(&str, &str)]) -> bool {
    part.content_type().is_some_and(|ct| {
        types.iter().any(|(t, s)| {
            ct.ctype().eq_ignore_ascii_case(t)
                && ct.subtype().is_some_and(|sub| sub.eq_ignore_ascii_case(s))
        })
    })
}

/// A `message/rfc822` part the MIME parser could not read as a message
/// (cut short, badly encoded) and kept as text.
fn is_broken_message_part(part: &mail_parser::MessagePart<'_>) -> bool {
    !matches!(part.body, PartType::Message(_) | PartType::Multipart(_))
        && is_type(part, &[("message", "rfc822"), ("message", "global")])
}

/// A part's body as text, up to [`MAX_TEXT_BYTES`].
fn part_text(part: &mail_parser::MessagePart<'_>) -> String {
    let bytes = part.contents();
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_TEXT_BYTES)]).into_owned()
}

/// The unfolded values of a header of a (possibly enclosed) message's top
/// part, read from the raw bytes so that every header reads the same way.
fn root_headers(message: &Message<'_>, name: &str) -> Vec<String> {
    let Some(root) = message.parts.first() else {
        return Vec::new();
    };
    raw_values(&root.headers, message.raw_message.as_ref(), name)
}

fn raw_values(headers: &[Header<'_>], raw: &[u8], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .filter_map(|h| raw.get(h.offset_start as usize..h.offset_end as usize))
        .map(|bytes| unfold(&String::from_utf8_lossy(bytes)))
        .collect()
}

/// Folded lines joined, runs of white space made one space, trimmed.
fn unfold(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn first_word(value: &str) -> Option<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ';')
        .find(|w| !w.is_empty())
        .map(str::to_owned)
}

/// `Return-Path: <x@y>` → `<x@y>`, for the given lower-case field name.
fn strip_field<'t>(line: &'t str, name: &str) -> Option<&'t str> {
    let (field, value) = line.split_once(':')?;
    field.trim().eq_ignore_ascii_case(name).then_some(value)
}

/// The notice a person reads, and the copy of the original that follows
/// it in a plain-text bounce (empty if none).
fn split_at_copy(text: &str) -> (&str, &str) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let lower = line.trim().to_ascii_lowercase();
        let starts_copy = COPY_MARKERS.iter().any(|m| lower.contains(m))
            || lower.starts_with("return-path:")
            || lower.starts_with("received:");
        if starts_copy {
            return (&text[..offset], &text[offset..]);
        }
        offset += line.len();
    }
    (text, "")
}

/// Lines (lower-case, contained) that announce the returned message.
const COPY_MARKERS: &[&str] = &[
    "copy of the message",
    "copy of your message",
    "original message follows",
    "original message headers",
    "message headers follow",
    "----- original message",
    "undelivered message follows",
];

/// RFC 3464 field groups: `Name: value` lines, folded lines continued by
/// white space, groups separated by blank lines.
#[derive(Debug, Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The value of the first field with this lower-case name.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn groups(text: &str) -> Vec<Fields> {
        let mut groups = Vec::new();
        let mut current = Fields::default();
        for line in text.lines() {
            if line.trim().is_empty() {
                if !current.0.is_empty() {
                    groups.push(std::mem::take(&mut current));
                }
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = current.0.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                continue;
            }
            current
                .0
                .push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        if !current.0.is_empty() {
            groups.push(current);
        }
        for group in &mut groups {
            for (_, value) in &mut group.0 {
                *value = unfold(value);
            }
        }
        groups
    }

    /// All groups as one (a feedback report is one group, but some
    /// senders put blank lines in it).
    fn merged(text: &str) -> Fields {
        Fields(Fields::groups(text).into_iter().flat_map(|g| g.0).collect())
    }

    fn names_recipient(&self) -> bool {
        self.get("final-recipient").is_some() || self.get("original-recipient").is_some()
    }
}

/// A delivery-status body: the per-message fields and one outcome per
/// recipient group. A group counts as a recipient's when it names a
/// recipient and says what happened (Action or Status), so prose with
/// colons in a plain-text notice is not mistaken for one.
fn delivery_status(text: &str) -> (Fields, Vec<RecipientOutcome>) {
    let groups = Fields::groups(text);
    let mut per_message = Fields::default();
    let mut outcomes = Vec::new();
    for (index, group) in groups.iter().enumerate() {
        let is_recipient = group.names_recipient()
            && (group.get("action").is_some() || group.get("status").is_some());
        if is_recipient {
            if outcomes.len() < MAX_RECIPIENTS {
                outcomes.push(recipient_outcome(group));
            }
        } else if per_message.0.is_empty() && (index == 0 || group.get("reporting-mta").is_some()) {
            per_message = Fields(group.0.clone());
        }
    }
    // A per-message group that runs straight into the first recipient's.
    if per_message.0.is_empty()
        && let Some(first) = groups.first()
    {
        per_message = Fields(first.0.clone());
    }
    (per_message, outcomes)
}

fn recipient_outcome(group: &Fields) -> RecipientOutcome {
    let address = |name: &str| {
        group
            .get(name)
            .map(without_type)
            .and_then(|v| addresses_in(v).into_iter().next().or_else(|| non_empty(v)))
    };
    let final_recipient = address("final-recipient");
    let original_recipient = address("original-recipient");
    let diagnostic_code = group.get("diagnostic-code").map(without_type);
    let status = group
        .get("status")
        .and_then(first_word)
        .and_then(|w| Status::parse(&w))
        .or_else(|| diagnostic_code.and_then(status_in_text))
        .or_else(|| {
            diagnostic_code
                .and_then(smtp_reply_in_text)
                .and_then(Status::of_smtp_reply)
        });
    let action = group
        .get("action")
        .and_then(Action::parse)
        .or_else(|| status.map(Action::implied_by))
        .unwrap_or(Action::Failed);
    RecipientOutcome {
        recipient: final_recipient
            .clone()
            .or_else(|| original_recipient.clone()),
        original_recipient,
        action,
        status,
        diagnostic: diagnostic_code.and_then(diagnostic),
        remote_mta: group
            .get("remote-mta")
            .map(without_type)
            .and_then(first_word)
            .map(|host| host.trim_end_matches('.').to_owned())
            .filter(|host| !host.is_empty()),
    }
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim().trim_start_matches('<').trim_end_matches('>');
    (!value.is_empty()).then(|| value.to_owned())
}

/// `rfc822; x@y` → `x@y`, `smtp; 550 …` → `550 …`: drops a leading type
/// (a short word without spaces before the first `;`).
fn without_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest))
            if !kind.trim().is_empty()
                && kind.trim().len() <= 20
                && !kind.trim().contains(char::is_whitespace) =>
        {
            rest.trim()
        }
        _ => value.trim(),
    }
}

/// Text about a failure made one trimmed line of at most
/// [`MAX_DIAGNOSTIC_CHARS`] characters.
fn diagnostic(text: &str) -> Option<String> {
    let line = unfold(text);
    if line.is_empty() {
        return None;
    }
    if line.chars().count() <= MAX_DIAGNOSTIC_CHARS {
        return Some(line);
    }
    let mut cut: String = line.chars().take(MAX_DIAGNOSTIC_CHARS - 1).collect();
    cut.push('…');
    Some(cut)
}

/// The first enhanced status code of class 4 or 5 in a text, standing on
/// its own: `550 5.1.1 …`, `(#5.1.1)`, `550-5.1.1`, but not the `0.2.25`
/// of an IP address or a version number.
fn status_in_text(text: &str) -> Option<Status> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|b| matches!(b, b'4' | b'5')) {
        let start = at + offset;
        at = start + 1;
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.') {
            continue;
        }
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        // A trailing full stop ends the sentence, not the code.
        let mut candidate = &text[start..end];
        while let Some(shorter) = candidate.strip_suffix('.') {
            candidate = shorter;
        }
        let after = bytes.get(start + candidate.len());
        if after.is_some_and(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        if let Some(status) = Status::parse(candidate) {
            return Some(status);
        }
    }
    None
}

/// The first SMTP reply code (4xx or 5xx) in a text: three digits after a
/// space, a colon or the start, followed by a space, `-` or the end.
fn smtp_reply_in_text(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(2)).find_map(|i| {
        let code = &bytes[i..i + 3];
        let starts_well = i == 0
            || matches!(
                bytes[i - 1],
                b' ' | b'\t' | b'\n' | b'\r' | b':' | b';' | b'(' | b'#' | b'"' | b'\''
            );
        let ends_well = bytes
            .get(i + 3)
            .is_none_or(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'-' | b')'));
        (starts_well
            && ends_well
            && matches!(code[0], b'4' | b'5')
            && code[1..].iter().all(u8::is_ascii_digit))
        .then(|| {
            u16::from(code[0] - b'0') * 100
                + u16::from(code[1] - b'0') * 10
                + u16::from(code[2] - b'0')
        })
    })
}

/// Bare addresses in a header value or a text, in order: those in angle
/// brackets if there are any (so a display name that looks like an address
/// is not taken), else every `local@domain` word.
fn addresses_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices('@') {
        let mut start = at;
        while start > 0 && is_local_char(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < bytes.len() && is_domain_char(bytes[end]) {
            end += 1;
        }
        let local = text[start..at].trim_start_matches('.');
        let domain = text[at + 1..end].trim_end_matches(['.', '-']);
        if local.is_empty() || domain.is_empty() || !domain.bytes().any(|b| b.is_ascii_alphabetic())
        {
            continue;
        }
        let in_brackets = text[..at - local.len()].ends_with('<')
            && text[at + 1 + domain.len()..].starts_with('>');
        found.push((format!("{local}@{domain}"), in_brackets));
        if found.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    let bracketed = found.iter().any(|(_, b)| *b);
    found
        .into_iter()
        .filter(|(_, b)| *b || !bracketed)
        .map(|(a, _)| a)
        .collect()
}

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-.".contains(&b)
}

fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// Candidate return addresses, kept once each (ignoring case), in order.
#[derive(Default)]
struct Addresses(Vec<String>);

impl Addresses {
    fn extend(&mut self, addresses: impl IntoIterator<Item = String>) {
        for address in addresses {
            if self.0.len() >= MAX_ADDRESSES {
                return;
            }
            if !self.0.iter().any(|a| a.eq_ignore_ascii_case(&address)) {
                self.0.push(address);
            }
        }
    }
}

fn truncate_at_char(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bounces");

    fn raw(name: &str) -> Vec<u8> {
        let path = format!("{FIXTURES}/{name}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn fixture(name: &str) -> Report {
        read(&raw(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn outcomes(report: &Report) -> &[RecipientOutcome] {
        match &report.kind {
            ReportKind::Delivery(outcomes) => outcomes,
            other => panic!("expected a delivery report, got {other:?}"),
        }
    }

    fn only_outcome(report: &Report) -> &RecipientOutcome {
        let outcomes = outcomes(report);
        assert_eq!(outcomes.len(), 1, "{outcomes:#?}");
        &outcomes[0]
    }

    fn complaint(report: &Report) -> &Complaint {
        match &report.kind {
            ReportKind::Complaint(complaint) => complaint,
            other => panic!("expected a complaint, got {other:?}"),
        }
    }

    fn status(text: &str) -> Option<Status> {
        Status::parse(text)
    }

    fn has_address(report: &Report, address: &str) -> bool {
        report.addresses.iter().any(|a| a == address)
    }

    // Standard delivery status reports (RFC 3464).

    #[test]
    fn a_postfix_dsn_is_a_bounce_though_it_is_marked_auto_replied() {
        let report = fixture("postfix_failed_5.1.1_unknown_user.eml");
        let outcome = only_outcome(&report);
        assert_eq!(
            outcome.recipient.as_deref(),
            Some("kijitora@2jo.example.jp")
        );
        assert_eq!(
            outcome.original_recipient.as_deref(),
            Some("kijitora@2jo.example.jp")
        );
        assert_eq!(outcome.action, Action::Failed);
        assert_eq!(outcome.status, status("5.1.1"));
        assert_eq!(
            outcome.diagnostic.as_deref(),
            Some("unknown user: \"kijitora\"")
        );
        assert_eq!(outcome.remote_mta, None);
        // X-Original-To, Delivered-To, To, the enclosed Return-Path and
        // X-Postfix-Sender all name the one sender.
        assert_eq!(report.addresses, ["root@2jo.example.jp"]);
        assert_eq!(
            report.message_id.as_deref(),
            Some("20150213024813.E068820C1A@2jo.example.jp")
        );
        assert_eq!(
            report.subject.as_deref(),
            Some("Undelivered Mail Returned to Sender")
        );
        assert_eq!(report.from.as_deref(), Some("MAILER-DAEMON@2jo.example.jp"));
    }

    #[test]
    fn a_sendmail_dsn_names_the_recipient_the_remote_server_and_the_enclosed_sender() {
        let report = fixture("sendmail_failed_5.1.1_user_unknown.eml");
        let outcome = only_outcome(&report);
        assert_eq!(
            outcome.recipient.as_deref(),
            Some("userunknown@bouncehammer.jp")
        );
        assert_eq!(outcome.action, Action::Failed);
        assert_eq!(outcome.status, status("5.1.1"));
        assert_eq!(
            outcome.diagnostic.as_deref(),
            Some("550 5.1.1 <userunknown@bouncehammer.jp>... User Unknown")
        );
        assert_eq!(outcome.remote_mta.as_deref(), Some("mx.bouncehammer.jp"));
        assert!(
            has_address(&report, "kijitora@example.org"),
            "{:?}",
            report.addresses
        );
    }

    #[test]
    fn an_exchange_2007_ndr_is_read_from_its_delivery_status_part() {
        let report = fixture("exchange2007_failed_5.1.1_recipnotfound.eml");
        let outcome = only_outcome(&report);
        assert_eq!(outcome.recipient.as_deref(), Some("mikeneko@example.co.jp"));
        assert_eq!(outcome.action, Action::Failed);
        assert_eq!(outcome.status, status("5.1.1"));
        assert_eq!(
            outcome.diagnostic.as_deref(),
            Some("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found")
        );
        // The enclosed original has no Return-Path: only the envelope headers.
        assert_eq!(report.addresses, ["kijitora@example.jp"]);
    }

    #[test]
    fn an_office_365_ndr_with_unindented_header_continuations_is_read() {
        let report = fixture("office365_failed_5.1.1_user_unknown.eml");
        let outcome = only_outcome(&report);
        assert_eq!(
            outcome.recipient.as_deref(),
            Some("kijitora@cr3.neko.nyaan.jp")
        );
        assert_eq!(outcome.action, Action::Failed);
        assert_eq!(outcome.status, status("5.1.1"));
        assert_eq!(
            outcome.remote_mta.as_deref(),
            Some("nijo.cr3.neko.nyaan.jp")
        );
        assert_eq!(report.addresses, ["azumakuniyuki@microsoft.example.com"]);
        assert_eq!(
            report.subject.as_deref(),
            Some("Undeliverable: Nyaan, Neko Nyaan")
        );
    }

    #[test]
    fn a_5_1_0_from_office_365_can_be_about_our_sender_not_the_recipient() {
        let report = fixture("office365_failed_5.1.0_remote_spf_rejection.eml");
        let outcome = only_outcome(&report);
        assert_eq!(outcome.recipient.as_deref(), Some("kijitora@example.com"));
        assert_eq!(outcome.status, status("5.1.0"));
        assert!(outcome.status.unwrap().is_permanent());
        let diagnostic = outcome.diagnostic.as_deref().unwrap();
        assert!(diagnostic.contains("per it's SPF Record"), "{diagnostic}");
        assert_eq!(
            outcome.remote_mta.as_deref(),
            Some("neko-smtp-02-22.prod.cats.secureserver.net")
        );
        // No enclosed message: the Return-Path quoted in the notice counts.
        assert!(
            has_address(&report, "sironeko@example.net"),
            "{:?}",
            report.addresses
        );
    }

    #[test]
    fn a_gmail_dsn_nested_in_related_and_alternative_parts_is_read_and_unfolded() {
        let report = fixture("gmail_failed_5.1.1_address_not_found.eml");
        let outcome = only_outcome(&report);
        assert_eq!(
            outcome.recipient.as_deref(),
            Some("libsisimai-2@googlegroups.com")
        );
        assert_eq!(outcome.action, Action::Failed);
        assert_eq!(outcome.status, status("5.1.1"));
        assert_eq!(
            outcome.remote_mta.as_deref(),
            Some("gmr-smtp-in.l.google.com")
        );
        let diagnostic = outcome.diagnostic.as_deref().unwrap();
        assert!(
            diagnostic.starts_with("550-5.1.1 The email account"),
            "{diagnostic}"
        );
        assert!(
            diagnostic.contains("typos or 550-5.1.1 unnecessary"),
            "{diagnostic}"
        );
        assert!(!diagnostic.contains('\n'));
        assert!(has_address(&report, "azumakuniyuki@google.example.com"));
        assert_eq!(
            report.message_id.as_deref(),
            Some("5e5e0c55.1c69fb81.a8edb.8c4e.GMR@mx.google.com")
        );
    }

    #[test]
    fn a_hotmail_delay_notice_is_a_transient_delay() {
        let report = fixture("hotmail_delayed_4.4.7.eml");
        let outcome = only_outcome(&report);
        assert_eq!(outcome.recipient.as_deref(), Some("kijitora@example.com"));
        assert_eq!(outcome.action, Action::Delayed);
        assert_eq!(outcome.status, status("4.4.7"));
        assert!(outcome.status.unwrap().is_transient());
        assert!(!outcome.status.unwrap().is_permanent());
        assert_eq!(outcome.diagnostic, None);
        // The enclosed Return-Path is written without angle brackets.
        assert!(has_address(&report, "shironeko@outlook.example.com"));
    }

    #[test]
    fn a_dsn_whose_mime_headers_were_lost_is_read_from_its_text() {
        let report = fixture("postfix_delayed_4.4.1_mime_stripped.eml");
        let outcome = only_outcome(&report);
        assert_eq!(outcome.recipient.as_deref(), Some("kijitora@example.com"));
        assert_eq!(outcome.action, Action::Delayed);
        assert_eq!(outcome.status, status("4.4.1"));
        assert_eq!(
            outcome.diagnostic.as_deref(),
            Some("connect to nyaan.example.com[192.0.2.2]:25: No route to host")
        );
        assert!(has_address(&report, "sironeko@neko.example.org"));
    }

    // Non-standard bounces.

    #[test]
    fn a_qmail_failure_notice_gives_the_angle_bracketed_recipient_and_its_hash_code() {
        let report = fixture("qmail_indimail_failed_5.1.1_no_mailbox.eml");
        let outcome = only_outcome(&report);
        assert_eq!(
            outcome.recipient.as_deref(),
            Some("libgsasl7-dev@email.example.jp")
        );
        assert_eq!(outcome.action, Action::Failed);
        assert_eq!(outcome.status, status("5.1.1"));
        assert_eq!(
            outcome.diagnostic.as_deref(),
            Some("Sorry, no mailbox here by that name. (#5.1.1)")
        );
        assert!(has_address(&report, "postmaster@email.example.jp"));
        assert_eq!(report.message_id, None);
    }

    #[test]
    fn an_exim_bounce_gives_each_failed_recipient_its_own_code() {
        let report = fixture("exim_failed_two_recipients_x_failed_recipients.eml");
        let outcomes = outcomes(&report);
        let got: Vec<_> = outcomes
            .iter()
            .map(|o| {
                (
                    o.recipient.as_deref().unwrap(),
                    o.action,
                    o.status.unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("kijitora@example.jp", Action::Failed, "5.1.1".to_owned()),
                ("sabatora@example.jp", Action::Failed, "5.2.1".to_owned()),
            ]
        );
        assert!(
            outcomes[1]
                .diagnostic
                .as_deref()
                .unwrap()
                .ends_with("User Unknown")
        );
        // The copy of the original follows the notice in the same text.
        assert!(
            has_address(&report, "shironeko@example.jp"),
            "{:?}",
            report.addresses
        );
    }

    #[test]
    fn an_exim_delay_warning_with_only_an_smtp_code_is_a_4_0_0_delay() {
        let report = fixture("exim_delayed_warning_450.eml");
        let outcome = only_outcome(&report);
        assert_eq!(outcome.recipient.as_deref(), Some("kijitora@example.co.jp"));
        assert_eq!(outcome.action, Action::Delayed);
        assert_eq!(outcome.status, status("4.0.0"));
        let diagnostic = outcome.diagnostic.as_deref().unwrap();
        assert!(diagnostic.contains("450 service permits"), "{diagnostic}");
        assert!(
            !diagnostic.contains("No action is required"),
            "{diagnostic}"
        );
        assert_eq!(
            report.addresses.first().map(String::as_str),
            Some("sironeko-nyaan@neko.example.com")
        );
    }

    #[test]
    fn a_yahoo_failure_notice_is_read_from_its_text() {
        let report = fixture("yahoo_failure_notice_5.1.1.eml");
        let outcome = only_outcome(&report);
        assert_eq!(outcome.recipient.as_deref(), Some("kijitora@example.org"));
        assert_eq!(outcome.action, Action::Failed);
        assert_eq!(outcome.status, status("5.1.1"));
        assert_eq!(report.addresses, ["shironeko@y.example.co.jp"]);
    }

    #[test]
    fn a_bounce_with_only_an_smtp_554_gets_5_0_0_and_the_quoted_return_path() {
        let report = fixture("amazonses_failure_notice_554_no_enhanced_code.eml");
        let outcome = only_outcome(&report);
        assert_eq!(outcome.recipient.as_deref(), Some("kijitora@example.org"));
        assert_eq!(outcome.action, Action::Failed);
        assert_eq!(outcome.status, status("5.0.0"));
        assert_eq!(
            report.addresses,
            [
                "nekonyaan@example.com",
                "010001570ff018e2-d6debda6-035c-4d27-bd99-ed405041fc0b-000000@amazonses.com",
            ]
        );
    }

    // Complaints.

    #[test]
    fn a_yahoo_feedback_report_is_a_readers_complaint() {
        let report = fixture("arf_yahoo_abuse.eml");
        let complaint = complaint(&report);
        assert_eq!(complaint.feedback_type, "abuse");
        assert!(complaint.is_reader_complaint());
        assert_eq!(
            complaint.original_recipient.as_deref(),
            Some("this-local-part-does-not-exist-on-yahoo@yahoo.com")
        );
        assert_eq!(
            complaint.user_agent.as_deref(),
            Some("Yahoo!-Mail-Feedback/1.0")
        );
        assert_eq!(complaint.reported_domain.as_deref(), Some("example.com"));
        // Both Delivered-To headers, then the enclosed Return-Path (which
        // Original-Mail-From repeats).
        assert_eq!(
            report.addresses,
            [
                "kijitora@example.com",
                "abuse@example.com",
                "shironeko@example.com"
            ]
        );
    }

    #[test]
    fn a_feedback_report_relayed_by_amazon_ses_names_the_original_envelope_sender() {
        let report = fixture("arf_amazonses_forwarded_yahoo_abuse.eml");
        let complaint = complaint(&report);
        assert_eq!(complaint.feedback_type, "abuse");
        assert_eq!(
            complaint.original_recipient.as_deref(),
            Some("kijitora@y.example.com")
        );
        assert_eq!(
            complaint.user_agent.as_deref(),
            Some("Yahoo!-Mail-Feedback/2.0")
        );
        assert_eq!(complaint.reported_domain.as_deref(), Some("amazonses.com"));
        assert!(has_address(
            &report,
            "222222222222eeee-00000000-2222-ffff-1111-333333332222-ffffff@amazonses.com"
        ));
        // Original-Mail-From, after the enclosed Return-Path.
        assert_eq!(
            report.addresses.last().map(String::as_str),
            Some("2222222222222222-22222222-0000-eeee-ffff-222222222222-222222@amazonses.com")
        );
    }

    #[test]
    fn a_return_path_feedback_loop_may_hash_the_recipient_and_redact_the_message() {
        let report = fixture("arf_rackspace_returnpath_fbl_abuse.eml");
        let complaint = complaint(&report);
        assert_eq!(complaint.feedback_type, "abuse");
        assert_eq!(
            complaint.original_recipient.as_deref(),
            Some("hashed@example.com")
        );
        assert_eq!(complaint.user_agent.as_deref(), Some("ReturnPathFBL/2.0"));
        assert_eq!(
            report.addresses,
            [
                "report@xxx.example.com",
                "xxx@example.com",
                "alice@example.com"
            ]
        );
    }

    #[test]
    fn a_dmarc_failure_report_is_a_feedback_report_but_no_readers_complaint() {
        let report = fixture("arf_dmarc_auth_failure_report.eml");
        let complaint = complaint(&report);
        assert_eq!(complaint.feedback_type, "auth-failure");
        assert!(!complaint.is_reader_complaint());
        assert_eq!(complaint.reported_domain.as_deref(), Some("example.net"));
    }

    #[test]
    fn a_hotmail_junk_report_without_arf_is_a_complaint_naming_the_reader() {
        let report = fixture("hotmail_jmrp_complaint_not_arf.eml");
        let complaint = complaint(&report);
        assert_eq!(complaint.feedback_type, "abuse");
        assert!(complaint.is_reader_complaint());
        assert_eq!(
            complaint.original_recipient.as_deref(),
            Some("kijitora@example.com")
        );
        assert_eq!(report.addresses, ["abuse-report@example.com"]);
    }

    // Automatic replies.

    #[test]
    fn a_vacation_reply_marked_auto_submitted_is_an_auto_reply() {
        let report = fixture("autoreply_auto_submitted_vacation.eml");
        assert_eq!(report.kind, ReportKind::AutoReply);
        assert_eq!(report.subject.as_deref(), Some("Away until May 5"));
    }

    #[test]
    fn an_exchange_automatic_reply_is_known_by_its_subject_alone() {
        let report = fixture("autoreply_exchange_automatic_reply_subject_only.eml");
        assert_eq!(report.kind, ReportKind::AutoReply);
    }

    // Every fixture, whole and damaged.

    fn all_fixtures() -> Vec<(String, Vec<u8>)> {
        let mut names: Vec<String> = std::fs::read_dir(FIXTURES)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|name| (name.clone(), raw(&name)))
            .collect()
    }

    #[test]
    fn every_fixture_is_read_and_its_file_name_says_what_it_is() {
        let fixtures = all_fixtures();
        assert!(fixtures.len() >= 14, "{} fixtures", fixtures.len());
        for (name, raw) in fixtures {
            let report = read(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
            let kind = match &report.kind {
                ReportKind::Delivery(outcomes) if outcomes[0].action == Action::Delayed => {
                    "delayed"
                }
                ReportKind::Delivery(_) => "failed",
                ReportKind::Complaint(_) => "complaint",
                ReportKind::AutoReply => "autoreply",
            };
            let expected = if name.starts_with("autoreply") {
                "autoreply"
            } else if name.starts_with("arf") || name.contains("complaint") {
                "complaint"
            } else if name.contains("delayed") {
                "delayed"
            } else {
                "failed"
            };
            assert_eq!(kind, expected, "{name}");
            assert!(!report.addresses.is_empty(), "{name}");
            if let ReportKind::Delivery(outcomes) = &report.kind {
                assert!(outcomes.iter().all(|o| o.status.is_some()), "{name}");
            }
        }
    }

    #[test]
    fn a_fixture_cut_anywhere_or_with_bytes_flipped_is_read_or_refused_without_a_panic() {
        for (_, raw) in all_fixtures() {
            for end in (0..raw.len()).step_by(41) {
                let _ = read(&raw[..end]);
            }
            for at in (0..raw.len()).step_by(211) {
                let mut damaged = raw.clone();
                damaged[at] ^= 0x5a;
                let _ = read(&damaged);
            }
        }
    }

    // Refusals.

    #[test]
    fn empty_or_binary_input_is_not_mail() {
        for input in [
            &b""[..],
            b"\r\n\r\n  ",
            b"\x00\x01\x02\xff\xfe",
            b"just some words",
        ] {
            let err = read(input).unwrap_err();
            assert!(
                matches!(err, ReportError::NotMail { .. }),
                "{input:?}: {err:?}"
            );
            assert!(err.to_string().contains("kept in the mailbox"), "{err}");
        }
    }

    #[test]
    fn a_bounce_cut_inside_its_headers_is_refused_with_its_sender_and_subject() {
        let raw = raw("sendmail_failed_5.1.1_user_unknown.eml");
        let err = read(&raw[..200]).unwrap_err();
        assert!(matches!(err, ReportError::Unrecognised { .. }), "{err:?}");
        let err = read(&raw[..520]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("MAILER-DAEMON@smtpgw.example.jp"),
            "{message}"
        );
        assert!(message.contains("kept in the mailbox"), "{message}");
    }

    #[test]
    fn a_personal_mail_is_refused_naming_its_sender_and_subject() {
        let mail = b"From: Ada <ada@example.org>\r\nTo: bounces@example.net\r\nSubject: Thanks for the briefing\r\n\r\nLoved it.\r\n";
        let err = read(mail).unwrap_err();
        assert_eq!(
            err,
            ReportError::Unrecognised {
                from: "ada@example.org".to_owned(),
                subject: "Thanks for the briefing".to_owned(),
            }
        );
        assert!(err.to_string().contains("\"Thanks for the briefing\""));
    }

    #[test]
    fn a_feedback_report_without_its_fields_is_refused_not_guessed() {
        // Hand-written: the shape, not a recorded sample.
        let mail = b"From: fbl@example.com\r\nSubject: complaint\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n--b--\r\n";
        let err = read(mail).unwrap_err();
        assert_eq!(
            err,
            ReportError::IncompleteComplaint {
                from: "fbl@example.com".to_owned()
            }
        );
    }

    #[test]
    fn mime_that_trips_the_parsers_own_checks_is_an_error_not_a_panic() {
        // Found by the fuzzer: a debug_assert! inside mail-parser.
        let raw = include_bytes!(
            "../../fuzz/regressions/bounce_report/mail-parser-debug-assert-multipart-part-id-minimized"
        );
        assert!(read(raw).is_err());
    }

    #[test]
    fn a_huge_message_is_read_only_up_to_the_limit() {
        let mut mail = b"From: someone@example.org\r\nSubject: big\r\n\r\n".to_vec();
        mail.resize(MAX_MESSAGE_BYTES * 5, b'a');
        let started = std::time::Instant::now();
        assert!(read(&mail).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    // The pieces.

    #[test]
    fn status_codes_are_valid_by_construction() {
        for good in ["5.1.1", "4.4.7", "2.0.0", "5.4.312", "5.7.26", "4.999.999"] {
            let parsed = Status::parse(good).unwrap_or_else(|| panic!("{good}"));
            assert_eq!(parsed.to_string(), good);
        }
        for bad in [
            "", "5", "5.1", "5.1.1.1", "6.1.1", "3.0.0", "55.1.1", "5.1000.1", "5..1", "x.1.1",
            "5.1.1 ", "+5.1.1",
        ] {
            assert_eq!(Status::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Status::new(5, 1, 1), Status::parse("5.1.1"));
        assert_eq!(Status::new(1, 0, 0), None);
        let s = Status::parse("5.2.2").unwrap();
        assert_eq!((s.class(), s.subject(), s.detail()), (5, 2, 2));
        assert!(s.is_permanent() && !s.is_transient());
    }

    #[test]
    fn codes_are_found_in_prose_but_not_in_addresses_versions_or_dates() {
        assert_eq!(
            status_in_text("no mailbox here by that name. (#5.1.1)"),
            status("5.1.1")
        );
        assert_eq!(
            status_in_text("550-5.7.26 Unauthenticated"),
            status("5.7.26")
        );
        assert_eq!(status_in_text("see code 5.2.2."), status("5.2.2"));
        assert_eq!(
            status_in_text("host [192.0.4.5.1] Exim 4.72 on 2013-04-24"),
            None
        );
        assert_eq!(status_in_text("version 15.20.1771.16"), None);
        assert_eq!(
            smtp_reply_in_text("Remote host said:\n554 INVALID IP"),
            Some(554)
        );
        assert_eq!(smtp_reply_in_text("said: 550-Unknown"), Some(550));
        assert_eq!(
            smtp_reply_in_text("in 2017 at [192.0.2.222]:25 SIZE=1543"),
            None
        );
        assert_eq!(smtp_reply_in_text("250 ok"), None);
    }

    #[test]
    fn a_recipient_group_without_a_status_takes_it_from_the_diagnostic() {
        let text = "Reporting-MTA: dns; mx.example.org\n\n\
                    Final-Recipient: rfc822; a@example.com\nAction: failed\n\
                    Diagnostic-Code: smtp; 552-5.2.2 The mailbox\n is full\n\n\
                    Final-Recipient: rfc822; b@example.com\nAction: Delayed (will retry)\n\
                    Diagnostic-Code: smtp; 421 try later\n\n\
                    Final-Recipient: rfc822; c@example.com\nStatus: 5.1.1 (no such user)\n";
        let (per_message, outcomes) = delivery_status(text);
        assert_eq!(
            per_message.get("reporting-mta"),
            Some("dns; mx.example.org")
        );
        let got: Vec<_> = outcomes
            .iter()
            .map(|o| {
                (
                    o.recipient.clone().unwrap(),
                    o.action,
                    o.status.map(|s| s.to_string()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "a@example.com".to_owned(),
                    Action::Failed,
                    Some("5.2.2".to_owned())
                ),
                (
                    "b@example.com".to_owned(),
                    Action::Delayed,
                    Some("4.0.0".to_owned())
                ),
                (
                    "c@example.com".to_owned(),
                    Action::Failed,
                    Some("5.1.1".to_owned())
                ),
            ]
        );
        assert_eq!(
            outcomes[0].diagnostic.as_deref(),
            Some("552-5.2.2 The mailbox is full")
        );
    }

    #[test]
    fn a_long_diagnostic_is_cut_to_300_characters() {
        let long = "x".repeat(1000);
        let cut = diagnostic(&long).unwrap();
        assert_eq!(cut.chars().count(), MAX_DIAGNOSTIC_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn actions_are_read_ignoring_case_and_comments() {
        assert_eq!(Action::parse("failed"), Some(Action::Failed));
        assert_eq!(Action::parse(" FAILED"), Some(Action::Failed));
        assert_eq!(Action::parse("expired"), Some(Action::Failed));
        assert_eq!(Action::parse("delayed (will retry)"), Some(Action::Delayed));
        assert_eq!(Action::parse("Relayed"), Some(Action::Relayed));
        assert_eq!(Action::parse("bogus"), None);
        assert_eq!(Action::parse(""), None);
        assert_eq!(Action::Expanded.to_string(), "expanded");
    }

    #[test]
    fn addresses_prefer_angle_brackets_and_drop_types() {
        assert_eq!(
            addresses_in("\"a@b.example\" <c@d.example>"),
            ["c@d.example"]
        );
        assert_eq!(addresses_in("rfc822; X@Y.example"), ["X@Y.example"]);
        assert_eq!(
            addresses_in("<bounces+tok.en-1@b.example.org>"),
            ["bounces+tok.en-1@b.example.org"]
        );
        assert!(addresses_in("<>").is_empty());
        assert!(addresses_in("MAILER-DAEMON <>").is_empty());
        assert!(addresses_in("user@[192.0.2.1]").is_empty());
        assert_eq!(without_type("smtp; 550 5.1.1 no"), "550 5.1.1 no");
        assert_eq!(without_type("550 5.1.1 no; really"), "550 5.1.1 no; really");
    }

    #[test]
    fn an_mbox_separator_line_is_skipped() {
        assert_eq!(
            without_mbox_line(b"From a@b Mon\nSubject: x\n"),
            b"Subject: x\n"
        );
        assert_eq!(without_mbox_line(b"From: a@b\n"), b"From: a@b\n");
        assert_eq!(without_mbox_line(b"From nowhere"), b"");
    }
}
