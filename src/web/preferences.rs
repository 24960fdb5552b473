//! The preferences page, linked from every briefing: topics, language,
//! schedule, pause; and "my data" (download as JSON, delete). Saving and
//! deleting are POSTs that carry a form token issued with the page, so a
//! form on another site cannot change anything even with the link.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Utc};
use minijinja::context;
use serde::Serialize;

use super::pages::{MessagePage, negotiate};
use super::subscribe::{AlsoChip, TopicRow, fields, topic_rows};
use super::{ClientIp, Web, origin};
use crate::app::{ReaderError, ReaderLink};
use crate::domain::{
    Cadence, Expansion, ExpansionOrigin, InputError, LinkAction, MAX_PAPERS_PER_TOPIC,
    PreferencesInput, SendHour, Subscriber,
};

/// Empty rows offered for new topics.
const BLANK_TOPICS: usize = 2;

#[derive(Debug, Clone, Serialize)]
struct PreferencesForm {
    locale: String,
    timezone: String,
    send_hour: u32,
    cadence: &'static str,
    weekday: String,
    max_per_topic: String,
    paused_until: String,
    topics: Vec<TopicRow>,
}

impl PreferencesForm {
    /// The stored choices, each topic with the expansions it also matches.
    fn of(s: &Subscriber, also: Vec<Vec<Expansion>>) -> Self {
        let (cadence, weekday) = match s.cadence {
            Cadence::Daily => ("daily", "mon".to_owned()),
            Cadence::Weekly(day) => ("weekly", day.to_string().to_ascii_lowercase()),
        };
        let mut topics: Vec<TopicRow> = s
            .topics
            .iter()
            .zip(also.into_iter().chain(std::iter::repeat(Vec::new())))
            .map(|(t, also)| TopicRow {
                also: also
                    .into_iter()
                    .map(|e| AlsoChip {
                        text: e.text,
                        suggested: e.origin == ExpansionOrigin::Suggested,
                        field: match e.origin {
                            ExpansionOrigin::Field(field) => Some(field),
                            _ => None,
                        },
                        with: e.with,
                    })
                    .collect(),
                ..TopicRow::from_topic(t)
            })
            .collect();
        topics.extend(std::iter::repeat_n(TopicRow::default(), BLANK_TOPICS));
        Self {
            locale: s.locale.to_string(),
            timezone: s.timezone.name().to_owned(),
            send_hour: s.send_hour.get(),
            cadence,
            weekday,
            max_per_topic: s.max_per_topic.map(|n| n.to_string()).unwrap_or_default(),
            paused_until: s.paused_until.map(|d| d.to_string()).unwrap_or_default(),
            topics,
        }
    }
}

/// What the page shows, beside the form.
enum Outcome {
    Fresh,
    Saved,
    Resubscribed,
    Refused(String),
}

fn render(
    web: &Web,
    token: &str,
    s: &Subscriber,
    form: &PreferencesForm,
    outcome: Outcome,
) -> Response {
    let now = Utc::now();
    let resubscribed = matches!(outcome, Outcome::Resubscribed);
    let (status, saved, error) = match outcome {
        Outcome::Fresh | Outcome::Resubscribed => (StatusCode::OK, false, None),
        Outcome::Saved => (StatusCode::OK, true, None),
        Outcome::Refused(why) => (StatusCode::UNPROCESSABLE_ENTITY, false, Some(why)),
    };
    // "Active" would be wrong while a pause lasts.
    let paused = s.paused_until.is_some_and(|until| until > s.edition(now));
    let ctx = context! {
        email => s.email.as_str(),
        status => s.status.as_str(),
        form,
        saved,
        resubscribed,
        paused,
        error,
        form_token => web.app.form_token(s, token, now),
        action => web.local(&format!("/preferences/{token}")),
        also_action => web.local(&format!("/preferences/{token}/also")),
        delete_action => web.local(&format!("/preferences/{token}/delete")),
        resubscribe_action => web.local(&format!("/preferences/{token}/resubscribe")),
        default_per_topic => web.app.settings.briefing.max_per_topic,
        data_url => web.local(&format!("/preferences/{token}/data")),
        unsubscribe_url => web.app.link_url(s, ReaderLink::Unsubscribe, now),
        max_papers => MAX_PAPERS_PER_TOPIC,
    };
    web.html(
        status,
        web.pages.render("preferences.html", s.locale, None, ctx),
    )
}

