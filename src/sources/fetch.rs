//! Polite fetching: conditional GET with the validators the server gave
//! last time, a User-Agent that names us, a timeout, a size cap, and the
//! server's `Retry-After` reported back so collection can honour it.
//! `file://` URLs are read from disk (offline demos, recorded feeds).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER};

use super::route::Politeness;
use crate::redact::redact_url;

/// Feeds larger than this are refused rather than read into memory.
const MAX_FEED_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug)]
pub enum FetchOutcome {
    NotModified,
    Fetched {
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP {status} from the feed server")]
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    #[error("could not reach the feed server: {0}")]
    Network(#[source] reqwest::Error),
    #[error("the feed server did not answer in full within {0} s (collect.timeout_secs)")]
    TimedOut(u64),
    #[error("the feed is larger than {} MiB", MAX_FEED_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("cannot read feed file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a URL collection can fetch", redact_url(.0))]
    BadUrl(String),
}

impl FetchError {
    /// How long the server asked us to stay away, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// One HTTP client for all feeds (connection reuse, one TLS setup), and
/// the pace each provider asks for, kept across collection runs.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    gates: Arc<std::sync::Mutex<HashMap<String, Gate>>>,
}

/// When a provider was last asked; held for the length of one request.
type Gate = Arc<tokio::sync::Mutex<Option<Instant>>>;

/// An API's answer, whatever its status: a refusal's body often says why.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// The longest `Retry-After` a walk waits out in place; a longer one ends
/// the walk and the source is asked again after it.
const RETRY_AFTER_WAIT: Duration = Duration::from_secs(60);
/// Waits for the same request before the walk gives up.
const RETRIES: u32 = 3;

impl Fetcher {
    /// Says "timed out" when it did (reqwest says "error decoding response
    /// body" for a body that stalls), and never the URL, which may carry
    /// credentials.
    fn network_error(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::TimedOut(self.timeout.as_secs())
        } else {
            FetchError::Network(e.without_url())
        }
    }

    /// The longest one fetch may take.
    pub fn timeout_secs(&self) -> i64 {
        self.timeout.as_secs() as i64
    }

    pub fn new(user_agent: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Self {
            client,
            timeout,
            gates: Arc::default(),
        })
    }

    /// Holds `polite.key` for one request: waits for any request to the
    /// same provider in flight, then until `polite.interval` has passed
    /// since the last one began.
    async fn turn(&self, polite: &Politeness) -> tokio::sync::OwnedMutexGuard<Option<Instant>> {
        let gate = self
            .gates
            .lock()
            .expect("the gate map is never poisoned")
            .entry(polite.key.clone())
            .or_default()
            .clone();
        let mut last = gate.lock_owned().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + polite.interval).await;
        }
        *last = Some(Instant::now());
        last
    }

    /// One GET of an API at the provider's pace. A 429 or 503 with a short
    /// `Retry-After` is waited out and asked again (up to 3 times); any
    /// other answer is returned with its status and body.
    pub async fn get(&self, url: &url::Url, polite: &Politeness) -> Result<Answer, FetchError> {
        let mut attempt = 0;
        loop {
            let answer = {
                let _turn = self.turn(polite).await;
                let mut response = self
                    .client
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| self.network_error(e))?;
                let status = response.status();
                let retry_after = retry_after_of(&response);
                let body = self.read_body(&mut response).await?;
                Answer {
                    status,
                    retry_after,
                    body,
                }
            };
            let busy = matches!(
                answer.status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            );
            match answer.retry_after {
                Some(wait) if busy && wait <= RETRY_AFTER_WAIT && attempt < RETRIES => {
                    tracing::info!(provider = %polite.key, wait_secs = wait.as_secs(), "asked to wait; waiting");
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                _ => return Ok(answer),
            }
        }
    }

    async fn read_body(&self, response: &mut reqwest::Response) -> Result<Vec<u8>, FetchError> {
        if response
            .content_length()
            .is_some_and(|n| n > MAX_FEED_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.network_error(e))? {
            if body.len() + chunk.len() > MAX_FEED_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// A feed file, held to the same size cap and time limit as a feed
    /// over HTTP (`file:///dev/zero` or a FIFO must not take the daemon's
    /// memory or stall collection).
    async fn read_file(&self, path: &std::path::Path) -> Result<Vec<u8>, FetchError> {
        use tokio::io::AsyncReadExt;
        let failed = |source| FetchError::File {
            path: path.display().to_string(),
            source,
        };
        let read = async {
            let file = tokio::fs::File::open(path).await.map_err(failed)?;
            let mut body = Vec::new();
            file.take(MAX_FEED_BYTES as u64 + 1)
                .read_to_end(&mut body)
                .await
                .map_err(failed)?;
            if body.len() > MAX_FEED_BYTES {
                return Err(FetchError::TooLarge);
            }
            Ok(body)
        };
        tokio::time::timeout(self.timeout, read)
            .await
            .map_err(|_| FetchError::TimedOut(self.timeout.as_secs()))?
    }

    pub async fn fetch(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
        polite: &Politeness,
    ) -> Result<FetchOutcome, FetchError> {
        let parsed = url::Url::parse(url).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
        if parsed.scheme() == "file" {
            let path = parsed
                .to_file_path()
                .map_err(|_| FetchError::BadUrl(url.to_owned()))?;
            let body = self.read_file(&path).await?;
            return Ok(FetchOutcome::Fetched {
                body,
                etag: None,
                last_modified: None,
            });
        }

        let _turn = self.turn(polite).await;
        let mut request = self.client.get(parsed);
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(since) = last_modified {
            request = request.header(IF_MODIFIED_SINCE, since);
        }
        let mut response = request.send().await.map_err(|e| self.network_error(e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status,
                retry_after: retry_after_of(&response),
            });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        let body = self.read_body(&mut response).await?;
        Ok(FetchOutcome::Fetched {
            body,
            etag,
            last_modified,
        })
    }
}

/// How long the server asked us to stay away, if it did.
fn retry_after_of(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// `Retry-After` is either delta-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let secs = (when.timestamp() - chrono::Utc::now().timestamp()).max(0);
    Some(Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
