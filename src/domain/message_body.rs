use std::borrow::Cow;

/// A message's two parts, HTML and plain text, as the outbox keeps them.
///
/// A message is encoded for the wire once, when it is made (on the round's
/// worker threads), and then sent, and retried, as it is: encoding 75 KB of
/// HTML as quoted-printable was a quarter of the sending path's CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageBody {
    /// As rendered: messages stored before bodies were encoded when made.
    Plain { html: String, text: String },
    /// Quoted-printable with CRLF line ends, ready for the wire.
    QuotedPrintable { html: String, text: String },
}

impl MessageBody {
    /// The stored name of each form.
    pub const PLAIN: &'static str = "plain";
    pub const QUOTED_PRINTABLE: &'static str = "quoted-printable";

    /// Both parts encoded for the wire.
    pub fn encode(html: &str, text: &str) -> Self {
        Self::QuotedPrintable {
            html: quoted_printable(html),
            text: quoted_printable(text),
        }
    }

    /// A body as stored, by the name of its form.
    pub fn stored(encoding: &str, html: String, text: String) -> Result<Self, String> {
        match encoding {
            Self::PLAIN => Ok(Self::Plain { html, text }),
            Self::QUOTED_PRINTABLE => Ok(Self::QuotedPrintable { html, text }),
            other => Err(format!("unknown message body encoding {other:?}")),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Self::Plain { .. } => Self::PLAIN,
            Self::QuotedPrintable { .. } => Self::QUOTED_PRINTABLE,
        }
    }

    /// The parts as stored: (HTML, text).
    pub fn parts(&self) -> (&str, &str) {
        match self {
            Self::Plain { html, text } | Self::QuotedPrintable { html, text } => (html, text),
        }
    }

    /// The HTML as rendered, for the web view.
    pub fn html(&self) -> Cow<'_, str> {
        match self {
            Self::Plain { html, .. } => Cow::Borrowed(html),
            Self::QuotedPrintable { html, .. } => Cow::Owned(decode(html)),
        }
    }

    /// The plain text as rendered.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Self::Plain { text, .. } => Cow::Borrowed(text),
            Self::QuotedPrintable { text, .. } => Cow::Owned(decode(text)),
        }
    }
}

/// As lettre encodes a body: line ends made CRLF, then quoted-printable
/// (which keeps CRLF as hard line breaks and wraps long lines with soft ones).
fn quoted_printable(text: &str) -> String {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    quoted_printable::encode_to_str(crlf)
}

fn decode(encoded: &str) -> String {
    let bytes = quoted_printable::decode(encoded, quoted_printable::ParseMode::Robust)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoded_body_decodes_to_what_was_rendered() {
        let html = format!(
            "<p class=\"x\">{}</p>\n<p>论文 · résumé</p>\n",
            "long line ".repeat(40)
        );
        let body = MessageBody::encode(&html, "hi\nthere");
        let (wire, _) = body.parts();
        assert!(
            wire.lines().all(|l| l.len() <= 76 && l.is_ascii()),
            "{wire}"
        );
        assert!(wire.contains("=3D"), "{wire}");
        assert_eq!(body.html(), html);
        assert_eq!(body.text(), "hi\nthere");
        let again = MessageBody::stored(body.encoding(), wire.into(), "hi\r\nthere".into());
        assert_eq!(again.unwrap().html(), html);
        assert!(MessageBody::stored("rot13", String::new(), String::new()).is_err());
    }
}
