//! Live feeds of `banwatch serve`: one entry point ([`run_feed`]) over one module per source.
//! Every feed runs until shutdown, reconnects with capped, jittered backoff, reports its state in
//! [`FeedHealth`], and counts and skips a broken message instead of stopping.

use crate::model::Observation;
use crate::taps::feed::{Backoff, FeedHealth, TapEvent};
use serde::Deserialize;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// What one running feed needs from the service.
pub struct TapContext {
    pub feed: String,
    pub device: Option<String>,
    pub tx: mpsc::Sender<TapEvent>,
    pub health: Arc<FeedHealth>,
    pub shutdown: watch::Receiver<bool>,
}

pub fn default_mqtt_port() -> u16 {
    1883
}

/// A feed as written in the service configuration (`kind = "rtsp"`, ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedConfig {
    Rtsp {
        url: String,
        /// Name of a template in the pipelines directory (default `rtsp-metadata`).
        #[serde(default)]
        pipeline: Option<String>,
    },
    Hikvision {
        url: String,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
    },
    Dahua {
        url: String,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
    },
    OnvifEvents {
        url: String,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        password: Option<String>,
    },
    Mqtt {
        host: String,
        #[serde(default = "default_mqtt_port")]
        port: u16,
        topics: Vec<String>,
    },
    Zeek {
        path: String,
    },
    Eve {
        path: String,
    },
    Capture {
        interface: String,
    },
}

impl FeedConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            FeedConfig::Rtsp { .. } => "rtsp",
            FeedConfig::Hikvision { .. } => "hikvision",
            FeedConfig::Dahua { .. } => "dahua",
            FeedConfig::OnvifEvents { .. } => "onvif_events",
            FeedConfig::Mqtt { .. } => "mqtt",
            FeedConfig::Zeek { .. } => "zeek",
            FeedConfig::Eve { .. } => "eve",
            FeedConfig::Capture { .. } => "capture",
        }
    }
}

/// Run one feed until `*ctx.shutdown` becomes true.
pub async fn run_feed(cfg: FeedConfig, ctx: TapContext) {
    tracing::info!(feed = %ctx.feed, kind = cfg.kind(), "feed starting");
    match cfg {
        FeedConfig::Rtsp { url, pipeline } => super::rtsp::run(url, pipeline, &ctx).await,
        FeedConfig::Hikvision {
            url,
            username,
            password,
        } => super::hikvision::run(url, creds(username, password), &ctx).await,
        FeedConfig::Dahua {
            url,
            username,
            password,
        } => super::dahua::run(url, creds(username, password), &ctx).await,
        FeedConfig::OnvifEvents {
            url,
            username,
            password,
        } => super::onvif_events::run(url, creds(username, password), &ctx).await,
        FeedConfig::Mqtt { host, port, topics } => super::mqtt::run(host, port, topics, &ctx).await,
        FeedConfig::Zeek { path } => super::zeek::run(path.into(), &ctx).await,
        FeedConfig::Eve { path } => super::eve::run(path.into(), &ctx).await,
        FeedConfig::Capture { interface } => super::capture::run(interface, &ctx).await,
    }
    ctx.health.set_up(false);
    tracing::info!(feed = %ctx.feed, "feed stopped");
}

fn creds(user: Option<String>, pass: Option<String>) -> Option<super::http_stream::Credentials> {
    user.map(|username| super::http_stream::Credentials {
        username,
        password: pass.unwrap_or_default(),
    })
}

/// Why one connection of a feed ended.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    #[error("connect: {0}")]
    Connect(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
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
pub async fn reconnect_loop<F, Fut>(ctx: &TapContext, mut connect: F)
where
    F: FnMut(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = Result<(), TapError>>,
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
            Err(TapError::Closed) => break,
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

/// Wall-clock seconds since the Unix epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl TapContext {
    /// Count one message of `bytes` and hand its observations (if any) to the service.
    pub async fn deliver(
        &self,
        bytes: usize,
        observations: Vec<Observation>,
    ) -> Result<(), TapError> {
        self.health.add_message(bytes);
        if observations.is_empty() {
            return Ok(());
        }
        self.tx
            .send(self.event(observations))
            .await
            .map_err(|_| TapError::Closed)
    }

    /// The same from a thread outside the runtime (GStreamer streaming threads, libpcap). It
    /// waits while the service is behind (backpressure) but gives up at shutdown, so stopping a
    /// pipeline never deadlocks on a full channel.
    pub fn deliver_blocking(
        &self,
        bytes: usize,
        observations: Vec<Observation>,
    ) -> Result<(), TapError> {
        self.health.add_message(bytes);
        if observations.is_empty() {
            return Ok(());
        }
        let mut ev = self.event(observations);
        loop {
            match self.tx.try_send(ev) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(TapError::Closed),
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if is_stopping(&self.shutdown) {
                        return Err(TapError::Closed);
                    }
                    ev = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    fn event(&self, observations: Vec<Observation>) -> TapEvent {
        TapEvent {
            feed: self.feed.clone(),
            device: self.device.clone(),
            observations,
            received: now(),
        }
    }

    /// A detached copy for a thread (same channel, health and shutdown).
    pub fn clone_handle(&self) -> TapContext {
        TapContext {
            feed: self.feed.clone(),
            device: self.device.clone(),
            tx: self.tx.clone(),
            health: self.health.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_config_from_toml() {
        #[derive(Deserialize)]
        struct F {
            feed: Vec<FeedConfig>,
        }
        let f: F = toml::from_str(
            r#"
[[feed]]
kind = "rtsp"
url = "rtsp://127.0.0.1:8554/cam1"
[[feed]]
kind = "mqtt"
host = "127.0.0.1"
topics = ["frigate/#"]
[[feed]]
kind = "onvif_events"
url = "http://10.0.0.5/onvif/event_service"
username = "admin"
"#,
        )
        .unwrap();
        let kinds: Vec<_> = f.feed.iter().map(|c| c.kind()).collect();
        assert_eq!(kinds, ["rtsp", "mqtt", "onvif_events"]);
        assert!(matches!(f.feed[1], FeedConfig::Mqtt { port: 1883, .. }));
    }

    #[tokio::test]
    async fn reconnect_loop_backs_off_and_stops() {
        let (tx, _rx) = mpsc::channel(4);
        let (stop_tx, stop_rx) = watch::channel(false);
        let ctx = TapContext {
            feed: "t".into(),
            device: None,
            tx,
            health: Arc::new(FeedHealth::default()),
            shutdown: stop_rx,
        };
        let calls = std::sync::atomic::AtomicU32::new(0);
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = stop_tx.send(true);
        });
        reconnect_loop(&ctx, |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async { Err(TapError::Connect("refused".into())) }
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
