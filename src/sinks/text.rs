//! The readable spot-check report: a table a person reads in one glance. Violations first
//! (biometric, then data sharing, listed apart), then every device with its verdicts and
//! strongest evidence, then models found in files. Every string that came from an input (file
//! and member names, device names) is made safe for a terminal: control characters and escape
//! sequences are shown as `\xHH`, never sent.

use super::report::ScanReport;
use crate::model::{Outcome, Role, Status, Technique, Violation};
use std::fmt::Write;

/// Longest cell before it is cut with `…`.
const CELL: usize = 60;

/// `s` with every control character (C0, DEL, C1 — escape sequences start with one) and
/// bidirectional override written as `\xHH` / `\u{…}`, so an untrusted name cannot move the
/// cursor, clear the screen or reorder what a terminal shows.
pub fn terminal_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() && (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else if c.is_control() || bidi {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn cut(s: &str, n: usize) -> String {
    let s = terminal_safe(s);
    if s.chars().count() <= n {
        s
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

/// The confidence of a violation's verdict, formatted.
fn confidence(report: &ScanReport, v: &Violation) -> String {
    report
        .devices
        .iter()
        .find(|d| d.device == v.device)
        .and_then(|d| d.verdicts.iter().find(|x| x.technique == v.technique))
        .map(|x| format!("{:.2}", x.confidence))
        .unwrap_or_default()
}

fn banned_at(v: &Violation) -> String {
    v.banned_at
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The role column: `runs`, or `uses <peer>`.
fn role(v: &Violation) -> String {
    match v.role {
        Role::Runs => "runs".into(),
        Role::Uses if v.peers.is_empty() => "uses".into(),
        Role::Uses => format!("uses {}", v.peers.join(", ")),
    }
}

/// Render the report as text.
pub fn render(report: &ScanReport) -> String {
    let mut out = String::new();
    let inputs: Vec<String> = report
        .inputs
        .iter()
        .map(|i| {
            let mut s = format!("{} ({}", terminal_safe(&i.path), i.kind);
            if i.packets > 0 {
                let _ = write!(s, ", {} packets", i.packets);
            }
            if let Some(f) = i.files {
                let _ = write!(s, ", {f} files");
            }
            if i.errors > 0 {
                let noun = if i.errors == 1 { "error" } else { "errors" };
                let _ = write!(s, ", {} {noun}", i.errors);
            }
            s.push(')');
            s
        })
        .collect();
    let _ = writeln!(
        out,
        "banwatch {} {}: {}",
        report.version,
        if report.audits.is_empty() {
            "spot check"
        } else {
            "device audit"
        },
        inputs.join(", ")
    );
    for i in &report.inputs {
        if let Some(e) = &i.error {
            let _ = writeln!(out, "  unusable input: {}", terminal_safe(e));
        }
        if let Some(why) = &i.incomplete {
            let _ = writeln!(out, "  read only in part: {}", terminal_safe(why));
        }
    }
    out.push('\n');

    let (sharing, biometric): (Vec<&Violation>, Vec<&Violation>) = report
        .violations
        .iter()
        .partition(|v| v.technique == Technique::DataSharing);
    if biometric.is_empty() {
        out.push_str("VIOLATIONS: none\n\n");
    } else {
        let _ = writeln!(out, "VIOLATIONS ({})", biometric.len());
        let rows: Vec<Vec<String>> = biometric
            .iter()
            .map(|v| {
                vec![
                    cut(&v.device.0, CELL),
                    v.technique.to_string(),
                    cut(&role(v), CELL),
                    v.status.to_string(),
                    confidence(report, v),
                    banned_at(v),
                ]
            })
            .collect();
        out.push_str(&table(
            &["DEVICE", "TECHNIQUE", "ROLE", "STATUS", "CONF", "BANNED AT"],
            &rows,
        ));
        out.push('\n');
    }
    if !sharing.is_empty() {
        let _ = writeln!(
            out,
            "DATA SHARING with immigration enforcement or its data networks ({})",
            sharing.len()
        );
        let rows: Vec<Vec<String>> = sharing
            .iter()
            .map(|v| {
                let dest = report
                    .devices
                    .iter()
                    .find(|d| d.device == v.device)
                    .and_then(|d| d.verdicts.iter().find(|x| x.technique == v.technique))
                    .map(|x| {
                        let mut orgs: Vec<&str> = x
                            .evidence
                            .iter()
                            .filter_map(|e| e.organisation.as_deref())
                            .collect();
                        orgs.sort();
                        orgs.dedup();
                        orgs.join(", ")
                    })
                    .unwrap_or_default();
                vec![
                    cut(&v.device.0, CELL),
                    cut(&dest, CELL),
                    v.status.to_string(),
                    confidence(report, v),
                    banned_at(v),
                ]
            })
            .collect();
        out.push_str(&table(
            &["DEVICE", "DESTINATION", "STATUS", "CONF", "BANNED AT"],
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
                        if e.role == Role::Uses {
                            let _ = write!(s, " uses {}", e.peer.as_deref().unwrap_or("?"));
                        }
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

    if !report.audits.is_empty() {
        audits(&mut out, report);
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
            " (some inputs were unusable or read only in part; see above)"
        } else {
            ""
        }
    );
    out
}

/// The `AUDIT` table: per device, the product and each check's outcome.
fn audits(out: &mut String, report: &ScanReport) {
    let _ = writeln!(out, "AUDIT ({} devices)", report.audits.len());
    let mut rows = Vec::new();
    for a in &report.audits {
        let mut name = a.device.0.clone();
        if a.insecure {
            name.push_str(" [certificate not checked]");
        }
        let product = a.product.clone().unwrap_or_else(|| "-".into());
        if a.checks.is_empty() {
            rows.push(vec![
                cut(&name, CELL),
                product,
                "-".into(),
                "-".into(),
                cut(a.error.as_deref().unwrap_or("no checks apply"), CELL),
            ]);
            continue;
        }
        for (i, c) in a.checks.iter().enumerate() {
            let outcome = match c.outcome {
                Outcome::Fired => "FIRED",
                Outcome::Quiet => "quiet",
                Outcome::Unavailable => "unavailable",
                Outcome::Error => "ERROR",
            };
            rows.push(vec![
                if i == 0 {
                    cut(&name, CELL)
                } else {
                    String::new()
                },
                if i == 0 {
                    product.clone()
                } else {
                    String::new()
                },
                cut(&c.check, CELL),
                outcome.to_string(),
                cut(
                    &c.value
                        .map(|v| v.to_string())
                        .or_else(|| c.reason.clone())
                        .unwrap_or_default(),
                    CELL,
                ),
            ]);
        }
    }
    out.push_str(&table(
        &["DEVICE", "PRODUCT", "CHECK", "OUTCOME", "VALUE / REASON"],
        &rows,
    ));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_shown_not_sent() {
        let hostile = "fw.tar!/\u{1b}[2J\u{1b}]0;pwned\u{7}model\u{9b}31m\u{202e}gpj.onnx";
        let safe = terminal_safe(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert!(
            safe.contains("\\x1b[2J") && safe.contains("\\x07"),
            "{safe}"
        );
        assert!(
            safe.contains("\\x9b") && safe.contains("\\u{202e}"),
            "{safe}"
        );
        assert_eq!(terminal_safe("plain/path_ü.onnx"), "plain/path_ü.onnx");
    }
}
