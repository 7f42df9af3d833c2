//! The spot check's hot path, measured: decode (link → IP → TCP reassembly → app parsers) and
//! signature matching over an in-memory capture of the demo camera VLAN (mostly video, events
//! interleaved), and matching alone over a mix of observations.
//!
//!   cargo bench --bench pipeline
use banwatch::decode::flow::{Decoder, DecoderConfig};
use banwatch::detect::signatures::SignatureSet;
use banwatch::model::{Direction, Observation};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Packets of a ~20 MB demo capture, split out of the pcap byte stream.
fn packets() -> Vec<(f64, Vec<u8>)> {
    let w = banwatch::sim::scenario::write_bulk(Vec::new(), 20_000_000).expect("generate");
    let bytes = w.into_inner();
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
    let pkts = packets();
    let total: usize = pkts.iter().map(|(_, p)| p.len()).sum();
    let sigs = SignatureSet::load_dir(&SignatureSet::default_dir()).expect("rules");
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(total as u64));
    g.sample_size(10);
    g.bench_function("decode+match demo VLAN", |b| {
        b.iter(|| {
            let mut d = Decoder::new(DecoderConfig::default());
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

criterion_group!(benches, decode_and_match, match_only);
criterion_main!(benches);
