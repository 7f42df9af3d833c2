//! `banwatch serve`: the long-running service. Live taps feed observations into the same
//! signatures, judge and policy as the spot check; the service adds time (verdicts decay, alerts
//! fire and resolve), state (the SQLite alert store) and an HTTP endpoint for Prometheus
//! (`/metrics`), orchestrators (`/healthz`, `/readyz`) and people (`/api/v1/alerts`,
//! `/api/v1/devices`).
//!
//! Not here yet: the signed webhook sink, EVE output, disk spooling, sharding across
//! replicas, the dashboard page.

pub mod config;
pub mod lifecycle;

use crate::detect::signatures::SignatureSet;
use crate::judge::policy::Policy;
use crate::judge::Judge;
use crate::model::DeviceId;
use crate::sinks::store::AlertStore;
use crate::taps::feed::{FeedHealth, TapEvent};
use crate::taps::live::{self, FeedConfig, TapContext};
use config::Config;
use lifecycle::{Lifecycle, Placement};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] crate::sinks::store::StoreError),
    #[error(transparent)]
    Policy(#[from] crate::judge::policy::PolicyError),
    #[error(transparent)]
    Signatures(#[from] crate::detect::signatures::SignatureError),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("sink: {0}")]
    Sink(String),
}

/// A running feed, as the service sees it.
struct FeedEntry {
    id: String,
    kind: &'static str,
    health: Arc<FeedHealth>,
}

struct Metrics {
    registry: Registry,
    evidence: IntCounterVec,
    alerts_firing: IntGaugeVec,
    latency: HistogramVec,
}

impl Metrics {
    fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let evidence = IntCounterVec::new(
            Opts::new(
                "banwatch_evidence_total",
                "Signature matches, by technique and signature",
            ),
            &["technique", "signature"],
        )?;
        let alerts_firing = IntGaugeVec::new(
            Opts::new(
                "banwatch_alerts_firing",
                "Ban-violation alerts firing, by site type and technique",
            ),
            &["site_type", "technique"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "banwatch_event_to_alert_seconds",
                "Seconds from the message that completed the evidence to the alert",
            )
            .buckets(vec![0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["technique"],
        )?;
        registry.register(Box::new(evidence.clone()))?;
        registry.register(Box::new(alerts_firing.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics {
            registry,
            evidence,
            alerts_firing,
            latency,
        })
    }
}

/// Everything the event loop and the HTTP endpoint share.
struct State {
    cfg: Config,
    policy: Policy,
    judge: Judge,
    lifecycle: Lifecycle,
    store: AlertStore,
    /// Alertmanager sink queue (bounded; a full queue drops and counts, never blocks).
    alertmanager: Option<mpsc::Sender<crate::model::Alert>>,
}

impl State {
    fn notify(&self, alert: &crate::model::Alert) {
        if let Some(tx) = &self.alertmanager {
            if tx.try_send(alert.clone()).is_err() {
                tracing::warn!(id = %alert.id, "alertmanager queue full: delivery deferred to the next resend");
            }
        }
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn placement(cfg: &Config, device: &DeviceId) -> Placement {
    let Some(d) = cfg.device(&device.0) else {
        return Placement::default();
    };
    let site = cfg.site(&d.site);
    Placement {
        site: Some(d.site.clone()),
        site_type: site.map(|s| s.site_type),
        contractor: site.and_then(|s| s.contractor.clone()),
    }
}

impl State {
    /// Fold one tap event into evidence, verdicts and alerts.
    fn event(
        &mut self,
        ev: &TapEvent,
        sigs: &SignatureSet,
        metrics: &Metrics,
    ) -> Result<(), ServiceError> {
        let mut touched: Vec<DeviceId> = Vec::new();
        for o in &ev.observations {
            for sig in sigs.match_observation(o) {
                let device = match (&ev.device, sig.device_of(o)) {
                    (Some(d), _) => DeviceId(d.clone()),
                    (None, Some(ip)) => {
                        let ip = ip.to_string();
                        DeviceId(self.cfg.device_by_address(&ip).map_or(ip, |d| d.id.clone()))
                    }
                    (None, None) => continue,
                };
                let place = placement(&self.cfg, &device);
                if let (Some(site), Some(st)) = (&place.site, place.site_type) {
                    self.judge.set_site(&device, site, st);
                }
                self.judge.signature_hit(device.clone(), sig, o, &ev.feed);
                metrics
                    .evidence
                    .with_label_values(&[sig.technique.as_str(), &sig.id])
                    .inc();
                if !touched.contains(&device) {
                    touched.push(device);
                }
            }
        }
        let t = now();
        for device in touched {
            let Some(dv) = self.judge.verdicts_for(&device) else {
                continue;
            };
            for v in self
                .judge
                .violations(std::slice::from_ref(&dv), &self.policy)
            {
                let Some(verdict) = dv.verdicts.iter().find(|x| x.technique == v.technique) else {
                    continue;
                };
                let place = placement(&self.cfg, &device);
                let (alert, new) = self.lifecycle.violation(
                    &device,
                    v.technique,
                    v.status,
                    verdict.confidence,
                    &verdict.evidence,
                    &place,
                    t,
                );
                // The store first: an alert exists once it is on disk.
                self.store.save(&alert)?;
                if new {
                    self.notify(&alert);
                    tracing::warn!(device = %device, technique = %v.technique, id = %alert.id, "ban violation: alert firing");
                    metrics
                        .latency
                        .with_label_values(&[v.technique.as_str()])
                        .observe((t - ev.received).max(0.0));
                }
            }
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<(), ServiceError> {
        let t = now();
        self.judge.expire(t - self.cfg.judge.window_secs as f64);
        for a in self
            .lifecycle
            .resolve_quiet(t, self.cfg.judge.resolve_after_secs as f64)
        {
            self.store.save(&a)?;
            self.notify(&a);
            tracing::info!(device = %a.device, technique = %a.technique, id = %a.id, "alert resolved");
        }
        Ok(())
    }
}

fn render_metrics(state: &State, feeds: &[FeedEntry], metrics: &Metrics) -> String {
    use std::fmt::Write;
    use std::sync::atomic::Ordering;
    metrics.alerts_firing.reset();
    for a in state.lifecycle.firing() {
        let st = a.site_type.map_or("unknown", |s| s.as_str());
        metrics
            .alerts_firing
            .with_label_values(&[st, a.technique.as_str()])
            .inc();
    }
    let mut out = String::new();
    // Feed counters live in the taps' atomics; written here in the exposition format.
    let series: [(&str, &str, &str); 4] = [
        (
            "banwatch_feed_messages_total",
            "counter",
            "Messages received per feed",
        ),
        (
            "banwatch_feed_bytes_total",
            "counter",
            "Bytes received per feed",
        ),
        (
            "banwatch_decode_errors_total",
            "counter",
            "Broken messages counted and skipped per feed",
        ),
        (
            "banwatch_feed_reconnects_total",
            "counter",
            "Reconnections per feed",
        ),
    ];
    let _ = writeln!(
        out,
        "# HELP banwatch_feed_up Whether the feed is connected (1) or not (0)"
    );
    let _ = writeln!(out, "# TYPE banwatch_feed_up gauge");
    for f in feeds {
        let _ = writeln!(
            out,
            "banwatch_feed_up{{feed=\"{}\",kind=\"{}\"}} {}",
            f.id,
            f.kind,
            u8::from(f.health.is_up())
        );
    }
    for (i, (name, ty, help)) in series.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}");
        for f in feeds {
            let v = match i {
                0 => f.health.messages.load(Ordering::Relaxed),
                1 => f.health.bytes.load(Ordering::Relaxed),
                2 => f.health.decode_errors.load(Ordering::Relaxed),
                _ => f.health.reconnects.load(Ordering::Relaxed),
            };
            let _ = writeln!(out, "{name}{{feed=\"{}\",kind=\"{}\"}} {v}", f.id, f.kind);
        }
    }
    let mut buf = Vec::new();
    if prometheus::TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut buf)
        .is_ok()
    {
        out.push_str(&String::from_utf8_lossy(&buf));
    }
    out
}

/// Answer one HTTP/1.1 request (GET only; the request head is bounded to 8 KiB).
async fn http(
    mut sock: tokio::net::TcpStream,
    state: Arc<Mutex<State>>,
    feeds: Arc<Vec<FeedEntry>>,
    metrics: Arc<Metrics>,
) {
    let mut buf = vec![0u8; 8192];
    let mut n = 0;
    while n < buf.len() {
        match tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf[n..]))
            .await
        {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(k)) => n += k,
        }
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    let mut parts = head.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = if method != "GET" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        )
    } else {
        let st = match state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        match path.split('?').next().unwrap_or("") {
            "/healthz" => ("200 OK", "text/plain", "ok\n".into()),
            "/readyz" => ("200 OK", "text/plain", "ready\n".into()),
            "/metrics" => (
                "200 OK",
                "text/plain; version=0.0.4",
                render_metrics(&st, &feeds, &metrics),
            ),
            "/api/v1/alerts" => match st.store.recent() {
                Ok(a) => (
                    "200 OK",
                    "application/json",
                    serde_json::to_string(&a).unwrap_or_default(),
                ),
                Err(e) => ("500 Internal Server Error", "text/plain", format!("{e}\n")),
            },
            "/api/v1/devices" => (
                "200 OK",
                "application/json",
                serde_json::to_string(&st.judge.verdicts()).unwrap_or_default(),
            ),
            _ => ("404 Not Found", "text/plain", "not found\n".into()),
        }
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
}

/// Run the service until SIGINT or SIGTERM. `feeds` overrides the configuration's (the demo).
pub async fn run(
    mut cfg: Config,
    extra_feeds: Vec<(String, Option<String>, FeedConfig)>,
) -> Result<(), ServiceError> {
    let policy = match &cfg.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::default_ban(),
    };
    let sigs = Arc::new(SignatureSet::load_dir(&SignatureSet::default_dir())?);
    let store = AlertStore::open(&cfg.state_dir)?;
    let mut lifecycle = Lifecycle::default();
    let restored = store.firing()?;
    tracing::info!(
        alerts = restored.len(),
        "restored firing alerts from the store"
    );
    let alertmanager = match &cfg.alertmanager {
        Some(am) => {
            let ep = crate::sinks::alertmanager::parse_url(&am.url).map_err(ServiceError::Sink)?;
            let (tx, rx) = mpsc::channel(1024);
            tokio::spawn(crate::sinks::alertmanager::run(
                ep,
                rx,
                std::time::Duration::from_secs(am.resend_secs.max(1)),
            ));
            // Alerts firing before a restart are announced again (Alertmanager deduplicates).
            for a in &restored {
                let _ = tx.try_send(a.clone());
            }
            Some(tx)
        }
        None => None,
    };
    lifecycle.restore(restored, now());
    for (id, device, source) in extra_feeds {
        cfg.feeds.push(config::Feed { id, device, source });
    }
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|source| ServiceError::Listen {
            addr: cfg.listen.clone(),
            source,
        })?;
    tracing::info!(addr = %cfg.listen, feeds = cfg.feeds.len(), "serving");
    let metrics = Arc::new(Metrics::new().map_err(|e| ServiceError::Metrics(e.to_string()))?);
    let (tx, mut rx) = mpsc::channel::<TapEvent>(4096);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut feeds = Vec::new();
    let mut tasks = Vec::new();
    for f in &cfg.feeds {
        let health = Arc::new(FeedHealth::default());
        feeds.push(FeedEntry {
            id: f.id.clone(),
            kind: f.source.kind(),
            health: health.clone(),
        });
        let ctx = TapContext {
            feed: f.id.clone(),
            device: f.device.clone(),
            tx: tx.clone(),
            health,
            shutdown: stop_rx.clone(),
        };
        tasks.push(tokio::spawn(live::run_feed(f.source.clone(), ctx)));
    }
    drop(tx);
    let feeds = Arc::new(feeds);
    let state = Arc::new(Mutex::new(State {
        cfg,
        policy,
        judge: Judge::default(),
        lifecycle,
        store,
        alertmanager,
    }));
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        tokio::select! {
            Some(ev) = rx.recv() => {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = st.event(&ev, &sigs, &metrics) {
                    tracing::error!("{e}");
                }
            }
            _ = tick.tick() => {
                let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = st.tick() {
                    tracing::error!("{e}");
                }
            }
            Ok((sock, _)) = listener.accept() => {
                tokio::spawn(http(sock, state.clone(), feeds.clone(), metrics.clone()));
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => break,
        }
    }
    tracing::info!("stopping feeds");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), t).await;
    }
    Ok(())
}
