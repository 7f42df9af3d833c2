//! The judge: folds evidence per device into verdicts per technique, then asks the policy which
//! verdicts are violations. The one place where "how sure are we" is decided: every detector
//! hands it a [`Finding`] (what fired, about which device, on what basis), and the judge alone
//! turns it into weighted evidence — including how strong a model classification is.
//!
//! Confidence combines independent pieces of evidence as a noisy-OR: each signature that fired
//! contributes its weight once (repeats add a little, logarithmically), so ten DNS lookups of a
//! face-API host never add up to proof. A verdict is `confirmed` only with at least one piece of
//! strong evidence; weak evidence alone can reach `suspected`, never `confirmed`.
//!
//! Weak evidence about a service is discounted when the same device shows strong evidence that
//! it uses that service for a different technique: a box that resolves the Rekognition host and
//! is seen calling `DetectFaces` is explained by detection, and is not suspected of recognition
//! on the strength of the host name alone.

pub mod policy;

use crate::clock::rfc3339;
use crate::model::{
    DeviceId, Evidence, Role, SiteType, Status, Strength, Technique, Verdict, Violation,
};
use policy::Policy;
use serde::Serialize;
use std::collections::BTreeMap;

/// Thresholds of the judge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JudgeConfig {
    /// Minimum combined confidence for `confirmed` (given strong evidence).
    pub confirm_at: f64,
    /// Minimum combined confidence for `suspected`.
    pub suspect_at: f64,
    /// Factor applied to weak evidence explained by strong evidence of another technique from
    /// the same service.
    pub explained_discount: f64,
    /// A model classified with at least this confidence is strong evidence.
    pub model_strong_at: f64,
    /// Below this confidence a model classification is no evidence at all.
    pub model_weak_at: f64,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            confirm_at: 0.5,
            suspect_at: 0.3,
            explained_discount: 0.25,
            model_strong_at: 0.8,
            model_weak_at: 0.3,
        }
    }
}

/// On what a finding rests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Basis {
    /// A traffic signature: its declared strength and weight.
    Signature {
        /// The rule's strength.
        strength: Strength,
        /// The rule's weight in [0, 1].
        weight: f64,
    },
    /// An audit check (a device's own answer about its configuration): its declared strength
    /// and weight. Such evidence is *standing*: it does not age out of the evidence window but
    /// holds until the device's next completed audit replaces it
    /// ([`Judge::clear_standing`]).
    Audit {
        /// The check's strength.
        strength: Strength,
        /// The check's weight in [0, 1].
        weight: f64,
    },
    /// A model classification: the classifier's confidence in [0, 1]; the judge decides how
    /// strong that is ([`JudgeConfig::model_strong_at`], [`JudgeConfig::model_weak_at`]).
    Model {
        /// The classifier's confidence.
        confidence: f64,
    },
}

/// One thing a detector found about a device: the judge's only input.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The device it is about.
    pub device: DeviceId,
    /// Signature or fingerprint id.
    pub signature: String,
    /// Service or product (weak evidence of a service is discounted when the same device shows
    /// that service used only for another technique).
    pub service: String,
    /// What it proves.
    pub technique: Technique,
    /// On what it rests.
    pub basis: Basis,
    /// Whether the device runs the technique or uses it.
    pub role: Role,
    /// For `uses`: who runs it.
    pub peer: Option<String>,
    /// For `data_sharing`: the destination organisation.
    pub organisation: Option<String>,
    /// Source and field, e.g. `pcap:http.path`.
    pub source: String,
    /// Fixed text standing for what matched (never an observed value).
    pub excerpt: String,
    /// When, Unix seconds (0 for files).
    pub ts: f64,
}

/// One piece of evidence as the judge keeps it.
#[derive(Debug, Clone)]
struct Item {
    evidence: Evidence,
    weight: f64,
    /// Audit evidence: kept past the window until replaced.
    standing: bool,
    service: String,
    first_ts: f64,
    last_ts: f64,
}

#[derive(Debug, Clone, Default)]
struct DeviceState {
    mac: Option<String>,
    site: Option<String>,
    site_type: Option<SiteType>,
    /// Keyed by signature id.
    items: BTreeMap<String, Item>,
}

/// A device with its verdicts, as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceVerdicts {
    /// The device.
    pub device: DeviceId,
    /// Its site, when the inventory places it.
    pub site: Option<String>,
    /// Its MAC address, when a capture shows one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Verdicts, strongest first.
    pub verdicts: Vec<Verdict>,
}

/// Longest excerpt kept in evidence.
const EXCERPT_LEN: usize = 96;

/// Accumulates evidence and produces verdicts.
#[derive(Debug, Clone, Default)]
pub struct Judge {
    config: JudgeConfig,
    devices: BTreeMap<DeviceId, DeviceState>,
}

impl Judge {
    /// A judge with `config` thresholds.
    pub fn new(config: JudgeConfig) -> Judge {
        Judge {
            config,
            devices: BTreeMap::new(),
        }
    }

