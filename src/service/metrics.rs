//! `/metrics`: the service's Prometheus metrics, all through the `prometheus` crate's registry
//! and text encoder. Counters that live in the sources' and sinks' atomics (messages, bytes,
//! deliveries...) are brought up to date at each scrape; gauges (feed up, device compliance,
//! alerts firing, spool depth) are set from the service's state at each scrape.
//!
//! Names and labels are a contract with deploy/ (Prometheus rules, Grafana dashboard).

use super::config::Config;
use crate::model::Alert;
use crate::sinks::AlertSink;
use crate::sources::live::health::FeedHealth;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A running feed, as the metrics see it.
#[derive(Clone)]
pub struct FeedEntry {
    /// The feed's id.
    pub id: String,
    /// Its source kind.
    pub kind: &'static str,
    /// Its live counters.
    pub health: Arc<FeedHealth>,
    /// Whether this replica taps it now (always, on one machine).
    pub tapped: Arc<std::sync::atomic::AtomicBool>,
}

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    /// `banwatch_evidence_total{technique,signature}`.
    pub evidence: IntCounterVec,
    /// `banwatch_event_to_alert_seconds{technique}`.
    pub latency: HistogramVec,
    /// `banwatch_event_processing_seconds`.
    pub processing: prometheus::Histogram,
    /// `banwatch_audit_checks_total{product,outcome}`.
    pub audit_checks: IntCounterVec,
    /// `banwatch_audit_devices_total{result}` (`audited`, `failed`).
    pub audit_devices: IntCounterVec,
    alerts_firing: IntGaugeVec,
    device_compliant: IntGaugeVec,
    feed_up: IntGaugeVec,
    feed_tapped: IntGaugeVec,
    /// `banwatch_cluster_replicas`: live replicas this replica saw at its last renewal.
    pub cluster_replicas: IntGaugeVec,
    /// `banwatch_cluster_lease_held`: 1 while this replica's lease is current.
    pub cluster_lease_held: IntGaugeVec,
    /// `banwatch_cluster_config_differs`: live replicas with another configuration hash.
    pub cluster_config_differs: IntGaugeVec,
    feed_messages: IntCounterVec,
    feed_bytes: IntCounterVec,
    decode_errors: IntCounterVec,
    reconnects: IntCounterVec,
    watchdog_restarts: IntCounterVec,
    sink_depth: IntGaugeVec,
    sink_bytes: IntGaugeVec,
    sink_deliveries: IntCounterVec,
    sink_dropped: IntCounterVec,
    store_errors: prometheus::IntCounter,
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

/// Raise a counter that mirrors a monotonic atomic to the atomic's value.
fn mirror(c: &IntCounterVec, labels: &[&str], value: u64) {
    let m = c.with_label_values(labels);
    m.inc_by(value.saturating_sub(m.get()));
}

