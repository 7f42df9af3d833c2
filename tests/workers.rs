//! A capture decoded on several workers gives what one engine gives: the same observations in
//! the same order, the same counters, the same report. Checked on the shipped sample, the
//! peer suite's captures, the real-world cases, a generated capture of many short flows, and
//! one built so that flows close in sweeps (idle flows on several workers at once).

use banwatch::decode::demand::Demand;
use banwatch::decode::flow::{DecodeStats, DecoderConfig};
use banwatch::model::Observation;
use banwatch::sim::{realistic::write_realistic, Host, PcapWriter, TcpSession};
use banwatch::sources::offline::files::MappedFile;
use banwatch::sources::offline::{read_capture_with, ReadOptions, TrafficSummary};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/housing-estate.pcap")
}

/// A capture of `flows` short flows written to a file (in a directory removed when dropped).
fn realistic_file(flows: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("realistic.pcap");
    let f = std::fs::File::create(&cap).unwrap();
    write_realistic(std::io::BufWriter::new(f), flows).unwrap();
    (dir, cap)
}

fn decode(
    data: &[u8],
    cfg: DecoderConfig,
    demand: &Arc<Demand>,
    workers: usize,
) -> (Vec<Observation>, TrafficSummary, DecodeStats) {
    decode_with(
        data,
        cfg,
        ReadOptions {
            demand: demand.clone(),
            workers,
            pages: None,
            keep: None,
        },
    )
}

fn decode_with(
    data: &[u8],
    cfg: DecoderConfig,
    opts: ReadOptions,
) -> (Vec<Observation>, TrafficSummary, DecodeStats) {
    let mut obs = Vec::new();
    let (sum, stats) = read_capture_with(
        data,
        "t",
        cfg,
        &opts,
        &mut |o| obs.extend_from_slice(o),
        &mut |_, _| {},
    );
    (obs, sum, stats)
}

/// Every capture under `dir`, recursively.
fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
}

/// A camera network's idle sessions, ten seconds apart over ten minutes, each left open with a
/// request cut inside its head (which the engine reports when it closes the flow): the sweeps
/// close several at once, on different workers.
fn idle_sessions() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), 1).unwrap();
    let server = Host::new(Ipv4Addr::new(192, 0, 2, 9));
    for i in 0..60u16 {
        let client = Host::new(Ipv4Addr::new(10, 9, (i / 200) as u8, (i % 200) as u8 + 1));
        let ts = 1_767_225_600.0 + f64::from(i) * 10.0;
        let mut s = TcpSession::new(client, 40_000 + i, server, 80, ts);
        s.open(&mut w).unwrap();
        let head = format!("GET /ISAPI/Intelligent/FDLib/{i} HTTP/1.1\r\nHost: nvr\r\n");
        s.client_send(&mut w, head.as_bytes()).unwrap();
    }
    w.into_inner()
}

#[test]
fn workers_give_what_one_engine_gives() {
    let mut inputs: Vec<(String, Vec<u8>, DecoderConfig)> = Vec::new();
    let mut files = vec![sample()];
    captures(&shared().join("peer/suricata-verify"), &mut files);
    captures(&shared().join("cases/realworld"), &mut files);
    assert!(
        files.len() > 20,
        "the peer suite and the cases are beside the repository"
    );
    for f in files {
        let data = std::fs::read(&f).unwrap();
        inputs.push((f.display().to_string(), data, DecoderConfig::default()));
    }
    let realistic = write_realistic(Vec::new(), 3000).unwrap().into_inner();
    inputs.push(("realistic".into(), realistic, DecoderConfig::default()));
    let idle = DecoderConfig {
        idle_timeout: 45.0,
        ..DecoderConfig::default()
    };
    inputs.push(("idle sessions".into(), idle_sessions(), idle));

    let everything = Arc::new(Demand::everything());
    let sigs = banwatch::detect::signatures::SignatureSet::load_dir(
        &banwatch::detect::signatures::SignatureSet::default_dir(),
    )
    .unwrap();
    let rules = sigs.demand();
    let matched = |o: &Observation| !sigs.match_observation(o).is_empty();
    let mut compared = 0;
    let mut matched_seen = 0;
    for (name, data, cfg) in &inputs {
        for demand in [&everything, &rules] {
            let one = decode(data, *cfg, demand, 1);
            for n in [2, 3] {
                let many = decode(data, *cfg, demand, n);
                assert_eq!(one.1, many.1, "{name}: summary with {n} workers");
                assert_eq!(one.2, many.2, "{name}: counters with {n} workers");
                assert_eq!(
                    one.0.len(),
                    many.0.len(),
                    "{name}: observations with {n} workers"
                );
                for (i, (a, b)) in one.0.iter().zip(&many.0).enumerate() {
                    assert_eq!(a, b, "{name}: observation {i} with {n} workers");
                }
                compared += one.0.len();
            }
        }
        // Workers that drop what no signature matches hand on exactly the matched part of
        // one engine's output.
        let one = decode(data, *cfg, &rules, 1);
        let want: Vec<&Observation> = one.0.iter().filter(|o| matched(o)).collect();
        let opts = ReadOptions {
            demand: rules.clone(),
            workers: 2,
            pages: None,
            keep: Some(&matched),
        };
        let kept = decode_with(data, *cfg, opts);
        assert_eq!(kept.0.iter().collect::<Vec<_>>(), want, "{name}: kept");
        assert_eq!(kept.2, one.2, "{name}: counters when keeping");
        matched_seen += want.len();
    }
    assert!(
        matched_seen > 50,
        "matched observations compared: {matched_seen}"
    );
    assert!(compared > 10_000, "observations compared: {compared}");

    // The idle sessions are reported when sweeps close them, several per sweep, out of
    // capture order: the merge had something to order.
    let (obs, _, stats) = decode(&inputs.last().unwrap().1, idle, &everything, 2);
    let requests: Vec<&Observation> = obs
        .iter()
        .filter(|o| o.proto == "http" && o.field == "uri")
        .collect();
    assert_eq!(requests.len(), 60, "{obs:#?}");
    assert_eq!(stats.flows, 60);
}

