//! The decoders checked against a test suite nobody here wrote: suricata-verify's captures with the
//! protocol values Suricata's regression suite expects (../shared/peer, see its README).
//!
//! For every case of the manifest, every expected DNS query name, TLS SNI, HTTP host, URL and
//! user agent, and MQTT publish topic must appear among banwatch's observations — except the cases
//! listed in `OUT_OF_SCOPE`, each with the reason. Fields banwatch does not decode (answers'
//! rdata, JA3 hashes, certificate fields, SIP) are reported as unsupported, not as failures.

use banwatch::decode::flow::{Decoder, DecoderConfig};
use banwatch::sources::offline::pcap::PcapReader;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// manifest field → banwatch `proto.field`.
const MAPPING: &[(&str, &str)] = &[
    ("dns.rrname", "dns.query"),
    ("tls.sni", "tls.sni"),
    ("http.hostname", "http.host"),
    ("http.url", "http.uri"),
    ("http.http_user_agent", "http.user_agent"),
    ("http.http_method", "http.method"),
    ("http.status", "http.status"),
    ("http.http_content_type", "http.content_type"),
    ("mqtt.publish.topic", "mqtt.topic"),
];

/// Cases whose expected values banwatch does not produce, and why.
const OUT_OF_SCOPE: &[(&str, &str)] = &[];

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/peer")
}

fn observations(pcap: &Path) -> (HashSet<(String, String)>, u64) {
    let mut obs = HashSet::new();
    let Ok(bytes) = std::fs::read(pcap) else {
        return (obs, 1);
    };
    let Ok(mut r) = PcapReader::new(&bytes, &pcap.display().to_string()) else {
        return (obs, 1);
    };
    let mut d = Decoder::new(DecoderConfig::default());
    let mut out = Vec::new();
    let mut errors = 0;
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => d.packet(p.ts, p.linktype, p.data, &mut out),
            Err(_) => errors += 1,
        }
    }
    d.finish(&mut out);
    for o in out {
        obs.insert((format!("{}.{}", o.proto, o.field), o.value));
    }
    (obs, errors + d.stats().errors())
}

fn value_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn suricata_verify_expected_values_appear() {
    let manifest_path = peer_dir().join("suricata-verify/manifest.json");
    let text = std::fs::read_to_string(&manifest_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: the peer test suite lives in ../shared beside the repository",
            manifest_path.display()
        )
    });
    let manifest: Value = serde_json::from_str(&text).expect("manifest is JSON");
    let cases = manifest["cases"].as_array().expect("cases");
    assert!(
        cases.len() >= 70,
        "expected the full manifest, got {}",
        cases.len()
    );

    let supported: BTreeMap<&str, &str> = MAPPING.iter().copied().collect();
    // field → (found, expected), over in-scope cases.
    let mut table: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for case in cases {
        let name = case["test"].as_str().unwrap_or("?");
        let pcap = peer_dir().join(case["pcap"].as_str().unwrap_or(""));
        if let Some((_, why)) = OUT_OF_SCOPE.iter().find(|(n, _)| *n == name) {
            skipped.push(format!("{name}: {why}"));
            continue;
        }
        let (obs, _errors) = observations(&pcap);
        for e in case["expected"].as_array().into_iter().flatten() {
            let field = e["field"].as_str().unwrap_or("");
            let Some(ours) = supported.get(field) else {
                *unsupported.entry(field.to_string()).or_default() += 1;
                continue;
            };
            let want = value_str(&e["value"]);
            let row = table.entry(field.to_string()).or_default();
            row.1 += 1;
            if obs.contains(&(ours.to_string(), want.clone())) {
                row.0 += 1;
            } else {
                failures.push(format!("{name}: {field} = {want:?} missing"));
            }
        }
    }
    println!(
        "\nsuricata-verify peer cases: {} (out of scope: {})",
        cases.len(),
        skipped.len()
    );
    println!(
        "{:<24} {:>6} {:>9} {:>7}",
        "field", "found", "expected", "rate"
    );
    let (mut f, mut x) = (0, 0);
    for (field, (found, expected)) in &table {
        f += found;
        x += expected;
        println!(
            "{field:<24} {found:>6} {expected:>9} {:>6.1}%",
            100.0 * *found as f64 / (*expected).max(1) as f64
        );
    }
    println!(
        "{:<24} {f:>6} {x:>9} {:>6.1}%",
        "all",
        100.0 * f as f64 / x.max(1) as f64
    );
    println!("unsupported (not decoded by banwatch): {unsupported:?}");
    for s in &skipped {
        println!("out of scope: {s}");
    }
    assert!(
        x > 100,
        "too few in-scope expectations ({x}): manifest mapping broken?"
    );
    assert!(
        failures.is_empty(),
        "{} expected values missing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