    /// Take one finding. Model findings below [`JudgeConfig::model_weak_at`] are dropped;
    /// returns whether the finding became evidence.
    pub fn add(&mut self, f: Finding) -> bool {
        let standing = matches!(f.basis, Basis::Audit { .. });
        let (strength, weight) = match f.basis {
            Basis::Signature { strength, weight } | Basis::Audit { strength, weight } => {
                (strength, weight)
            }
            Basis::Model { confidence } => {
                if f.technique == Technique::None || confidence < self.config.model_weak_at {
                    return false;
                }
                let strength = if confidence >= self.config.model_strong_at {
                    Strength::Strong
                } else {
                    Strength::Weak
                };
                (strength, confidence)
            }
        };
        let key = match f.role {
            Role::Runs => f.signature.clone(),
            Role::Uses => format!("{}|uses|{}", f.signature, f.peer.as_deref().unwrap_or("")),
        };
        let ts = f.ts;
        let state = self.devices.entry(f.device).or_default();
        let item = state.items.entry(key).or_insert_with(|| Item {
            evidence: Evidence {
                signature: f.signature,
                technique: f.technique,
                strength,
                role: f.role,
                peer: f.peer,
                organisation: f.organisation,
                source: f.source,
                excerpt: excerpt_of(&f.excerpt),
                count: 0,
                first_seen: rfc3339(ts),
                last_seen: rfc3339(ts),
            },
            weight: weight.clamp(0.0, 1.0),
            standing,
            service: f.service,
            first_ts: ts,
            last_ts: ts,
        });
        item.evidence.count = item.evidence.count.saturating_add(1);
        if ts < item.first_ts {
            item.first_ts = ts;
            item.evidence.first_seen = rfc3339(ts);
        }
        if ts > item.last_ts {
            item.last_ts = ts;
            item.evidence.last_seen = rfc3339(ts);
        }
        true
    }

    /// Note a device's MAC address (from the capture) for the report.
    pub fn set_mac(&mut self, device: &DeviceId, mac: [u8; 6]) {
        if let Some(state) = self.devices.get_mut(device) {
            if state.mac.is_none() {
                state.mac = Some(
                    mac.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                );
            }
        }
    }

    /// Place a device at a site of the inventory.
    pub fn set_site(&mut self, device: &DeviceId, site: &str, site_type: SiteType) {
        let state = self.devices.entry(device.clone()).or_default();
        state.site = Some(site.to_string());
        state.site_type = Some(site_type);
    }

