//! The spot check's hot path, measured: decode (link → IP → TCP reassembly → app parsers) and
//! signature matching over an in-memory capture of the demo camera VLAN (mostly video, events
//! interleaved) and over one of many short flows (DNS, TLS, REST and MQTT JSON, RTSP), JSON
//! body scanning alone (every key, or only those the rules read), and matching alone over a
//! mix of observations.
//!
//!   cargo bench --bench pipeline
use banwatch::decode::flow::{Decoder, DecoderConfig};
use banwatch::detect::signatures::SignatureSet;
use banwatch::model::{Direction, Observation};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Packets of a ~20 MB demo capture, split out of the pcap byte stream.
fn packets() -> Vec<(f64, Vec<u8>)> {
    let w = banwatch::sim::scenario::write_bulk(Vec::new(), 20_000_000).expect("generate");
    split(w.into_inner())
}

/// Packets of a capture of 5,000 short flows (`src/sim/realistic.rs`).
fn short_flows() -> Vec<(f64, Vec<u8>)> {
    let w = banwatch::sim::realistic::write_realistic(Vec::new(), 5_000).expect("generate");
    split(w.into_inner())
}

fn split(bytes: Vec<u8>) -> Vec<(f64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let h = &bytes[at..at + 16];
        let secs = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as f64;
        let usecs = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as f64;
        let len = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
        at += 16;
        out.push((secs + usecs / 1e6, bytes[at..at + len].to_vec()));
        at += len;
    }
    out
}

fn decode_and_match(c: &mut Criterion) {
    let sigs = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("rules");
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    for (name, pkts) in [
        ("decode+match demo VLAN", packets()),
        ("decode+match 5k short flows", short_flows()),
    ] {
        let total: usize = pkts.iter().map(|(_, p)| p.len()).sum();
        g.throughput(Throughput::Bytes(total as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut d = Decoder::new(DecoderConfig::default()).demanding(sigs.demand());
                let mut obs = Vec::new();
                let mut hits = 0usize;
                for (ts, p) in &pkts {
                    d.packet(*ts, 1, p, &mut obs);
                    for o in obs.drain(..) {
                        hits += sigs.match_observation(&o).len();
                    }
                }
                d.finish(&mut obs);
                hits
            })
        });
    }
    g.finish();
}

/// A REST body of the many-flow capture's kind: a device's telemetry, 24 keys, nested.
const BODY: &str = r#"{"deviceId":"cam-0042","firmware":"5.7.3","uptime":812734,"temperature":41.5,
"network":{"ip":"10.40.3.10","rssi":-61,"mac":"00:11:22:33:44:55","dhcp":true},
"storage":{"total":512000,"used":301222,"health":"good"},"streams":[{"id":1,"codec":"h264",
"fps":25,"bitrate":4096},{"id":2,"codec":"h265","fps":15,"bitrate":1024}],
"events":{"motion":3,"tamper":0,"lineCrossing":1},"time":"2026-01-01T00:00:00Z"}"#;

fn json_bodies(c: &mut Criterion) {
    use banwatch::decode::events::decode_body;
    use banwatch::decode::Emitter;
    let sigs = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("rules");
    let rules = sigs.demand();
    let everything = banwatch::decode::demand::Demand::everything();
    let mut g = c.benchmark_group("json body");
    g.throughput(Throughput::Bytes(BODY.len() as u64));
    for (name, demand) in [("keys the rules read", &*rules), ("every key", &everything)] {
        g.bench_function(name, |b| {
            let mut out = Vec::new();
            b.iter(|| {
                out.clear();
                let mut em = Emitter::new(0.0, None, &mut out).demanding(demand);
                decode_body(
                    Some("application/json"),
                    BODY.as_bytes(),
                    Direction::ToServer,
                    &mut em,
                );
                out.len()
            })
        });
    }
    g.finish();
}

fn match_only(c: &mut Criterion) {
    let sigs = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("rules");
    let mk = |proto: &'static str, field: &'static str, value: &str| Observation {
        ts: 0.0,
        proto,
        field,
        value: value.to_string(),
        flow: None,
        dir: Direction::ToServer,
    };
    let obs = vec![
        mk("tls", "sni", "rekognition.us-east-1.amazonaws.com"),
        mk("tls", "sni", "www.example.org"),
        mk("dns", "query", "api-us.faceplusplus.com"),
        mk("dns", "query", "time.google.com"),
        mk("http", "path", "/ISAPI/Event/notification/alertStream"),
        mk("http", "path", "/api/v1/recognition/recognize"),
        mk("http", "uri", "/index.html?a=b"),
        mk(
            "http",
            "header.x-amz-target",
            "RekognitionService.DetectFaces",
        ),
        mk("mqtt", "topic", "frigate/tracked_object_update"),
        mk("hikvision", "event_type", "faceCapture"),
        mk("dahua", "field", "Candidates.Person.UID"),
        mk("onvif", "topic", "tns1:RuleEngine/CountAggregation/Counter"),
    ];
    let mut g = c.benchmark_group("signatures");
    g.throughput(Throughput::Elements(obs.len() as u64));
    g.bench_function("match 12 observations", |b| {
        b.iter(|| {
            obs.iter()
                .map(|o| sigs.match_observation(o).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, decode_and_match, json_bodies, match_only);
criterion_main!(benches);
