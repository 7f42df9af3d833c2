//! The service's HTTP endpoint, on axum and hyper: `/metrics` for Prometheus, `/healthz` and
//! `/readyz` for orchestrators, `/api/v1/...` for people and dashboards, and
//! `POST /api/v1/alerts/{id}/ack` with the configured bearer token.
//!
//! Bounded by construction: request heads over 16 KiB get 431, bodies over 64 KiB get 413, a
//! head must arrive within 5 s, at most [`MAX_CONNECTIONS`] connections are served at once and
//! at most [`MAX_CONNECTIONS_PER_PEER`] from one address (one more is answered 503 and
//! closed), so a flood of half-open connections from one host cannot take the endpoint — its
//! health checks from elsewhere, or the feeds' file descriptors — down. (Behind a reverse
//! proxy every client shares the proxy's address: raise nothing, put the limit in the proxy.)

use super::metrics::{FeedEntry, Metrics};
use super::state::State;
use crate::model::DeviceId;
use axum::extract::{DefaultBodyLimit, Path, Query, State as Ax};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Most connections served at once from one peer address.
pub const MAX_CONNECTIONS_PER_PEER: usize = 64;
/// Largest request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Largest request head.
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest wait for a request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handlers share.
#[derive(Clone)]
pub struct Shared {
    /// The service's state.
    pub state: Arc<Mutex<State>>,
    /// Running feeds.
    pub feeds: Arc<Vec<FeedEntry>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The cluster as this replica sees it; `None` on one machine.
    pub cluster: Option<Arc<Mutex<super::cluster::ClusterStatus>>>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cluster_status(&self) -> Option<super::cluster::ClusterStatus> {
        let c = self.cluster.as_ref()?;
        Some(c.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// `/api/v1/cluster`: this replica, the live replicas, the feeds it taps, whether its lease
/// is current, replicas with another configuration. 404 on one machine.
async fn cluster(Ax(s): Ax<Shared>) -> Response {
    match s.cluster_status() {
        Some(c) => Json(c).into_response(),
        None => text(StatusCode::NOT_FOUND, "not a cluster member\n"),
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// The routes.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/sites", get(sites))
        .route("/api/v1/evidence", get(evidence))
        .route("/api/v1/audits", get(audits))
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/alerts/{id}/ack", post(acknowledge))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "not found\n") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Live: the event loop has ticked within the last 10 s.
async fn healthz(Ax(s): Ax<Shared>) -> Response {
    let since = crate::clock::now() - s.state().last_tick;
    if since < 10.0 {
        text(StatusCode::OK, "ok\n")
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("event loop stalled for {since:.0} s\n"),
        )
    }
}

/// Ready: alerts can be stored (the last store write succeeded), every sink can take alerts,
/// and, when feeds are configured, at least one is up.
async fn readyz(Ax(s): Ax<Shared>) -> Response {
    let mut problems = Vec::new();
    {
        let st = s.state();
        if !st.store_ok {
            problems.push("the alert store cannot be written".to_string());
        }
        for sink in &st.sinks {
            if let Some(sp) = sink.spool() {
                if let Err(e) = sp.writable() {
                    problems.push(format!("{} spool: {e}", sink.name()));
                }
            }
        }
    }
    let tapped = s.feeds.iter().filter(|f| f.tapped.load(Ordering::Relaxed));
    if tapped.clone().next().is_some() && !tapped.clone().any(|f| f.health.is_up()) {
        problems.push("every feed is down".into());
    }
    if let Some(c) = s.cluster_status() {
        if !c.lease_held {
            problems.push(format!(
                "no lease in the shared store ({})",
                c.store_error.as_deref().unwrap_or("not renewed yet")
            ));
        }
        // A configuration that differs is reported (metrics, log, /api/v1/cluster) but
        // leaves readiness alone: mid-rollout it always differs, and a rollout waits for
        // each new pod to be ready.
    }
    if problems.is_empty() {
        text(StatusCode::OK, "ready\n")
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", problems.join("; ")),
        )
    }
}

async fn metrics(Ax(s): Ax<Shared>) -> Response {
    let cluster = s.cluster_status();
    let body = {
        let st = s.state();
        let scrape = super::metrics::Scrape {
            firing: st.lifecycle.firing().collect(),
            cfg: &st.cfg,
            sinks: &st.sinks,
            cluster: cluster
                .as_ref()
                .map(|c| (c.replica.as_str(), c.live.as_slice())),
        };
        if let Some(c) = &cluster {
            let m = &s.metrics;
            let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
            m.cluster_replicas
                .with_label_values(&[])
                .set(n(c.live.len()));
            m.cluster_lease_held
                .with_label_values(&[])
                .set(i64::from(c.lease_held));
            m.cluster_config_differs
                .with_label_values(&[])
                .set(n(c.config_differs.len()));
        }
        s.metrics.render(&scrape, &s.feeds)
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn alerts(Ax(s): Ax<Shared>) -> Response {
    let st = s.state();
    match (st.store.recent(), st.store.acks()) {
        (Ok(alerts), Ok(acks)) => {
            let v: Vec<serde_json::Value> = alerts
                .iter()
                .map(|a| {
                    let mut v = serde_json::to_value(a).unwrap_or_default();
                    if let Some((at, note)) = acks.get(&a.id) {
                        v["acknowledged"] = serde_json::json!({"at": at, "note": note});
                    }
                    v
                })
                .collect();
            Json(v).into_response()
        }
        (Err(e), _) | (_, Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// The dashboard: sites and their compliance, alerts with acknowledge, devices and their
/// evidence, feeds, and compliance per contractor over the last 30 days (from the store). It
/// reads the same redacted state as the API.
async fn dashboard(Ax(s): Ax<Shared>) -> Response {
    use crate::sinks::chart::Series;
    use crate::sinks::contractor::{self, DeviceRow, Scope};
    use crate::sinks::html::{Dashboard, FeedView, SiteView};
    let st = s.state();
    let firing: Vec<&crate::model::Alert> = st.lifecycle.firing().collect();
    let sites = st
        .cfg
        .sites
        .iter()
        .map(|site| {
            let devices = st.cfg.devices.iter().filter(|d| d.site == site.id).count();
            let violating: std::collections::BTreeSet<&str> = firing
                .iter()
                .filter(|a| a.site.as_deref() == Some(site.id.as_str()))
                .map(|a| a.device.0.as_str())
                .collect();
            SiteView {
                id: site.id.clone(),
                name: site.name.clone(),
                site_type: site.site_type.as_str().to_string(),
                contractor: site.contractor.clone(),
                devices,
                violating: violating.len(),
            }
        })
        .collect();
    let mut alerts = st.store.recent().unwrap_or_default();
    alerts.sort_by_key(|a| a.state != crate::model::AlertState::Firing);
    alerts.truncate(200);
    let acks = st
        .store
        .acks()
        .unwrap_or_default()
        .into_iter()
        .map(|(id, (at, _))| (id, at))
        .collect();
    // Compliance per contractor (or of all devices when no site names one).
    let now = crate::clock::now();
    let since = crate::clock::rfc3339(now - 30.0 * 86_400.0);
    let history = st.store.since(&since).unwrap_or_default();
    let mut contractors: Vec<Option<String>> =
        st.cfg.sites.iter().map(|s| s.contractor.clone()).collect();
    contractors.sort();
    contractors.dedup();
    if contractors.is_empty() {
        contractors.push(None);
    }
    let mut dates = Vec::new();
    let mut series = Vec::new();
    for c in &contractors {
        let inventory: Vec<DeviceRow> = st
            .cfg
            .devices
            .iter()
            .filter_map(|d| {
                let site = st.cfg.site(&d.site)?;
                (site.contractor == *c || c.is_none()).then(|| DeviceRow {
                    device: d.id.clone(),
                    site: Some(site.id.clone()),
                    site_type: Some(site.site_type),
                })
            })
            .collect();
        let name = c.clone().unwrap_or_else(|| "all devices".into());
        let alerts_of: Vec<crate::model::Alert> = history
            .iter()
            .filter(|a| c.is_none() || a.contractor == *c)
            .map(|a| crate::model::Alert {
                contractor: Some(name.clone()),
                ..a.clone()
            })
            .collect();
        let r = contractor::build(
            &Scope {
                contractor: name.clone(),
                site: None,
                days: 30,
                until: now,
            },
            &alerts_of,
            &Default::default(),
            &inventory,
        );
        dates = r.timeline.iter().map(|d| d.date.clone()).collect();
        series.push((
            name,
            r.timeline
                .iter()
                .map(|d| d.compliance)
                .collect::<Vec<f64>>(),
        ));
    }
    let series: Vec<Series> = series
        .iter()
        .map(|(name, values)| Series {
            name,
            values: values.clone(),
        })
        .collect();
    let chart = crate::sinks::chart::compliance_svg(&dates, &series, 960, 240);
    let feeds = s
        .feeds
        .iter()
        .map(|f| FeedView {
            id: f.id.clone(),
            kind: f.kind.to_string(),
            up: f.health.is_up(),
            messages: f.health.messages.load(std::sync::atomic::Ordering::Relaxed),
            reconnects: f
                .health
                .reconnects
                .load(std::sync::atomic::Ordering::Relaxed),
            last_error: f.health.last_error(),
        })
        .collect();
    let view = Dashboard {
        sites,
        alerts,
        acks,
        devices: st.judge.verdicts(),
        feeds,
        chart,
        ack_enabled: st.api_token.is_some(),
    };
    drop(st);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        crate::sinks::html::dashboard(&view),
    )
        .into_response()
}

async fn devices(Ax(s): Ax<Shared>) -> Response {
    Json(s.state().judge.verdicts()).into_response()
}

/// The last audit of each audited device: product, each check's outcome and number (counts
/// and switches only), and why a device could not be audited.
async fn audits(Ax(s): Ax<Shared>) -> Response {
    let st = s.state();
    let v: Vec<&crate::model::DeviceAudit> = st.audits.values().collect();
    Json(v).into_response()
}

async fn sites(Ax(s): Ax<Shared>) -> Response {
    let st = s.state();
    let firing: Vec<&crate::model::Alert> = st.lifecycle.firing().collect();
    let v: Vec<serde_json::Value> = st
        .cfg
        .sites
        .iter()
        .map(|site| {
            let devices: Vec<&str> = st
                .cfg
                .devices
                .iter()
                .filter(|d| d.site == site.id)
                .map(|d| d.id.as_str())
                .collect();
            let here: Vec<&&crate::model::Alert> = firing
                .iter()
                .filter(|a| a.site.as_deref() == Some(site.id.as_str()))
                .collect();
            let violating: std::collections::BTreeSet<&str> =
                here.iter().map(|a| a.device.0.as_str()).collect();
            serde_json::json!({
                "id": site.id,
                "name": site.name,
                "type": site.site_type.as_str(),
                "contractor": site.contractor,
                "devices": devices,
                "devices_in_violation": violating,
                "alerts_firing": here.len(),
            })
        })
        .collect();
    Json(v).into_response()
}

async fn evidence(Ax(s): Ax<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(d) = q.get("device") else {
        return text(StatusCode::BAD_REQUEST, "evidence needs ?device=ID\n");
    };
    match s.state().judge.verdicts_for(&DeviceId(d.clone())) {
        Some(v) => Json(v).into_response(),
        None => text(StatusCode::NOT_FOUND, "no evidence for that device\n"),
    }
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

/// The bearer token of a request: exactly one `Authorization` header, scheme `Bearer` in any
/// case (RFC 9110 §11.1). Two headers are refused: which one would decide is not defined.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Box<Response>> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            "more than one Authorization header\n",
        )));
    }
    let v = first.to_str().unwrap_or("").trim();
    Ok(match v.split_once(char::is_whitespace) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
        _ => None,
    })
}

async fn acknowledge(
    Ax(s): Ax<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let st = s.state();
    let Some(want) = &st.api_token else {
        return text(
            StatusCode::FORBIDDEN,
            "no api_token configured: the API is read-only\n",
        );
    };
    let given = match bearer(&headers) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if !given.is_some_and(|t| token_matches(t, want)) {
        return text(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required\n",
        );
    }
    // The note is free text from a person; kept short, never parsed.
    let note: String = String::from_utf8_lossy(&body).chars().take(500).collect();
    match st.store.acknowledge(
        &id,
        &crate::clock::rfc3339(crate::clock::now()),
        note.trim(),
    ) {
        Ok(true) => {
            tracing::info!(id, "alert acknowledged through the API");
            Json(serde_json::json!({ "acknowledged": id })).into_response()
        }
        Ok(false) => text(StatusCode::NOT_FOUND, "no such alert\n"),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// Serve `router` on `listener` until `shutdown` flips, within the bounds of this module.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let peers = Arc::new(Mutex::new(HashMap::<std::net::IpAddr, usize>::new()));
    let service = hyper_util::service::TowerToHyperService::new(router);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors, most likely: wait a moment instead of spinning.
                    tracing::warn!("api accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = crate::sources::live::context::stopped(&mut shutdown) => return,
        };
        let slot = PeerSlot::take(&peers, peer.ip());
        let permit = permits.clone().try_acquire_owned();
        let (Some(slot), Ok(permit)) = (slot, permit) else {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let mut stream = stream;
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    stream.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                )
                .await;
            });
            continue;
        };
        let service = service.clone();
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
            drop(slot);
        });
    }
}

/// One connection's place in its peer's count; given back when dropped.
struct PeerSlot {
    peers: Arc<Mutex<HashMap<std::net::IpAddr, usize>>>,
    ip: std::net::IpAddr,
}

impl PeerSlot {
    /// A place for one more connection from `ip`, unless it holds
    /// [`MAX_CONNECTIONS_PER_PEER`] already.
    fn take(
        peers: &Arc<Mutex<HashMap<std::net::IpAddr, usize>>>,
        ip: std::net::IpAddr,
    ) -> Option<PeerSlot> {
        let mut map = peers.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= MAX_CONNECTIONS_PER_PEER {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: peers.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut map = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_any_case_and_never_two() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h).ok().flatten(), None);
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h).ok().flatten(), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic YWJj".parse().unwrap());
        assert_eq!(bearer(&h).ok().flatten(), None);
        h.append(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert!(bearer(&h).is_err());
        assert!(token_matches("abc", "abc") && !token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
    }
}
