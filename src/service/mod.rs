//! `banwatch serve`: the long-running service. Live sources feed observations into the same
//! evidence path, judge and policy as the spot check; the service adds time (verdicts decay,
//! alerts fire and resolve: [`lifecycle`]), state (the SQLite alert store, [`state`]), alert
//! sinks (built from the configuration through [`crate::sinks::REGISTRY`]) and an HTTP endpoint
//! ([`api`], [`metrics`]).
//!
//! Not here: sharding across replicas, a dashboard page (Grafana reads `/metrics`).

pub mod api;
pub mod config;
pub(crate) mod lifecycle;
pub mod metrics;
pub mod state;

use crate::detect::checks::CheckSet;
use crate::detect::signatures::SignatureSet;
use crate::judge::policy::Policy;
use crate::judge::Judge;
use crate::sinks::store::AlertStore;
use crate::sinks::SinkContext;
use crate::sources::live::context::SourceContext;
use crate::sources::live::health::{FeedHealth, SourceEvent};
use config::{Config, Feed};
use lifecycle::Lifecycle;
use metrics::{FeedEntry, Metrics};
use state::State;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The alert store cannot be opened.
    #[error(transparent)]
    Store(#[from] crate::sinks::store::StoreError),
    /// The policy file is wrong.
    #[error(transparent)]
    Policy(#[from] crate::judge::policy::PolicyError),
    /// The signatures do not load.
    #[error(transparent)]
    Signatures(#[from] crate::detect::signatures::SignatureError),
    /// The audit checks do not load.
    #[error(transparent)]
    Checks(#[from] crate::detect::checks::CheckError),
    /// A device's audit settings are unusable.
    #[error("audit: {0}")]
    Audit(String),
    /// The listen address cannot be bound.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(String),
    /// A sink could not be built.
    #[error("{name}: {message}")]
    Sink {
        /// The sink's table name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Use every file descriptor the system allows (the soft limit up to the hard one): each feed
/// holds a connection or two, and a flood of API connections must not starve them.
fn raise_descriptor_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "file descriptor limit"),
        Err(e) => tracing::warn!("cannot raise the file descriptor limit: {e}"),
    }
}

/// Audit `targets` after `first_after_secs`, then every `every_secs`, until stopped; each
/// round's results go to the event loop.
async fn audit_schedule(
    targets: Vec<crate::sources::audit::Target>,
    checks: Arc<CheckSet>,
    schedule: config::AuditSchedule,
    tx: mpsc::Sender<Vec<crate::model::DeviceAudit>>,
    mut stop: watch::Receiver<bool>,
) {
    use std::time::Duration;
    let opts = crate::sources::audit::AuditOptions {
        concurrency: schedule.concurrency,
        per_site: schedule.per_site,
        request_timeout: Duration::from_secs(schedule.timeout_secs),
        ..Default::default()
    };
    let mut wait = Duration::from_secs(schedule.first_after_secs);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        tracing::info!(devices = targets.len(), "device audit starting");
        let round = crate::sources::audit::audit(targets.clone(), checks.clone(), opts, None);
        let results = tokio::select! {
            r = round => r,
            _ = stop.changed() => return,
        };
        if tx.send(results).await.is_err() {
            return;
        }
        wait = Duration::from_secs(schedule.every_secs);
    }
}

/// Run the service until SIGINT or SIGTERM. `extra_feeds` are added to the configuration's
/// (the demo network's cameras).
pub async fn run(mut cfg: Config, extra_feeds: Vec<Feed>) -> Result<(), ServiceError> {
    raise_descriptor_limit();
    let policy = match &cfg.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::default_ban(),
    };
    let sigs = Arc::new(SignatureSet::load_dir(&SignatureSet::default_dir())?);
    let store = AlertStore::open(&cfg.state_dir)?;
    let restored = store.firing()?;
    tracing::info!(
        alerts = restored.len(),
        "restored firing alerts from the store"
    );
    let sink_ctx = SinkContext {
        state_dir: cfg.state_dir.clone(),
        firing: &restored,
    };
    let mut sinks = Vec::new();
    for s in &cfg.sinks {
        let kind = crate::sinks::kind(&s.name).ok_or_else(|| ServiceError::Sink {
            name: s.name.clone(),
            message: "unknown sink".into(),
        })?;
        sinks.push(
            (kind.build)(&s.settings, &sink_ctx).map_err(|message| ServiceError::Sink {
                name: s.name.clone(),
                message,
            })?,
        );
    }
    let api_token = cfg
        .api_token
        .resolve()
        .map_err(|message| ServiceError::Sink {
            name: "api_token".into(),
            message,
        })?
        .filter(|t| !t.is_empty());
    // The last audit of each device, as stored before a restart (the API shows it until the
    // next round).
    let restored_audits = store
        .audits()?
        .into_iter()
        .map(|(_, a)| (a.device.clone(), a))
        .collect();
    let mut lifecycle = Lifecycle::default();
    lifecycle.restore(restored, crate::clock::now());
    cfg.feeds.extend(extra_feeds);
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|source| ServiceError::Listen {
            addr: cfg.listen.clone(),
            source,
        })?;
    tracing::info!(addr = %cfg.listen, feeds = cfg.feeds.len(), "serving");
    let metrics = Arc::new(Metrics::new().map_err(|e| ServiceError::Metrics(e.to_string()))?);
    let (tx, mut rx) = mpsc::channel::<SourceEvent>(4096);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut feeds = Vec::new();
    let mut tasks = Vec::new();
    for f in &cfg.feeds {
        let health = Arc::new(FeedHealth::default());
        feeds.push(FeedEntry {
            id: f.id.clone(),
            kind: f.source.kind(),
            health: health.clone(),
        });
        let ctx = SourceContext {
            feed: f.id.clone(),
            device: f.device.clone(),
            tx: tx.clone(),
            health: health.clone(),
            shutdown: stop_rx.clone(),
            demand: sigs.demand(),
        };
        let (id, source) = (f.id.clone(), f.source.clone());
        tracing::info!(feed = %id, kind = source.kind(), endpoint = %source.endpoint(), "feed starting");
        tasks.push(tokio::spawn(async move {
            source.run(ctx).await;
            health.set_up(false);
            tracing::info!(feed = %id, "feed stopped");
        }));
    }
    drop(tx);
    // Device audits on their schedule, for every device with an `audit` table.
    let (audit_tx, mut audit_rx) = mpsc::channel::<Vec<crate::model::DeviceAudit>>(4);
    let checks = Arc::new(if cfg.devices.iter().any(|d| d.audit.is_some()) {
        CheckSet::load_dir(&CheckSet::default_dir())?
    } else {
        CheckSet::default()
    });
    let targets = cfg.audit_targets(false).map_err(ServiceError::Audit)?;
    if !targets.is_empty() {
        tasks.push(tokio::spawn(audit_schedule(
            targets,
            checks.clone(),
            cfg.audit,
            audit_tx,
            stop_rx.clone(),
        )));
    }
    let feeds = Arc::new(feeds);
    let state = Arc::new(Mutex::new(State {
        cfg,
        policy,
        judge: Judge::default(),
        lifecycle,
        store,
        sinks,
        api_token,
        store_ok: true,
        last_tick: crate::clock::now(),
        owed: false,
        last_store_check: 0.0,
        audits: restored_audits,
        last_standing_refresh: 0.0,
    }));
    // State changes stored before a crash that some sink had not taken yet.
    state.lock().unwrap_or_else(|p| p.into_inner()).redeliver();
    state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .restore_standing(&checks);
    let shared = api::Shared {
        state: state.clone(),
        feeds: feeds.clone(),
        metrics: metrics.clone(),
    };
    let server = tokio::spawn(api::serve(listener, api::router(shared), stop_rx.clone()));
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    // A file-size limit (systemd's LimitFSIZE=, bounding what the state directory may grow
    // to) makes writes fail like a full disk instead of killing the service with SIGXFSZ.
    let _fsize =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ));
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        tokio::select! {
            Some(ev) = rx.recv() => {
                lock().event(&ev, &sigs, &metrics);
                metrics.processing.observe((crate::clock::now() - ev.received).max(0.0));
            }
            Some(audits) = audit_rx.recv() => lock().audited(audits, &checks, &metrics),
            _ = tick.tick() => lock().tick(&metrics),
            _ = tokio::signal::ctrl_c() => break,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => break,
        }
    }
    tracing::info!("stopping feeds");
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), t).await;
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), server).await;
    Ok(())
}
