//! Simulated history for the contractor report: a city's sites, devices and contractors, and
//! `days` of ban-violation alerts written into a real alert store, from a fixed seed. What the
//! simulation put in ([`Expected`]) is computed as it goes, independently of the report, so the
//! report's figures can be checked against it.

use crate::model::{
    Alert, AlertState, DeviceId, Evidence, Role, SiteType, Status, Strength, Technique,
};
use crate::sinks::store::{AlertStore, SqliteStore};
use std::collections::BTreeMap;
use std::path::Path;

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Sites of the simulated city: id, type, contractor, number of devices.
pub const SITES: [(&str, SiteType, &str, usize); 4] = [
    ("ps-12", SiteType::School, "Acme Security Ltd", 6),
    ("ps-7", SiteType::School, "Acme Security Ltd", 4),
    ("estate-3", SiteType::Housing, "Acme Security Ltd", 5),
    ("line-4", SiteType::Transit, "Borough Transit Systems", 8),
];

/// What the simulation wrote, per contractor, over the whole period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expected {
    /// Devices in the inventory.
    pub devices: usize,
    /// Biometric findings open at some time in the period.
    pub findings: usize,
    /// Still open at the end.
    pub open: usize,
    /// Acknowledged.
    pub acknowledged: usize,
    /// Days open within the period, summed (before rounding).
    pub days_open: f64,
    /// Data-sharing findings.
    pub data_sharing: usize,
    /// Distinct devices with a biometric finding.
    pub devices_with_findings: usize,
    /// Devices with a stored audit.
    pub audited: usize,
}

/// A small deterministic generator (SplitMix64): the same seed gives the same city.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The inventory of the simulated city as `serve` configuration text (sites and devices).
pub fn inventory_toml() -> String {
    let mut t = String::new();
    for (site, st, contractor, _) in SITES {
        t.push_str(&format!(
            "[[site]]\nid = \"{site}\"\ntype = \"{}\"\ncontractor = \"{contractor}\"\n\n",
            st.as_str()
        ));
    }
    for (site, _, _, n) in SITES {
        for i in 0..n {
            t.push_str(&format!(
                "[[device]]\nid = \"{site}-cam{i}\"\nsite = \"{site}\"\n\n"
            ));
        }
    }
    t
}

/// Write `days` of history ending at `until` (Unix seconds) into the store in `dir`, from
/// `seed`. Returns what went in, per contractor.
pub fn fill_store(
    dir: &Path,
    seed: u64,
    days: u32,
    until: f64,
) -> Result<BTreeMap<String, Expected>, String> {
    let store = SqliteStore::open(dir).map_err(|e| e.to_string())?;
    let mut rng = Rng(seed);
    let start = until - f64::from(days) * DAY;
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    let mut n = 0u64;
    for (site, site_type, contractor, count) in SITES {
        let exp = out.entry(contractor.to_string()).or_default();
        exp.devices += count;
        for i in 0..count {
            let device = format!("{site}-cam{i}");
            let mut with_finding = false;
            // Each device: a few violations, some starting before the period, each lasting
            // 1–20 days, the last one possibly still open.
            let mut t = start - rng.below(15) as f64 * DAY;
            loop {
                t += (3 + rng.below(40)) as f64 * DAY + rng.below(86_400) as f64;
                if t >= until {
                    break;
                }
                let length = (1 + rng.below(20)) as f64 * DAY + rng.below(86_400) as f64;
                let end = t + length;
                let resolved = (end < until).then_some(end);
                let sharing = i == 0 && rng.below(3) == 0;
                let technique = if sharing {
                    Technique::DataSharing
                } else {
                    Technique::FaceRecognition
                };
                n += 1;
                let id = format!("sim-{seed}-{n}");
                let alert = Alert {
                    id: id.clone(),
                    state: if resolved.is_some() {
                        AlertState::Resolved
                    } else {
                        AlertState::Firing
                    },
                    site: Some(site.to_string()),
                    site_type: Some(site_type),
                    contractor: Some(contractor.to_string()),
                    device: DeviceId(device.clone()),
                    technique,
                    status: Status::Confirmed,
                    confidence: 0.9,
                    evidence: vec![Evidence {
                        signature: if sharing {
                            "flock.api_host".into()
                        } else {
                            "hikvision.event.face_contrast".into()
                        },
                        technique,
                        strength: Strength::Strong,
                        role: Role::Runs,
                        peer: None,
                        organisation: sharing.then(|| "Flock Safety".to_string()),
                        source: "sim:history".into(),
                        excerpt: "simulated".into(),
                        count: 1 + rng.below(50),
                        first_seen: crate::clock::rfc3339(t),
                        last_seen: crate::clock::rfc3339(resolved.unwrap_or(until)),
                    }],
                    started_at: crate::clock::rfc3339(t),
                    resolved_at: resolved.map(crate::clock::rfc3339),
                };
                store.save(&alert, None).map_err(|e| e.to_string())?;
                let acked = rng.below(2) == 0;
                if acked {
                    store
                        .acknowledge(&id, &crate::clock::rfc3339(t + DAY / 2.0), "simulated")
                        .map_err(|e| e.to_string())?;
                }
                let end_in = resolved.unwrap_or(until);
                if end_in >= start {
                    if sharing {
                        exp.data_sharing += 1;
                    } else {
                        with_finding = true;
                        exp.findings += 1;
                        exp.open += usize::from(resolved.is_none());
                        exp.acknowledged += usize::from(acked);
                        exp.days_open += (end_in.min(until) - t.max(start)) / DAY;
                    }
                }
                t = end;
            }
            exp.devices_with_findings += usize::from(with_finding);
            // The first device of each site was audited at the period's end.
            if i == 0 {
                let audit = crate::model::DeviceAudit {
                    device: DeviceId(device.clone()),
                    target: format!("https://{device}.example.invalid/"),
                    product: Some("hikvision".into()),
                    insecure: false,
                    requests: 6,
                    checks: vec![
                        crate::model::CheckResult {
                            check: "hikvision.audit.face_library_records".into(),
                            outcome: crate::model::Outcome::Fired,
                            value: Some(rng.below(40) + 1),
                            reason: None,
                        },
                        crate::model::CheckResult {
                            check: "hikvision.audit.capability_face_lib".into(),
                            outcome: crate::model::Outcome::Quiet,
                            value: Some(0),
                            reason: None,
                        },
                    ],
                    error: None,
                    started: until - 3_600.0,
                };
                store
                    .save_audit(&audit, &crate::clock::rfc3339(until - 3_600.0))
                    .map_err(|e| e.to_string())?;
                exp.audited += 1;
            }
        }
    }
    Ok(out)
}
