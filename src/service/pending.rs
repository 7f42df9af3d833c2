//! The alert state changes the store has not taken yet, kept on disk.
//!
//! While the store refuses writes (PostgreSQL unreachable, a SQLite error) a firing alert's
//! change waits in the lifecycle ([`super::lifecycle::Lifecycle::pending`]). Memory alone
//! would lose it to a restart or a SIGKILL: a violation seen during a database outage, whose
//! evidence is gone by the time the service is back, would never be stored nor sent. So the
//! pending set is also written to `<state_dir>/pending-alerts.json` whenever it changes
//! (written whole to a temporary file, synced, renamed over the old one; removed when the
//! set is empty), and read back at start. It holds at most one entry per device and
//! technique, as the lifecycle does. The file keeps what the alert itself keeps (device,
//! technique, evidence signature names and counts), never an observed value.
//!
//! A full disk stops this file as it stops the store: the change then lives in memory only,
//! and the failure is logged.

use super::lifecycle::Change;
use crate::model::Alert;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file's name in the state directory.
pub const FILE: &str = "pending-alerts.json";

/// One pending change as written.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// `true` for a new alert (stored, then announced), `false` for an update.
    new: bool,
    alert: Alert,
}

/// The on-disk copy of the pending changes.
pub struct PendingFile {
    path: PathBuf,
    /// (alert id, new) of what the file holds now, to write only on a change.
    written: Vec<(String, bool)>,
}

impl PendingFile {
    /// The file in `state_dir`, and the changes a previous run left in it (none when there is
    /// no file; a file that does not parse is logged, set aside as `.broken`, and yields none).
    pub fn open(state_dir: &Path) -> (Self, Vec<(Alert, Change)>) {
        let path = state_dir.join(FILE);
        let left = match std::fs::read(&path) {
            Ok(b) => match serde_json::from_slice::<Vec<Entry>>(&b) {
                Ok(v) => v
                    .into_iter()
                    .map(|e| {
                        let c = if e.new { Change::New } else { Change::Updated };
                        (e.alert, c)
                    })
                    .collect(),
                Err(e) => {
                    tracing::error!("{}: not read ({e}); set aside", path.display());
                    let _ = std::fs::rename(&path, path.with_extension("json.broken"));
                    Vec::new()
                }
            },
            Err(_) => Vec::new(),
        };
        let written = left
            .iter()
            .map(|(a, c)| (a.id.clone(), *c == Change::New))
            .collect();
        (Self { path, written }, left)
    }

    /// Make the file hold `pending` (written only when it differs from what it holds).
    /// Errors: the file could not be written or removed (a message naming it).
    pub fn keep(&mut self, pending: &[(Alert, Change)]) -> Result<(), String> {
        let now: Vec<(String, bool)> = pending
            .iter()
            .map(|(a, c)| (a.id.clone(), *c == Change::New))
            .collect();
        if now == self.written {
            return Ok(());
        }
        let shown = self.path.display();
        if pending.is_empty() {
            match std::fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{shown}: cannot remove: {e}")),
            }
        } else {
            let entries: Vec<Entry> = pending
                .iter()
                .map(|(a, c)| Entry {
                    new: *c == Change::New,
                    alert: a.clone(),
                })
                .collect();
            let body = serde_json::to_vec(&entries).map_err(|e| format!("{shown}: {e}"))?;
            let tmp = self.path.with_extension("json.tmp");
            let write = || -> std::io::Result<()> {
                use std::io::Write;
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&body)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &self.path)
            };
            if let Err(e) = write() {
                let _ = std::fs::remove_file(&tmp);
                return Err(format!("{shown}: cannot write: {e}"));
            }
        }
        self.written = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlertState;

    fn alert(id: &str) -> Alert {
        crate::model::sample_alert(id, AlertState::Firing)
    }

    #[test]
    fn kept_read_back_and_removed_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (mut f, left) = PendingFile::open(dir.path());
        assert!(left.is_empty());
        f.keep(&[(alert("a1"), Change::New), (alert("a2"), Change::Updated)])
            .unwrap();
        let (_, left) = PendingFile::open(dir.path());
        assert_eq!(left.len(), 2);
        assert_eq!(left[0].0.id, "a1");
        assert_eq!(left[0].1, Change::New);
        assert_eq!(left[1].1, Change::Updated);
        f.keep(&[]).unwrap();
        assert!(!dir.path().join(FILE).exists());
        assert!(PendingFile::open(dir.path()).1.is_empty());
    }

    #[test]
    fn a_broken_file_is_set_aside_and_a_failed_write_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        let (mut f, left) = PendingFile::open(dir.path());
        assert!(left.is_empty());
        assert!(dir.path().join("pending-alerts.json.broken").exists());
        // The state directory gone: the write fails with a message naming the file.
        drop(dir);
        let e = f.keep(&[(alert("a1"), Change::New)]).unwrap_err();
        assert!(e.contains(FILE) && e.contains("cannot write"), "{e}");
    }
}
