//! EVE-style JSON lines: one line per alert state change, in the shape Suricata's EVE log uses
//! (`timestamp`, `event_type: "alert"`, an `alert` object with `signature_id`, `signature`,
//! `category`, `severity`), so pipelines that already ship EVE (Filebeat, Vector, Logstash)
//! take banwatch's alerts unchanged. Follows logrotate: when the file is moved or removed, the
//! next line opens a new one.

use super::{settings, AlertSink, SinkContext, SinkKind};
use crate::model::{Alert, AlertState};
use serde::Deserialize;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a line could not be written.
#[derive(Debug, thiserror::Error)]
#[error("EVE output {path}: {source}")]
pub struct EveError {
    path: PathBuf,
    source: std::io::Error,
}

/// `[eve]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EveSettings {
    /// EVE-style JSON lines file, appended to (logrotate-friendly).
    pub path: PathBuf,
}

/// The registry entry.
pub const KIND: SinkKind = SinkKind {
    name: "eve",
    validate: |v| {
        let s: EveSettings = settings(v)?;
        if s.path.as_os_str().is_empty() {
            return Err("path: empty".into());
        }
        Ok(())
    },
    build: |v, _ctx: &SinkContext<'_>| {
        let s: EveSettings = settings(v)?;
        Ok(Box::new(EveWriter::new(&s.path)))
    },
};

impl AlertSink for EveWriter {
    fn name(&self) -> &'static str {
        "eve"
    }
    fn notify(&mut self, alert: &Alert) -> Result<(), String> {
        self.write(alert).map_err(|e| e.to_string())
    }
}

/// Appends alert lines to a file, reopening it after rotation.
pub struct EveWriter {
    path: PathBuf,
    file: Option<(std::fs::File, u64)>,
}

/// Stable numeric id per technique, in a private range (Suricata's local rules use 1000000+).
fn signature_id(a: &Alert) -> u64 {
    9_100_000 + a.technique as u64
}

/// One alert state change as an EVE line.
pub fn line(a: &Alert) -> serde_json::Value {
    let ts = match a.state {
        AlertState::Firing => a.started_at.clone(),
        AlertState::Resolved => a
            .resolved_at
            .clone()
            .unwrap_or_else(|| a.started_at.clone()),
    };
    serde_json::json!({
        "timestamp": ts,
        "event_type": "alert",
        "alert": {
            "action": "allowed",
            "signature_id": signature_id(a),
            "signature": format!("BANWATCH {} at a {} site ({})", a.technique, a.site_type.map_or("unknown", |s| s.as_str()), a.status),
            "category": "Biometric surveillance ban violation",
            "severity": if a.status == crate::model::Status::Confirmed { 1 } else { 2 },
        },
        "banwatch": {
            "alert_id": a.id,
            "state": match a.state { AlertState::Firing => "firing", AlertState::Resolved => "resolved" },
            "device": a.device.0,
            "site": a.site,
            "site_type": a.site_type.map(|s| s.as_str()),
            "contractor": a.contractor,
            "technique": a.technique.as_str(),
            "status": a.status.to_string(),
            "confidence": a.confidence,
            "evidence": a.evidence,
        }
    })
}

impl EveWriter {
    /// A writer for `path` (opened at the first line).
    pub fn new(path: &Path) -> EveWriter {
        EveWriter {
            path: path.to_path_buf(),
            file: None,
        }
    }

    /// Append one line.
    pub fn write(&mut self, a: &Alert) -> Result<(), EveError> {
        let err = |source| EveError {
            path: self.path.clone(),
            source,
        };
        let current = std::fs::metadata(&self.path).ok().map(|m| m.ino());
        if self.file.as_ref().map(|f| f.1) != current || current.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(err)?;
            let ino = f.metadata().map_err(err)?.ino();
            self.file = Some((f, ino));
        }
        let mut text = serde_json::to_string(&line(a)).unwrap_or_default();
        text.push('\n');
        match &mut self.file {
            Some((f, _)) => f.write_all(text.as_bytes()).map_err(err),
            None => Ok(()),
        }
    }
}
