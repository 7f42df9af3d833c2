//! Alerts over time: an alert fires when a banned technique becomes a violation at a device and
//! resolves after a quiet period with no new evidence. Ids are stable: a hash of device and
//! technique plus the start time, so a restart that reloads a firing alert keeps its id.

use crate::clock::rfc3339;
use crate::model::{Alert, AlertState, DeviceId, Evidence, SiteType, Status, Technique};
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

/// One firing alert and its clocks.
#[derive(Debug)]
struct Entry {
    alert: Alert,
    /// Wall time of the last evidence (the quiet period counts from here).
    last: f64,
    /// Wall time of the last write to the store.
    saved: f64,
    /// A state change the store has not taken yet (it failed): retried at each tick.
    unsaved: Option<Change>,
}

/// Firing alerts by (device, technique).
#[derive(Debug, Default)]
pub struct Lifecycle {
    firing: HashMap<(DeviceId, Technique), Entry>,
}

/// What a violation did to its alert, i.e. whether the store must be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new alert: store it, then notify the sinks.
    New,
    /// Status, evidence signatures or confidence moved, or the stored copy is a minute old.
    Updated,
    /// Only counters and clocks moved: nothing to write. Saves an fsync per message on busy
    /// feeds; after a restart the quiet period restarts anyway.
    Refreshed,
}

/// Stored copies of firing alerts are refreshed at least this often (seconds).
const RESAVE_SECS: f64 = 60.0;

impl Lifecycle {
    /// Take back alerts that were firing before a restart, or that this replica took over
    /// from another; their quiet period starts now. An alert already firing here for the same
    /// device and technique is kept. Returns the alerts taken.
    pub fn restore(&mut self, alerts: Vec<Alert>, now: f64) -> Vec<Alert> {
        let mut taken = Vec::new();
        for a in alerts {
            if a.state == AlertState::Firing && self.take_back(a.clone(), now, None) {
                taken.push(a);
            }
        }
        taken
    }

