//! The contractor audit (`banwatch report`): what the alert store holds about one contractor's
//! sites over a period — the city audits its contractors every 90 days, hence the default. Every
//! finding (a ban-violation alert) with technique, role, status, first seen, resolved, days
//! open, an evidence summary and its acknowledgement; data-sharing findings listed apart from
//! the biometric ones; totals; and a daily compliance timeline (the share of the contractor's
//! devices with no finding open that day); and the latest device audit of each device that has
//! one (checks fired, quiet, unavailable, failed — counts and switches only).
//!
//! The numbers come only from the store (and the inventory, for devices that never had a
//! finding); evidence is the store's, redacted by construction, so nothing about people is in
//! the report either.

use crate::model::{Alert, AlertState, SiteType, Technique};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// A device of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DeviceRow {
    /// Device id.
    pub device: String,
    /// Site id.
    pub site: Option<String>,
    /// Site type.
    pub site_type: Option<SiteType>,
}

/// One finding: an alert that was open at some time in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingRow {
    /// The alert id.
    pub id: String,
    /// The device.
    pub device: String,
    /// Its site.
    pub site: Option<String>,
    /// The site's type.
    pub site_type: Option<SiteType>,
    /// The banned technique (or `data_sharing`).
    pub technique: Technique,
    /// Runs or uses (from the strongest evidence).
    pub role: String,
    /// `confirmed` or `suspected`.
    pub status: String,
    /// The verdict's confidence.
    pub confidence: f64,
    /// For data sharing: where the data goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// When it started, RFC 3339.
    pub first_seen: String,
    /// When it resolved, RFC 3339 (none: still open at the period's end).
    pub resolved: Option<String>,
    /// Days it was open within the period, one decimal.
    pub days_open: f64,
    /// The evidence: signature (strength, occurrences), strongest first.
    pub evidence: String,
    /// When it was acknowledged, and the note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
}

/// An acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledgement {
    /// When, RFC 3339.
    pub at: String,
    /// The note given.
    pub note: String,
}

/// The report's totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Devices of the contractor (inventory and findings).
    pub devices: usize,
    /// Devices with at least one biometric finding in the period.
    pub devices_with_findings: usize,
    /// Biometric findings.
    pub findings: usize,
    /// Of those, still open at the period's end.
    pub open: usize,
    /// Of those, resolved.
    pub resolved: usize,
    /// Of those, acknowledged.
    pub acknowledged: usize,
    /// Days open, summed over biometric findings (one decimal).
    pub days_open: f64,
    /// Data-sharing findings.
    pub data_sharing: usize,
    /// Mean daily compliance over the period, in [0, 1] (three decimals).
    pub compliance: f64,
}

/// One day of the compliance timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Devices with a biometric finding open at some time that day.
    pub devices_in_violation: usize,
    /// Share of the contractor's devices with none, in [0, 1].
    pub compliance: f64,
}

/// The whole contractor report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContractorReport {
    /// banwatch's version.
    pub version: String,
    /// The contractor.
    pub contractor: String,
    /// Limited to this site, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Start of the period, RFC 3339.
    pub period_start: String,
    /// End of the period, RFC 3339.
    pub period_end: String,
    /// Length of the period in days.
    pub days: u32,
    /// The contractor's devices.
    pub devices: Vec<DeviceRow>,
    /// Biometric findings, oldest first.
    pub findings: Vec<FindingRow>,
    /// Data-sharing findings, oldest first.
    pub data_sharing: Vec<FindingRow>,
    /// Totals.
    pub totals: Totals,
    /// Daily compliance.
    pub timeline: Vec<Day>,
    /// The latest device audit of each of the contractor's devices that has one.
    pub audits: Vec<AuditRow>,
}

/// A device's latest audit, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// When it ran, RFC 3339.
    pub at: String,
    /// The audit: product, each check's outcome and number, or why it failed.
    pub audit: crate::model::DeviceAudit,
}

