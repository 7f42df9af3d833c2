//! The spot-check report: the JSON object of DESIGN.md §4 (`banwatch scan --format json`).
//! Its keys and values are a contract that tools and tests rely on.

use crate::judge::DeviceVerdicts;
use crate::model::{Artifact, DeviceAudit, Violation};
use serde::Serialize;

/// One input of a scan and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputSummary {
    /// The input as given.
    pub path: String,
    /// `pcap`, `pcapng`, `eve`, `zeek`, `model`, `directory`, `archive`, `firmware`, `blob`,
    /// `unusable`.
    pub kind: String,
    /// Packets and log records read (in the input and anything inside it).
    pub packets: u64,
    /// Counted problems inside the input (corrupt packets, unreadable archive entries...).
    pub errors: u64,
    /// Files examined (directories, archives, images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// The input was read only in part (records skipped, a budget spent): how much, and why.
    /// "Nothing banned" cannot be concluded from such an input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Why the input could not be used at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole report of a spot check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    /// banwatch's version.
    pub version: String,
    /// Each input and what became of it.
    pub inputs: Vec<InputSummary>,
    /// Devices with evidence, and their verdicts.
    pub devices: Vec<DeviceVerdicts>,
    /// Model files found and classified.
    pub artifacts: Vec<Artifact>,
    /// Banned techniques found, by device.
    pub violations: Vec<Violation>,
    /// `banwatch audit`: what each device was asked and what each check found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub audits: Vec<DeviceAudit>,
}

impl ScanReport {
    /// Exit code of DESIGN.md §4, as README states it: 2 if an input was unusable (like grep,
    /// an error wins: the report is incomplete); else 1 if a violation was found; else 2 if an
    /// input was read only in part ("nothing banned" cannot be said of what was not read);
    /// else 0.
    pub fn exit_code(&self) -> i32 {
        if self.inputs.iter().any(|i| i.error.is_some()) {
            2
        } else if !self.violations.is_empty() {
            1
        } else if self.inputs.iter().any(|i| i.incomplete.is_some()) {
            2
        } else {
            0
        }
    }

    /// The report as pretty JSON (DESIGN.md §4).
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
