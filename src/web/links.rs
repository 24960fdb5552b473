//! The one-purpose links in our mail: confirm, unsubscribe (and undo),
//! "more / less like this", and a briefing in the browser. Each GET shows a
//! page with one button; only the POST acts, and acting twice is harmless.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::pages::{Button, MessagePage, PageLink, negotiate};
use super::{ClientIp, Web, origin};
use crate::app::{ReaderError, ReaderLink};
use crate::domain::{ConfirmOutcome, LinkAction, Locale, Subscriber, Verdict, readable_math};

/// RFC 8058: what a mail client POSTs for one-click unsubscribe.
const ONE_CLICK: &[u8] = b"List-Unsubscribe=One-Click";

/// A briefing shown as it was mailed: its inline styles are allowed;
/// scripts, forms and anything from a third party are not (a briefing has
/// no remote image or font, and the browser makes sure of it).
const BRIEFING_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

impl Web {
    /// A page with one button that POSTs back to where it was opened.
    fn one_button(
        &self,
        locale: Locale,
        section: &str,
        subscriber: &Subscriber,
        action: String,
    ) -> Response {
        let page = MessagePage {
            title: self.text(locale, &format!("{section}.title")),
            paragraphs: vec![self.text(locale, &format!("{section}.body"))],
            detail: Some(subscriber.email.to_string()),
            button: Some(Button {
                action,
                label: self.text(locale, &format!("{section}.button")),
                style: "",
                fields: Vec::new(),
            }),
            ..MessagePage::default()
        };
        self.message(StatusCode::OK, locale, &page)
    }
}

/// The GET of a one-purpose link: a page with one button that POSTs back.
async fn button_page(
    web: &Web,
    token: &str,
    action: LinkAction,
    section: &str,
    headers: &HeaderMap,
) -> Response {
    match web.app.open_link(token, action, Utc::now()).await {
        Ok((s, _)) => {
            let here = web.local(&format!("/{section}/{token}"));
            web.one_button(s.locale, section, &s, here)
        }
        Err(e) => web.error_page(negotiate(None, headers), e),
    }
}

pub(super) async fn confirm_page(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    button_page(&web, &token, LinkAction::Confirm, "confirm", &headers).await
}

