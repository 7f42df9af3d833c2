//! `banwatch report` on an alert store filled with 90 days of simulated history (fixed seed):
//! its figures match what the simulation put in, JSON, CSV and HTML carry the same numbers, and
//! the PDF comes out of a real headless Chromium.

use banwatch::sim::history::{self, Expected};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// 2026-11-01T00:00:00Z.
const UNTIL: f64 = 1_793_491_200.0;
const UNTIL_TEXT: &str = "2026-11-01T00:00:00Z";

fn setup(
    dir: &Path,
) -> (
    std::path::PathBuf,
    std::collections::BTreeMap<String, Expected>,
) {
    let state = dir.join("state");
    let expected = history::fill_store(&state, 20261101, 90, UNTIL).expect("simulated store");
    let cfg = dir.join("city.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = {:?}\n{}",
            state.display().to_string(),
            history::inventory_toml()
        ),
    )
    .unwrap();
    (cfg, expected)
}

fn report(cfg: &Path, contractor: &str, format: &str, extra: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["report", "--contractor", contractor, "--days", "90"])
        .args(["--until", UNTIL_TEXT, "--format", format, "--config"])
        .arg(cfg)
        .args(extra)
        .output()
        .expect("run banwatch report");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_contractor_report_counts_what_the_simulation_put_in() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, expected) = setup(dir.path());
    for (contractor, want) in &expected {
        assert!(
            want.findings > 5,
            "{contractor}: the simulation is too thin: {want:?}"
        );
        let (code, out, err) = report(&cfg, contractor, "json", &[]);
        assert_eq!(code, 0, "{err}");
        let r: Value = serde_json::from_slice(&out).unwrap();
        let t = &r["totals"];
        let n = |k: &str| t[k].as_u64().unwrap() as usize;
        assert_eq!(n("devices"), want.devices, "{contractor} devices");
        assert_eq!(n("findings"), want.findings, "{contractor} findings");
        assert_eq!(n("open"), want.open, "{contractor} open");
        assert_eq!(
            n("resolved"),
            want.findings - want.open,
            "{contractor} resolved"
        );
        assert_eq!(
            n("acknowledged"),
            want.acknowledged,
            "{contractor} acknowledged"
        );
        assert_eq!(
            n("data_sharing"),
            want.data_sharing,
            "{contractor} data sharing"
        );
        assert_eq!(
            n("devices_with_findings"),
            want.devices_with_findings,
            "{contractor} devices with findings"
        );
        // Each finding's days open is rounded to a tenth.
        let days = t["days_open"].as_f64().unwrap();
        assert!(
            (days - want.days_open).abs() <= 0.05 * want.findings as f64 + 0.1,
            "{contractor}: days open {days} vs {}",
            want.days_open
        );
        assert_eq!(r["timeline"].as_array().unwrap().len(), 90);
        assert_eq!(
            r["audits"].as_array().unwrap().len(),
            want.audited,
            "{contractor} audits"
        );
        assert_eq!(r["period_end"], "2026-11-01T00:00:00.000000Z");
        // Other contractors' findings are not in it.
        for f in r["findings"].as_array().unwrap() {
            assert!(f["device"]
                .as_str()
                .unwrap()
                .starts_with(if contractor.starts_with("Acme") {
                    ""
                } else {
                    "line-4"
                }));
        }

        // CSV: one row per finding, the same days open.
        let (code, csv, err) = report(&cfg, contractor, "csv", &[]);
        assert_eq!(code, 0, "{err}");
        let csv = String::from_utf8(csv).unwrap();
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), want.findings + want.data_sharing);
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|h| *h == "days_open").unwrap();
        let kind = header.iter().position(|h| *h == "kind").unwrap();
        let mut reader = csv_rows(&csv);
        let sum: f64 = reader
            .iter_mut()
            .filter(|r| r[kind] == "biometric")
            .map(|r| r[col].parse::<f64>().unwrap())
            .sum();
        assert!((sum - days).abs() < 0.1, "csv {sum} vs json {days}");

        // HTML: the same totals, and the chart.
        let (code, html, err) = report(&cfg, contractor, "html", &[]);
        assert_eq!(code, 0, "{err}");
        let html = String::from_utf8(html).unwrap();
        assert!(html.contains(&format!("Contractor audit: {contractor}")));
        assert!(html.contains(&format!(
            "<div class=\"n\">{}</div><div class=\"l\">ban violations in the period",
            want.findings
        )));
        assert!(html.contains("<svg"), "no chart");
        assert!(html.contains(&format!("<h2>Device audits ({})</h2>", want.audited)));
        let _ = std::fs::write(
            artifacts().join(format!("report-{}.html", &contractor[..4])),
            &html,
        );
    }
    // --site narrows, a missing store is an error naming it.
    let (code, out, _) = report(&cfg, "Acme Security Ltd", "json", &["--site", "ps-7"]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_slice(&out).unwrap();
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["site"] == "ps-7"));
    assert_eq!(r["totals"]["devices"], 4);
    let (code, _, err) = report(
        &cfg,
        "Acme Security Ltd",
        "json",
        &["--state-dir", "/nonexistent/x"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x/alerts.db"), "{err}");
}

/// Where the tests leave what a person may want to look at (reports, PDF).
fn artifacts() -> std::path::PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-artifacts");
    let _ = std::fs::create_dir_all(&d);
    d
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    // The report quotes fields with commas (evidence lists): parse as CSV, not by splitting.
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        fields.push(cur);
        out.push(fields);
    }
    out
}

#[test]
fn the_pdf_comes_from_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, expected) = setup(dir.path());
    assert!(
        banwatch::sinks::pdf::browser().is_some(),
        "chromium is not installed (scripts/setup.sh test installs it)"
    );
    let pdf = dir.path().join("acme.pdf");
    let (code, _, err) = report(
        &cfg,
        "Acme Security Ltd",
        "pdf",
        &["--out", pdf.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&pdf).unwrap();
    let _ = std::fs::write(artifacts().join("report-acme.pdf"), &bytes);
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    // A4 pages of a 90-day report: cards and chart, then one row per finding.
    let rows = expected["Acme Security Ltd"].findings + expected["Acme Security Ltd"].data_sharing;
    assert!(
        pages >= 2 && pages <= 2 + rows / 8,
        "{pages} pages for {rows} findings"
    );
    // Without --out a PDF is refused rather than written to a terminal.
    let (code, _, err) = report(&cfg, "Acme Security Ltd", "pdf", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--out"), "{err}");
}
