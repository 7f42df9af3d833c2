//! Alertmanager v2 sink: POST `/api/v2/alerts` (HTTP or HTTPS). Every state change (firing;
//! resolved with `endsAt`) waits in a disk spool until Alertmanager takes it; firing alerts are
//! also re-sent every `resend_secs` from memory, as Alertmanager expects of its clients, and
//! alerts firing at start are announced again (Alertmanager deduplicates). Nothing here blocks
//! the service's event loop.
//!
//! An Alertmanager cluster is given as `urls`, every peer: each state change and keep-alive
//! goes to all of them (Alertmanager's advice to its clients; the peers deduplicate), and is
//! delivered once at least one peer took it (the peers gossip it to the others).
//!
//! ```toml
//! [alertmanager]
//! url = "https://127.0.0.1:9093"            # or urls = ["http://am-0:9093", "http://am-1:9093"]
//! resend_secs = 60
//! tls = { ca_file = "/etc/banwatch/alertmanager-ca.pem" }   # optional
//! ```

use super::spool::Spool;
use super::{
    default_spool_bytes, post_json, receiver_url, settings, spooled, AlertSink, SinkContext,
    SinkKind,
};
use crate::model::{Alert, AlertState};
use crate::net::http;
use crate::net::tls::TlsSettings;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// `[alertmanager]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSettings {
    /// `http(s)://host:port[/prefix]`, e.g. `http://127.0.0.1:9093`.
    pub url: Option<String>,
    /// Every peer of an Alertmanager cluster (instead of `url`).
    #[serde(default)]
    pub urls: Vec<String>,
    /// How often firing alerts are re-sent (seconds, default 60).
    #[serde(default = "default_resend")]
    pub resend_secs: u64,
    /// Disk spool bound for undelivered state changes (bytes, default 64 MiB).
    #[serde(default = "default_spool_bytes")]
    pub spool_max_bytes: u64,
    /// How to trust an HTTPS Alertmanager (default: the system roots).
    pub tls: Option<TlsSettings>,
}

impl AlertmanagerSettings {
    /// `url`, or every one of `urls`.
    pub fn peers(&self) -> impl Iterator<Item = &String> {
        self.url.iter().chain(&self.urls)
    }
}

fn default_resend() -> u64 {
    60
}

fn validate(v: &toml::Value) -> Result<AlertmanagerSettings, String> {
    let a: AlertmanagerSettings = settings(v)?;
    if a.url.is_some() != a.urls.is_empty() {
        return Err("give either `url` or `urls` (the peers of a cluster)".into());
    }
    for u in a.peers() {
        receiver_url(u, a.tls.as_ref())?;
    }
    if a.resend_secs == 0 {
        return Err("resend_secs = 0 is not a period".into());
    }
    Ok(a)
}

/// The registry entry.
pub const KIND: SinkKind = SinkKind {
    name: "alertmanager",
    validate: |v| validate(v).map(|_| ()),
    build,
};

/// `<url>/api/v2/alerts`.
fn alerts_url(base: &url::Url) -> Result<url::Url, String> {
    let mut u = base.clone();
    let path = format!("{}/api/v2/alerts", base.path().trim_end_matches('/'));
    u.set_path(&path);
    Ok(u)
}

fn build(v: &toml::Value, ctx: &SinkContext<'_>) -> Result<Box<dyn AlertSink>, String> {
    let a = validate(v)?;
    let urls = a
        .peers()
        .map(|u| alerts_url(&receiver_url(u, None)?))
        .collect::<Result<Vec<_>, _>>()?;
    let client = http::client(&a.tls.clone().unwrap_or_default()).map_err(|e| e.to_string())?;
    let (c, u) = (client.clone(), urls.clone());
    let spool = spooled(ctx, "alertmanager", a.spool_max_bytes, move |body| {
        let (c, u) = (c.clone(), u.clone());
        async move { post_all(&c, &u, &body).await }
    })?;
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(resend_firing(
        client,
        urls,
        rx,
        Duration::from_secs(a.resend_secs),
    ));
    // Alerts firing before a restart are announced again (Alertmanager deduplicates).
    if !ctx.firing.is_empty() {
        let all: Vec<&Alert> = ctx.firing.iter().collect();
        let key = format!("restart-{}", crate::clock::now().floor());
        if let Err(e) = spool.push(&key, &batch(&all)) {
            tracing::error!("alertmanager: {e}");
        }
    }
    for a in ctx.firing {
        let _ = tx.try_send(a.clone());
    }
    Ok(Box::new(Alertmanager {
        spool,
        keepalive: tx,
    }))
}