pub(super) async fn confirm(
    State(web): State<Web>,
    Path(token): Path<String>,
    client: ClientIp,
    headers: HeaderMap,
) -> Response {
    let now = Utc::now();
    let origin = origin("web", client, &headers);
    match web.app.confirm(&token, &origin, now).await {
        Ok((s, outcome)) => {
            let locale = s.locale;
            let section = match outcome {
                ConfirmOutcome::Confirmed => "done",
                ConfirmOutcome::AlreadyActive => "already",
                ConfirmOutcome::Stale => "stale",
            };
            let mut links = Vec::new();
            if outcome != ConfirmOutcome::Stale {
                links.push(PageLink {
                    url: web.app.link_url(&s, ReaderLink::Preferences, now),
                    label: web.text(locale, "confirm.preferences"),
                });
            }
            let page = MessagePage {
                title: web.text(locale, &format!("confirm.{section}_title")),
                paragraphs: vec![web.text(locale, &format!("confirm.{section}_body"))],
                detail: Some(s.email.to_string()),
                links,
                ..MessagePage::default()
            };
            web.message(StatusCode::OK, locale, &page)
        }
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

pub(super) async fn unsubscribe_page(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    button_page(
        &web,
        &token,
        LinkAction::Unsubscribe,
        "unsubscribe",
        &headers,
    )
    .await
}

/// The page's button, or a mail client's one-click POST (RFC 8058), which
/// gets a plain 200 and no page to click.
pub(super) async fn unsubscribe(
    State(web): State<Web>,
    Path(token): Path<String>,
    client: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    // Form-encoded, or the same field as multipart/form-data.
    let one_click = has(ONE_CLICK) || (has(b"name=\"List-Unsubscribe\"") && has(b"One-Click"));
    let origin = origin(
        if one_click { "one-click" } else { "web" },
        client,
        &headers,
    );
    // What a mail client gets: a plain 200, whatever page a person would see.
    let one_click_done = |locale| {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            web.text(locale, "unsubscribe.one_click"),
        )
            .into_response()
    };
    match web.app.unsubscribe(&token, &origin, Utc::now()).await {
        Ok(s) if one_click => one_click_done(s.locale),
        Ok(s) => {
            let locale = s.locale;
            let page = MessagePage {
                title: web.text(locale, "unsubscribe.done_title"),
                paragraphs: vec![web.text(locale, "unsubscribe.done_body")],
                detail: Some(s.email.to_string()),
                button: Some(Button {
                    action: web.local(&format!("/unsubscribe/{token}/undo")),
                    label: web.text(locale, "unsubscribe.undo"),
                    style: "secondary",
                    fields: Vec::new(),
                }),
                ..MessagePage::default()
            };
            web.message(StatusCode::OK, locale, &page)
        }
        // The address is gone ("delete my data"): nothing is sent to it,
        // which is what the mail client asks; a 4xx would count as a failed
        // unsubscribe at the mailbox provider.
        Err(ReaderError::Gone) if one_click => one_click_done(negotiate(None, &headers)),
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

pub(super) async fn undo_unsubscribe(
    State(web): State<Web>,
    Path(token): Path<String>,
    client: ClientIp,
    headers: HeaderMap,
) -> Response {
    let origin = origin("undo", client, &headers);
    match web.app.undo_unsubscribe(&token, &origin, Utc::now()).await {
        Ok(s) => {
            let page = MessagePage {
                title: web.text(s.locale, "unsubscribe.undone_title"),
                paragraphs: vec![web.text(s.locale, "unsubscribe.undone_body")],
                detail: Some(s.email.to_string()),
                ..MessagePage::default()
            };
            web.message(StatusCode::OK, s.locale, &page)
        }
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

pub(super) async fn feedback_page(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let found = async { web.app.open_feedback_page(&token, Utc::now()).await }.await;
    match found {
        Ok((s, title, verdict)) => {
            let locale = s.locale;
            let v = verdict.as_str();
            let page = MessagePage {
                title: web.text(locale, &format!("feedback.title_{v}")),
                paragraphs: vec![web.text(locale, "feedback.body")],
                detail: title.map(|t| readable_math(&t).into_owned()),
                button: Some(Button {
                    action: web.local(&format!("/feedback/{token}")),
                    label: web.text(locale, &format!("feedback.button_{v}")),
                    style: if verdict == Verdict::More {
                        ""
                    } else {
                        "secondary"
                    },
                    fields: Vec::new(),
                }),
                ..MessagePage::default()
            };
            web.message(StatusCode::OK, locale, &page)
        }
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

pub(super) async fn feedback(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match web.app.record_feedback(&token, Utc::now()).await {
        Ok((s, _)) => {
            let locale = s.locale;
            let page = MessagePage {
                title: web.text(locale, "feedback.done_title"),
                paragraphs: vec![web.text(locale, "feedback.done_body")],
                button: Some(Button {
                    action: web.local(&format!("/feedback/{token}/undo")),
                    label: web.text(locale, "feedback.undo"),
                    style: "secondary",
                    fields: Vec::new(),
                }),
                links: vec![preferences_link(&web, &s)],
                ..MessagePage::default()
            };
            web.message(StatusCode::OK, locale, &page)
        }
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

/// Where a reader who gave an answer goes on to: their preferences.
fn preferences_link(web: &Web, s: &Subscriber) -> PageLink {
    PageLink {
        url: web.app.link_url(s, ReaderLink::Preferences, Utc::now()),
        label: web.text(s.locale, "feedback.done_preferences"),
    }
}

/// "Undo" on the page that thanks for an answer: the answer is forgotten.
pub(super) async fn undo_feedback(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match web.app.undo_feedback(&token, Utc::now()).await {
        Ok(s) => {
            let page = MessagePage {
                title: web.text(s.locale, "feedback.undone_title"),
                paragraphs: vec![web.text(s.locale, "feedback.undone_body")],
                links: vec![preferences_link(&web, &s)],
                ..MessagePage::default()
            };
            web.message(StatusCode::OK, s.locale, &page)
        }
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

pub(super) async fn view_briefing(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let page = web.app.sent_briefing(&token, Utc::now()).await;
    briefing_page(&web, &headers, page)
}

/// `/b/{token}/more`: what the briefing left out for its size.
pub(super) async fn left_out_papers(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let page = web.app.left_out_papers(&token, Utc::now()).await;
    briefing_page(&web, &headers, page)
}

/// A page in the briefing's own layout, under the briefing's CSP, or the
/// error page that says why not.
fn briefing_page(web: &Web, headers: &HeaderMap, page: Result<String, ReaderError>) -> Response {
    match page {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, BRIEFING_CSP),
            ],
            html,
        )
            .into_response(),
        Err(e) => web.error_page(negotiate(None, headers), e),
    }
}
