//! Alertmanager v2 sink: POST `/api/v2/alerts`. Firing alerts are re-sent periodically (as
//! Alertmanager expects of its clients) and resolved ones once with `endsAt`. The service hands
//! alerts over a bounded channel with `try_send`, so a slow or dead Alertmanager never blocks
//! the taps; delivery failures are retried with backoff from the sink's own task.

use crate::model::{Alert, AlertState};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// `http://host:port[/prefix]` split up; https is not supported by this small client.
pub use super::http::{parse_url, Endpoint};

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

async fn post(ep: &Endpoint, body: &[u8]) -> Result<(), String> {
    super::http::post(ep, &format!("{}/api/v2/alerts", ep.path), &[], body).await
}

/// The body Alertmanager takes for a batch of alerts.
pub fn batch(alerts: &[&Alert]) -> Vec<u8> {
    serde_json::to_vec(&alerts.iter().map(|a| payload(a)).collect::<Vec<_>>()).unwrap_or_default()
}

/// Deliver one spooled batch (an alert state change).
pub async fn deliver(ep: &Endpoint, body: Vec<u8>) -> Result<(), String> {
    post(ep, &body).await
}

/// Keep-alives: Alertmanager resolves an alert on its own once it stops hearing of it, so
/// firing alerts are re-sent every `resend`. State changes travel through the disk spool
/// ([`deliver`]); this task only repeats what is firing, best effort, from memory.
pub async fn resend_firing(ep: Endpoint, mut rx: mpsc::Receiver<Alert>, resend: Duration) {
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
                if let Err(e) = post(&ep, &batch(&all)).await {
                    tracing::warn!("alertmanager {}: re-send of firing alerts failed: {e}", ep.authority);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:9093").unwrap(),
            Endpoint {
                authority: "127.0.0.1:9093".into(),
                path: String::new()
            }
        );
        assert_eq!(
            parse_url("http://am/alertmanager/").unwrap().path,
            "/alertmanager"
        );
        assert!(parse_url("https://am:9093").is_err());
    }
}
