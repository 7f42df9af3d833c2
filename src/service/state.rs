//! What the service knows between messages: the configuration, the judge's evidence, the alert
//! lifecycle, the store and the sinks — and how one source event or one clock tick changes it.
//! Observations take the same evidence path as the spot check ([`crate::detect::pipeline`]).

use super::config::Config;
use super::lifecycle::{self, Lifecycle, Placement};
use super::metrics::Metrics;
use crate::clock::now;
use crate::detect::checks::CheckSet;
use crate::detect::pipeline::{self, DeviceResolver};
use crate::detect::signatures::SignatureSet;
use crate::judge::policy::Policy;
use crate::judge::Judge;
use crate::model::{Alert, DeviceAudit, DeviceId, Role};
use crate::sinks::store::{AlertStore, Saved};
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
    /// The alert store (an alert exists once it is stored): SQLite, or a cluster's
    /// PostgreSQL.
    pub store: Box<dyn AlertStore>,
    /// Alert sinks, each told of every state change after the store.
    pub sinks: Vec<Box<dyn AlertSink>>,
    /// The bearer token of state-changing API calls.
    pub api_token: Option<String>,
    /// Whether the last write to the store succeeded (readiness).
    pub store_ok: bool,
    /// Wall time of the last clock tick (liveness).
    pub last_tick: f64,
    /// Some sink refused a state change (it stays owed in the store's outbox).
    pub owed: bool,
    /// Wall time the store was last tried for writes.
    pub last_store_check: f64,
    /// The last audit of each audited device (what `/api/v1/audits` shows).
    pub audits: std::collections::BTreeMap<DeviceId, DeviceAudit>,
    /// Wall time the alerts of standing (audit) evidence were last refreshed.
    pub last_standing_refresh: f64,
    /// While a group of writes is open ([`State::events`]): the state changes written in it,
    /// and the new alerts to announce once it is durable (with their evidence's arrival time).
    pub group: Option<Group>,
    /// The on-disk copy of the state changes the store has not taken ([`super::pending`]).
    pub pending_file: super::pending::PendingFile,
}

/// The writes of one group commit.
#[derive(Default)]
pub struct Group {
    written: Vec<(Alert, bool)>,
    announce: Vec<(Alert, f64)>,
}

/// What became of a state change handed to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Stored.
    Yes,
    /// Another replica's alert for the same violation was stored first; this one carries on
    /// with it (stored, not announced).
    Adopted,
    /// The store refused it (kept pending in memory).
    No,
}

/// How often violations resting on standing (audit) evidence are re-judged, so that their
/// alerts stay firing between audits (seconds).
const STANDING_REFRESH_SECS: f64 = 30.0;

