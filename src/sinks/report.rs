//! The spot-check report: the JSON object of DESIGN.md §4 (`banwatch scan --format json`).
//! Its keys and values are a contract that tools and tests rely on.

use crate::judge::DeviceVerdicts;
use crate::model::{Artifact, Violation};
use serde::Serialize;

/// One input of a scan and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputSummary {
    pub path: String,
    /// `pcap`, `pcapng`, `model`, `directory`, `archive`, `firmware`, `blob`, `unusable`.
    pub kind: String,
    /// Packets read (captures); 0 for other inputs.
    pub packets: u64,
    /// Counted problems inside the input (corrupt packets, unreadable archive entries...).
    pub errors: u64,
    /// Files examined (directories, archives, images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Why the input could not be used at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    pub version: String,
    pub inputs: Vec<InputSummary>,
    pub devices: Vec<DeviceVerdicts>,
    pub artifacts: Vec<Artifact>,
    pub violations: Vec<Violation>,
}

impl ScanReport {
    /// Exit code of DESIGN.md §4: 2 if an input was unusable, else 1 if a violation was found,
    /// else 0. (Like grep, an error wins: the report is incomplete.)
    pub fn exit_code(&self) -> i32 {
        if self.inputs.iter().any(|i| i.error.is_some()) {
            2
        } else if !self.violations.is_empty() {
            1
        } else {
            0
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
