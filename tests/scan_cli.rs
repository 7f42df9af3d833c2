//! `banwatch scan` and `banwatch inspect` end to end, on the shipped sample capture of the demo
//! housing estate (src/sim/scenario.rs says what each device does).

use banwatch::sim::scenario::PLANTED_NAME;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_banwatch"))
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/housing-estate.pcap")
}

fn scan_json(args: &[&str]) -> (Output, Value) {
    let out = bin()
        .arg("scan")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run banwatch");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, v)
}

/// (status, confidence) of `technique` at `device`.
fn verdict(report: &Value, device: &str, technique: &str) -> Option<(String, f64)> {
    report["devices"]
        .as_array()?
        .iter()
        .find(|d| d["device"] == device)
        .and_then(|d| {
            d["verdicts"]
                .as_array()?
                .iter()
                .find(|v| v["technique"] == technique)
                .map(|v| {
                    (
                        v["status"].as_str().unwrap_or_default().to_string(),
                        v["confidence"].as_f64().unwrap_or_default(),
                    )
                })
        })
}

fn violation(report: &Value, device: &str, technique: &str) -> bool {
    report["violations"].as_array().is_some_and(|a| {
        a.iter()
            .any(|v| v["device"] == device && v["technique"] == technique)
    })
}

#[test]
fn sample_capture_finds_recognition_and_spares_detection() {
    let sample = sample();
    let (out, r) = scan_json(&[sample.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "violations exit 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The contract of DESIGN.md §4.
    assert_eq!(r["version"], env!("CARGO_PKG_VERSION"));
    let input = &r["inputs"][0];
    assert_eq!(input["kind"], "pcap");
    assert!(input["packets"].as_u64().unwrap() > 500);
    assert_eq!(input["errors"], 0);
    for key in ["devices", "artifacts", "violations"] {
        assert!(r[key].is_array(), "{key}");
    }

    // Recognition, confirmed, and a violation where the ban applies.
    for dev in [
        "10.20.0.12",
        "10.20.0.14",
        "10.20.0.31",
        "10.20.0.41",
        "10.20.0.50",
    ] {
        let (status, conf) = verdict(&r, dev, "face_recognition")
            .unwrap_or_else(|| panic!("{dev}: no face_recognition verdict in {r:#}"));
        assert_eq!(status, "confirmed", "{dev}");
        assert!(conf >= 0.8, "{dev}: {conf}");
        assert!(
            violation(&r, dev, "face_recognition"),
            "{dev} must be a violation"
        );
    }
    let v = r["violations"].as_array().unwrap();
    let one = v.iter().find(|v| v["device"] == "10.20.0.12").unwrap();
    assert_eq!(one["status"], "confirmed");
    assert_eq!(
        one["banned_at"],
        serde_json::json!(["housing", "school", "transit"])
    );

    // Detection only: reported as such, never as recognition, never a violation.
    for dev in ["10.20.0.11", "10.20.0.13", "10.20.0.22", "10.20.0.32"] {
        let (status, _) = verdict(&r, dev, "face_detection")
            .unwrap_or_else(|| panic!("{dev}: no face_detection verdict"));
        assert_eq!(status, "confirmed", "{dev}");
        let rec = verdict(&r, dev, "face_recognition").map(|(s, _)| s);
        assert!(
            rec.is_none() || rec.as_deref() == Some("clear"),
            "{dev}: detection-only device has recognition verdict {rec:?}"
        );
        assert!(
            !v.iter().any(|x| x["device"] == dev),
            "{dev}: detection-only device reported as a violation"
        );
    }

    // TLS to a face API with nothing else: suspected, not a violation under the default policy.
    let (status, _) = verdict(&r, "10.20.0.21", "face_recognition").expect("10.20.0.21 verdict");
    assert_eq!(status, "suspected");
    assert!(!violation(&r, "10.20.0.21", "face_recognition"));

    // The people counter and the NVR have nothing banned.
    for dev in ["10.20.0.43", "10.20.0.2", "10.20.0.3"] {
        assert!(!v.iter().any(|x| x["device"] == dev), "{dev}");
    }

    // Evidence is redacted and carries the contract's keys.
    let ev = r["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == "10.20.0.14")
        .unwrap()["verdicts"][0]["evidence"][0]
        .clone();
    for key in [
        "signature",
        "strength",
        "source",
        "excerpt",
        "count",
        "first_seen",
        "last_seen",
    ] {
        assert!(!ev[key].is_null(), "evidence key {key} missing: {ev}");
    }
    assert!(ev["first_seen"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-02T09:"));
}

#[test]
fn no_name_from_the_feed_reaches_any_output() {
    let sample = sample();
    let (_, r) = scan_json(&[sample.to_str().unwrap()]);
    let json = r.to_string();
    let text = bin().arg("scan").arg(&sample).output().unwrap();
    let html = bin()
        .args(["scan", "--format", "html"])
        .arg(&sample)
        .output()
        .unwrap();
    let inspect = bin().arg("inspect").arg(&sample).output().unwrap();
    assert!(inspect.status.success());
    assert!(
        inspect.stdout.len() > 1000,
        "inspect printed almost nothing"
    );
    for (what, out) in [
        ("json", json.as_bytes()),
        ("text", &text.stdout[..]),
        ("html", &html.stdout[..]),
        ("inspect", &inspect.stdout[..]),
    ] {
        let s = String::from_utf8_lossy(out);
        assert!(
            !s.contains("Maria"),
            "{what} output leaks a person's name: {PLANTED_NAME}"
        );
        assert!(
            !s.contains("0.0123"),
            "{what} output leaks an embedding value"
        );
        assert!(!s.contains("emp-00"), "{what} output leaks a person id");
    }
}

#[test]
fn inspect_prints_observations_as_json_lines() {
    let out = bin().arg("inspect").arg(sample()).output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let has = |proto: &str, field: &str, value: &str| {
        lines
            .iter()
            .any(|o| o["proto"] == proto && o["field"] == field && o["value"] == value)
    };
    assert!(has("tls", "sni", "rekognition.us-east-1.amazonaws.com"));
    assert!(has("dns", "query", "rekognition.us-east-1.amazonaws.com"));
    assert!(has(
        "http",
        "header.x-amz-target",
        "RekognitionService.DetectFaces"
    ));
    assert!(has("mqtt", "topic", "frigate/tracked_object_update"));
    assert!(has("dahua", "code", "FaceRecognition"));
    assert!(has("hikvision", "event_type", "faceContrast"));
    assert!(has("onvif", "topic", "tns1:RuleEngine/Recognition/Face"));
    assert!(has("sdp", "encoding", "vnd.onvif.metadata"));
    let o = lines.iter().find(|o| o["proto"] == "tls").unwrap();
    let flow = o["flow"].as_str().unwrap();
    assert!(
        flow.starts_with("10.20.0.21:") && flow.ends_with("-52.94.224.12:443"),
        "{flow}"
    );
    assert!(o["ts"].as_f64().unwrap() > 1.7e9);
}

#[test]
fn unusable_input_exits_2_naming_the_file_and_the_rest_goes_on() {
    let sample = sample();
    let out = bin()
        .args(["scan", "/nonexistent/cap.pcap"])
        .arg(&sample)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/cap.pcap: no such file or directory"),
        "{err}"
    );
    // The good input was still scanned.
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!r["violations"].as_array().unwrap().is_empty());

    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &std::fs::read(&sample).unwrap()[..10]).unwrap();
    let out = bin().arg("scan").arg(&cut).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut.pcap"));

    let bad = dir.path().join("policy.toml");
    std::fs::write(&bad, "[sites.housing]\nbanned = [\"face_recognitio\"]\n").unwrap();
    let out = bin()
        .arg("scan")
        .arg(&sample)
        .arg("--policy")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("policy.toml") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn truncated_and_corrupted_captures_never_panic() {
    let data = std::fs::read(sample()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, cut) in [100usize, 5_000, 77_777, data.len() - 3]
        .into_iter()
        .enumerate()
    {
        let p = dir.path().join(format!("cut{i}.pcap"));
        std::fs::write(&p, &data[..cut]).unwrap();
        let out = bin().arg("scan").arg(&p).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "cut at {cut}: {:?}",
            out.status
        );
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
    let mut flipped = data.clone();
    let mut x: u32 = 12345;
    for _ in 0..2000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let at = 24 + (x as usize % (flipped.len() - 24));
        flipped[at] ^= (x >> 16) as u8 | 1;
    }
    let p = dir.path().join("flipped.pcap");
    std::fs::write(&p, &flipped).unwrap();
    let out = bin().arg("scan").arg(&p).output().unwrap();
    assert!(matches!(out.status.code(), Some(0..=2)));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn html_report_is_one_self_contained_page_with_findings_first() {
    let out = bin()
        .args(["scan", "--format", "html"])
        .arg(sample())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..100]);
    // No external asset: nothing to fetch, works offline.
    for external in [
        "<script src",
        "<link rel=\"stylesheet",
        "<img",
        "http://",
        "https://",
    ] {
        assert!(!html.contains(external), "{external} in the page");
    }
    let violations = html
        .find("<h2>Violations</h2>")
        .expect("violations section");
    let devices = html
        .find("<h2>Devices and their evidence</h2>")
        .expect("devices section");
    assert!(violations < devices, "findings come first");
    // The same findings as the JSON report.
    let (_, r) = scan_json(&[sample().to_str().unwrap()]);
    for v in r["violations"].as_array().unwrap() {
        let device = v["device"].as_str().unwrap();
        assert!(
            html[violations..devices].contains(device),
            "{device} missing"
        );
    }
}

#[test]
fn text_report_reads_at_a_glance() {
    let out = bin().arg("scan").arg(sample()).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("VIOLATIONS (6)") || s.contains("VIOLATIONS ("),
        "{s}"
    );
    assert!(s.contains("detection only"), "{s}");
    assert!(s.contains("weak evidence only"), "{s}");
    assert!(
        s.lines()
            .any(|l| l.contains("10.20.0.14") && l.contains("face_recognition")),
        "{s}"
    );
}