pub(super) async fn page(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match web
        .app
        .open_link(&token, LinkAction::Preferences, Utc::now())
        .await
    {
        Ok((s, _)) => stored_form(&web, &token, &s, Outcome::Fresh).await,
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

/// The page with the stored choices and each topic's learned expansions.
async fn stored_form(web: &Web, token: &str, s: &Subscriber, outcome: Outcome) -> Response {
    match web.app.also_matching(s).await {
        Ok(also) => render(web, token, s, &PreferencesForm::of(s, also), outcome),
        Err(e) => web.error_page(s.locale, e),
    }
}

/// One click on an "also matching" word: the topic stops matching it.
/// The button posts `drop` as `topic index:expansion`.
pub(super) async fn drop_expansion(
    State(web): State<Web>,
    Path(token): Path<String>,
    client: ClientIp,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let fields = fields(pairs);
    let form_token = fields.get("form_token").cloned().unwrap_or_default();
    let Some((topic, expansion)) = fields
        .get("drop")
        .and_then(|d| d.split_once(':'))
        .and_then(|(i, e)| Some((i.parse::<usize>().ok()?, e.to_owned())))
    else {
        return web.error_page(
            negotiate(None, &headers),
            ReaderError::Invalid(InputError::NoExpansionNamed),
        );
    };
    let origin = origin("web", client, &headers);
    match web
        .app
        .drop_expansion(&token, &form_token, topic, &expansion, &origin, Utc::now())
        .await
    {
        Ok(s) => stored_form(&web, &token, &s, Outcome::Saved).await,
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

pub(super) async fn save(
    State(web): State<Web>,
    Path(token): Path<String>,
    client: ClientIp,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let fields = fields(pairs);
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let topics = topic_rows(&fields);
    let input = PreferencesInput {
        locale: field("locale"),
        timezone: field("timezone"),
        send_hour: field("send_hour"),
        cadence: field("cadence"),
        weekday: field("weekday"),
        max_per_topic: field("max_per_topic"),
        paused_until: field("paused_until"),
        topics: topics.iter().cloned().map(TopicRow::into_input).collect(),
    };
    let origin = origin("web", client, &headers);
    let now = Utc::now();
    match web
        .app
        .save_preferences(&token, &field("form_token"), input.clone(), &origin, now)
        .await
    {
        Ok(s) => stored_form(&web, &token, &s, Outcome::Saved).await,
        Err(ReaderError::Invalid(why)) => {
            // Show the form as the reader filled it in, with what to fix.
            match web
                .app
                .open_link(&token, LinkAction::Preferences, now)
                .await
            {
                Ok((s, _)) => {
                    let mut form = PreferencesForm::of(&s, Vec::new());
                    form.locale = input.locale;
                    form.timezone = input.timezone;
                    if let Ok(hour) = SendHour::parse(&input.send_hour) {
                        form.send_hour = hour.get();
                    }
                    form.cadence = if input.cadence == "weekly" {
                        "weekly"
                    } else {
                        "daily"
                    };
                    if !input.weekday.is_empty() {
                        form.weekday = input.weekday;
                    }
                    form.max_per_topic = input.max_per_topic;
                    form.paused_until = input.paused_until;
                    form.topics = topics;
                    form.topics
                        .extend(std::iter::repeat_n(TopicRow::default(), BLANK_TOPICS));
                    let why = web.pages.input_error(s.locale, &why);
                    render(&web, &token, &s, &form, Outcome::Refused(why))
                }
                Err(e) => web.error_page(negotiate(None, &headers), e),
            }
        }
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

/// "Resubscribe" on the preferences page of a reader who unsubscribed.
pub(super) async fn resubscribe(
    State(web): State<Web>,
    Path(token): Path<String>,
    client: ClientIp,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let fields = fields(pairs);
    let form_token = fields.get("form_token").cloned().unwrap_or_default();
    let origin = origin("web", client, &headers);
    match web
        .app
        .resubscribe(&token, &form_token, &origin, Utc::now())
        .await
    {
        Ok(s) => stored_form(&web, &token, &s, Outcome::Resubscribed).await,
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

/// "Download my data": everything stored about the reader, as JSON.
pub(super) async fn download(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    match web.app.export_data(&token, Utc::now()).await {
        Ok(data) => {
            let today = Utc::now().date_naive();
            let disposition = format!(
                "attachment; filename=\"academichub-data-{}-{:02}-{:02}.json\"",
                today.year(),
                today.month(),
                today.day()
            );
            (
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                serde_json::to_string_pretty(&data).expect("JSON values serialise"),
            )
                .into_response()
        }
        Err(e) => web.error_page(negotiate(None, &headers), e),
    }
}

pub(super) async fn delete(
    State(web): State<Web>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let fields = fields(pairs);
    let locale = negotiate(None, &headers);
    if fields.get("confirm").map(String::as_str) != Some("yes") {
        return web.error_page(locale, ReaderError::Invalid(InputError::DeleteNotTicked));
    }
    let form_token = fields.get("form_token").cloned().unwrap_or_default();
    let now = Utc::now();
    // The page is in the reader's language: look it up before it is gone.
    let locale = match web
        .app
        .open_link(&token, LinkAction::Preferences, now)
        .await
    {
        Ok((s, _)) => s.locale,
        Err(_) => locale,
    };
    match web.app.delete_data(&token, &form_token, now).await {
        Ok(()) => {
            let page = MessagePage {
                title: web.text(locale, "preferences.deleted_title"),
                paragraphs: vec![web.text(locale, "preferences.deleted_body")],
                ..MessagePage::default()
            };
            web.message(StatusCode::OK, locale, &page)
        }
        Err(e) => web.error_page(locale, e),
    }
}