impl Metrics {
    /// Register every metric.
    pub fn new() -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "banwatch_event_to_alert_seconds",
                "Seconds from the message that completed the evidence to the alert",
            )
            .buckets(vec![0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["technique"],
        )?;
        r.register(Box::new(latency.clone()))?;
        let processing = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "banwatch_event_processing_seconds",
                "Seconds from a source receiving a message to the service having judged it (queueing, signatures, judge, store)",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        )?;
        r.register(Box::new(processing.clone()))?;
        let store_errors = prometheus::IntCounter::new(
            "banwatch_store_errors_total",
            "Alert state changes the store could not write (each is retried)",
        )?;
        r.register(Box::new(store_errors.clone()))?;
        let feed = ["feed", "kind"];
        Ok(Metrics {
            audit_checks: counter(
                &r,
                "banwatch_audit_checks_total",
                "Device audit checks run, by product and outcome (fired, quiet, unavailable, error)",
                &["product", "outcome"],
            )?,
            audit_devices: counter(
                &r,
                "banwatch_audit_devices_total",
                "Device audits, by result (audited, failed)",
                &["result"],
            )?,
            evidence: counter(
                &r,
                "banwatch_evidence_total",
                "Signature matches, by technique and signature",
                &["technique", "signature"],
            )?,
            alerts_firing: gauge(
                &r,
                "banwatch_alerts_firing",
                "Ban-violation alerts firing, by site type and technique",
                &["site_type", "technique"],
            )?,
            device_compliant: gauge(
                &r,
                "banwatch_device_compliant",
                "Whether a device has no banned technique firing (1) or has (0)",
                &["device", "site", "site_type", "contractor"],
            )?,
            feed_up: gauge(
                &r,
                "banwatch_feed_up",
                "Whether the feed is connected (1) or not (0)",
                &feed,
            )?,
            feed_tapped: gauge(
                &r,
                "banwatch_feed_tapped",
                "Whether this replica taps the feed (1) or another replica does (0)",
                &feed,
            )?,
            cluster_replicas: gauge(
                &r,
                "banwatch_cluster_replicas",
                "Live replicas at the last lease renewal",
                &[],
            )?,
            cluster_lease_held: gauge(
                &r,
                "banwatch_cluster_lease_held",
                "Whether this replica's lease is current (1) or not (0)",
                &[],
            )?,
            cluster_config_differs: gauge(
                &r,
                "banwatch_cluster_config_differs",
                "Live replicas running a configuration whose hash differs from this one's",
                &[],
            )?,
            feed_messages: counter(
                &r,
                "banwatch_feed_messages_total",
                "Messages received per feed",
                &feed,
            )?,
            feed_bytes: counter(
                &r,
                "banwatch_feed_bytes_total",
                "Bytes received per feed",
                &feed,
            )?,
            decode_errors: counter(
                &r,
                "banwatch_decode_errors_total",
                "Broken messages counted and skipped per feed",
                &feed,
            )?,
            reconnects: counter(
                &r,
                "banwatch_feed_reconnects_total",
                "Reconnections per feed",
                &feed,
            )?,
            watchdog_restarts: counter(
                &r,
                "banwatch_feed_watchdog_restarts_total",
                "Streams restarted because an announced metadata track stayed silent",
                &feed,
            )?,
            sink_depth: gauge(
                &r,
                "banwatch_sink_queue_depth",
                "Alert deliveries waiting per sink",
                &["sink"],
            )?,
            sink_bytes: gauge(
                &r,
                "banwatch_sink_spool_bytes",
                "Bytes spooled on disk per sink",
                &["sink"],
            )?,
            sink_deliveries: counter(
                &r,
                "banwatch_sink_deliveries_total",
                "Delivery attempts per sink and result",
                &["sink", "result"],
            )?,
            sink_dropped: counter(
                &r,
                "banwatch_sink_dropped_total",
                "Deliveries dropped because the spool was full",
                &["sink"],
            )?,
            latency,
            processing,
            store_errors,
            registry: r,
        })
    }

    /// Count a failed store write.
    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    /// The exposition text, with every gauge and mirrored counter brought up to date.
    pub fn render(&self, scrape: &Scrape<'_>, feeds: &[FeedEntry]) -> String {
        let state = scrape;
        self.alerts_firing.reset();
        for a in state.firing.iter() {
            let st = a.site_type.map_or("unknown", |s| s.as_str());
            self.alerts_firing
                .with_label_values(&[st, a.technique.as_str()])
                .inc();
        }
        // Compliance per configured device, and any other device with a firing alert.
        self.device_compliant.reset();
        let firing: std::collections::BTreeSet<&str> =
            state.firing.iter().map(|a| a.device.0.as_str()).collect();
        // In a cluster each replica speaks for the devices rendezvous hashing gives it (the
        // same rule that places their feeds), so that every device has one series.
        let speaks_for = |device: &str| match state.cluster {
            Some((me, live)) => super::cluster::placed_on(device, me, live),
            None => true,
        };
        for d in state.cfg.devices.iter().filter(|d| speaks_for(&d.id)) {
            let site = state.cfg.site(&d.site);
            self.device_compliant
                .with_label_values(&[
                    d.id.as_str(),
                    d.site.as_str(),
                    site.map_or("unknown", |s| s.site_type.as_str()),
                    site.and_then(|s| s.contractor.as_deref()).unwrap_or(""),
                ])
                .set(i64::from(!firing.contains(d.id.as_str())));
        }
        for a in state.firing.iter() {
            if state.cfg.device(&a.device.0).is_none() {
                self.device_compliant
                    .with_label_values(&[
                        a.device.0.as_str(),
                        a.site.as_deref().unwrap_or(""),
                        a.site_type.map_or("unknown", |s| s.as_str()),
                        a.contractor.as_deref().unwrap_or(""),
                    ])
                    .set(0);
            }
        }
        for f in feeds {
            let l = [f.id.as_str(), f.kind];
            let h = &f.health;
            self.feed_up.with_label_values(&l).set(i64::from(h.is_up()));
            self.feed_tapped
                .with_label_values(&l)
                .set(i64::from(f.tapped.load(Ordering::Relaxed)));
            mirror(&self.feed_messages, &l, h.messages.load(Ordering::Relaxed));
            mirror(&self.feed_bytes, &l, h.bytes.load(Ordering::Relaxed));
            mirror(
                &self.decode_errors,
                &l,
                h.decode_errors.load(Ordering::Relaxed),
            );
            mirror(&self.reconnects, &l, h.reconnects.load(Ordering::Relaxed));
            mirror(
                &self.watchdog_restarts,
                &l,
                h.watchdog_restarts.load(Ordering::Relaxed),
            );
        }
        for sink in state.sinks.iter() {
            let Some(sp) = sink.spool() else { continue };
            let (name, st) = (sink.name(), &sp.stats);
            let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            self.sink_depth
                .with_label_values(&[name])
                .set(to_i64(st.queued.load(Ordering::Relaxed)));
            self.sink_bytes
                .with_label_values(&[name])
                .set(to_i64(st.bytes.load(Ordering::Relaxed)));
            mirror(
                &self.sink_deliveries,
                &[name, "ok"],
                st.delivered.load(Ordering::Relaxed),
            );
            mirror(
                &self.sink_deliveries,
                &[name, "error"],
                st.failed.load(Ordering::Relaxed),
            );
            mirror(
                &self.sink_dropped,
                &[name],
                st.dropped.load(Ordering::Relaxed),
            );
        }
        let mut buf = Vec::new();
        if let Err(e) = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!("metrics: {e}");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// What a scrape reads of the service's state (the API builds it under the state's lock).
pub struct Scrape<'a> {
    /// Alerts firing now, stored or not.
    pub firing: Vec<&'a Alert>,
    /// The configuration: devices, sites, contractors.
    pub cfg: &'a Config,
    /// The alert sinks, for their spools' gauges.
    pub sinks: &'a [Box<dyn AlertSink>],
    /// In a cluster: this replica and the live replicas.
    pub cluster: Option<(&'a str, &'a [String])>,
}