#[test]
fn suricata_eve_and_zeek_logs_are_scanned_like_captures() {
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    std::fs::write(
        &eve,
        concat!(
            r#"{"timestamp":"2026-11-02T09:00:00.000000+0000","event_type":"http","src_ip":"10.30.0.5","src_port":40000,"dest_ip":"10.30.0.9","dest_port":8000,"proto":"TCP","http":{"hostname":"10.30.0.9","url":"/api/v1/recognition/recognize?limit=1","http_method":"POST","status":200}}"#, "\n",
            "{not json\n",
            r#"{"timestamp":"2026-11-02T09:00:01.000000+0000","event_type":"tls","src_ip":"10.30.0.6","src_port":40001,"dest_ip":"52.1.2.3","dest_port":443,"proto":"TCP","tls":{"sni":"api-us.faceplusplus.com"}}"#, "\n",
        ),
    )
    .unwrap();
    let zeek = dir.path().join("http.log");
    std::fs::write(
        &zeek,
        concat!(
            r#"{"ts":1793610000.5,"uid":"C1","id.orig_h":"10.30.0.7","id.orig_p":40100,"id.resp_h":"10.30.0.8","id.resp_p":80,"method":"GET","host":"10.30.0.8","uri":"/ISAPI/Intelligent/FDLib/FDSearch?format=json"}"#,
            "\n"
        ),
    )
    .unwrap();
    let (out, r) = scan_json(&[eve.to_str().unwrap(), zeek.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(r["inputs"][0]["kind"], "eve");
    assert_eq!(r["inputs"][0]["errors"], 1, "the broken line is counted");
    assert_eq!(r["inputs"][1]["kind"], "zeek");
    // CompreFace server and the Hikvision face library: confirmed; Face++ over TLS: suspected.
    assert_eq!(
        verdict(&r, "10.30.0.9", "face_recognition").unwrap().0,
        "confirmed"
    );
    assert_eq!(
        verdict(&r, "10.30.0.8", "face_recognition").unwrap().0,
        "confirmed"
    );
    assert_eq!(
        verdict(&r, "10.30.0.6", "face_recognition").unwrap().0,
        "suspected"
    );
}
