//! The ticks: cron in UTC that collect feeds and ask the database who is
//! due a briefing, plus delivery on demand when a reader's confirmation
//! mail should not wait for the next tick, and a poll of the bounce
//! mailbox when one is configured.
//!
//! Send times live in the database per subscriber (local hour + IANA zone);
//! the tick only asks "whose local hour has come and who has no briefing for
//! their local date yet". That keeps DST correct, where time-zone cron jobs
//! would drift by an hour, and lets several instances share one PostgreSQL
//! database: briefing creation is unique per subscriber and date, and outbox
//! rows are claimed with `SKIP LOCKED`.

use std::future::Future;

use anyhow::Context;
use chrono::Utc;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::app::Application;

/// Runs the ticks until `shutdown` resolves, then lets the tick in progress
/// finish.
pub async fn run(app: &Application, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    // Ticks run inside the scheduler's tasks, which need 'static state; the
    // application is borrowed for the duration of `run`, so it is reached
    // through a channel instead of being moved.
    let (tick_tx, mut tick_rx) = tokio::sync::mpsc::channel::<Tick>(4);
    let mut scheduler = JobScheduler::new()
        .await
        .context("cannot start the scheduler")?;
    for (schedule, tick) in [
        (&app.settings.schedule.collect, Tick::Collect),
        (&app.settings.schedule.deliver, Tick::Deliver),
    ] {
        let tx = tick_tx.clone();
        let job = Job::new_async(schedule.as_str(), move |_, _| {
            let tx = tx.clone();
            Box::pin(async move {
                // A full queue means a tick is already waiting: skip this one.
                let _ = tx.try_send(tick);
            })
        })
        .with_context(|| format!("invalid schedule {schedule:?}"))?;
        scheduler.add(job).await?;
    }
    scheduler.start().await?;
    tracing::info!(mail = %app.mailer().describe(), "academichub is running; Ctrl-C to stop");

    // Work once at start-up: a restart resumes whatever is due or queued.
    // Ticks run one after another, so collection and delivery never overlap.
    for tick in [Tick::Collect, Tick::Deliver] {
        run_tick(app, tick).await;
    }
    tokio::pin!(shutdown);
    // The bounce mailbox, every `bounces.imap.poll_minutes` (first at start-up).
    let poll_every = app.bounce_poll_interval();
    let mut bounce_poll =
        tokio::time::interval(poll_every.unwrap_or(std::time::Duration::from_secs(3600)));
    bounce_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            Some(tick) = tick_rx.recv() => run_tick(app, tick).await,
            _ = bounce_poll.tick(), if poll_every.is_some() => run_tick(app, Tick::Bounces).await,
            () = app.delivery_requested() => run_tick(app, Tick::SendNow).await,
            () = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down");
    scheduler.shutdown().await?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Tick {
    Collect,
    /// Make due briefings, expire unconfirmed subscriptions, send.
    Deliver,
    /// Send what is queued now (a confirmation was just requested).
    SendNow,
    /// Read the bounce mailbox.
    Bounces,
}

async fn run_tick(app: &Application, tick: Tick) {
    let now = Utc::now();
    let result = match tick {
        Tick::Collect => {
            app.collect_tick(now).await.map(|tick| {
                for (feed, error) in tick.collected.failures() {
                    tracing::warn!(%feed, %error, "feed failed");
                }
                if tick.tldrs != Default::default() {
                    tracing::info!(tldrs = ?tick.tldrs, "TL;DRs written after collection");
                }
                if tick.suggested != Default::default() {
                    tracing::info!(suggested = ?tick.suggested, "topics' expansions suggested after collection");
                }
            })
        }
        Tick::Deliver => app.deliver_tick(now, false, false).await.and_then(|tick| {
            tracing::info!(
                prepared = ?tick.prepared,
                expired = tick.expired,
                delivered = ?tick.delivered.as_ref().ok(),
                "deliver tick done"
            );
            tick.delivered.map(drop).map_err(Into::into)
        }),
        Tick::SendNow => app
            .deliver(false)
            .await
            .map(|delivered| tracing::info!(?delivered, "sent on request"))
            .map_err(Into::into),
        Tick::Bounces => app.poll_bounces(now).await.map(|report| {
            if !report.handled.is_empty() || report.kept > 0 {
                tracing::info!(
                    read = report.handled.len(),
                    kept = report.kept,
                    waiting = report.waiting,
                    "bounce mailbox read"
                );
            }
        }),
    };
    if let Err(e) = result {
        tracing::error!(
            ?tick,
            error = format!("{e:#}"),
            "tick failed; will try again at the next tick"
        );
    }
}