/// How often the store is tried with a small write when nothing else writes (seconds), and
/// how often owed deliveries are handed over again.
const STORE_CHECK_SECS: f64 = 5.0;

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
        Some(DeviceId(
            self.cfg
                .device_by_address(address)
                .map_or_else(|| address.to_string(), |d| d.id.clone()),
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
    /// Tell every sink of an alert that fired or resolved (already stored with every sink
    /// owed); each sink that takes it is struck off the store's outbox.
    fn notify(&mut self, alert: &Alert) {
        let names: Vec<&'static str> = self.sinks.iter().map(|s| s.name()).collect();
        self.deliver(alert, &names);
    }

    /// Hand `alert` to the sinks named in `names`.
    fn deliver(&mut self, alert: &Alert, names: &[&str]) {
        for s in self.sinks.iter_mut().filter(|s| names.contains(&s.name())) {
            match s.notify(alert) {
                Ok(()) => {
                    if let Err(e) = self.store.delivered(&alert.id, s.name()) {
                        // Handed over again at the next start; the spool does not queue it
                        // twice.
                        tracing::debug!(id = %alert.id, "outbox: {e}");
                    }
                }
                Err(e) => {
                    tracing::error!(id = %alert.id, "{e}; kept in the outbox, handed over again later");
                    self.owed = true;
                }
            }
        }
    }

    /// Hand every state change the store says is owed to its sinks again: at start (a crash
    /// between the store and a sink) and after a sink refused one.
    pub fn redeliver(&mut self) {
        let owed = match self.store.undelivered() {
            Ok(o) => o,
            Err(e) => {
                tracing::error!("outbox: {e}");
                return;
            }
        };
        self.owed = false;
        for (alert, names) in owed {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.deliver(&alert, &names);
        }
    }

    /// Store an alert state change; `announce` when the sinks must hear of it. A failure is
    /// counted and makes the service not ready; it is logged when the store starts failing
    /// (after that, only counted). When another replica already stores a firing alert for the
    /// same device and technique, this replica carries on with that one (its id) and stores
    /// its evidence there, unannounced: [`Stored::Adopted`].
    fn store(&mut self, alert: &Alert, announce: bool, metrics: &Metrics) -> Stored {
        let names: Vec<&'static str> = self.sinks.iter().map(|s| s.name()).collect();
        let result = self.store.save(alert, announce.then_some(names.as_slice()));
        if let (Some(g), Ok(_)) = (self.group.as_mut(), &result) {
            g.written.push((alert.clone(), announce));
        }
        let theirs = match result {
            Ok(Saved::Stored) => {
                self.store_result(Ok(()), metrics);
                return Stored::Yes;
            }
            Ok(Saved::Existing(theirs)) => theirs,
            Err(e) => {
                self.store_result(Err(e), metrics);
                return Stored::No;
            }
        };
        let Some(merged) = self.lifecycle.adopt(&theirs) else {
            return Stored::No;
        };
        tracing::info!(device = %merged.device, technique = %merged.technique, id = %merged.id, "alert already raised by another replica; carrying on with it");
        let r = self.store.save(&merged, None).map(|_| ());
        if self.store_result(r, metrics) {
            Stored::Adopted
        } else {
            Stored::No
        }
    }

    /// The cluster's live replicas changed: take the alerts this replica owns now into the
    /// lifecycle (their quiet period starts now), let go of those another replica owns, and
    /// hand over whatever the taken alerts still owe the sinks.
    pub fn handover(&mut self, h: super::cluster::Handover, checks: &CheckSet) {
        // The standing evidence of the devices this replica audits now.
        let (me, live) = (h.replica.clone(), h.live.clone());
        self.restore_standing(checks, |d| super::cluster::placed_on(&d.0, &me, &live));
        let taken = self.lifecycle.restore(h.take, now());
        for a in &taken {
            for s in &mut self.sinks {
                s.held(a, true);
            }
        }
        let mut released = 0;
        for d in &h.release {
            for a in self.lifecycle.release(d) {
                released += 1;
                for s in &mut self.sinks {
                    s.held(&a, false);
                }
            }
        }
        if !taken.is_empty() || released > 0 {
            tracing::info!(
                taken = taken.len(),
                released,
                "cluster: firing alerts handed over"
            );
        }
        if !taken.is_empty() {
            self.redeliver();
        }
    }

    fn store_result(
        &mut self,
        result: Result<(), crate::sinks::store::StoreError>,
        metrics: &Metrics,
    ) -> bool {
        self.last_store_check = now();
        match result {
            Ok(()) => {
                if !self.store_ok {
                    tracing::warn!("the alert store takes writes again");
                }
                self.store_ok = true;
                true
            }
            Err(e) => {
                if self.store_ok {
                    tracing::error!("alert store: {e}; alerts are kept in memory and stored when it takes writes again");
                }
                self.store_ok = false;
                metrics.store_error();
                false
            }
        }
    }

    /// A new alert is stored: tell the sinks and the log.
    fn announce(&mut self, alert: &Alert) {
        self.notify(alert);
        tracing::warn!(device = %alert.device, technique = %alert.technique, id = %alert.id, "ban violation: alert firing");
    }

    /// [`State::announce`], and count the time from the evidence's arrival to now.
    fn announced(&mut self, alert: &Alert, received: f64, metrics: &Metrics) {
        self.announce(alert);
        metrics
            .latency
            .with_label_values(&[alert.technique.as_str()])
            .observe((now() - received).max(0.0));
    }

    /// Fold a burst of source events in, their store writes made durable together (one
    /// commit, not one per alert), then announce the new alerts. If the commit fails, every
    /// state change of the group stays pending in the lifecycle (new alerts as new), to be
    /// stored and announced at a later tick, as when the store refuses a single write.
    pub fn events(&mut self, evs: &[SourceEvent], sigs: &SignatureSet, metrics: &Metrics) {
        self.events_unkept(evs, sigs, metrics);
        self.keep_pending();
    }

    /// Bring the on-disk copy of the pending state changes up to date (a write only when the
    /// set changed, which happens only while the store refuses writes).
    fn keep_pending(&mut self) {
        let pending = self.lifecycle.pending();
        if let Err(e) = self.pending_file.keep(&pending) {
            tracing::error!("{e} (the changes stay in memory until the store takes them)");
        }
    }

    fn events_unkept(&mut self, evs: &[SourceEvent], sigs: &SignatureSet, metrics: &Metrics) {
        let grouped = evs.len() > 1 && matches!(self.store.begin(), Ok(true));
        if grouped {
            self.group = Some(Group::default());
        }
        for ev in evs {
            self.event(ev, sigs, metrics);
        }
        let Some(group) = self.group.take() else {
            return;
        };
        match self.store.commit() {
            Ok(()) => {
                for (alert, received) in group.announce {
                    self.announced(&alert, received, metrics);
                }
            }
            Err(e) => {
                self.store_result(Err(e), metrics);
                for (alert, new) in group.written {
                    let change = if new {
                        lifecycle::Change::New
                    } else {
                        lifecycle::Change::Updated
                    };
                    self.lifecycle
                        .unsaved(&alert.device, alert.technique, change);
                }
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
        self.judge_devices(devices, ev.received, metrics);
    }

    /// Record a round of device audits: each completed audit replaces the device's standing
    /// evidence with its findings; a device that could not be audited keeps what its last
    /// audit found (an unreachable device is not thereby compliant).
    pub fn audited(&mut self, audits: Vec<DeviceAudit>, checks: &CheckSet, metrics: &Metrics) {
        let received = now();
        let mut devices = Vec::new();
        for a in audits {
            for c in &a.checks {
                let outcome = match c.outcome {
                    crate::model::Outcome::Fired => "fired",
                    crate::model::Outcome::Quiet => "quiet",
                    crate::model::Outcome::Unavailable => "unavailable",
                    crate::model::Outcome::Error => "error",
                };
                metrics
                    .audit_checks
                    .with_label_values(&[a.product.as_deref().unwrap_or("unknown"), outcome])
                    .inc();
            }
            if let Some(e) = &a.error {
                metrics.audit_devices.with_label_values(&["failed"]).inc();
                tracing::warn!(device = %a.device, error = %e, "device audit failed; its last audit's findings stand");
            } else {
                metrics.audit_devices.with_label_values(&["audited"]).inc();
                self.judge.clear_standing(&a.device);
                for f in crate::audit::findings(&a, checks) {
                    metrics
                        .evidence
                        .with_label_values(&[f.technique.as_str(), &f.signature])
                        .inc();
                    self.judge.add(f);
                }
                tracing::info!(device = %a.device, product = a.product.as_deref().unwrap_or("-"), checks = a.checks.len(), "device audited");
            }
            devices.push(a.device.clone());
            if let Err(e) = self.store.save_audit(&a, &crate::clock::rfc3339(a.started)) {
                tracing::warn!(device = %a.device, "device audit not stored: {e}");
            }
            self.audits.insert(a.device.clone(), a);
        }
        self.judge_devices(devices, received, metrics);
    }

    /// After a restart: the stored audits' findings become standing evidence again, so that
    /// their alerts stay firing until the next round (which the schedule may put a day away).
    /// Only for the devices `mine` accepts (in a cluster, those this replica audits); the
    /// standing evidence of any other device is dropped.
    pub fn restore_standing(&mut self, checks: &CheckSet, mine: impl Fn(&DeviceId) -> bool) {
        let mut n = 0;
        for d in self.audits.keys() {
            self.judge.clear_standing(d);
        }
        for a in self
            .audits
            .values()
            .filter(|a| a.error.is_none() && mine(&a.device))
        {
            for f in crate::audit::findings(a, checks) {
                self.judge.add(f);
                n += 1;
            }
        }
        if n > 0 {
            let place: Vec<(DeviceId, Placement)> = self
                .audits
                .keys()
                .map(|d| (d.clone(), placement(&self.cfg, d)))
                .collect();
            for (d, p) in place {
                if let (Some(site), Some(st)) = (&p.site, p.site_type) {
                    self.judge.set_site(&d, site, st);
                }
            }
            tracing::info!(
                findings = n,
                "restored standing evidence from the stored audits"
            );
        }
    }

    /// Judge `devices` again and raise, refresh or store their alerts.
    fn judge_devices(&mut self, devices: Vec<DeviceId>, received: f64, metrics: &Metrics) {
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
                if change == lifecycle::Change::Refreshed {
                    continue;
                }
                // The store first: the sinks hear of an alert once it is on disk, so a restart
                // never re-announces or loses it.
                let new = change == lifecycle::Change::New;
                let stored = self.store(&alert, new, metrics);
                if stored == Stored::No {
                    self.lifecycle.unsaved(&device, v.technique, change);
                    if change == lifecycle::Change::New {
                        // Not silent while the disk is full: the violation is logged now,
                        // counted in compliance, and announced once stored.
                        tracing::error!(device = %device, technique = %v.technique, id = %alert.id, "ban violation: alert firing, not yet stored (the store refuses writes); it will be sent once stored");
                    }
                    continue;
                }
                if stored == Stored::Yes && change == lifecycle::Change::New {
                    match self.group.as_mut() {
                        // Announced once the group is durable.
                        Some(g) => g.announce.push((alert, received)),
                        None => self.announced(&alert, received, metrics),
                    }
                }
            }
        }
    }

    /// Once a second: evidence ages out, state changes the store refused are retried, quiet
    /// alerts resolve.
    pub fn tick(&mut self, metrics: &Metrics) {
        self.tick_unkept(metrics);
        self.keep_pending();
    }

    fn tick_unkept(&mut self, metrics: &Metrics) {
        let t = now();
        self.last_tick = t;
        self.judge.expire(t - self.cfg.judge.window_secs as f64);
        let every = STANDING_REFRESH_SECS.min(self.cfg.judge.resolve_after_secs as f64 / 3.0);
        if t - self.last_standing_refresh >= every {
            self.last_standing_refresh = t;
            let standing = self.judge.standing_devices();
            if !standing.is_empty() {
                self.judge_devices(standing, t, metrics);
            }
        }
        for (alert, change) in self.lifecycle.pending() {
            let new = change == lifecycle::Change::New;
            let stored = self.store(&alert, new, metrics);
            if stored == Stored::No {
                break;
            }
            self.lifecycle.saved(&alert.device, alert.technique, t);
            if new && stored == Stored::Yes {
                self.announce(&alert);
            }
        }
        if t - self.last_store_check >= STORE_CHECK_SECS {
            // Readiness tells the truth between alerts too.
            let r = self.store.heartbeat(&crate::clock::rfc3339(t));
            self.store_result(r, metrics);
            if self.owed && self.store_ok {
                self.redeliver();
            }
        }
        let quiet = self.cfg.judge.resolve_after_secs as f64;
        for (a, stored) in self.lifecycle.resolve_quiet(t, quiet) {
            if self.store(&a, true, metrics) != Stored::No {
                // A violation that began and ended while the store refused writes reaches the
                // sinks as one resolved alert.
                self.notify(&a);
                if !stored {
                    tracing::warn!(device = %a.device, technique = %a.technique, id = %a.id, "ban violation stored after it ended (the store refused writes meanwhile)");
                }
                tracing::info!(device = %a.device, technique = %a.technique, id = %a.id, "alert resolved");
            } else {
                // Try again at the next tick: it is still quiet.
                self.lifecycle.reinstate(a, t - quiet, stored);
            }
        }
    }
}
