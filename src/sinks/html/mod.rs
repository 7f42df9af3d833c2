//! HTML views, server-rendered with `minijinja` templates built into the binary (no CDN, no
//! external asset: a report is one self-contained file, and the dashboard works offline on a
//! site network): the inspector's spot check (`scan --format html`), the contractor audit
//! (`banwatch report --format html|pdf`) and the service's dashboard (`/`). Every value is
//! HTML-escaped by the template engine (templates end in `.html`); the only markup inserted
//! as is are the SVG charts banwatch draws itself ([`super::chart`]).

use super::contractor::ContractorReport;
use super::report::ScanReport;
use crate::model::{Technique, Violation};
use minijinja::{context, Environment};
use serde::Serialize;
use std::sync::OnceLock;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        // Templates are part of the binary and are checked by the tests: failing to add one is
        // a build defect, reported on render.
        for (name, text) in [
            ("base.html", include_str!("base.html")),
            ("scan.html", include_str!("scan.html")),
            ("contractor.html", include_str!("contractor.html")),
            ("dashboard.html", include_str!("dashboard.html")),
        ] {
            if let Err(err) = e.add_template(name, text) {
                tracing::error!("template {name}: {err}");
            }
        }
        e
    })
}

fn render(name: &str, ctx: minijinja::Value) -> String {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(s) => s,
        Err(e) => {
            // A template fault must not lose the report: say so in a page of its own.
            tracing::error!("rendering {name}: {e:#}");
            format!(
                "<!doctype html><meta charset=utf-8><title>banwatch</title><p>banwatch could not render {name}: {}</p>",
                minijinja::HtmlEscape(&e.to_string())
            )
        }
    }
}

fn now() -> String {
    crate::clock::rfc3339(crate::clock::now())[..19].replace('T', " ") + " UTC"
}

/// The spot check as one self-contained HTML page: findings first, then each device with its
/// evidence, the model files, device audits and inputs (the text report's content).
pub fn scan(report: &ScanReport) -> String {
    let (sharing, biometric): (Vec<&Violation>, Vec<&Violation>) = report
        .violations
        .iter()
        .partition(|v| v.technique == Technique::DataSharing);
    let problems: Vec<&String> = report
        .inputs
        .iter()
        .flat_map(|i| i.error.iter().chain(&i.incomplete))
        .collect();
    let kind = if report.audits.is_empty() {
        "spot check"
    } else {
        "device audit"
    };
    render(
        "scan.html",
        context! {
            title => format!("banwatch {kind}"),
            subtitle => format!("{} input(s): {}", report.inputs.len(),
                report.inputs.iter().map(|i| i.path.as_str()).collect::<Vec<_>>().join(", ")),
            version => &report.version,
            generated => now(),
            report => report,
            biometric => biometric,
            sharing => sharing,
            problems => problems,
        },
    )
}

/// The contractor audit as one self-contained HTML page (also the source of the PDF).
pub fn contractor(r: &ContractorReport) -> String {
    let dates: Vec<String> = r.timeline.iter().map(|d| d.date.clone()).collect();
    let chart = super::chart::compliance_svg(
        &dates,
        &[super::chart::Series {
            name: &r.contractor,
            values: r.timeline.iter().map(|d| d.compliance).collect(),
        }],
        960,
        260,
    );
    render(
        "contractor.html",
        context! {
            title => format!("Contractor audit: {}", r.contractor),
            subtitle => format!("{} days, {} to {}{}", r.days, &r.period_start[..10], &r.period_end[..10],
                r.site.as_ref().map(|s| format!(" · site {s}")).unwrap_or_default()),
            version => &r.version,
            generated => now(),
            r => r,
            chart => chart,
        },
    )
}

/// A site as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteView {
    /// Site id.
    pub id: String,
    /// Name for people.
    pub name: Option<String>,
    /// Site type.
    pub site_type: String,
    /// Contractor.
    pub contractor: Option<String>,
    /// Devices at the site.
    pub devices: usize,
    /// Devices with a firing alert.
    pub violating: usize,
}

/// A feed as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FeedView {
    /// Feed id.
    pub id: String,
    /// Source kind.
    pub kind: String,
    /// Connected and delivering.
    pub up: bool,
    /// Messages received.
    pub messages: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// Everything the dashboard page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// Sites with their compliance.
    pub sites: Vec<SiteView>,
    /// Alerts, firing first, then the most recently resolved.
    pub alerts: Vec<crate::model::Alert>,
    /// Acknowledged alert ids with when.
    pub acks: std::collections::BTreeMap<String, String>,
    /// Devices with their verdicts.
    pub devices: Vec<crate::judge::DeviceVerdicts>,
    /// Feeds and their health.
    pub feeds: Vec<FeedView>,
    /// Compliance per contractor and site type over the last days, as an SVG chart.
    pub chart: String,
    /// Whether acknowledging needs a token (always: without one configured the API is
    /// read-only).
    pub ack_enabled: bool,
}

/// The service's dashboard page.
pub fn dashboard(d: &Dashboard) -> String {
    let firing = d
        .alerts
        .iter()
        .filter(|a| a.state == crate::model::AlertState::Firing)
        .count();
    render(
        "dashboard.html",
        context! {
            title => "banwatch: biometric surveillance ban",
            subtitle => format!("{} sites · {} alerts firing · {} feeds", d.sites.len(), firing, d.feeds.len()),
            version => crate::VERSION,
            generated => now(),
            d => d,
            firing => firing,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::report::InputSummary;

    #[test]
    fn every_template_compiles_and_values_are_escaped() {
        for name in [
            "base.html",
            "scan.html",
            "contractor.html",
            "dashboard.html",
        ] {
            assert!(env().get_template(name).is_ok(), "{name}");
        }
        let report = ScanReport {
            version: "0".into(),
            inputs: vec![InputSummary {
                path: "<script>alert(1)</script>.pcap".into(),
                kind: "pcap".into(),
                packets: 3,
                errors: 0,
                files: None,
                incomplete: None,
                error: None,
            }],
            devices: vec![],
            artifacts: vec![],
            violations: vec![],
            audits: vec![],
        };
        let html = scan(&report);
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("None found."));
    }
}
