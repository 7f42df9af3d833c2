//! A disk spool in front of a slow or unreachable sink: each item is one file, written to a
//! temporary name and renamed (so a crash never leaves half an item), delivered oldest first
//! and removed once the sink took it. Bounded in bytes: when full, the oldest items go and are
//! counted. The event loop only ever writes a small file; delivery runs in its own task with
//! backoff, so a down sink never blocks the taps.

use crate::net::backoff::Backoff;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("spool {path}: {source}")]
pub struct SpoolError {
    path: PathBuf,
    source: std::io::Error,
}

/// Counters a spool exposes as metrics.
#[derive(Debug, Default)]
pub struct SpoolStats {
    pub queued: AtomicU64,
    pub bytes: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    seq: Arc<AtomicU64>,
    pub stats: Arc<SpoolStats>,
    wake: Arc<tokio::sync::Notify>,
}

impl Spool {
    /// Open (creating) the spool directory; items left by an earlier run are kept.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        let err = |source| SpoolError {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        recover_temporaries(dir);
        let spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes: max_bytes.max(4096),
            seq: Arc::new(AtomicU64::new(0)),
            stats: Arc::new(SpoolStats::default()),
            wake: Arc::new(tokio::sync::Notify::new()),
        };
        let items = spool.items().map_err(err)?;
        let next = items.last().map_or(0, |(n, _, _)| n + 1);
        spool.seq.store(next, Ordering::Relaxed);
        spool.recount(&items);
        Ok(spool)
    }

    /// Pending items, oldest first: (sequence, path, size). Item files are named
    /// `<sequence>.<key>.json` (the key says which state change it carries).
    fn items(&self) -> std::io::Result<Vec<(u64, PathBuf, u64)>> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            v.push((n, e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)));
        }
        v.sort_by_key(|x| x.0);
        Ok(v)
    }

    /// Whether an item with this key waits in the spool.
    fn holds(&self, key: &str) -> bool {
        let suffix = format!(".{key}.json");
        std::fs::read_dir(&self.dir).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(&suffix)))
        })
    }

    fn recount(&self, items: &[(u64, PathBuf, u64)]) {
        self.stats
            .queued
            .store(items.len() as u64, Ordering::Relaxed);
        self.stats
            .bytes
            .store(items.iter().map(|i| i.2).sum(), Ordering::Relaxed);
    }

    /// Whether an item could be queued now (the directory exists and takes a file).
    pub fn writable(&self) -> Result<(), String> {
        let probe = self.dir.join(".writable");
        std::fs::write(&probe, b"x")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| e.to_string())
    }

    /// Queue one item under `key` (what it carries, e.g. an alert id and state; letters,
    /// digits and `-` only). An item with the same key already waiting is not queued twice, so
    /// a state change handed over again after a restart is not delivered twice. Makes room by
    /// dropping the oldest items when over the bound.
    pub fn push(&self, key: &str, body: &[u8]) -> Result<(), SpoolError> {
        let err = |source| SpoolError {
            path: self.dir.clone(),
            source,
        };
        let key: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(96)
            .collect();
        if self.holds(&key) {
            return Ok(());
        }
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(".{n:020}.{key}.tmp"));
        let dst = self.dir.join(format!("{n:020}.{key}.json"));
        std::fs::write(&tmp, body).map_err(err)?;
        std::fs::rename(&tmp, &dst).map_err(err)?;
        let mut items = self.items().map_err(err)?;
        let mut total: u64 = items.iter().map(|i| i.2).sum();
        while total > self.max_bytes && items.len() > 1 {
            let (_, p, size) = items.remove(0);
            if std::fs::remove_file(&p).is_ok() {
                total -= size;
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(spool = %self.dir.display(), "spool full: oldest item dropped");
            }
        }
        self.recount(&items);
        self.wake.notify_one();
        Ok(())
    }

    /// Deliver items oldest first with `send`, forever: an item is removed only after `send`
    /// succeeded; failures back off (capped, jittered) and retry the same item.
    pub async fn deliver<F, Fut>(self, name: &'static str, send: F)
    where
        F: Fn(Vec<u8>) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        loop {
            let items = match self.items() {
                Ok(i) => i,
                Err(e) => {
                    tracing::error!(sink = name, "spool {}: {e}", self.dir.display());
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            self.recount(&items);
            let Some((_, path, _)) = items.into_iter().next() else {
                // Wait for a push, or look again now and then (items from another run).
                let _ = tokio::time::timeout(Duration::from_secs(5), self.wake.notified()).await;
                continue;
            };
            let body = match std::fs::read(&path) {
                Ok(b) => b,
                Err(_) => continue, // dropped meanwhile
            };
            match send(body).await {
                Ok(()) => {
                    let _ = std::fs::remove_file(&path);
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    backoff.reset();
                }
                Err(e) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    let wait = backoff.next_delay();
                    tracing::warn!(sink = name, "delivery failed, retrying in {wait:?}: {e}");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// Items whose rename did not happen (a crash between writing and renaming): a complete JSON
/// document is queued under its sequence number, anything else is removed.
fn recover_temporaries(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(stem) = name
            .to_str()
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.strip_suffix(".tmp"))
        else {
            continue;
        };
        let complete = std::fs::read(e.path())
            .ok()
            .is_some_and(|b| serde_json::from_slice::<serde::de::IgnoredAny>(&b).is_ok());
        let numbered = stem
            .split('.')
            .next()
            .is_some_and(|n| n.parse::<u64>().is_ok());
        if complete && numbered {
            let _ = std::fs::rename(e.path(), dir.join(format!("{stem}.json")));
            tracing::info!(spool = %dir.display(), "recovered an item interrupted before its rename");
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_ordered_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), 4096).unwrap();
        for i in 0..10u8 {
            s.push(&format!("k{i}"), &vec![i; 1000]).unwrap();
        }
        // The same key again while it waits: not queued twice.
        s.push("k9", &[9; 1000]).unwrap();
        // 4 KiB bound: only the newest four items of 1000 bytes stay.
        let items = s.items().unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(s.stats.dropped.load(Ordering::Relaxed), 6);
        assert_eq!(std::fs::read(&items[0].1).unwrap()[0], 6);
        // A new process continues the sequence after what is on disk.
        // A crash between write and rename leaves a temporary file: recovered at the next open
        // if complete, removed if not.
        std::fs::write(
            dir.path().join(".00000000000000000010.k10.tmp"),
            b"{\"a\":1}",
        )
        .unwrap();
        std::fs::write(dir.path().join(".00000000000000000011.k11.tmp"), b"{\"a\":").unwrap();
        let s2 = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s2.stats.queued.load(Ordering::Relaxed), 5);
        assert!(!dir.path().join(".00000000000000000011.k11.tmp").exists());
        assert!(s2.holds("k10"));
        s2.push("x", b"x").unwrap();
        let items = s2.items().unwrap();
        assert_eq!(items.len(), 6);
        assert_eq!(std::fs::read(&items.last().unwrap().1).unwrap(), b"x");
        assert!(s2.writable().is_ok());
    }
}