    /// Hold `a` as firing, its quiet period counted from `now`, with `unsaved` still to store;
    /// false (and nothing changed) when an alert of its device and technique is held already.
    fn take_back(&mut self, a: Alert, now: f64, unsaved: Option<Change>) -> bool {
        match self.firing.entry((a.device.clone(), a.technique)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    alert: a,
                    last: now,
                    saved: now,
                    unsaved,
                });
                true
            }
            std::collections::hash_map::Entry::Occupied(_) => false,
        }
    }

    /// Take back state changes a previous run could not store ([`super::pending`]): each
    /// alert fires again with its change still to store (a new one is announced once stored),
    /// its quiet period counted from `now`. An alert already held is left as it is.
    pub fn restore_pending(&mut self, pending: Vec<(Alert, Change)>, now: f64) {
        for (mut a, change) in pending {
            a.state = AlertState::Firing;
            a.resolved_at = None;
            self.take_back(a, now, Some(change));
        }
    }

    /// Carry on with `theirs`, another replica's stored alert for the same device and
    /// technique, instead of the one raised here: its id and start, this replica's evidence.
    /// Returns the merged alert, to be stored (not announced).
    pub fn adopt(&mut self, theirs: &Alert) -> Option<Alert> {
        let e = self
            .firing
            .get_mut(&(theirs.device.clone(), theirs.technique))?;
        e.alert.id = theirs.id.clone();
        e.alert.started_at = theirs.started_at.clone();
        e.unsaved = None;
        Some(e.alert.clone())
    }

    /// Let go of a device's firing alerts (another replica owns them now) without resolving
    /// them. Returns them.
    pub fn release(&mut self, device: &DeviceId) -> Vec<Alert> {
        let keys: Vec<_> = self
            .firing
            .keys()
            .filter(|(d, _)| d == device)
            .cloned()
            .collect();
        keys.into_iter()
            .filter_map(|k| self.firing.remove(&k))
            .map(|e| e.alert)
            .collect()
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
    ) -> (Alert, Change) {
        let key = (device.clone(), technique);
        if let Some(Entry {
            alert: a,
            last,
            saved,
            ..
        }) = self.firing.get_mut(&key)
        {
            *last = now;
            let same_signatures = a.evidence.len() == evidence.len()
                && a.evidence
                    .iter()
                    .zip(evidence)
                    .all(|(x, y)| x.signature == y.signature);
            let changed = a.status != status
                || !same_signatures
                || (a.confidence - confidence).abs() >= 0.01
                || now - *saved >= RESAVE_SECS;
            a.confidence = confidence;
            a.status = status;
            a.evidence = evidence.to_vec();
            if changed {
                *saved = now;
                return (a.clone(), Change::Updated);
            }
            return (a.clone(), Change::Refreshed);
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
        self.firing.insert(
            key,
            Entry {
                alert: a.clone(),
                last: now,
                saved: now,
                unsaved: None,
            },
        );
        (a, Change::New)
    }

    /// Alerts whose quiet period has passed, marked resolved and removed. Each comes with
    /// whether its firing was ever stored (and so announced to the sinks).
    pub fn resolve_quiet(&mut self, now: f64, quiet: f64) -> Vec<(Alert, bool)> {
        let done: Vec<_> = self
            .firing
            .iter()
            .filter(|(_, e)| now - e.last >= quiet)
            .map(|(k, _)| k.clone())
            .collect();
        done.into_iter()
            .filter_map(|k| self.firing.remove(&k))
            .map(|mut e| {
                e.alert.state = AlertState::Resolved;
                e.alert.resolved_at = Some(rfc3339(now));
                (e.alert, e.unsaved != Some(Change::New))
            })
            .collect()
    }

    /// Alerts firing now, stored or not.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.firing.values().map(|e| &e.alert)
    }

    /// The store refused this state change of a firing alert: keep the alert (it still fires,
    /// counts against compliance and keeps its id) and remember to store it. A new alert
    /// stays "new" until stored, so the sinks hear of it then.
    pub fn unsaved(&mut self, device: &DeviceId, technique: Technique, change: Change) {
        if let Some(e) = self.firing.get_mut(&(device.clone(), technique)) {
            if e.unsaved != Some(Change::New) {
                e.unsaved = Some(change);
            }
        }
    }

    /// Firing alerts with a state change still to store, and what that change is.
    pub fn pending(&self) -> Vec<(Alert, Change)> {
        self.firing
            .values()
            .filter_map(|e| e.unsaved.map(|c| (e.alert.clone(), c)))
            .collect()
    }

    /// The store took the pending change of this alert.
    pub fn saved(&mut self, device: &DeviceId, technique: Technique, now: f64) {
        if let Some(e) = self.firing.get_mut(&(device.clone(), technique)) {
            e.unsaved = None;
            e.saved = now;
        }
    }

    /// A resolution could not be stored: the alert fires on, and the next tick tries to
    /// resolve it again. `stored` says whether its firing had been stored.
    pub fn reinstate(&mut self, mut alert: Alert, last_evidence: f64, stored: bool) {
        alert.state = AlertState::Firing;
        alert.resolved_at = None;
        self.firing.insert(
            (alert.device.clone(), alert.technique),
            Entry {
                alert,
                last: last_evidence,
                saved: last_evidence,
                unsaved: (!stored).then_some(Change::New),
            },
        );
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
        assert_eq!(new, Change::New);
        let (b, new) = l.violation(
            &d,
            Technique::FaceRecognition,
            Status::Confirmed,
            0.95,
            &[],
            &p,
            150.0,
        );
        // Confidence moved: the stored copy is updated.
        assert_eq!(new, Change::Updated);
        assert_eq!(a.id, b.id);
        // Nothing but the clock moved: no write.
        let (_, again) = l.violation(
            &d,
            Technique::FaceRecognition,
            Status::Confirmed,
            0.95,
            &[],
            &p,
            151.0,
        );
        assert_eq!(again, Change::Refreshed);
        assert!(l.resolve_quiet(400.0, 300.0).is_empty());
        let r = l.resolve_quiet(451.0, 300.0);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0.state, AlertState::Resolved);
        assert!(r[0].1, "its firing was stored");
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
        assert_ne!(new, Change::New);
        assert_eq!(c.id, a.id);
    }
}
