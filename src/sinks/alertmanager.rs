//! Alertmanager v2 sink: POST `/api/v2/alerts`. Firing alerts are re-sent periodically (as
//! Alertmanager expects of its clients) and resolved ones once with `endsAt`. The service hands
//! alerts over a bounded channel with `try_send`, so a slow or dead Alertmanager never blocks
//! the taps; delivery failures are retried with backoff from the sink's own task.

use crate::model::{Alert, AlertState};
use crate::taps::feed::Backoff;
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

pub async fn run(ep: Endpoint, mut rx: mpsc::Receiver<Alert>, resend: Duration) {
    let mut alerts: HashMap<String, Alert> = HashMap::new();
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(a) => {
                    alerts.insert(a.id.clone(), a);
                    next = tokio::time::Instant::now();
                }
                None => return,
            },
            _ = tokio::time::sleep_until(next) => {
                if alerts.is_empty() {
                    next = tokio::time::Instant::now() + resend;
                    continue;
                }
                let body = serde_json::to_vec(&alerts.values().map(payload).collect::<Vec<_>>()).unwrap_or_default();
                match post(&ep, &body).await {
                    Ok(()) => {
                        backoff.reset();
                        // Resolved alerts are delivered once; firing ones again at the next resend.
                        alerts.retain(|_, a| a.state == AlertState::Firing);
                        next = tokio::time::Instant::now() + resend;
                    }
                    Err(e) => {
                        let d = backoff.next_delay();
                        tracing::warn!("alertmanager {}: {e}; retrying in {d:?}", ep.authority);
                        next = tokio::time::Instant::now() + d;
                    }
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