/// What a report covers.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The contractor, as the inventory and alerts name it (ASCII case-insensitive).
    pub contractor: String,
    /// Only this site.
    pub site: Option<String>,
    /// Length of the period in days.
    pub days: u32,
    /// End of the period, Unix seconds.
    pub until: f64,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn evidence_summary(a: &Alert) -> String {
    a.evidence
        .iter()
        .map(|e| format!("{} ({}, x{})", e.signature, e.strength, e.count))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Build the report from the alerts (those open at some time in the period, any contractor),
/// the acknowledgements (alert id → when, note) and the inventory's devices of the contractor.
pub fn build(
    scope: &Scope,
    alerts: &[Alert],
    acks: &BTreeMap<String, Acknowledgement>,
    inventory: &[DeviceRow],
) -> ContractorReport {
    let end = scope.until;
    let start = end - f64::from(scope.days) * DAY;
    let ours = |contractor: Option<&str>, site: Option<&str>| {
        contractor.is_some_and(|c| c.eq_ignore_ascii_case(&scope.contractor))
            && scope.site.as_deref().is_none_or(|s| site == Some(s))
    };
    let mut devices: BTreeSet<DeviceRow> = inventory
        .iter()
        .filter(|d| {
            scope
                .site
                .as_deref()
                .is_none_or(|s| d.site.as_deref() == Some(s))
        })
        .cloned()
        .collect();
    let mut findings = Vec::new();
    let mut data_sharing = Vec::new();
    // Per biometric finding: the device and its open interval, for the timeline.
    let mut intervals: Vec<(String, f64, f64)> = Vec::new();
    for a in alerts {
        if !ours(a.contractor.as_deref(), a.site.as_deref()) {
            continue;
        }
        let Some(started) = crate::clock::parse_rfc3339(&a.started_at) else {
            continue;
        };
        let resolved = match (a.state, a.resolved_at.as_deref()) {
            (AlertState::Resolved, Some(r)) => crate::clock::parse_rfc3339(r),
            _ => None,
        };
        let (from, to) = (started.max(start), resolved.unwrap_or(end).min(end));
        if to < from || started > end {
            continue;
        }
        devices.insert(DeviceRow {
            device: a.device.0.clone(),
            site: a.site.clone(),
            site_type: a.site_type,
        });
        let top = a.evidence.first();
        let row = FindingRow {
            id: a.id.clone(),
            device: a.device.0.clone(),
            site: a.site.clone(),
            site_type: a.site_type,
            technique: a.technique,
            role: top
                .map(|e| format!("{:?}", e.role).to_lowercase())
                .unwrap_or_else(|| "runs".into()),
            status: a.status.to_string(),
            confidence: (a.confidence * 100.0).round() / 100.0,
            organisation: a.evidence.iter().find_map(|e| e.organisation.clone()),
            first_seen: a.started_at.clone(),
            resolved: resolved.map(|_| a.resolved_at.clone().unwrap_or_default()),
            days_open: round1((to - from) / DAY),
            evidence: evidence_summary(a),
            acknowledged: acks.get(&a.id).cloned(),
        };
        if a.technique == Technique::DataSharing {
            data_sharing.push(row);
        } else {
            intervals.push((a.device.0.clone(), from, to));
            findings.push(row);
        }
    }
    let devices: Vec<DeviceRow> = devices.into_iter().collect();
    let n_devices = {
        let ids: BTreeSet<&str> = devices.iter().map(|d| d.device.as_str()).collect();
        ids.len()
    };
    let mut timeline = Vec::new();
    for i in 0..scope.days {
        let d0 = start + f64::from(i) * DAY;
        let d1 = d0 + DAY;
        let violating: BTreeSet<&str> = intervals
            .iter()
            .filter(|(_, from, to)| *from < d1 && *to > d0)
            .map(|(d, _, _)| d.as_str())
            .collect();
        let compliance = if n_devices == 0 {
            1.0
        } else {
            1.0 - violating.len() as f64 / n_devices as f64
        };
        timeline.push(Day {
            date: crate::clock::rfc3339(d0)[..10].to_string(),
            devices_in_violation: violating.len(),
            compliance: (compliance * 1000.0).round() / 1000.0,
        });
    }
    let with_findings: BTreeSet<&str> = findings.iter().map(|f| f.device.as_str()).collect();
    let mean = if timeline.is_empty() {
        1.0
    } else {
        timeline.iter().map(|d| d.compliance).sum::<f64>() / timeline.len() as f64
    };
    let totals = Totals {
        devices: n_devices,
        devices_with_findings: with_findings.len(),
        findings: findings.len(),
        open: findings.iter().filter(|f| f.resolved.is_none()).count(),
        resolved: findings.iter().filter(|f| f.resolved.is_some()).count(),
        acknowledged: findings.iter().filter(|f| f.acknowledged.is_some()).count(),
        days_open: round1(findings.iter().map(|f| f.days_open).sum()),
        data_sharing: data_sharing.len(),
        compliance: (mean * 1000.0).round() / 1000.0,
    };
    ContractorReport {
        version: crate::VERSION.to_string(),
        contractor: scope.contractor.clone(),
        site: scope.site.clone(),
        period_start: crate::clock::rfc3339(start),
        period_end: crate::clock::rfc3339(end),
        days: scope.days,
        devices,
        findings,
        data_sharing,
        totals,
        timeline,
        audits: Vec::new(),
    }
}

/// The report from the alert store in `state_dir` (`state_dir/alerts.db`, as `serve` keeps
/// it). A missing store is an error, not an empty report.
#[cfg(feature = "live")]
pub fn from_store(
    state_dir: &std::path::Path,
    scope: &Scope,
    inventory: &[DeviceRow],
) -> Result<ContractorReport, String> {
    let db = state_dir.join("alerts.db");
    if !db.is_file() {
        return Err(format!(
            "{}: no alert store (the state_dir of banwatch serve holds alerts.db)",
            db.display()
        ));
    }
    let store = super::store::SqliteStore::open(state_dir).map_err(|e| e.to_string())?;
    from_alert_store(&store, scope, inventory)
}

/// The report from a cluster's shared PostgreSQL store at `url` (every replica's alerts).
#[cfg(feature = "live")]
pub fn from_postgres(
    url: &str,
    tls: Option<&crate::net::tls::TlsSettings>,
    scope: &Scope,
    inventory: &[DeviceRow],
) -> Result<ContractorReport, String> {
    let store =
        super::store::postgres::PgStore::open(url, "report", tls).map_err(|e| e.to_string())?;
    from_alert_store(&store, scope, inventory)
}

#[cfg(feature = "live")]
fn from_alert_store(
    store: &dyn super::store::AlertStore,
    scope: &Scope,
    inventory: &[DeviceRow],
) -> Result<ContractorReport, String> {
    let since = crate::clock::rfc3339(scope.until - f64::from(scope.days) * DAY);
    let alerts = store.since(&since).map_err(|e| e.to_string())?;
    let acks = store
        .acks()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(id, (at, note))| (id, Acknowledgement { at, note }))
        .collect();
    let mut report = build(scope, &alerts, &acks, inventory);
    let ours: BTreeSet<&str> = report.devices.iter().map(|d| d.device.as_str()).collect();
    report.audits = store
        .audits()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|(_, a)| ours.contains(a.device.0.as_str()))
        .map(|(at, audit)| AuditRow { at, audit })
        .collect();
    Ok(report)
}

