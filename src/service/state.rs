//! What the service knows between messages: the configuration, the judge's evidence, the alert
//! lifecycle, the store and the sinks — and how one source event or one clock tick changes it.
//! Observations take the same evidence path as the spot check ([`crate::detect::pipeline`]).

use super::config::Config;
use super::lifecycle::{self, Lifecycle, Placement};
use super::metrics::Metrics;
use crate::clock::now;
use crate::detect::pipeline::{self, DeviceResolver};
use crate::detect::signatures::SignatureSet;
use crate::judge::policy::Policy;
use crate::judge::Judge;
use crate::model::{Alert, DeviceId, Role};
use crate::sinks::store::AlertStore;
use crate::sinks::AlertSink;
use crate::sources::live::health::SourceEvent;
use std::net::IpAddr;

/// Everything the event loop and the HTTP endpoint share.
pub struct State {
    /// The configuration.
    pub cfg: Config,
    /// Which techniques are banned where.
    pub policy: Policy,
    /// Evidence and verdicts.
    pub judge: Judge,
    /// Firing alerts.
    pub lifecycle: Lifecycle,
    /// The alert store (an alert exists once it is stored).
    pub store: AlertStore,
    /// Alert sinks, each told of every state change after the store.
    pub sinks: Vec<Box<dyn AlertSink>>,
    /// The bearer token of state-changing API calls.
    pub api_token: Option<String>,
    /// Whether the last write to the store succeeded (readiness).
    pub store_ok: bool,
    /// Wall time of the last clock tick (liveness).
    pub last_tick: f64,
}

/// Attributes addresses to configured devices; a feed that belongs to one device attributes
/// all it sees to that device.
struct Inventory<'a> {
    cfg: &'a Config,
    fixed: Option<&'a str>,
}

impl DeviceResolver for Inventory<'_> {
    fn device(&mut self, address: IpAddr, role: Role) -> Option<DeviceId> {
        if let Some(d) = self.fixed {
            return (role == Role::Runs).then(|| DeviceId(d.to_string()));
        }
        if address.is_unspecified() {
            return None;
        }
        let ip = address.to_string();
        Some(DeviceId(
            self.cfg.device_by_address(&ip).map_or(ip, |d| d.id.clone()),
        ))
    }
}

/// Where a device sits, for alert labels.
pub fn placement(cfg: &Config, device: &DeviceId) -> Placement {
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
    /// Tell every sink of an alert state change.
    fn notify(&mut self, alert: &Alert) {
        for s in &mut self.sinks {
            s.notify(alert);
        }
    }

    /// Store an alert state change; a failure is logged, counted and makes the service not
    /// ready. Returns whether it was stored.
    fn store(&mut self, alert: &Alert, metrics: &Metrics) -> bool {
        match self.store.save(alert) {
            Ok(()) => {
                self.store_ok = true;
                true
            }
            Err(e) => {
                self.store_ok = false;
                metrics.store_error();
                tracing::error!(id = %alert.id, "alert not stored: {e}");
                false
            }
        }
    }

    /// Fold one source event into evidence, verdicts and alerts.
    pub fn event(&mut self, ev: &SourceEvent, sigs: &SignatureSet, metrics: &Metrics) {
        let mut touched = Vec::new();
        {
            let mut resolver = Inventory {
                cfg: &self.cfg,
                fixed: ev.device.as_deref(),
            };
            for o in &ev.observations {
                pipeline::observe(
                    sigs,
                    &mut self.judge,
                    o,
                    &ev.feed,
                    &mut resolver,
                    &mut touched,
                );
            }
        }
        let mut devices: Vec<DeviceId> = Vec::new();
        for (device, sig) in touched {
            if let Some(s) = sigs.signatures().iter().find(|s| s.id == sig) {
                metrics
                    .evidence
                    .with_label_values(&[s.technique.as_str(), &s.id])
                    .inc();
            }
            if !devices.contains(&device) {
                devices.push(device);
            }
        }
        let t = now();
        for device in devices {
            let place = placement(&self.cfg, &device);
            if let (Some(site), Some(st)) = (&place.site, place.site_type) {
                self.judge.set_site(&device, site, st);
            }
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
                if change != lifecycle::Change::Refreshed && !self.store(&alert, metrics) {
                    if change == lifecycle::Change::New {
                        self.lifecycle.forget(&device, v.technique);
                    }
                    continue;
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
    }

    /// Once a second: evidence ages out, quiet alerts resolve.
    pub fn tick(&mut self, metrics: &Metrics) {
        let t = now();
        self.last_tick = t;
        self.judge.expire(t - self.cfg.judge.window_secs as f64);
        let quiet = self.cfg.judge.resolve_after_secs as f64;
        for a in self.lifecycle.resolve_quiet(t, quiet) {
            if self.store(&a, metrics) {
                self.notify(&a);
                tracing::info!(device = %a.device, technique = %a.technique, id = %a.id, "alert resolved");
            } else {
                // Try again at the next tick: it is still quiet.
                self.lifecycle.reinstate(a, t - quiet);
            }
        }
    }
}
