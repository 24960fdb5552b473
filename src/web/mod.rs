//! The reader's side over HTTP: the subscribe page and API, and every link
//! in our mail (confirm, unsubscribe, preferences, feedback, view in
//! browser). Served by `academichub serve` on `web.listen`; links point at
//! `web.public_url`.
//!
//! Handlers are thin: they parse the request, call the application
//! (`app::readers`), and render a page. Three rules hold everywhere:
//! - **GET never changes state.** A link scanner that opens every URL in a
//!   mail subscribes, unsubscribes and votes for nothing: each link opens a
//!   page with one button that POSTs. The one exception is RFC 8058's
//!   one-click unsubscribe, which is a POST by the mail client itself.
//! - **A bad link is a clear 4xx page**, never a 500 and never another
//!   subscriber's data (`error_page` is the one mapping).
//! - **Pages are strict and escaped** (`pages`), sent with a CSP that allows
//!   only our own stylesheet and script, no framing and no referrer.

mod input_errors;
mod links;
mod pages;
mod preferences;
mod server;
mod subscribe;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::{Application, ReaderError};
use crate::domain::{EventOrigin, LinkError, Locale};
use crate::telemetry::metrics;
use pages::{MessagePage, PageLink, Pages};

/// Requests are small forms and JSON; anything bigger is refused.
const BODY_LIMIT: usize = 64 * 1024;

/// Our pages load our own stylesheet and script, post to ourselves, and are
/// never framed.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone)]
struct Web {
    app: Arc<Application>,
    pages: Arc<Pages>,
    /// Subscribe requests per client IP.
    subscribe_limit: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// The health check's last answer (whether the database took a write).
    health: Arc<LastCheck>,
    /// The readiness check's last answer (and why not).
    ready: Arc<LastCheck>,
}

/// A check that writes to the database, answered at most once per
/// `HEALTH_CHECK_EVERY` however often a monitor (or a stranger) asks: the
/// others get its last answer.
#[derive(Default)]
struct LastCheck(tokio::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>);

impl LastCheck {
    async fn answer(&self, check: impl Future<Output = anyhow::Result<()>>) -> Result<(), String> {
        let mut last = self.0.lock().await;
        match last.as_ref() {
            Some((at, answer)) if at.elapsed() < HEALTH_CHECK_EVERY => answer.clone(),
            _ => {
                // The store's errors carry their cause's words already.
                let answer = check.await.map_err(|e| e.to_string());
                *last = Some((std::time::Instant::now(), answer.clone()));
                answer
            }
        }
    }
}

/// How long one health check's answer stands.
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The router, with every route and layer; also what the tests serve.
pub fn router(app: Arc<Application>) -> anyhow::Result<Router> {
    let public = url::Url::parse(&app.settings.web.public_url)?;
    let pages = Pages::new(public.path().trim_end_matches('/').to_owned())?;
    let per_hour = NonZeroU32::new(app.settings.web.subscribe_per_ip_per_hour)
        .expect("validated in Settings::load");
    let request_timeout = Duration::from_secs(app.settings.web.request_timeout_secs);
    let state = Web {
        app,
        pages: Arc::new(pages),
        subscribe_limit: Arc::new(RateLimiter::keyed(Quota::per_hour(per_hour))),
        health: Arc::default(),
        ready: Arc::default(),
    };
    let header = |name, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    Ok(Router::new()
        .route("/", get(subscribe::page).post(subscribe::form))
        .route("/api/subscriptions", post(subscribe::api))
        .route(
            "/confirm/{token}",
            get(links::confirm_page).post(links::confirm),
        )
        .route(
            "/unsubscribe/{token}",
            get(links::unsubscribe_page).post(links::unsubscribe),
        )
        .route("/unsubscribe/{token}/undo", post(links::undo_unsubscribe))
        .route(
            "/feedback/{token}",
            get(links::feedback_page).post(links::feedback),
        )
        .route("/b/{token}", get(links::view_briefing))
        .route("/b/{token}/more", get(links::left_out_papers))
        .route(
            "/preferences/{token}",
            get(preferences::page).post(preferences::save),
        )
        .route("/preferences/{token}/data", get(preferences::download))
        .route("/preferences/{token}/delete", post(preferences::delete))
        .route(
            "/preferences/{token}/also",
            post(preferences::drop_expansion),
        )
        .route(
            "/preferences/{token}/resubscribe",
            post(preferences::resubscribe),
        )
        .route("/feedback/{token}/undo", post(links::undo_feedback))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
        .route("/assets/site.css", get(stylesheet))
        .route("/assets/timezone.js", get(script))
        .route("/assets/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(header(header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(header::CACHE_CONTROL, "no-store"))
        .layer(axum::middleware::from_fn(count_request)))
}

/// Counts every request by its route's template (`/confirm/{token}`: never
/// the token) and status, with how long it took.
async fn count_request(
    route: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", |r| r.as_str());
    metrics::http_request(route, response.status().as_u16(), started.elapsed());
    response
}

/// Serves until `shutdown` resolves, then finishes the requests under way
/// (each is bounded by `web.request_timeout_secs`).
pub async fn serve(
    app: Arc<Application>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let web = &app.settings.web;
    let limits = server::Limits {
        header_timeout: Duration::from_secs(web.header_timeout_secs),
        max_connections: web.max_connections,
        max_per_client: web
            .client_ip_header
            .is_none()
            .then_some(web.max_connections_per_client),
    };
    let drain = Duration::from_secs(web.request_timeout_secs);
    let router = router(app)?;
    server::serve(listener, router, limits, drain, shutdown).await;
    Ok(())
}

/// The liveness check: 200 while the database takes writes, else 503 (the
/// log says why and names the file).
async fn healthz(State(web): State<Web>) -> Response {
    let checked = web.health.answer(async {
        let checked = web.app.check_writable(Utc::now()).await;
        if let Err(e) = &checked {
            tracing::warn!(error = %e, "health check: the database cannot be written");
        }
        checked
    });
    match checked.await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database cannot be written; the log says why\n",
        )
            .into_response(),
    }
}

