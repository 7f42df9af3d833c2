//! The SQLite store (WAL, synchronous=FULL): the embedded default for one machine, in
//! `state_dir/alerts.db`. The outbox is a column of the alerts table (see [`super`]).

use super::{AlertStore, Saved, StoreError};
use crate::model::{Alert, AlertState, DeviceAudit};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

/// The SQLite store in one state directory.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Open (creating) `dir/alerts.db`.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        let path = dir.join("alerts.db");
        let err = |e: &dyn std::fmt::Display| StoreError::Db {
            store: path.display().to_string(),
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
             );
             CREATE TABLE IF NOT EXISTS heartbeat (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 at TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS audits (
                 device TEXT PRIMARY KEY,
                 at TEXT NOT NULL,
                 body TEXT NOT NULL
             );",
        )
        .map_err(|e| err(&e))?;
        // Stores made before the outbox existed gain its column.
        let has_outbox: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('alerts') WHERE name = 'undelivered'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| err(&e))?;
        if has_outbox == 0 {
            conn.execute_batch(
                "ALTER TABLE alerts ADD COLUMN undelivered TEXT NOT NULL DEFAULT ''",
            )
            .map_err(|e| err(&e))?;
        }
        Ok(SqliteStore { conn, path })
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Db {
            store: self.path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Rows of (text, JSON body) read by `sql`; a body that does not parse is logged as an
    /// unreadable `what` row and skipped.
    fn keyed_rows<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        what: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, body) = row.map_err(|e| self.err(e))?;
            match serde_json::from_str(&body) {
                Ok(v) => out.push((key, v)),
                Err(e) => tracing::warn!("{}: unreadable {what} row: {e}", self.path.display()),
            }
        }
        Ok(out)
    }

    fn query(&self, sql: &str) -> Result<Vec<Alert>, StoreError> {
        self.query_with(sql, &[])
    }

    fn query_with(&self, sql: &str, args: &[&str]) -> Result<Vec<Alert>, StoreError> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))
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
}

impl AlertStore for SqliteStore {
    fn begin(&self) -> Result<bool, StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        Ok(true)
    }

    fn commit(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT").map_err(|e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.err(e)
        })
    }

    fn save(&self, alert: &Alert, announce: Option<&[&str]>) -> Result<Saved, StoreError> {
        let body = serde_json::to_string(alert).map_err(|e| self.err(e))?;
        let state = match alert.state {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        };
        let owed = announce.map(|names| names.join(","));
        self.conn
            .execute(
                "INSERT INTO alerts (id, device, technique, state, started_at, resolved_at, body, undelivered)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, ''))
                 ON CONFLICT(id) DO UPDATE SET state = ?4, resolved_at = ?6, body = ?7,
                     undelivered = coalesce(?8, undelivered)",
                params![
                    alert.id,
                    alert.device.0,
                    alert.technique.as_str(),
                    state,
                    alert.started_at,
                    alert.resolved_at,
                    body,
                    owed
                ],
            )
            .map_err(|e| self.err(e))?;
        // One writer: an alert id is never contended here.
        Ok(Saved::Stored)
    }

    fn delivered(&self, id: &str, sink: &str) -> Result<(), StoreError> {
        let owed: String = self
            .conn
            .query_row("SELECT undelivered FROM alerts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        let left: Vec<&str> = owed
            .split(',')
            .filter(|s| !s.is_empty() && *s != sink)
            .collect();
        self.conn
            .execute(
                "UPDATE alerts SET undelivered = ?2 WHERE id = ?1",
                params![id, left.join(",")],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn undelivered(&self) -> Result<Vec<(Alert, Vec<String>)>, StoreError> {
        let rows: Vec<(String, Alert)> = self.keyed_rows(
            "SELECT undelivered, body FROM alerts WHERE undelivered != '' ORDER BY rowid",
            "alert",
        )?;
        Ok(rows
            .into_iter()
            .map(|(owed, a)| (a, owed.split(',').map(str::to_string).collect()))
            .collect())
    }

    fn acknowledge(&self, id: &str, at: &str, note: &str) -> Result<bool, StoreError> {
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

    fn acks(&self) -> Result<std::collections::BTreeMap<String, (String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, at, note FROM acks ORDER BY at DESC LIMIT 100000")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    fn save_audit(&self, audit: &DeviceAudit, at: &str) -> Result<(), StoreError> {
        let body = serde_json::to_string(audit).map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "INSERT INTO audits (device, at, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT(device) DO UPDATE SET at = ?2, body = ?3",
                params![audit.device.0, at, body],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn audits(&self) -> Result<Vec<(String, DeviceAudit)>, StoreError> {
        self.keyed_rows("SELECT at, body FROM audits ORDER BY device", "audit")
    }

    fn heartbeat(&self, at: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO heartbeat (id, at) VALUES (1, ?1) ON CONFLICT(id) DO UPDATE SET at = ?1",
                [at],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn firing(&self) -> Result<Vec<Alert>, StoreError> {
        self.query("SELECT body FROM alerts WHERE state = 'firing' ORDER BY started_at")
    }

    fn since(&self, since: &str) -> Result<Vec<Alert>, StoreError> {
        self.query_with(
            "SELECT body FROM alerts WHERE resolved_at IS NULL OR resolved_at >= ?1 ORDER BY started_at",
            &[since],
        )
    }

    fn recent(&self) -> Result<Vec<Alert>, StoreError> {
        self.query("SELECT body FROM alerts ORDER BY started_at DESC LIMIT 1000")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample_alert as alert;

    #[test]
    fn alerts_survive_reopening_and_update_in_place() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            s.save(&alert("a", AlertState::Firing), Some(&["webhook", "eve"]))
                .unwrap();
            s.save(&alert("a", AlertState::Firing), None).unwrap();
            s.save(&alert("b", AlertState::Firing), Some(&["webhook"]))
                .unwrap();
            s.delivered("a", "eve").unwrap();
            s.delivered("b", "webhook").unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.firing().unwrap().len(), 2);
        // What a sink had not taken before the "crash" is still owed, to that sink only.
        let owed = s.undelivered().unwrap();
        assert_eq!(owed.len(), 1);
        assert_eq!(
            (owed[0].0.id.as_str(), owed[0].1.clone()),
            ("a", vec!["webhook".to_string()])
        );
        s.save(&alert("b", AlertState::Resolved), Some(&["webhook"]))
            .unwrap();
        assert_eq!(s.firing().unwrap().len(), 1);
        assert_eq!(s.recent().unwrap().len(), 2);
        assert_eq!(s.undelivered().unwrap().len(), 2);
        s.heartbeat("now").unwrap();
    }

    #[test]
    fn a_group_is_stored_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            assert!(s.begin().unwrap());
            s.save(&alert("a", AlertState::Firing), Some(&["eve"]))
                .unwrap();
            s.save(&alert("b", AlertState::Firing), Some(&["eve"]))
                .unwrap();
            s.commit().unwrap();
            // A group that never commits (the process dies) leaves nothing behind.
            assert!(s.begin().unwrap());
            s.save(&alert("c", AlertState::Firing), Some(&["eve"]))
                .unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        let ids: Vec<String> = s.firing().unwrap().into_iter().map(|a| a.id).collect();
        assert_eq!(ids, ["a", "b"]);
    }
}
