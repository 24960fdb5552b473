use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

use crate::domain::MessageBody;
use crate::domain::OutgoingMessage;

/// `List-Unsubscribe: <https://…>` (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(
            s.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned(),
        ))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): mail
/// clients may unsubscribe with one POST to the List-Unsubscribe URL.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// A header whose value is fixed text.
macro_rules! text_header {
    ($(#[$doc:meta])* $type:ident, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        struct $type(String);

        impl Header for $type {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.trim().to_owned()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(
    /// `List-Id: AcademicHub briefings <briefings.example.org>` (RFC 2919):
    /// lets mail clients and filters recognise the list.
    ListId,
    "List-Id"
);
text_header!(
    /// `Feedback-ID: briefing:briefings:academichub:example.org` (the form
    /// Gmail's feedback loop reads: fields narrowing down to the sender).
    FeedbackId,
    "Feedback-ID"
);
text_header!(
    /// `Precedence: bulk`: no vacation auto-replies to a briefing.
    Precedence,
    "Precedence"
);

/// The MIME message for an outbox row: multipart/alternative (text, then
/// HTML), with the Message-ID fixed at enqueue time so a retry is the same
/// message to the receiving side.
///
/// `return_path` is the envelope sender, where bounces go (the From
/// address when `None`). Every message carries a `Feedback-ID`
/// (`kind:list:sender`), so that mailbox providers that report complaints
/// in aggregate can say which kind of mail drew them.
pub fn build_message(
    from: &Mailbox,
    outgoing: OutgoingMessage,
    return_path: Option<&Address>,
) -> Result<Message, String> {
    let to = Mailbox::new(None, outgoing.recipient.as_lettre().clone());
    let kind = if outgoing.unsubscribe_url.is_some() {
        "briefing"
    } else {
        "notice"
    };
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(outgoing.subject)
        .date_now()
        .message_id(Some(outgoing.message_id))
        .header(FeedbackId(format!(
            "{kind}:briefings:academichub:{}",
            from.email.domain()
        )));
    if let Some(return_path) = return_path {
        let envelope = Envelope::new(
            Some(return_path.clone()),
            vec![outgoing.recipient.as_lettre().clone()],
        )
        .map_err(|e| format!("cannot build the envelope: {e}"))?;
        builder = builder.envelope(envelope);
    }
    if let Some(url) = outgoing.unsubscribe_url {
        builder = builder
            .header(ListId(format!(
                "AcademicHub briefings <briefings.{}>",
                from.email.domain()
            )))
            .header(Precedence("bulk".into()))
            .header(ListUnsubscribe(url))
            .header(ListUnsubscribePost);
    }
    builder
        .multipart(alternative(outgoing.body))
        .map_err(|e| format!("cannot build the message: {e}"))
}

/// The text and HTML parts; a body encoded when it was made goes as it is.
fn alternative(body: MessageBody) -> MultiPart {
    match body {
        MessageBody::Plain { html, text } => MultiPart::alternative_plain_html(text, html),
        MessageBody::QuotedPrintable { html, text } => {
            let part = |content_type: ContentType, encoded: String| {
                SinglePart::builder()
                    .header(content_type)
                    .body(Body::dangerous_pre_encoded(
                        encoded.into_bytes(),
                        ContentTransferEncoding::QuotedPrintable,
                    ))
            };
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, text))
                .singlepart(part(ContentType::TEXT_HTML, html))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;

    #[test]
    fn briefings_carry_one_click_unsubscribe_and_both_parts() {
        let outgoing = OutgoingMessage {
            recipient: EmailAddress::parse("ada@example.org").unwrap(),
            subject: "AcademicHub · 2026-11-23 · 2 新论文".into(),
            body: MessageBody::encode("<p>hi</p>", "hi"),
            message_id: "<abc@academichub.test>".into(),
            unsubscribe_url: Some("https://hub.example/unsubscribe/tok".into()),
        };
        let from: Mailbox = "AcademicHub <briefing@hub.example>".parse().unwrap();
        let raw = String::from_utf8(
            build_message(&from, outgoing.clone(), None)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            raw.contains("List-Unsubscribe: <https://hub.example/unsubscribe/tok>"),
            "{raw}"
        );
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("Message-ID: <abc@academichub.test>"));
        assert!(raw.contains("List-Id: AcademicHub briefings <briefings.hub.example>"));
        assert!(raw.contains("Precedence: bulk"));
        assert!(raw.contains("Feedback-ID: briefing:briefings:academichub:hub.example"));
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(
            parsed.subject(),
            Some(outgoing.subject.as_str()),
            "the Chinese subject survives RFC 2047 encoding: {raw}"
        );
        assert!(raw.lines().all(|l| l.is_ascii() && l.len() <= 998));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));

        let confirmation = OutgoingMessage {
            unsubscribe_url: None,
            ..outgoing
        };
        let raw = String::from_utf8(
            build_message(&from, confirmation, None)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            !raw.contains("List-Unsubscribe") && !raw.contains("Precedence"),
            "a confirmation request is not list mail"
        );
    }
}
