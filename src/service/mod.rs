//! `banwatch serve`: the long-running service. Live sources feed observations into the same
//! evidence path, judge and policy as the spot check; the service adds time (verdicts decay,
//! alerts fire and resolve: [`lifecycle`]), state (the SQLite alert store, [`state`]), alert
//! sinks (built from the configuration through [`crate::sinks::REGISTRY`]) and an HTTP endpoint
//! ([`api`], [`metrics`]).
//!
//! Replicas of one city share a PostgreSQL store and split the feeds among them
//! ([`cluster`]); without `[cluster]` one machine keeps its alerts in SQLite and taps every feed.

pub mod api;
pub mod cluster;
pub mod config;
pub(crate) mod lifecycle;
pub mod metrics;
pub mod pending;
pub mod state;

use crate::detect::checks::CheckSet;
use crate::detect::signatures::SignatureSet;
use crate::judge::policy::Policy;
use crate::judge::Judge;
use crate::sinks::store::{AlertStore, SqliteStore};
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
    /// `[cluster]` is unusable (the store's URL secret, the replica's identity).
    #[error("cluster: {0}")]
    Cluster(String),
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

/// Turn transparent huge pages off for the rest of this process (Linux `prctl
/// PR_SET_THP_DISABLE`; elsewhere nothing). The allocator (mimalloc) asks for huge pages on its
/// arenas, which suits a scan's few busy threads; the service runs thousands of GStreamer
/// threads, each touching a little of its own part of an arena, and there a huge page each
/// cost 2.0 MiB a feed where 0.5 MiB is needed (`scripts/bench-rtsp-capacity.sh 300 20 1
/// metadata`). Called before the feeds start; what is already resident stays.
pub fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: this prctl takes integers only and reads or writes no memory of ours.
        let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if r != 0 {
            tracing::debug!(
                "cannot turn transparent huge pages off: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Audit `targets` after `first_after_secs`, then every `every_secs`, until stopped; each
/// round's results go to the event loop.
async fn audit_schedule(
    targets: Vec<crate::sources::audit::Target>,
    checks: Arc<CheckSet>,
    schedule: config::AuditSchedule,
    cluster: Option<Arc<Mutex<cluster::ClusterStatus>>>,
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
        // In a cluster each replica audits the devices rendezvous hashing gives it.
        let mine: Vec<_> = match &cluster {
            None => targets.clone(),
            Some(c) => {
                let st = c.lock().unwrap_or_else(|p| p.into_inner()).clone();
                targets
                    .iter()
                    .filter(|t| cluster::placed_on(&t.device.0, &st.replica, &st.live))
                    .cloned()
                    .collect()
            }
        };
        wait = Duration::from_secs(schedule.every_secs);
        if mine.is_empty() {
            continue;
        }
        tracing::info!(devices = mine.len(), "device audit starting");
        let round = crate::sources::audit::audit(mine, checks.clone(), opts, None);
        let results = tokio::select! {
            r = round => r,
            _ = stop.changed() => return,
        };
        if tx.send(results).await.is_err() {
            return;
        }
    }
}

/// Most source events folded in under one store commit.
const EVENT_BURST: usize = 256;

/// One running feed: its stop flag and task.
struct Tap {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Run exactly the feeds named on `owned`, starting and stopping them as it changes, until
/// the service stops; then stop every one (each gets 10 s).
async fn supervise(
    configured: Vec<Feed>,
    entries: Vec<FeedEntry>,
    mut owned: watch::Receiver<std::collections::BTreeSet<String>>,
    tx: mpsc::Sender<SourceEvent>,
    demand: Arc<crate::decode::demand::Demand>,
    mut stop: watch::Receiver<bool>,
) {
    use std::sync::atomic::Ordering;
    // Each configured feed with its entry (built from the same list, in the same order).
    let feeds: Vec<(Feed, FeedEntry)> = configured.into_iter().zip(entries).collect();
    let mut running: std::collections::HashMap<usize, Tap> = Default::default();
    loop {
        let want = owned.borrow_and_update().clone();
        let gone: Vec<usize> = running
            .keys()
            .filter(|&&i| !want.contains(&feeds[i].0.id))
            .copied()
            .collect();
        for i in gone {
            let entry = &feeds[i].1;
            if let Some(t) = running.remove(&i) {
                let _ = t.stop.send(true);
                tracing::info!(feed = %entry.id, "feed handed to another replica");
                // Let it wind down on its own; its health says down meanwhile.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), t.task).await;
                });
            }
            entry.tapped.store(false, Ordering::Relaxed);
            entry.health.set_up(false);
        }
        for (i, (f, entry)) in feeds.iter().enumerate() {
            if !want.contains(&f.id) || running.contains_key(&i) {
                continue;
            }
            entry.tapped.store(true, Ordering::Relaxed);
            let (stop_tx, stop_rx) = watch::channel(false);
            let health = entry.health.clone();
            let ctx = SourceContext {
                feed: f.id.clone(),
                device: f.device.clone(),
                tx: tx.clone(),
                health: health.clone(),
                shutdown: stop_rx,
                demand: demand.clone(),
            };
            let (id, source) = (f.id.clone(), f.source.clone());
            tracing::info!(feed = %id, kind = source.kind(), endpoint = %source.endpoint(), "feed starting");
            let task = tokio::spawn(async move {
                source.run(ctx).await;
                health.set_up(false);
                tracing::info!(feed = %id, "feed stopped");
            });
            running.insert(
                i,
                Tap {
                    stop: stop_tx,
                    task,
                },
            );
        }
        tokio::select! {
            r = owned.changed() => if r.is_err() {
                // Nobody changes the owned feeds any more: keep them until the stop.
                let _ = stop.changed().await;
                break;
            },
            _ = stop.changed() => break,
        }
    }
    for t in running.values() {
        let _ = t.stop.send(true);
    }
    for (_, t) in running {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), t.task).await;
    }
}