/// The readiness check: 200 when the database takes a write and holds the
/// migrations this binary carries, else 503 with the reason (a load
/// balancer or an orchestrator sends no work here meanwhile).
async fn readyz(State(web): State<Web>) -> Response {
    match web.ready.answer(web.app.readiness(Utc::now())).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => {
            tracing::warn!(error = %why, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            )
                .into_response()
        }
    }
}

/// The metrics in Prometheus's text format; 404 when `metrics.enabled` is off.
async fn scrape(State(web): State<Web>, headers: HeaderMap) -> Response {
    match web.app.scrape(Utc::now()).await {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => not_found(State(web), headers).await,
    }
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/site.css"))
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/timezone.js"),
    )
}

/// Browsers ask for `/favicon.ico` on their own; both paths get our SVG.
async fn favicon() -> Response {
    asset("image/svg+xml", include_str!("assets/favicon.svg"))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn not_found(State(web): State<Web>, headers: HeaderMap) -> Response {
    let locale = pages::negotiate(None, &headers);
    web.error_page(locale, ReaderError::NotFound)
}

impl Web {
    fn html(&self, status: StatusCode, rendered: Result<String, minijinja::Error>) -> Response {
        match rendered {
            Ok(body) => (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "page template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            }
        }
    }

    fn message(&self, status: StatusCode, locale: Locale, page: &MessagePage) -> Response {
        self.html(status, self.pages.message(locale, page))
    }

    fn text(&self, locale: Locale, path: &str) -> String {
        self.pages.text(locale, path)
    }

    /// A local URL under `web.public_url`'s path.
    fn local(&self, path: &str) -> String {
        format!("{}{path}", self.pages.prefix())
    }

    /// The one mapping from a reader-facing failure to a status and a page.
    fn error_page(&self, locale: Locale, error: ReaderError) -> Response {
        let (status, key) = match &error {
            ReaderError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "errors.input"),
            ReaderError::Link(LinkError::Invalid) => {
                (StatusCode::BAD_REQUEST, "errors.invalid_link")
            }
            ReaderError::Link(LinkError::WrongAction) => {
                (StatusCode::BAD_REQUEST, "errors.wrong_action")
            }
            ReaderError::Link(LinkError::Expired) => (StatusCode::GONE, "errors.expired"),
            ReaderError::Gone => (StatusCode::GONE, "errors.gone"),
            ReaderError::NotFound => (StatusCode::NOT_FOUND, "errors.not_found"),
            ReaderError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "errors.internal")
            }
        };
        let mut paragraphs = vec![self.text(locale, key)];
        if let ReaderError::Invalid(why) = &error {
            paragraphs.push(self.pages.input_error(locale, why));
        }
        let page = MessagePage {
            title: self.text(locale, "errors.title"),
            paragraphs,
            links: vec![PageLink {
                url: self.local("/"),
                label: self.text(locale, "errors.home"),
            }],
            ..MessagePage::default()
        };
        self.message(status, locale, &page)
    }

    fn too_many_requests(&self, locale: Locale) -> Response {
        let page = MessagePage {
            title: self.text(locale, "errors.title"),
            paragraphs: vec![self.text(locale, "errors.too_many")],
            ..MessagePage::default()
        };
        self.message(StatusCode::TOO_MANY_REQUESTS, locale, &page)
    }

    /// Whether this client may ask for another subscription now.
    fn may_subscribe(&self, ClientIp(ip): ClientIp) -> bool {
        // Forget idle clients now and then, so the table cannot grow without bound.
        if self.subscribe_limit.len() > 10_000 {
            self.subscribe_limit.retain_recent();
        }
        self.subscribe_limit.check_key(&ip).is_ok()
    }
}

/// Who made a request: recorded with every change of a subscription.
fn origin(source: &'static str, client: ClientIp, headers: &HeaderMap) -> EventOrigin {
    EventOrigin {
        source,
        ip: Some(client.0.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(300).collect()),
    }
}

/// The reader's address: from `web.client_ip_header` when a reverse proxy
/// sets it, else the connection's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClientIp(IpAddr);

impl FromRequestParts<Web> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = web
            .app
            .settings
            .web
            .client_ip_header
            .as_deref()
            .and_then(|name| parts.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .and_then(last_address);
        Ok(Self(
            forwarded
                .or(peer)
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

/// The last address of a comma-separated list: the one our own proxy added.
fn last_address(value: &str) -> Option<IpAddr> {
    value.rsplit(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_last_address_our_proxy_added() {
        assert_eq!(
            last_address("203.0.113.9, 10.0.0.2, 198.51.100.7"),
            "198.51.100.7".parse().ok()
        );
        assert_eq!(last_address(" 2001:db8::1 "), "2001:db8::1".parse().ok());
        assert_eq!(last_address("unknown"), None);
    }
}
