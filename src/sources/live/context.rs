//! What every live source shares: the [`SourceContext`] a running feed gets from the service
//! (its id, device, event channel, health and shutdown flag), the error that ends one connection
//! ([`SourceError`]), and the reconnect loop with capped, jittered backoff every source runs in.
//! A source never knows about signatures, verdicts or alerts: it delivers observations.

use super::health::{FeedHealth, SourceEvent};
use crate::model::Observation;
use crate::net::backoff::Backoff;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// What one running feed needs from the service.
pub struct SourceContext {
    /// The feed's id from the configuration (`[[feed]] id`).
    pub feed: String,
    /// The configured device the feed belongs to, when it belongs to one.
    pub device: Option<String>,
    /// Where observations go (bounded: a slow service slows the source down).
    pub tx: mpsc::Sender<SourceEvent>,
    /// Counters and state read by `/metrics` and the API.
    pub health: Arc<FeedHealth>,
    /// Becomes `true` when the service stops.
    pub shutdown: watch::Receiver<bool>,
    /// What the service's rules read: decoders build only that ([`crate::decode::demand`]).
    pub demand: Arc<crate::decode::demand::Demand>,
}

/// Why one connection of a feed ended.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Could not connect, or the device refused (authentication, TLS, HTTP status).
    #[error("connect: {0}")]
    Connect(String),
    /// The peer does not speak the expected protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Reading or writing failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The service is no longer taking events (stopping).
    #[error("service stopped taking events")]
    Closed,
}

/// Backoff used by every feed: 0.5 s doubling to 30 s, jittered.
pub fn feed_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
}

/// A connection that stayed up this long resets the backoff.
const STABLE: Duration = Duration::from_secs(10);

/// Runs `connect` again and again until shutdown: each call is one connection (it returns when
/// the connection ends); between calls the feed is down and waits a backoff delay. The closure
/// gets a fresh shutdown receiver and must return promptly when it flips.
pub async fn reconnect_loop<F, Fut>(ctx: &SourceContext, mut connect: F)
where
    F: FnMut(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = Result<(), SourceError>>,
{
    let mut backoff = feed_backoff();
    let mut shutdown = ctx.shutdown.clone();
    let mut first = true;
    while !*shutdown.borrow() {
        if !first {
            ctx.health
                .reconnects
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        first = false;
        let started = Instant::now();
        // A connection stuck anywhere (connect, handshake, a silent peer) is dropped at shutdown.
        let res = tokio::select! {
            r = connect(ctx.shutdown.clone()) => r,
            _ = stopped(&mut shutdown) => Ok(()),
        };
        ctx.health.set_up(false);
        if *shutdown.borrow() {
            break;
        }
        match res {
            Ok(()) => ctx.health.set_error("connection closed by peer"),
            Err(SourceError::Closed) => break,
            Err(e) => {
                tracing::warn!(feed = %ctx.feed, error = %e, "feed down");
                ctx.health.set_error(&e.to_string());
            }
        }
        if started.elapsed() >= STABLE {
            backoff.reset();
        }
        let wait = backoff.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Resolves when the shutdown flag is (or becomes) true, or its sender is gone.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// For threads outside the runtime: shutdown was asked for, or the service is gone.
pub fn is_stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

impl SourceContext {
    /// Count one message of `bytes` and hand its observations (if any) to the service.
    pub async fn deliver(
        &self,
        bytes: usize,
        observations: Vec<Observation>,
    ) -> Result<(), SourceError> {
        let Some(ev) = self.counted(bytes, observations) else {
            return Ok(());
        };
        self.tx.send(ev).await.map_err(|_| SourceError::Closed)
    }

    /// Count one message; the event to send, when it showed anything.
    fn counted(&self, bytes: usize, observations: Vec<Observation>) -> Option<SourceEvent> {
        self.health.add_message(bytes);
        (!observations.is_empty()).then(|| SourceEvent {
            feed: self.feed.clone(),
            device: self.device.clone(),
            observations,
            received: crate::clock::now(),
        })
    }

    /// The same from a thread outside the runtime (GStreamer streaming threads, libpcap). It
    /// waits while the service is behind (backpressure) but gives up at shutdown, so stopping a
    /// pipeline never deadlocks on a full channel.
    pub fn deliver_blocking(
        &self,
        bytes: usize,
        observations: Vec<Observation>,
    ) -> Result<(), SourceError> {
        let Some(mut ev) = self.counted(bytes, observations) else {
            return Ok(());
        };
        loop {
            match self.tx.try_send(ev) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(SourceError::Closed),
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if is_stopping(&self.shutdown) {
                        return Err(SourceError::Closed);
                    }
                    ev = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// A detached copy for a thread (same channel, health and shutdown).
    pub fn clone_handle(&self) -> SourceContext {
        SourceContext {
            feed: self.feed.clone(),
            device: self.device.clone(),
            tx: self.tx.clone(),
            health: self.health.clone(),
            shutdown: self.shutdown.clone(),
            demand: self.demand.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reconnect_loop_backs_off_and_stops() {
        let (tx, _rx) = mpsc::channel(4);
        let (stop_tx, stop_rx) = watch::channel(false);
        let ctx = SourceContext {
            feed: "t".into(),
            device: None,
            tx,
            health: Arc::new(FeedHealth::default()),
            shutdown: stop_rx,
            demand: Default::default(),
        };
        let calls = std::sync::atomic::AtomicU32::new(0);
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = stop_tx.send(true);
        });
        reconnect_loop(&ctx, |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async { Err(SourceError::Connect("refused".into())) }
        })
        .await;
        stopper.await.unwrap();
        let n = calls.load(std::sync::atomic::Ordering::Relaxed);
        // 0.5 s initial backoff with jitter in [cap/2, cap]: 2..=5 attempts in 1.5 s, not a spin.
        assert!((2..=5).contains(&n), "{n} attempts");
        assert_eq!(
            ctx.health
                .reconnects
                .load(std::sync::atomic::Ordering::Relaxed),
            n as u64 - 1
        );
        assert_eq!(ctx.health.last_error().as_deref(), Some("connect: refused"));
    }
}