/// Run the service until SIGINT or SIGTERM. `extra_feeds` are added to the configuration's
/// (the demo network's cameras).
pub async fn run(mut cfg: Config, extra_feeds: Vec<Feed>) -> Result<(), ServiceError> {
    raise_descriptor_limit();
    without_huge_pages();
    let policy = match &cfg.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::default_ban(),
    };
    let sigs = Arc::new(SignatureSet::load_dir(&SignatureSet::default_dir())?);
    let (store, pg): (Box<dyn AlertStore>, _) = match &cfg.cluster {
        Some(c) => {
            let url = c
                .store
                .resolve()
                .map_err(|e| ServiceError::Cluster(format!("store: {e}")))?
                .filter(|u| !u.is_empty())
                .ok_or_else(|| ServiceError::Cluster("store: no URL".into()))?;
            let replica = cluster::replica_id(c).map_err(ServiceError::Cluster)?;
            let pg = crate::sinks::store::postgres::PgStore::open(&url, &replica, c.tls.as_ref())?;
            tracing::info!(replica = %replica, "cluster member; alerts in the shared store");
            (Box::new(pg.clone()), Some(pg))
        }
        None => (Box::new(SqliteStore::open(&cfg.state_dir)?), None),
    };
    // One machine takes back every firing alert; a replica takes its own when its lease
    // tells it which are its own (cluster::Handover).
    let restored = if pg.is_some() {
        Vec::new()
    } else {
        store.firing()?
    };
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
        .audits()
        .unwrap_or_else(|e| {
            tracing::error!("stored audits not read: {e}");
            Vec::new()
        })
        .into_iter()
        .map(|(_, a)| (a.device.clone(), a))
        .collect();
    let mut lifecycle = Lifecycle::default();
    lifecycle.restore(restored, crate::clock::now());
    // State changes a previous run could not store (the store was down when it stopped).
    let (pending_file, left) = pending::PendingFile::open(&cfg.state_dir);
    if !left.is_empty() {
        tracing::warn!(
            alerts = left.len(),
            "alert state changes a previous run could not store: storing them now"
        );
    }
    lifecycle.restore_pending(left, crate::clock::now());
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
    let mut tasks = Vec::new();
    let feeds: Vec<FeedEntry> = cfg
        .feeds
        .iter()
        .map(|f| FeedEntry {
            id: f.id.clone(),
            kind: f.source.kind(),
            health: Arc::new(FeedHealth::default()),
            tapped: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
        .collect();
    // Which feeds this replica taps: all of them on one machine; in a cluster, what the
    // lease loop says.
    let all: std::collections::BTreeSet<String> = cfg.feeds.iter().map(|f| f.id.clone()).collect();
    let (owned_tx, owned_rx) = watch::channel(if pg.is_some() {
        Default::default()
    } else {
        all
    });
    let (handover_tx, mut handover_rx) = mpsc::channel::<cluster::Handover>(4);
    let cluster_status = Arc::new(Mutex::new(cluster::ClusterStatus::default()));
    if let (Some(pg), Some(c)) = (&pg, &cfg.cluster) {
        let leases = cluster::Leases {
            store: pg.clone(),
            settings: c.clone(),
            config_hash: cfg.hash.clone(),
            feeds: cfg
                .feeds
                .iter()
                .map(|f| (f.id.clone(), cluster::shard_key(f).to_string()))
                .collect(),
            status: cluster_status.clone(),
        };
        tasks.push(tokio::spawn(leases.run(
            owned_tx,
            handover_tx,
            stop_rx.clone(),
        )));
    } else {
        // One machine: the owned feeds never change (the supervisor runs until the stop).
        drop((handover_tx, owned_tx));
    }
    tasks.push(tokio::spawn(supervise(
        cfg.feeds.clone(),
        feeds.clone(),
        owned_rx,
        tx.clone(),
        sigs.demand(),
        stop_rx.clone(),
    )));
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
            pg.is_some().then(|| cluster_status.clone()),
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
        group: None,
        pending_file,
    }));
    // State changes stored before a crash that some sink had not taken yet.
    state.lock().unwrap_or_else(|p| p.into_inner()).redeliver();
    // One machine audits every device; a cluster's replica learns which at its first lease.
    if pg.is_none() {
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .restore_standing(&checks, |_| true);
    }
    let shared = api::Shared {
        state: state.clone(),
        feeds: feeds.clone(),
        metrics: metrics.clone(),
        cluster: pg.is_some().then(|| cluster_status.clone()),
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
                // What else has arrived meanwhile goes in the same group commit.
                let mut burst = vec![ev];
                while burst.len() < EVENT_BURST {
                    match rx.try_recv() {
                        Ok(ev) => burst.push(ev),
                        Err(_) => break,
                    }
                }
                lock().events(&burst, &sigs, &metrics);
                let t = crate::clock::now();
                for ev in &burst {
                    metrics.processing.observe((t - ev.received).max(0.0));
                }
            }
            Some(audits) = audit_rx.recv() => lock().audited(audits, &checks, &metrics),
            Some(h) = handover_rx.recv() => lock().handover(h, &checks),
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

#[cfg(all(test, target_os = "linux"))]
mod huge_page_tests {
    /// After the call the kernel reports transparent huge pages off for the process
    /// (`THP_enabled: 0` in /proc/self/status, Linux 5.0+).
    #[test]
    fn the_service_turns_transparent_huge_pages_off() {
        super::without_huge_pages();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("THP_enabled:"))
            .expect("THP_enabled in /proc/self/status (Linux 5.0+)");
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}
