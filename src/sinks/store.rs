//! The alert store: SQLite (WAL, synchronous=FULL), the embedded default. Every alert state
//! change is written here before it is acted on, so a restart — even after SIGKILL — neither
//! loses nor duplicates an alert: firing alerts are reloaded and keep their ids.

use crate::model::{Alert, AlertState};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {message}")]
    Db { path: PathBuf, message: String },
}

pub struct AlertStore {
    conn: Connection,
    path: PathBuf,
}

impl AlertStore {
    /// Open (creating) `dir/alerts.db`.
    pub fn open(dir: &Path) -> Result<AlertStore, StoreError> {
        let path = dir.join("alerts.db");
        let err = |e: &dyn std::fmt::Display| StoreError::Db {
            path: path.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let conn = Connection::open(&path).map_err(|e| err(&e))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS alerts (
                 id TEXT PRIMARY KEY,
                 device TEXT NOT NULL,
                 technique TEXT NOT NULL,
                 state TEXT NOT NULL,
                 started_at TEXT NOT NULL,
                 resolved_at TEXT,
                 body TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state);
             CREATE TABLE IF NOT EXISTS acks (
                 id TEXT PRIMARY KEY REFERENCES alerts(id),
                 at TEXT NOT NULL,
                 note TEXT NOT NULL
             );",
        )
        .map_err(|e| err(&e))?;
        Ok(AlertStore { conn, path })
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Record that someone took an alert in hand (the API's acknowledge). `Ok(false)` when
    /// no such alert exists.
    pub fn acknowledge(&self, id: &str, at: &str, note: &str) -> Result<bool, StoreError> {
        let known: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM alerts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        if known == 0 {
            return Ok(false);
        }
        self.conn
            .execute(
                "INSERT INTO acks (id, at, note) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET at = ?2, note = ?3",
                params![id, at, note],
            )
            .map_err(|e| self.err(e))?;
        Ok(true)
    }

    /// Acknowledged alert ids with when and the note.
    pub fn acks(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, at, note FROM acks ORDER BY at DESC LIMIT 1000")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Insert or update an alert by id.
    pub fn save(&self, alert: &Alert) -> Result<(), StoreError> {
        let body = serde_json::to_string(alert).map_err(|e| self.err(e))?;
        let state = match alert.state {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        };
        self.conn
            .execute(
                "INSERT INTO alerts (id, device, technique, state, started_at, resolved_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(id) DO UPDATE SET state = ?4, resolved_at = ?6, body = ?7",
                params![
                    alert.id,
                    alert.device.0,
                    alert.technique.as_str(),
                    state,
                    alert.started_at,
                    alert.resolved_at,
                    body
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn query(&self, sql: &str) -> Result<Vec<Alert>, StoreError> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for body in rows {
            let body = body.map_err(|e| self.err(e))?;
            match serde_json::from_str(&body) {
                Ok(a) => out.push(a),
                Err(e) => tracing::warn!("{}: unreadable alert row: {e}", self.path.display()),
            }
        }
        Ok(out)
    }

    pub fn firing(&self) -> Result<Vec<Alert>, StoreError> {
        self.query("SELECT body FROM alerts WHERE state = 'firing' ORDER BY started_at")
    }

    /// The most recent alerts, firing or resolved.
    pub fn recent(&self) -> Result<Vec<Alert>, StoreError> {
        self.query("SELECT body FROM alerts ORDER BY started_at DESC LIMIT 1000")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceId, Status, Technique};

    fn alert(id: &str, state: AlertState) -> Alert {
        Alert {
            id: id.into(),
            state,
            site: None,
            site_type: None,
            contractor: None,
            device: DeviceId("cam".into()),
            technique: Technique::FaceRecognition,
            status: Status::Confirmed,
            confidence: 0.9,
            evidence: vec![],
            started_at: "2026-11-02T09:00:00.000000Z".into(),
            resolved_at: None,
        }
    }

    #[test]
    fn alerts_survive_reopening_and_update_in_place() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = AlertStore::open(dir.path()).unwrap();
            s.save(&alert("a", AlertState::Firing)).unwrap();
            s.save(&alert("a", AlertState::Firing)).unwrap();
            s.save(&alert("b", AlertState::Firing)).unwrap();
        }
        let s = AlertStore::open(dir.path()).unwrap();
        assert_eq!(s.firing().unwrap().len(), 2);
        s.save(&alert("b", AlertState::Resolved)).unwrap();
        assert_eq!(s.firing().unwrap().len(), 1);
        assert_eq!(s.recent().unwrap().len(), 2);
    }
}