    /// Take in `later`'s evidence, as if every finding it was given had been given here after
    /// this judge's own: counts add up, first and last seen widen, and what the first finding
    /// of an item set (excerpt, source, weight) stays. A MAC address, site or site type this
    /// judge lacks is taken from `later`. Used by a scan that reads several inputs at once, one
    /// judge each, absorbed in input order: the verdicts equal one judge's fed input by input.
    pub fn absorb(&mut self, later: Judge) {
        for (device, theirs) in later.devices {
            let ours = self.devices.entry(device).or_default();
            if ours.mac.is_none() {
                ours.mac = theirs.mac;
            }
            if theirs.site.is_some() {
                ours.site = theirs.site;
                ours.site_type = theirs.site_type;
            }
            for (key, item) in theirs.items {
                match ours.items.entry(key) {
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(item);
                    }
                    std::collections::btree_map::Entry::Occupied(mut o) => {
                        let held = o.get_mut();
                        held.evidence.count =
                            held.evidence.count.saturating_add(item.evidence.count);
                        if item.first_ts < held.first_ts {
                            held.first_ts = item.first_ts;
                            held.evidence.first_seen = item.evidence.first_seen;
                        }
                        if item.last_ts > held.last_ts {
                            held.last_ts = item.last_ts;
                            held.evidence.last_seen = item.evidence.last_seen;
                        }
                    }
                }
            }
        }
    }

    /// Whether no evidence is held.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Verdicts for every device with evidence, strongest first.
    pub fn verdicts(&self) -> Vec<DeviceVerdicts> {
        self.devices
            .iter()
            .filter(|(_, s)| !s.items.is_empty())
            .map(|(device, state)| DeviceVerdicts {
                device: device.clone(),
                site: state.site.clone(),
                mac: state.mac.clone(),
                verdicts: self.device_verdicts(state),
            })
            .collect()
    }

    fn device_verdicts(&self, state: &DeviceState) -> Vec<Verdict> {
        let mut by_technique: BTreeMap<Technique, Vec<&Item>> = BTreeMap::new();
        for item in state.items.values() {
            by_technique
                .entry(item.evidence.technique)
                .or_default()
                .push(item);
        }
        let strong_of = |t: Technique, service: &str| {
            state.items.values().any(|i| {
                i.evidence.strength == Strength::Strong
                    && i.service == service
                    && i.evidence.technique == t
            })
        };
        let mut verdicts: Vec<Verdict> = by_technique
            .iter()
            .map(|(&technique, items)| {
                let has_strong = items
                    .iter()
                    .any(|i| i.evidence.strength == Strength::Strong);
                let mut disbelief = 1.0;
                for i in items {
                    let mut w = repeat_weight(i.weight, i.evidence.count);
                    if i.evidence.strength == Strength::Weak && !has_strong {
                        let explained = state.items.values().any(|o| {
                            o.service == i.service
                                && o.evidence.strength == Strength::Strong
                                && o.evidence.technique != technique
                        }) && !strong_of(technique, &i.service);
                        if explained {
                            w *= self.config.explained_discount;
                        }
                    }
                    disbelief *= 1.0 - w;
                }
                let confidence = round3(1.0 - disbelief);
                let status = if has_strong && confidence >= self.config.confirm_at {
                    Status::Confirmed
                } else if confidence >= self.config.suspect_at {
                    Status::Suspected
                } else {
                    Status::Clear
                };
                let mut evidence: Vec<Evidence> =
                    items.iter().map(|i| i.evidence.clone()).collect();
                evidence.sort_by(|a, b| {
                    b.strength
                        .cmp(&a.strength)
                        .then(b.count.cmp(&a.count))
                        .then(a.signature.cmp(&b.signature))
                });
                Verdict {
                    technique,
                    status,
                    confidence,
                    evidence,
                }
            })
            .collect();
        verdicts.sort_by(|a, b| {
            b.status
                .cmp(&a.status)
                .then(
                    b.technique
                        .is_biometric_identification()
                        .cmp(&a.technique.is_biometric_identification()),
                )
                .then(b.confidence.total_cmp(&a.confidence))
                .then(a.technique.cmp(&b.technique))
        });
        verdicts
    }

    /// Verdicts of one device.
    pub fn verdicts_for(&self, device: &DeviceId) -> Option<DeviceVerdicts> {
        let state = self.devices.get(device)?;
        Some(DeviceVerdicts {
            device: device.clone(),
            site: state.site.clone(),
            mac: state.mac.clone(),
            verdicts: self.device_verdicts(state),
        })
    }

    /// Drop evidence last seen before `cutoff` (capture or wall seconds): verdicts decay.
    pub fn expire(&mut self, cutoff: f64) {
        for state in self.devices.values_mut() {
            state.items.retain(|_, i| i.standing || i.last_ts >= cutoff);
        }
    }

    /// Drop a device's standing (audit) evidence, before the findings of its new audit.
    pub fn clear_standing(&mut self, device: &DeviceId) {
        if let Some(state) = self.devices.get_mut(device) {
            state.items.retain(|_, i| !i.standing);
        }
    }

    /// Devices holding standing (audit) evidence.
    pub fn standing_devices(&self) -> Vec<DeviceId> {
        self.devices
            .iter()
            .filter(|(_, s)| s.items.values().any(|i| i.standing))
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// The violations among `verdicts` under `policy`. A device at a known site is judged by its
    /// site type; a device with no site (a spot check) by every site type where it would be one.
    pub fn violations(&self, verdicts: &[DeviceVerdicts], policy: &Policy) -> Vec<Violation> {
        let mut out = Vec::new();
        for dv in verdicts {
            let site_type = self.devices.get(&dv.device).and_then(|s| s.site_type);
            for v in &dv.verdicts {
                if !policy.counts(v.status, v.confidence) {
                    continue;
                }
                let mut banned_at = policy.banned_at(v.technique);
                if let Some(st) = site_type {
                    banned_at.retain(|s| *s == st);
                }
                if banned_at.is_empty() {
                    continue;
                }
                let sigs: Vec<&str> = v.evidence.iter().map(|e| e.signature.as_str()).collect();
                if let Some(ex) = policy.exemption(&dv.device.0, v.technique, &sigs) {
                    tracing::info!(device = %dv.device, technique = %v.technique, reason = %ex.reason, "exempt by policy");
                    continue;
                }
                let runs = v.evidence.iter().any(|e| e.role == Role::Runs);
                let mut peers: Vec<String> =
                    v.evidence.iter().filter_map(|e| e.peer.clone()).collect();
                peers.sort();
                peers.dedup();
                out.push(Violation {
                    device: dv.device.clone(),
                    technique: v.technique,
                    status: v.status,
                    role: if runs { Role::Runs } else { Role::Uses },
                    peers: if runs { Vec::new() } else { peers },
                    banned_at,
                });
            }
        }
        out
    }
}

/// Weight of a signature seen `count` times: repeats raise it a little, never to certainty.
fn repeat_weight(w: f64, count: u64) -> f64 {
    let boost = 1.0 + 0.25 * (count.max(1) as f64).ln();
    1.0 - (1.0 - w).powf(boost)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn excerpt_of(value: &str) -> String {
    if value.chars().count() <= EXCERPT_LEN {
        return value.to_string();
    }
    let mut s: String = value.chars().take(EXCERPT_LEN).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests;
