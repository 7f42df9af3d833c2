//! The readable spot-check report: a table a person reads in one glance. Violations first, then
//! every device with its verdicts and strongest evidence, then models found in files.

use super::report::ScanReport;
use crate::model::{Status, Technique};
use std::fmt::Write;

/// Longest cell before it is cut with `…`.
const CELL: usize = 60;

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('…');
        o
    }
}

/// Left-aligned columns with two spaces between them.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let n = cells.len();
        let mut l = String::from("  ");
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                l.push_str(&c);
            } else {
                let pad = widths[i].saturating_sub(c.chars().count());
                l.push_str(&c);
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| h.to_string()).collect(), &mut out);
    for r in rows {
        line(r.clone(), &mut out);
    }
    out
}

pub fn render(report: &ScanReport) -> String {
    let mut out = String::new();
    let inputs: Vec<String> = report
        .inputs
        .iter()
        .map(|i| {
            let mut s = format!("{} ({}", i.path, i.kind);
            if i.packets > 0 {
                let _ = write!(s, ", {} packets", i.packets);
            }
            if let Some(f) = i.files {
                let _ = write!(s, ", {f} files");
            }
            if i.errors > 0 {
                let _ = write!(s, ", {} errors", i.errors);
            }
            s.push(')');
            s
        })
        .collect();
    let _ = writeln!(
        out,
        "banwatch {} spot check: {}",
        report.version,
        inputs.join(", ")
    );
    for i in &report.inputs {
        if let Some(e) = &i.error {
            let _ = writeln!(out, "  unusable input: {e}");
        }
    }
    out.push('\n');

    if report.violations.is_empty() {
        out.push_str("VIOLATIONS: none\n\n");
    } else {
        let _ = writeln!(out, "VIOLATIONS ({})", report.violations.len());
        let rows: Vec<Vec<String>> = report
            .violations
            .iter()
            .map(|v| {
                let conf = report
                    .devices
                    .iter()
                    .find(|d| d.device == v.device)
                    .and_then(|d| d.verdicts.iter().find(|x| x.technique == v.technique))
                    .map(|x| format!("{:.2}", x.confidence))
                    .unwrap_or_default();
                vec![
                    cut(&v.device.0, CELL),
                    v.technique.to_string(),
                    v.status.to_string(),
                    conf,
                    v.banned_at
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        out.push_str(&table(
            &["DEVICE", "TECHNIQUE", "STATUS", "CONF", "BANNED AT"],
            &rows,
        ));
        out.push('\n');
    }

    if !report.devices.is_empty() {
        let _ = writeln!(out, "DEVICES ({})", report.devices.len());
        let mut rows = Vec::new();
        for d in &report.devices {
            let mut name = d.device.0.clone();
            if let Some(mac) = &d.mac {
                let _ = write!(name, " [{mac}]");
            }
            for (i, v) in d.verdicts.iter().enumerate() {
                let top = v.evidence.first();
                let ev = top
                    .map(|e| {
                        let mut s = format!("{} ({} x{})", e.signature, e.strength, e.count);
                        if v.evidence.len() > 1 {
                            let _ = write!(s, " +{} more", v.evidence.len() - 1);
                        }
                        s
                    })
                    .unwrap_or_default();
                let note = match (v.technique, v.status) {
                    (Technique::FaceDetection | Technique::PersonDetection, Status::Confirmed) => {
                        "detection only"
                    }
                    (_, Status::Suspected) => "weak evidence only",
                    _ => "",
                };
                rows.push(vec![
                    if i == 0 {
                        cut(&name, CELL)
                    } else {
                        String::new()
                    },
                    v.technique.to_string(),
                    v.status.to_string(),
                    format!("{:.2}", v.confidence),
                    cut(&ev, CELL),
                    note.to_string(),
                ]);
            }
        }
        out.push_str(&table(
            &[
                "DEVICE",
                "TECHNIQUE",
                "STATUS",
                "CONF",
                "TOP EVIDENCE",
                "NOTE",
            ],
            &rows,
        ));
        out.push('\n');
    }

    if !report.artifacts.is_empty() {
        let _ = writeln!(out, "MODELS ({})", report.artifacts.len());
        let rows: Vec<Vec<String>> = report
            .artifacts
            .iter()
            .map(|a| {
                vec![
                    cut(&a.path, CELL),
                    a.format.clone(),
                    a.technique.to_string(),
                    format!("{:.2}", a.confidence),
                    a.family.clone().unwrap_or_else(|| "-".into()),
                    cut(&a.reasons.join("; "), CELL),
                ]
            })
            .collect();
        out.push_str(&table(
            &["PATH", "FORMAT", "TECHNIQUE", "CONF", "FAMILY", "REASONS"],
            &rows,
        ));
        out.push('\n');
    }

    let code = report.exit_code();
    let _ = writeln!(
        out,
        "Result: {} violation{}{}",
        report.violations.len(),
        if report.violations.len() == 1 {
            ""
        } else {
            "s"
        },
        if code == 2 {
            " (some inputs were unusable; see above)"
        } else {
            ""
        }
    );
    out
}