/// A mapped capture whose pages the reader hands back as it goes (one engine, or the reader
/// thread behind its workers) reads the same as one held in memory.
#[test]
fn handing_back_pages_changes_nothing() {
    let (_dir, cap) = realistic_file(12_000);
    let map = Arc::new(MappedFile::open(&cap).unwrap());
    assert!(map.bytes().len() > 20 << 20, "several release steps");
    let demand = Arc::new(Demand::everything());
    let held = std::fs::read(&cap).unwrap();
    let want = decode(&held, DecoderConfig::default(), &demand, 1);
    for workers in [1, 2] {
        let opts = ReadOptions {
            demand: demand.clone(),
            workers,
            pages: Some(map.clone()),
            keep: None,
        };
        let got = decode_with(map.bytes(), DecoderConfig::default(), opts);
        assert_eq!(want.1, got.1);
        assert_eq!(want.2, got.2);
        assert!(want.0 == got.0, "observations with {workers} workers");
    }
}

/// `banwatch scan --format json` with `args` over `inputs`, its report parsed; the exit code
/// must be at most `worst`.
fn scan_json(args: &[&str], inputs: &[&Path], worst: i32) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["scan", "--format", "json"])
        .args(args)
        .args(inputs)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= worst), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The whole report, through the command, is the same with one worker and with two.
#[test]
fn scan_report_is_the_same_on_one_and_two_workers() {
    let (_dir, cap) = realistic_file(5000);
    let sample = sample();
    let report = |workers: &str| scan_json(&["--workers", workers], &[&cap, &sample], 1);
    let one = report("1");
    assert!(
        one["devices"].as_array().is_some_and(|d| !d.is_empty()),
        "{one}"
    );
    assert_eq!(one, report("2"));
    assert_eq!(one, report("0"));
}

/// Several inputs read at once (each into a judge of its own, absorbed in input order) give the
/// report one thread reading them one after another gives: captures, the same capture twice
/// (evidence about one device from two inputs), directories of cases and models, a file that is
/// nothing banwatch reads and one that does not exist, in every thread count.
#[test]
fn several_inputs_at_once_give_the_report_of_one_after_another() {
    let (dir, cap) = realistic_file(2000);
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "not a capture").unwrap();
    let cases = shared().join("cases/realworld");
    let mut inputs: Vec<PathBuf> = vec![sample(), cap.clone()];
    let mut case_dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    case_dirs.sort();
    inputs.extend(case_dirs);
    inputs.extend([
        shared().join("fixtures/models"),
        junk,
        dir.path().join("missing.pcap"),
        sample(),
    ]);
    let inputs_ref: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let report =
        |workers: &str| scan_json(&["--probe", "off", "--workers", workers], &inputs_ref, 2);
    let one = report("1");
    let listed = one["inputs"].as_array().map_or(0, |i| i.len());
    assert_eq!(listed, inputs.len(), "{one}");
    for key in ["devices", "artifacts", "violations"] {
        assert!(
            one[key].as_array().is_some_and(|d| !d.is_empty()),
            "{key}: {one}"
        );
    }
    for workers in ["2", "3", "8"] {
        assert_eq!(one, report(workers), "{workers} threads");
    }
}
