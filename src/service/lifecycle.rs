//! Alerts over time: an alert fires when a banned technique becomes a violation at a device and
//! resolves after a quiet period with no new evidence. Ids are stable: a hash of device and
//! technique plus the start time, so a restart that reloads a firing alert keeps its id.

use crate::model::{rfc3339, Alert, AlertState, DeviceId, Evidence, SiteType, Status, Technique};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Where a device sits, for the alert's labels.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub site: Option<String>,
    pub site_type: Option<SiteType>,
    pub contractor: Option<String>,
}

pub fn alert_id(device: &DeviceId, technique: Technique, started: f64) -> String {
    let h = Sha256::digest(format!("{}|{}", device.0, technique.as_str()).as_bytes());
    format!("{}-{}", &hex::encode(h)[..16], started.floor() as i64)
}

#[derive(Debug, Default)]
pub struct Lifecycle {
    /// Firing alerts by (device, technique), with the wall time of their last evidence.
    firing: HashMap<(DeviceId, Technique), (Alert, f64)>,
}

impl Lifecycle {
    /// Take back alerts that were firing before a restart; their quiet period starts now.
    pub fn restore(&mut self, alerts: Vec<Alert>, now: f64) {
        for a in alerts {
            if a.state == AlertState::Firing {
                self.firing
                    .insert((a.device.clone(), a.technique), (a, now));
            }
        }
    }

    /// A violation seen now. Returns a new alert if none was firing for it; otherwise refreshes
    /// the firing one's evidence and quiet-period clock (returned too, for sinks that re-send).
    #[allow(clippy::too_many_arguments)]
    pub fn violation(
        &mut self,
        device: &DeviceId,
        technique: Technique,
        status: Status,
        confidence: f64,
        evidence: &[Evidence],
        place: &Placement,
        now: f64,
    ) -> (Alert, bool) {
        let key = (device.clone(), technique);
        if let Some((a, last)) = self.firing.get_mut(&key) {
            *last = now;
            a.confidence = confidence;
            a.status = status;
            a.evidence = evidence.to_vec();
            return (a.clone(), false);
        }
        let a = Alert {
            id: alert_id(device, technique, now),
            state: AlertState::Firing,
            site: place.site.clone(),
            site_type: place.site_type,
            contractor: place.contractor.clone(),
            device: device.clone(),
            technique,
            status,
            confidence,
            evidence: evidence.to_vec(),
            started_at: rfc3339(now),
            resolved_at: None,
        };
        self.firing.insert(key, (a.clone(), now));
        (a, true)
    }

    /// Alerts whose quiet period has passed, marked resolved and removed.
    pub fn resolve_quiet(&mut self, now: f64, quiet: f64) -> Vec<Alert> {
        let done: Vec<_> = self
            .firing
            .iter()
            .filter(|(_, (_, last))| now - last >= quiet)
            .map(|(k, _)| k.clone())
            .collect();
        done.into_iter()
            .filter_map(|k| self.firing.remove(&k))
            .map(|(mut a, _)| {
                a.state = AlertState::Resolved;
                a.resolved_at = Some(rfc3339(now));
                a
            })
            .collect()
    }

    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.firing.values().map(|(a, _)| a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_refreshes_and_resolves_after_quiet() {
        let mut l = Lifecycle::default();
        let d = DeviceId("cam".into());
        let p = Placement::default();
        let (a, new) = l.violation(
            &d,
            Technique::FaceRecognition,
            Status::Confirmed,
            0.9,
            &[],
            &p,
            100.0,
        );
        assert!(new);
        let (b, new) = l.violation(
            &d,
            Technique::FaceRecognition,
            Status::Confirmed,
            0.95,
            &[],
            &p,
            150.0,
        );
        assert!(!new);
        assert_eq!(a.id, b.id);
        assert!(l.resolve_quiet(400.0, 300.0).is_empty());
        let r = l.resolve_quiet(451.0, 300.0);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].state, AlertState::Resolved);
        // After a restart the same alert is restored, not duplicated.
        let mut l2 = Lifecycle::default();
        l2.restore(vec![a.clone()], 500.0);
        let (c, new) = l2.violation(
            &d,
            Technique::FaceRecognition,
            Status::Confirmed,
            0.9,
            &[],
            &p,
            510.0,
        );
        assert!(!new);
        assert_eq!(c.id, a.id);
    }
}
