//! Subscribing: the public page with its form (`GET /`, `POST /`) and the
//! same as JSON (`POST /api/subscriptions`). The answer never tells whether
//! the address was new, pending or already subscribed.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use minijinja::context;
use serde::Serialize;
use std::collections::HashMap;

use super::pages::{MessagePage, negotiate};
use super::{ClientIp, Web, origin};
use crate::app::ReaderError;
use crate::domain::{Locale, SubscriberInput, Topic, TopicInput};

/// The body of every accepted subscribe request, byte for byte.
const ACCEPTED: &str = r#"{"status":"accepted","message":"If this address can receive mail, a message is on its way. Nothing is sent until the link in it is confirmed."}"#;

/// Empty topic rows the subscribe form offers.
const BLANK_TOPICS: usize = 3;

/// One topic's fields as the forms show them: a name and the query's text form.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct TopicRow {
    pub name: String,
    pub query: String,
    /// Expansions the topic also matches (preferences page only).
    pub also: Vec<AlsoChip>,
}

/// One expansion a topic also matches, as the preferences page shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct AlsoChip {
    pub text: String,
    /// Suggested by an AI model rather than learned from papers.
    pub suggested: bool,
    /// The field the reader named, when the term is one its papers use.
    pub field: Option<&'static str>,
    /// Words a paper must also have for it to count.
    pub with: Option<String>,
}

impl TopicRow {
    pub fn from_topic(topic: &Topic) -> Self {
        Self {
            name: topic.name().to_owned(),
            query: topic.query().to_string(),
            also: Vec::new(),
        }
    }

    pub fn into_input(self) -> TopicInput {
        TopicInput {
            name: self.name,
            query: Some(self.query),
            ..TopicInput::default()
        }
    }
}

/// The posted fields of a form, by name (the last value wins).
pub(super) fn fields(pairs: Vec<(String, String)>) -> HashMap<String, String> {
    pairs.into_iter().collect()
}

/// Topic rows `t0_…`, `t1_…`, … as posted, skipping rows marked `remove`.
pub(super) fn topic_rows(fields: &HashMap<String, String>) -> Vec<TopicRow> {
    let get = |i: usize, f: &str| fields.get(&format!("t{i}_{f}")).cloned();
    (0..Topic::MAX_PER_SUBSCRIBER + BLANK_TOPICS)
        .filter(|i| get(*i, "remove").is_none())
        .filter_map(|i| {
            let name = get(i, "name")?;
            Some(TopicRow {
                name,
                query: get(i, "query").unwrap_or_default(),
                also: Vec::new(),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
struct SubscribeForm {
    email: String,
    locale: String,
    timezone: String,
    send_hour: u32,
    topics: Vec<TopicRow>,
}

pub(super) async fn page(
    State(web): State<Web>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    // Pairs, not a struct: `?lang=zh&lang=en` takes the first instead of
    // answering a deserializer's message.
    let lang = query
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let locale = negotiate(lang, &headers);
    let form = SubscribeForm {
        email: String::new(),
        locale: locale.to_string(),
        timezone: String::new(),
        send_hour: web.app.settings.briefing.default_send_hour.get(),
        topics: vec![TopicRow::default(); BLANK_TOPICS],
    };
    render_form(&web, locale, &form, None, StatusCode::OK)
}

fn render_form(
    web: &Web,
    locale: Locale,
    form: &SubscribeForm,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let other = match locale {
        Locale::En => Locale::Zh,
        Locale::Zh => Locale::En,
    };
    let other_url = web.local(&format!("/?lang={other}"));
    web.html(
        status,
        web.pages.render(
            "subscribe.html",
            locale,
            Some(other_url),
            context! { form, error },
        ),
    )
}

pub(super) async fn form(
    State(web): State<Web>,
    client: ClientIp,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let fields = fields(pairs);
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let locale = field("locale")
        .parse()
        .unwrap_or_else(|_| negotiate(None, &headers));
    if !web.may_subscribe(client) {
        return web.too_many_requests(locale);
    }
    let form = SubscribeForm {
        email: field("email"),
        locale: locale.to_string(),
        timezone: field("timezone"),
        send_hour: field("send_hour")
            .parse()
            .unwrap_or(web.app.settings.briefing.default_send_hour.get()),
        topics: topic_rows(&fields),
    };
    let request = SubscriberInput {
        email: form.email.clone(),
        locale: Some(form.locale.clone()),
        timezone: Some(form.timezone.clone()),
        send_hour: Some(form.send_hour),
        cadence: None,
        topics: form
            .topics
            .iter()
            .cloned()
            .map(TopicRow::into_input)
            .collect(),
    };
    let origin = origin("web", client, &headers);
    match web
        .app
        .request_subscription(request, &origin, Utc::now())
        .await
    {
        Ok(()) => {
            let page = MessagePage {
                title: web.text(locale, "subscribe.sent_title"),
                paragraphs: vec![web.text(locale, "subscribe.sent_body")],
                detail: Some(form.email.trim().to_owned()),
                ..MessagePage::default()
            };
            web.message(StatusCode::OK, locale, &page)
        }
        Err(ReaderError::Invalid(why)) => render_form(
            &web,
            locale,
            &form,
            Some(web.pages.input_error(locale, &why)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => web.error_page(locale, e),
    }
}

pub(super) async fn api(
    State(web): State<Web>,
    client: ClientIp,
    headers: HeaderMap,
    body: Result<Json<SubscriberInput>, JsonRejection>,
) -> Response {
    let error = |status: StatusCode, message: String| {
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    };
    if !web.may_subscribe(client) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many subscribe requests from this address; try again later".into(),
        );
    }
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    let origin = origin("api", client, &headers);
    match web
        .app
        .request_subscription(request, &origin, Utc::now())
        .await
    {
        Ok(()) => (
            StatusCode::ACCEPTED,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            ACCEPTED,
        )
            .into_response(),
        Err(ReaderError::Invalid(why)) => error(StatusCode::UNPROCESSABLE_ENTITY, why.to_string()),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "subscribe request failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; nothing was changed, please try again later".into(),
            )
        }
    }
}
