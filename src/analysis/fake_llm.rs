//! A stand-in OpenAI-compatible chat-completions server on loopback, one
//! behaviour per path prefix: `{url}/{mode}/v1/chat/completions`.
//!
//! | mode         | answer                                                       |
//! |--------------|--------------------------------------------------------------|
//! | `well`       | the JSON asked for, echoing the ids, `usage.total_tokens`    |
//! | `fenced`     | the same, wrapped in a ```` ```json ```` fence               |
//! | `nousage`    | the same, without `usage`                                    |
//! | `malformed`  | content that is not JSON                                     |
//! | `unknown`    | names `P99`, a paper it was not given                        |
//! | `wrongcount` | TL;DRs for all papers but the last                           |
//!
//! Asked for expansions (`task: expansions`), `well` (and the modes like
//! it) suggests [`EXPANSIONS`], `unknown` one with a URL in it.
//! | `slow`       | `well`, after [`SLOW`]                                       |
//! | `429`, `500` | that status                                                  |
//!
//! A request that is not the chat-completions request the client should
//! send is answered 400. Self-contained (axum, serde_json and tokio only,
//! nothing from this crate) so that integration tests can include the file
//! with `#[path = "../../src/analysis/fake_llm.rs"] mod fake_llm;`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// `usage.total_tokens` of every answer that has a usage.
pub const TOTAL_TOKENS: u64 = 321;

/// What the server suggests a topic also matches, whatever the topic.
pub const EXPANSIONS: [&str; 2] = ["outlier detection", "novelty detection"];

/// How long `slow` waits before answering.
pub const SLOW: Duration = Duration::from_secs(3);

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub mode: String,
    pub authorization: Option<String>,
    pub body: Value,
}

/// A running server; it stops with the test's runtime.
pub struct FakeLlm {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeLlm {
    pub async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/{mode}/v1/chat/completions", post(handle))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, seen }
    }

    /// The `llm.base_url` that gets behaviour `mode`.
    pub fn base_url(&self, mode: &str) -> String {
        format!("{}/{mode}/v1", self.url)
    }

    /// The requests received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

async fn handle(
    State(seen): State<Arc<Mutex<Vec<Seen>>>>,
    Path(mode): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().expect("not poisoned").push(Seen {
        mode: mode.clone(),
        authorization: headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.clone(),
    });
    if mode == "slow" {
        tokio::time::sleep(SLOW).await;
    }
    let (status, answer) = answer(&mode, &body);
    let status = StatusCode::from_u16(status).expect("a valid status");
    (status, axum::Json(answer)).into_response()
}

/// The status and JSON body the server answers `request` with in `mode`.
pub fn answer(mode: &str, request: &Value) -> (u16, Value) {
    let error = |status, message: &str| (status, json!({ "error": { "message": message } }));
    match mode {
        "429" => return error(429, "Rate limit reached"),
        "500" => return error(500, "The server had an error"),
        _ => {}
    }
    let user = match check_request(request) {
        Ok(user) => user,
        Err(problem) => return error(400, &problem),
    };
    let ids: Vec<&str> = user["papers"]
        .as_array()
        .map(|papers| papers.iter().filter_map(|p| p["id"].as_str()).collect())
        .unwrap_or_default();
    let content = match (mode, user["task"].as_str()) {
        ("malformed", _) => "Sure! Here is what today's papers are about.".to_owned(),
        ("well" | "fenced" | "nousage" | "slow" | "unknown" | "wrongcount", Some("tldr")) => {
            let papers = user["papers"].as_array().cloned().unwrap_or_default();
            let mut tldrs: Vec<Value> = papers
                .iter()
                .map(|p| {
                    json!({
                        "id": p["id"],
                        "tldr": format!("In short: {}.", p["title"].as_str().unwrap_or("")),
                    })
                })
                .collect();
            if mode == "unknown"
                && let Some(last) = tldrs.last_mut()
            {
                last["id"] = json!("P99");
            }
            if mode == "wrongcount" {
                tldrs.pop();
            }
            json!({ "tldrs": tldrs }).to_string()
        }
        ("unknown", Some("expansions")) => {
            json!({ "expansions": ["see https://example.org/topics"] }).to_string()
        }
        ("well" | "fenced" | "nousage" | "slow" | "wrongcount", Some("expansions")) => {
            json!({ "expansions": EXPANSIONS }).to_string()
        }
        ("unknown", Some("analysis")) => {
            json!({ "analysis": "Today's papers share a method; see [P99]." }).to_string()
        }
        ("well" | "fenced" | "nousage" | "slow" | "wrongcount", Some("analysis")) => {
            let markers: Vec<String> = ids.iter().map(|id| format!("[{id}]")).collect();
            json!({
                "analysis": format!(
                    "Today's papers meet in {}. The first stands out.",
                    markers.join(" and ")
                )
            })
            .to_string()
        }
        (_, Some(task)) if ["tldr", "analysis", "expansions"].contains(&task) => {
            return error(404, &format!("no behaviour {mode:?}"));
        }
        (_, task) => return error(400, &format!("unknown task {task:?}")),
    };
    let content = if mode == "fenced" {
        format!("```json\n{content}\n```")
    } else {
        content
    };
    let mut body = json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": request["model"],
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop",
        }],
    });
    if mode != "nousage" {
        body["usage"] = json!({
            "prompt_tokens": TOTAL_TOKENS - 21,
            "completion_tokens": 21,
            "total_tokens": TOTAL_TOKENS,
        });
    }
    (200, body)
}

/// The user message's JSON document, if `request` is the chat-completions
/// request the client should send.
fn check_request(request: &Value) -> Result<Value, String> {
    if !request["model"].is_string() {
        return Err("model is missing".into());
    }
    if !request["max_tokens"].is_u64() {
        return Err("max_tokens is missing".into());
    }
    if request["temperature"].as_f64().is_none() {
        return Err("temperature is missing".into());
    }
    if request["response_format"] != json!({ "type": "json_object" }) {
        return Err("response_format must be json_object".into());
    }
    let messages = request["messages"]
        .as_array()
        .ok_or("messages is missing")?;
    let [system, user] = messages.as_slice() else {
        return Err("expected a system and a user message".into());
    };
    if system["role"] != "system" || user["role"] != "user" {
        return Err("expected a system and a user message".into());
    }
    let system = system["content"].as_str().unwrap_or("");
    if !system.contains("JSON") {
        return Err("json_object needs the word JSON in the messages".into());
    }
    let user = user["content"]
        .as_str()
        .ok_or("the user message is empty")?;
    serde_json::from_str(user).map_err(|e| format!("the user message is not JSON: {e}"))
}
