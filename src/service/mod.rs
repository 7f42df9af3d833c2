//! `banwatch serve`: the long-running service. Live taps feed observations into the same
//! signatures, judge and policy as the spot check; the service adds time (verdicts decay, alerts
//! fire and resolve), state (the SQLite alert store) and an HTTP endpoint for Prometheus
//! (`/metrics`), orchestrators (`/healthz`, `/readyz`) and people (`/api/v1/sites`,
//! `/api/v1/devices`, `/api/v1/alerts`, `/api/v1/evidence`; `POST /api/v1/alerts/{id}/ack`
//! with the configured bearer token). Sinks: the store, Alertmanager, a signed webhook behind
//! a disk spool, and EVE-style JSON lines.
//!
//! Not here: sharding across replicas, a dashboard page (Grafana reads `/metrics`).

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
    processing: prometheus::Histogram,
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
        let processing = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "banwatch_event_processing_seconds",
                "Seconds from a tap receiving a message to the service having judged it (queueing, signatures, judge, store)",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        )?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(processing.clone()))?;
        Ok(Metrics {
            registry,
            evidence,
            alerts_firing,
            latency,
            processing,
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
    /// Alertmanager: state changes wait in a disk spool; firing alerts are also handed to the
    /// keep-alive task (bounded queue; when full, the spool still has the change).
    alertmanager: Option<(
        crate::sinks::spool::Spool,
        mpsc::Sender<crate::model::Alert>,
    )>,
    /// Webhook deliveries wait here, on disk.
    webhook: Option<crate::sinks::spool::Spool>,
    eve: Option<crate::sinks::eve::EveWriter>,
    api_token: Option<String>,
}

impl State {
    fn notify(&mut self, alert: &crate::model::Alert) {
        if let Some((spool, tx)) = &self.alertmanager {
            if let Err(e) = spool.push(&crate::sinks::alertmanager::batch(&[alert])) {
                tracing::error!(id = %alert.id, "alertmanager: {e}");
            }
            if tx.try_send(alert.clone()).is_err() {
                tracing::warn!(id = %alert.id, "alertmanager keep-alive queue full");
            }
        }
        if let Some(sp) = &self.webhook {
            if let Err(e) = sp.push(&crate::sinks::webhook::payload(alert)) {
                tracing::error!(id = %alert.id, "webhook: {e}");
            }
        }
        if let Some(eve) = &mut self.eve {
            if let Err(e) = eve.write(alert) {
                tracing::error!(id = %alert.id, "{e}");
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
                let (alert, change) = self.lifecycle.violation(
                    &device,
                    v.technique,
                    v.status,
                    verdict.confidence,
                    &verdict.evidence,
                    &place,
                    t,
                );
                // The store first: an alert exists once it is on disk.
                if change != lifecycle::Change::Refreshed {
                    self.store.save(&alert)?;
                }
                if change == lifecycle::Change::New {
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

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
    // Compliance per configured device (and any other device with a firing alert).
    let _ = writeln!(
        out,
        "# HELP banwatch_device_compliant Whether a device has no banned technique firing (1) or has (0)\n# TYPE banwatch_device_compliant gauge"
    );
    let firing: std::collections::BTreeSet<&str> = state
        .lifecycle
        .firing()
        .map(|a| a.device.0.as_str())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for d in &state.cfg.devices {
        let site = state.cfg.site(&d.site);
        seen.insert(d.id.as_str());
        let _ = writeln!(
            out,
            "banwatch_device_compliant{{device=\"{}\",site=\"{}\",site_type=\"{}\",contractor=\"{}\"}} {}",
            label(&d.id),
            label(&d.site),
            site.map_or("unknown", |s| s.site_type.as_str()),
            label(site.and_then(|s| s.contractor.as_deref()).unwrap_or("")),
            u8::from(!firing.contains(d.id.as_str()))
        );
    }
    for a in state.lifecycle.firing() {
        if seen.insert(a.device.0.as_str()) {
            let _ = writeln!(
                out,
                "banwatch_device_compliant{{device=\"{}\",site=\"{}\",site_type=\"{}\",contractor=\"{}\"}} 0",
                label(&a.device.0),
                label(a.site.as_deref().unwrap_or("")),
                a.site_type.map_or("unknown", |s| s.as_str()),
                label(a.contractor.as_deref().unwrap_or(""))
            );
        }
    }
    let spools: Vec<(&str, &crate::sinks::spool::Spool)> = state
        .alertmanager
        .as_ref()
        .map(|(sp, _)| ("alertmanager", sp))
        .into_iter()
        .chain(state.webhook.as_ref().map(|sp| ("webhook", sp)))
        .collect();
    if !spools.is_empty() {
        let families: [(&str, &str, &str); 4] = [
            (
                "banwatch_sink_queue_depth",
                "gauge",
                "Alert deliveries waiting per sink",
            ),
            (
                "banwatch_sink_spool_bytes",
                "gauge",
                "Bytes spooled on disk per sink",
            ),
            (
                "banwatch_sink_deliveries_total",
                "counter",
                "Delivery attempts per sink and result",
            ),
            (
                "banwatch_sink_dropped_total",
                "counter",
                "Deliveries dropped because the spool was full",
            ),
        ];
        for (i, (name, ty, help)) in families.iter().enumerate() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}");
            for (sink, sp) in &spools {
                let st = &sp.stats;
                match i {
                    0 => {
                        let _ = writeln!(
                            out,
                            "{name}{{sink=\"{sink}\"}} {}",
                            st.queued.load(Ordering::Relaxed)
                        );
                    }
                    1 => {
                        let _ = writeln!(
                            out,
                            "{name}{{sink=\"{sink}\"}} {}",
                            st.bytes.load(Ordering::Relaxed)
                        );
                    }
                    2 => {
                        let _ = writeln!(
                            out,
                            "{name}{{sink=\"{sink}\",result=\"ok\"}} {}\n{name}{{sink=\"{sink}\",result=\"error\"}} {}",
                            st.delivered.load(Ordering::Relaxed),
                            st.failed.load(Ordering::Relaxed)
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "{name}{{sink=\"{sink}\"}} {}",
                            st.dropped.load(Ordering::Relaxed)
                        );
                    }
                }
            }
        }
    }
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
            label(&f.id),
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
            let _ = writeln!(
                out,
                "{name}{{feed=\"{}\",kind=\"{}\"}} {v}",
                label(&f.id),
                f.kind
            );
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

/// One parsed request: method, path, query, bearer token, body.
struct Request {
    method: String,
    path: String,
    query: String,
    bearer: Option<String>,
    body: Vec<u8>,
}

/// Read one request: the head bounded to 8 KiB, the body to 64 KiB, each read to 5 s.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 8192 {
            return None;
        }
        match tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => return None,
            Ok(Ok(k)) => buf.extend_from_slice(&chunk[..k]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (mut bearer, mut length) = (None, 0usize);
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("authorization") {
            bearer = v.strip_prefix("Bearer ").map(|t| t.trim().to_string());
        } else if k.eq_ignore_ascii_case("content-length") {
            length = v.parse().ok()?;
        }
    }
    if length > 65536 {
        return None;
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        match tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => return None,
            Ok(Ok(k)) => body.extend_from_slice(&chunk[..k]),
        }
    }
    body.truncate(length);
    Some(Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        bearer,
        body,
    })
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn token_matches(given: &str, want: &str) -> bool {
    given.len() == want.len()
        && given
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

type Response = (&'static str, &'static str, String);

fn json_response(v: &impl serde::Serialize) -> Response {
    (
        "200 OK",
        "application/json",
        serde_json::to_string(v).unwrap_or_default(),
    )
}

fn get(st: &State, req: &Request, feeds: &[FeedEntry], metrics: &Metrics) -> Response {
    match req.path.as_str() {
        "/healthz" => ("200 OK", "text/plain", "ok\n".into()),
        "/readyz" => ("200 OK", "text/plain", "ready\n".into()),
        "/metrics" => (
            "200 OK",
            "text/plain; version=0.0.4",
            render_metrics(st, feeds, metrics),
        ),
        "/api/v1/alerts" => match (st.store.recent(), st.store.acks()) {
            (Ok(alerts), Ok(acks)) => {
                let v: Vec<serde_json::Value> = alerts
                    .iter()
                    .map(|a| {
                        let mut v = serde_json::to_value(a).unwrap_or_default();
                        if let Some((_, at, note)) = acks.iter().find(|k| k.0 == a.id) {
                            v["acknowledged"] = serde_json::json!({"at": at, "note": note});
                        }
                        v
                    })
                    .collect();
                json_response(&v)
            }
            (Err(e), _) | (_, Err(e)) => {
                ("500 Internal Server Error", "text/plain", format!("{e}\n"))
            }
        },
        "/api/v1/devices" => json_response(&st.judge.verdicts()),
        "/api/v1/sites" => {
            let firing: Vec<&crate::model::Alert> = st.lifecycle.firing().collect();
            let v: Vec<serde_json::Value> = st
                .cfg
                .sites
                .iter()
                .map(|s| {
                    let devices: Vec<&str> = st
                        .cfg
                        .devices
                        .iter()
                        .filter(|d| d.site == s.id)
                        .map(|d| d.id.as_str())
                        .collect();
                    let violating: std::collections::BTreeSet<&str> = firing
                        .iter()
                        .filter(|a| a.site.as_deref() == Some(s.id.as_str()))
                        .map(|a| a.device.0.as_str())
                        .collect();
                    serde_json::json!({
                        "id": s.id,
                        "name": s.name,
                        "type": s.site_type.as_str(),
                        "contractor": s.contractor,
                        "devices": devices,
                        "devices_in_violation": violating,
                        "alerts_firing": firing.iter().filter(|a| a.site.as_deref() == Some(s.id.as_str())).count(),
                    })
                })
                .collect();
            json_response(&v)
        }
        "/api/v1/evidence" => {
            let Some(d) = query_param(&req.query, "device") else {
                return (
                    "400 Bad Request",
                    "text/plain",
                    "evidence needs ?device=ID\n".into(),
                );
            };
            match st.judge.verdicts_for(&DeviceId(d.to_string())) {
                Some(v) => json_response(&v),
                None => (
                    "404 Not Found",
                    "text/plain",
                    format!("no evidence for {d}\n"),
                ),
            }
        }
        _ => ("404 Not Found", "text/plain", "not found\n".into()),
    }
}

/// State-changing calls: the configured bearer token, or nothing.
fn post(st: &State, req: &Request) -> Response {
    let Some(want) = &st.api_token else {
        return (
            "403 Forbidden",
            "text/plain",
            "no api_token configured: the API is read-only\n".into(),
        );
    };
    if !req
        .bearer
        .as_deref()
        .is_some_and(|t| token_matches(t, want))
    {
        return (
            "401 Unauthorized",
            "text/plain",
            "a valid bearer token is required\n".into(),
        );
    }
    let Some(id) = req
        .path
        .strip_prefix("/api/v1/alerts/")
        .and_then(|r| r.strip_suffix("/ack"))
    else {
        return ("404 Not Found", "text/plain", "not found\n".into());
    };
    // The note is free text from a person; kept short, never parsed.
    let note: String = String::from_utf8_lossy(&req.body)
        .chars()
        .take(500)
        .collect();
    match st
        .store
        .acknowledge(id, &crate::model::rfc3339(now()), note.trim())
    {
        Ok(true) => {
            tracing::info!(id, "alert acknowledged through the API");
            (
                "200 OK",
                "application/json",
                format!("{{\"acknowledged\":\"{id}\"}}"),
            )
        }
        Ok(false) => ("404 Not Found", "text/plain", format!("no alert {id}\n")),
        Err(e) => ("500 Internal Server Error", "text/plain", format!("{e}\n")),
    }
}

/// Answer one HTTP/1.1 request.
async fn http(
    mut sock: tokio::net::TcpStream,
    state: Arc<Mutex<State>>,
    feeds: Arc<Vec<FeedEntry>>,
    metrics: Arc<Metrics>,
) {
    let Some(req) = read_request(&mut sock).await else {
        let _ = sock
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    let (status, ctype, body) = {
        let st = match state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        match req.method.as_str() {
            "GET" | "HEAD" => get(&st, &req, &feeds, &metrics),
            "POST" => post(&st, &req),
            _ => (
                "405 Method Not Allowed",
                "text/plain",
                "GET or POST\n".to_string(),
            ),
        }
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if req.method == "HEAD" { "" } else { body.as_str() }
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
            let spool = crate::sinks::spool::Spool::open(
                &cfg.state_dir.join("spool/alertmanager"),
                am.spool_max_bytes,
            )
            .map_err(|e| ServiceError::Sink(e.to_string()))?;
            let deliver_ep = ep.clone();
            tokio::spawn(spool.clone().deliver("alertmanager", move |body| {
                let ep = deliver_ep.clone();
                async move { crate::sinks::alertmanager::deliver(&ep, body).await }
            }));
            let (tx, rx) = mpsc::channel(1024);
            tokio::spawn(crate::sinks::alertmanager::resend_firing(
                ep,
                rx,
                std::time::Duration::from_secs(am.resend_secs.max(1)),
            ));
            // Alerts firing before a restart are announced again (Alertmanager deduplicates).
            if !restored.is_empty() {
                let all: Vec<&crate::model::Alert> = restored.iter().collect();
                if let Err(e) = spool.push(&crate::sinks::alertmanager::batch(&all)) {
                    tracing::error!("alertmanager: {e}");
                }
            }
            for a in &restored {
                let _ = tx.try_send(a.clone());
            }
            Some((spool, tx))
        }
        None => None,
    };
    let webhook = match &cfg.webhook {
        Some(w) => {
            let ep = crate::sinks::http::parse_url(&w.url).map_err(ServiceError::Sink)?;
            let secret = w
                .secret
                .resolve()
                .map_err(ServiceError::Sink)?
                .unwrap_or_default()
                .into_bytes();
            let spool = crate::sinks::spool::Spool::open(
                &cfg.state_dir.join("spool/webhook"),
                w.spool_max_bytes,
            )
            .map_err(|e| ServiceError::Sink(e.to_string()))?;
            tokio::spawn(spool.clone().deliver("webhook", move |body| {
                let (ep, secret) = (ep.clone(), secret.clone());
                async move { crate::sinks::webhook::deliver(&ep, &secret, body).await }
            }));
            Some(spool)
        }
        None => None,
    };
    let eve = cfg
        .eve
        .as_ref()
        .map(|e| crate::sinks::eve::EveWriter::new(&e.path));
    let api_token = cfg
        .api_token
        .resolve()
        .map_err(ServiceError::Sink)?
        .filter(|t| !t.is_empty());
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
        webhook,
        eve,
        api_token,
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
                metrics.processing.observe((now() - ev.received).max(0.0));
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