impl ContractorReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// One CSV row per finding (biometric, then data sharing), with the same figures as the
    /// JSON; the header names the columns.
    pub fn to_csv(&self) -> Result<String, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let e = |e: csv::Error| e.to_string();
        w.write_record([
            "kind",
            "id",
            "device",
            "site",
            "site_type",
            "technique",
            "role",
            "status",
            "confidence",
            "organisation",
            "first_seen",
            "resolved",
            "days_open",
            "acknowledged_at",
            "evidence",
        ])
        .map_err(e)?;
        for (kind, rows) in [
            ("biometric", &self.findings),
            ("data_sharing", &self.data_sharing),
        ] {
            for f in rows {
                w.write_record([
                    kind,
                    &f.id,
                    &f.device,
                    f.site.as_deref().unwrap_or(""),
                    f.site_type.map(|s| s.as_str()).unwrap_or(""),
                    f.technique.as_str(),
                    &f.role,
                    &f.status,
                    &format!("{:.2}", f.confidence),
                    f.organisation.as_deref().unwrap_or(""),
                    &f.first_seen,
                    f.resolved.as_deref().unwrap_or(""),
                    &format!("{:.1}", f.days_open),
                    f.acknowledged.as_ref().map(|a| a.at.as_str()).unwrap_or(""),
                    &f.evidence,
                ])
                .map_err(e)?;
            }
        }
        let bytes = w.into_inner().map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceId, Evidence, Role, Status, Strength};

    fn alert(id: &str, dev: &str, t: Technique, start: f64, end: Option<f64>) -> Alert {
        Alert {
            id: id.into(),
            state: if end.is_some() {
                AlertState::Resolved
            } else {
                AlertState::Firing
            },
            site: Some("ps-12".into()),
            site_type: Some(SiteType::School),
            contractor: Some("Acme Security Ltd".into()),
            device: DeviceId(dev.into()),
            technique: t,
            status: Status::Confirmed,
            confidence: 0.95,
            evidence: vec![Evidence {
                signature: "hikvision.event.face_contrast".into(),
                technique: t,
                strength: Strength::Strong,
                role: Role::Runs,
                peer: None,
                organisation: (t == Technique::DataSharing).then(|| "Flock Safety".into()),
                source: "feed:x".into(),
                excerpt: "faceContrast".into(),
                count: 3,
                first_seen: crate::clock::rfc3339(start),
                last_seen: crate::clock::rfc3339(start),
            }],
            started_at: crate::clock::rfc3339(start),
            resolved_at: end.map(crate::clock::rfc3339),
        }
    }

    #[test]
    fn days_open_are_clipped_to_the_period_and_the_timeline_counts_devices() {
        let until = 100.0 * DAY;
        let scope = Scope {
            contractor: "acme security ltd".into(),
            site: None,
            days: 10,
            until,
        };
        let alerts = vec![
            // Opened before the period, resolved 2 days into it.
            alert(
                "a",
                "cam1",
                Technique::FaceRecognition,
                85.0 * DAY,
                Some(92.0 * DAY),
            ),
            // Opened 5.5 days before the end, still open.
            alert("b", "cam2", Technique::FaceRecognition, 94.5 * DAY, None),
            alert("c", "alpr1", Technique::DataSharing, 95.0 * DAY, None),
            // Resolved before the period: not in it.
            alert(
                "d",
                "cam3",
                Technique::FaceRecognition,
                10.0 * DAY,
                Some(20.0 * DAY),
            ),
        ];
        let inventory = vec![DeviceRow {
            device: "cam9".into(),
            site: Some("ps-12".into()),
            site_type: Some(SiteType::School),
        }];
        let mut acks = BTreeMap::new();
        acks.insert(
            "b".to_string(),
            Acknowledgement {
                at: crate::clock::rfc3339(96.0 * DAY),
                note: "vendor called".into(),
            },
        );
        let r = build(&scope, &alerts, &acks, &inventory);
        assert_eq!(r.findings.len(), 2);
        assert_eq!(r.findings[0].days_open, 2.0);
        assert_eq!(r.findings[1].days_open, 5.5);
        assert_eq!(r.data_sharing.len(), 1);
        assert_eq!(r.totals.devices, 4, "{:?}", r.devices);
        assert_eq!(
            (r.totals.open, r.totals.resolved, r.totals.acknowledged),
            (1, 1, 1)
        );
        assert_eq!(r.timeline.len(), 10);
        assert_eq!(r.timeline[0].devices_in_violation, 1);
        assert_eq!(r.timeline[3].devices_in_violation, 0);
        assert_eq!(r.timeline[9].devices_in_violation, 1);
        assert_eq!(r.timeline[4].devices_in_violation, 1, "94.5 falls in day 4");
        let csv = r.to_csv().unwrap();
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.contains(",5.5,"), "{csv}");
    }
}
