//! Helpers shared by the live-tap tests: run feeds, collect what they deliver.
#![allow(dead_code)]

use banwatch::sources::live::context::SourceContext;
use banwatch::sources::live::health::{FeedHealth, SourceEvent};
use banwatch::sources::live::registry::{self, LiveSource};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

pub type Fields = BTreeSet<(String, String, String)>;

pub struct Feeds {
    pub rx: mpsc::Receiver<SourceEvent>,
    pub health: BTreeMap<String, Arc<FeedHealth>>,
    pub stop: watch::Sender<bool>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    /// feed id → every (proto, field, value) seen.
    pub seen: BTreeMap<String, Fields>,
    pub events: Vec<SourceEvent>,
}

/// A source built through the registry from its settings, as a configuration would give them.
pub fn source(kind: &str, settings: &str) -> Arc<dyn LiveSource> {
    let table: toml::Table = toml::from_str(settings).expect("test settings are TOML");
    registry::build(kind, table).unwrap_or_else(|e| panic!("{kind} feed: {e}"))
}

pub fn start(feeds: Vec<(String, Option<String>, Arc<dyn LiveSource>)>) -> Feeds {
    let (tx, rx) = mpsc::channel(256);
    let (stop, stop_rx) = watch::channel(false);
    let mut health = BTreeMap::new();
    let mut tasks = Vec::new();
    // The shipped rules' demand, as the service gives its feeds: what the tests read of the
    // feeds must come through it.
    let demand = banwatch::detect::signatures::SignatureSet::load_dir(
        &banwatch::detect::signatures::SignatureSet::default_dir(),
    )
    .expect("shipped rules load")
    .demand();
    for (feed, device, source) in feeds {
        let h = Arc::new(FeedHealth::default());
        health.insert(feed.clone(), h.clone());
        let ctx = SourceContext {
            feed,
            device,
            tx: tx.clone(),
            health: h.clone(),
            shutdown: stop_rx.clone(),
            demand: demand.clone(),
        };
        tasks.push(tokio::spawn(async move {
            source.run(ctx).await;
            h.set_up(false);
        }));
    }
    Feeds {
        rx,
        health,
        stop,
        tasks,
        seen: BTreeMap::new(),
        events: Vec::new(),
    }
}

impl Feeds {
    /// Collects events until `done` holds (checked after each event) or `timeout` passes.
    pub async fn collect_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Feeds) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match tokio::time::timeout(left.min(Duration::from_millis(200)), self.rx.recv()).await {
                Ok(Some(ev)) => {
                    let set = self.seen.entry(ev.feed.clone()).or_default();
                    for o in &ev.observations {
                        set.insert((o.proto.to_string(), o.field.to_string(), o.value.clone()));
                    }
                    self.events.push(ev);
                }
                Ok(None) => return done(self),
                Err(_) => {}
            }
        }
    }

    pub fn has(&self, feed: &str, proto: &str, field: &str, value: &str) -> bool {
        self.seen
            .get(feed)
            .is_some_and(|s| s.contains(&(proto.into(), field.into(), value.into())))
    }

    pub fn any(&self, feed: &str, proto: &str, field: &str) -> bool {
        self.seen
            .get(feed)
            .is_some_and(|s| s.iter().any(|(p, f, _)| p == proto && f == field))
    }

    pub fn count(&self, feed: &str, proto: &str, field: &str, value: &str) -> usize {
        self.events
            .iter()
            .filter(|e| e.feed == feed)
            .flat_map(|e| e.observations.iter())
            .filter(|o| o.proto == proto && o.field == field && o.value == value)
            .count()
    }

    pub fn counter(&self, feed: &str, which: &str) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let h = &self.health[feed];
        match which {
            "messages" => h.messages.load(Relaxed),
            "decode_errors" => h.decode_errors.load(Relaxed),
            "reconnects" => h.reconnects.load(Relaxed),
            "watchdog_restarts" => h.watchdog_restarts.load(Relaxed),
            _ => panic!("{which}"),
        }
    }

    /// The feed's last error, for assertion messages.
    #[allow(dead_code)]
    pub fn last_error(&self, feed: &str) -> Option<String> {
        self.health[feed].last_error()
    }

    /// Signals shutdown and checks every feed stops promptly.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("feed did not stop within 10 s of shutdown")
                .expect("feed task panicked");
        }
    }
}

/// Fails (never skips) when a program the test needs is missing, naming its Debian package.
pub fn require_program(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
        || std::path::Path::new("/usr/sbin").join(program).is_file();
    assert!(found, "`{program}` not found: this test needs the Debian package `{package}` (apt-get install -y {package})");
}
