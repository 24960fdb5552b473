//! `academichub serve`: the scheduler's ticks and the web server for
//! readers' links, side by side in one process, both stopped by SIGTERM or
//! SIGINT after finishing what is in flight (well within the systemd unit's
//! `TimeoutStopSec`: one message's exchange at most).

use std::sync::Arc;

use anyhow::Context;

use crate::app::Application;
use crate::{scheduler, web};

pub async fn serve(app: Arc<Application>) -> anyhow::Result<()> {
    // Listen for signals before any work: a signal that arrives during a tick
    // is kept and ends the loop as soon as the tick is done.
    let mut shutdown = Shutdown::listen().context("cannot listen for SIGTERM/SIGINT")?;
    let listen = &app.settings.web.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (check `web.listen`)"))?;
    tracing::info!(%listen, public_url = %app.settings.web.public_url, "web server is listening");
    if let Some(notice) = app.parked_notice(chrono::Utc::now()).await? {
        tracing::warn!("{notice}");
    }
    let (stop_web, web_stopping) = tokio::sync::oneshot::channel::<()>();
    let web = tokio::spawn(web::serve(app.clone(), listener, async {
        let _ = web_stopping.await;
    }));
    // The signal reaches the work in progress: collection stops between
    // feeds, the round between batches, delivery after the messages in
    // flight; then the scheduler loop ends.
    let on_signal = {
        let app = app.clone();
        tokio::spawn(async move {
            shutdown.recv().await;
            tracing::info!("stop requested; finishing what is in flight");
            app.stop();
        })
    };
    let ticks = scheduler::run(&app, app.stopped()).await;
    on_signal.abort();
    let _ = stop_web.send(());
    let served = web.await.context("the web server panicked")?;
    ticks.and(served)
}

/// SIGTERM (systemd, `kill`) or SIGINT (Ctrl-C).
struct Shutdown {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {},
            _ = self.interrupt.recv() => {},
        }
    }
}