struct Alertmanager {
    spool: Spool,
    /// Firing alerts for the keep-alive task (bounded: when full, the spool still has the
    /// change).
    keepalive: mpsc::Sender<Alert>,
}

impl AlertSink for Alertmanager {
    fn name(&self) -> &'static str {
        "alertmanager"
    }
    fn notify(&mut self, alert: &Alert) -> Result<(), String> {
        if self.keepalive.try_send(alert.clone()).is_err() {
            tracing::warn!(id = %alert.id, "alertmanager keep-alive queue full");
        }
        self.spool
            .push(&super::spool_key(alert), &batch(&[alert]))
            .map_err(|e| format!("alertmanager: {e}"))
    }
    fn spool(&self) -> Option<&Spool> {
        Some(&self.spool)
    }
    fn held(&mut self, alert: &Alert, held: bool) {
        // The keep-alive task repeats what it last heard was firing, and forgets the rest.
        let mut a = alert.clone();
        if !held {
            a.state = AlertState::Resolved;
        }
        let _ = self.keepalive.try_send(a);
    }
}

/// POST `body` to every peer; delivered when at least one took it.
async fn post_all(client: &reqwest::Client, urls: &[url::Url], body: &[u8]) -> Result<(), String> {
    let mut errors = Vec::new();
    for u in urls {
        if let Err(e) = post_json(client, u, Default::default(), body).await {
            errors.push(e);
        }
    }
    if errors.len() < urls.len() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// One alert as Alertmanager's v2 API takes it.
pub fn payload(a: &Alert) -> serde_json::Value {
    let evidence: Vec<String> = a
        .evidence
        .iter()
        .take(5)
        .map(|e| format!("{} ({} x{})", e.signature, e.strength, e.count))
        .collect();
    let mut v = json!({
        "labels": {
            "alertname": "BiometricBanViolation",
            "device": a.device.0,
            "technique": a.technique.as_str(),
            "status": a.status.to_string(),
            "site": a.site.clone().unwrap_or_default(),
            "site_type": a.site_type.map(|s| s.as_str()).unwrap_or("unknown"),
            "contractor": a.contractor.clone().unwrap_or_default(),
        },
        "annotations": {
            "summary": format!("{} at {} ({}, confidence {:.2})", a.technique, a.device, a.status, a.confidence),
            "evidence": evidence.join("; "),
            "alert_id": a.id,
        },
        "startsAt": a.started_at,
    });
    if let (AlertState::Resolved, Some(end)) = (a.state, &a.resolved_at) {
        v["endsAt"] = json!(end);
    }
    v
}

/// The body Alertmanager takes for a batch of alerts.
pub fn batch(alerts: &[&Alert]) -> Vec<u8> {
    serde_json::to_vec(&alerts.iter().map(|a| payload(a)).collect::<Vec<_>>()).unwrap_or_default()
}

/// Keep-alives: Alertmanager resolves an alert on its own once it stops hearing of it, so
/// firing alerts are re-sent every `resend`. State changes travel through the disk spool; this
/// task only repeats what is firing, best effort, from memory.
async fn resend_firing(
    client: reqwest::Client,
    urls: Vec<url::Url>,
    mut rx: mpsc::Receiver<Alert>,
    resend: Duration,
) {
    let mut firing: HashMap<String, Alert> = HashMap::new();
    let mut next = tokio::time::Instant::now() + resend;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(a) if a.state == AlertState::Firing => {
                    firing.insert(a.id.clone(), a);
                }
                Some(a) => {
                    firing.remove(&a.id);
                }
                None => return,
            },
            _ = tokio::time::sleep_until(next) => {
                next = tokio::time::Instant::now() + resend;
                if firing.is_empty() {
                    continue;
                }
                let all: Vec<&Alert> = firing.values().collect();
                if let Err(e) = post_all(&client, &urls, &batch(&all)).await {
                    tracing::warn!("alertmanager: re-send of firing alerts failed: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_settings() {
        let u = alerts_url(&receiver_url("http://am/alertmanager/", None).unwrap()).unwrap();
        assert_eq!(u.as_str(), "http://am/alertmanager/api/v2/alerts");
        let u = alerts_url(&receiver_url("https://127.0.0.1:9093", None).unwrap()).unwrap();
        assert_eq!(u.as_str(), "https://127.0.0.1:9093/api/v2/alerts");
        let v: toml::Value = toml::from_str("url = \"http://am\"\nresend_secs = 0").unwrap();
        assert!(validate(&v).unwrap_err().contains("resend_secs"));
        let v: toml::Value = toml::from_str("url = \"am:9093\"").unwrap();
        assert!(validate(&v).is_err());
    }
}
