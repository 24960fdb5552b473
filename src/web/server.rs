//! The HTTP server under the router: how connections are admitted, how
//! long a client may take, and what it is told when it must wait.
//!
//! `axum::serve` reads request headers for as long as a client cares to
//! send them and admits every connection: a single client holding some
//! thousand half-sent requests took the daemon to its open-file limit, and
//! from then on no subscribe, confirmation, one-click unsubscribe or health
//! check was answered. So this accept loop, over hyper's HTTP/1 connection
//! driver, holds every connection to three bounds:
//! - **header time** (`web.header_timeout_secs`): a request's head must
//!   arrive within it, and an idle keep-alive connection is closed after it
//!   (hyper starts the same clock while waiting for the next request);
//! - **request time** (`web.request_timeout_secs`): reading the body and
//!   answering, together; beyond it the client gets 408;
//! - **connections** (`web.max_connections` in all,
//!   `web.max_connections_per_client` from one peer address): a connection
//!   over a cap is answered at once, 429 or 503 with `Retry-After`, and
//!   closed, so the file descriptors it would hold are given back.
//!
//! Behind a reverse proxy every connection comes from the proxy, so the
//! per-client cap is not applied when `web.client_ip_header` is set: the
//! proxy must bound its clients (the README says how).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a client is told to wait before trying again.
const RETRY_AFTER_SECS: u64 = 5;
/// A refusal that cannot be written in this time is dropped.
const REFUSAL_WRITE: Duration = Duration::from_secs(2);
/// After `accept` fails (out of file descriptors, say), wait this long
/// before the next: retrying at once would spin and flood the log.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);

/// The bounds a connection is held to (from `[web]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// `None` behind a proxy, where every connection has the proxy's address.
    pub max_per_client: Option<usize>,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// requests under way finish (for at most `drain`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    drain: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let gate = Arc::new(Gate::new(limits));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let pass = match gate.admit(peer.ip()) {
            Ok(pass) => pass,
            Err(refusal) => {
                tokio::spawn(refuse(stream, refusal));
                continue;
            }
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            tower::ServiceExt::oneshot(router.clone(), request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _pass = pass;
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still under way after {} s; closing their connections",
            drain.as_secs()
        );
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Every connection slot is taken.
    Busy,
    /// This client holds its share of connections already.
    TooManyFromClient,
}

/// Answers a connection that is not admitted, without reading its request,
/// and closes it.
async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let (status, body) = match refusal {
        Refusal::Busy => (
            "503 Service Unavailable",
            "The server is busy; please try again in a few seconds.\n",
        ),
        Refusal::TooManyFromClient => (
            "429 Too Many Requests",
            "Too many open connections from your address; please try again in a few seconds.\n",
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nRetry-After: {RETRY_AFTER_SECS}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Counts open connections, in all and per peer address.
struct Gate {
    slots: Arc<Semaphore>,
    max_per_client: Option<usize>,
    per_client: Mutex<HashMap<IpAddr, usize>>,
}

/// An admitted connection's slot, given back when the connection ends.
struct Pass {
    gate: Arc<Gate>,
    client: Option<IpAddr>,
    _slot: OwnedSemaphorePermit,
}

impl Gate {
    fn new(limits: Limits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            max_per_client: limits.max_per_client,
            per_client: Mutex::new(HashMap::new()),
        }
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Pass, Refusal> {
        let slot = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Busy)?;
        let client = match self.max_per_client {
            Some(max) => {
                let mut open = self.per_client.lock().expect("gate lock poisoned");
                let count = open.entry(ip).or_insert(0);
                if *count >= max {
                    return Err(Refusal::TooManyFromClient);
                }
                *count += 1;
                Some(ip)
            }
            None => None,
        };
        Ok(Pass {
            gate: self.clone(),
            client,
            _slot: slot,
        })
    }

    fn release(&self, client: IpAddr) {
        let mut open = self.per_client.lock().expect("gate lock poisoned");
        if let Some(count) = open.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&client);
            }
        }
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if let Some(client) = self.client {
            self.gate.release(client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max: usize, per_client: Option<usize>) -> Arc<Gate> {
        Arc::new(Gate::new(Limits {
            header_timeout: Duration::from_secs(1),
            max_connections: max,
            max_per_client: per_client,
        }))
    }

    #[test]
    fn one_client_gets_its_share_and_others_still_get_in() {
        let gate = gate(10, Some(2));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = gate.admit(a).unwrap();
        let _second = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).err(), Some(Refusal::TooManyFromClient));
        let _other = gate.admit(b).unwrap();
        drop(first);
        assert!(gate.admit(a).is_ok());
    }

    #[test]
    fn a_connection_given_back_frees_its_slot_and_its_count() {
        let gate = gate(1, Some(5));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let held = gate.admit(a).unwrap();
        assert_eq!(gate.admit(b).err(), Some(Refusal::Busy));
        drop(held);
        assert!(gate.per_client.lock().unwrap().is_empty());
        assert!(gate.admit(b).is_ok());
    }

    #[test]
    fn behind_a_proxy_only_the_total_counts() {
        let gate = gate(3, None);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let _held: Vec<_> = (0..3).map(|_| gate.admit(proxy).unwrap()).collect();
        assert_eq!(gate.admit(proxy).err(), Some(Refusal::Busy));
    }
}
