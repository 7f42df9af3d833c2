//! EVE-style JSON lines: one line per alert state change, in the shape Suricata's EVE log uses
//! (`timestamp`, `event_type: "alert"`, an `alert` object with `signature_id`, `signature`,
//! `category`, `severity`), so pipelines that already ship EVE (Filebeat, Vector, Logstash)
//! take banwatch's alerts unchanged. Follows logrotate: when the file is moved or removed, the
//! next line opens a new one.

use crate::model::{Alert, AlertState};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("EVE output {path}: {source}")]
pub struct EveError {
    path: PathBuf,
    source: std::io::Error,
}

pub struct EveWriter {
    path: PathBuf,
    file: Option<(std::fs::File, u64)>,
}

/// Stable numeric id per technique, in a private range (Suricata's local rules use 1000000+).
fn signature_id(a: &Alert) -> u64 {
    9_100_000 + a.technique as u64
}

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
    pub fn new(path: &Path) -> EveWriter {
        EveWriter {
            path: path.to_path_buf(),
            file: None,
        }
    }

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
