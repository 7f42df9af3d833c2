//! A false "nothing banned" is the worst answer an inspector can get. Each test here is a way
//! a scan once said "clean" (exit 0) about input it had not read, and the kind of fault behind
//! it: a capture read in part, captures and logs inside directories and archives, containers
//! judged by one entry's name, logs whose first line is long, a model the parser refused,
//! and budgets spent on a zip whose entries share one stream.

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

fn sample() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/housing-estate.pcap"))
        .unwrap()
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/models")
            .join(rel),
    )
    .unwrap()
}

const FR_FEATURE: &str =
    "face-recognition-embedding/faceplugin-face-recognition-js-0.0.1/fr_feature.onnx";

fn scan(paths: &[&Path]) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .arg("scan")
        .args(paths)
        .args(["--format", "json", "--no-catalog"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: stderr: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out, v)
}

fn violations(r: &Value) -> usize {
    r["violations"].as_array().map_or(0, Vec::len)
}

/// The byte offset of each pcap record header (after the 24-byte file header).
fn records(pcap: &[u8]) -> Vec<usize> {
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= pcap.len() {
        out.push(at);
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    out
}

fn set_caplen(pcap: &mut [u8], record: usize, caplen: u32) {
    let at = records(pcap)[record];
    pcap[at + 8..at + 12].copy_from_slice(&caplen.to_le_bytes());
}

/// The sample as pcapng: one section, one Ethernet interface, every record an enhanced packet
/// block; the record numbered `stray` claims interface 5, which was never declared.
fn as_pcapng(pcap: &[u8], stray: usize) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(&len.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0A0D_0D0A, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // LINKTYPE_ETHERNET
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    block(&mut out, 1, &idb);
    for (i, at) in records(pcap).into_iter().enumerate() {
        let u = |o: usize| u32::from_le_bytes(pcap[at + o..at + o + 4].try_into().unwrap());
        let micros = u64::from(u(0)) * 1_000_000 + u64::from(u(4));
        let caplen = u(8) as usize;
        let mut epb = Vec::new();
        epb.extend_from_slice(&(if i == stray { 5u32 } else { 0 }).to_le_bytes());
        epb.extend_from_slice(&((micros >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(micros as u32).to_le_bytes());
        epb.extend_from_slice(&(caplen as u32).to_le_bytes());
        epb.extend_from_slice(&u(12).to_le_bytes());
        epb.extend_from_slice(&pcap[at + 16..at + 16 + caplen]);
        block(&mut out, 6, &epb);
    }
    out
}

/// One bad record no longer ends a capture: an absurd length as the first or second record,
/// or a packet on an undeclared pcapng interface, is skipped and the rest is read. The report
/// says the capture was read in part and how much; violations are still found.
#[test]
fn one_bad_record_does_not_end_a_capture() {
    let dir = tempfile::tempdir().unwrap();
    let (_, whole) =
        scan(&[&Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/housing-estate.pcap")]);
    let expected = violations(&whole);
    assert!(expected >= 6, "{whole}");
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for record in [0, 1] {
        let mut b = sample();
        set_caplen(&mut b, record, 300_000);
        cases.push((
            if record == 0 {
                "first.pcap"
            } else {
                "second.pcap"
            },
            b,
        ));
    }
    cases.push(("stray.pcapng", as_pcapng(&sample(), 1)));
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let (out, r) = scan(&[&p]);
        assert_eq!(out.status.code(), Some(1), "{name}: {r}");
        assert_eq!(violations(&r), expected, "{name}: {r}");
        let incomplete = r["inputs"][0]["incomplete"].as_str().unwrap_or_default();
        assert!(
            incomplete.contains("read only 99%") && incomplete.contains(name),
            "{name}: {incomplete}"
        );
        assert!(
            r["inputs"][0]["packets"].as_u64().unwrap() > 500,
            "{name}: {r}"
        );
    }
}

/// A capture read only in part, with no violation in what was read, is never "clean": exit 2
/// and the reason. (The first two records of the sample, then a record that cannot be read
/// and nothing after it to resynchronise on.)
#[test]
fn a_capture_read_in_part_with_nothing_found_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = sample();
    let r = records(&b);
    b.truncate(r[3]);
    set_caplen(&mut b, 2, 300_000);
    let p = dir.path().join("head.pcap");
    std::fs::write(&p, &b).unwrap();
    let (out, rep) = scan(&[&p]);
    assert_eq!(violations(&rep), 0, "{rep}");
    assert_eq!(out.status.code(), Some(2), "{rep}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("head.pcap") && err.contains("read only"),
        "{err}"
    );
    // The same two records, whole: clean, exit 0. The exit code is the damage, not the size.
    let mut ok = sample();
    ok.truncate(r[2]);
    let p = dir.path().join("ok.pcap");
    std::fs::write(&p, &ok).unwrap();
    let (out, rep) = scan(&[&p]);
    assert_eq!(out.status.code(), Some(0), "{rep}");
}

fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut t = tar::Builder::new(enc);
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, *data).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

const EVE_LINE: &str = r#"{"timestamp":"2026-11-02T09:00:00.000000+0000","event_type":"http","src_ip":"10.30.0.5","src_port":40000,"dest_ip":"10.30.0.9","dest_port":8000,"proto":"TCP","http":{"hostname":"10.30.0.9","url":"/api/v1/recognition/recognize?limit=1","http_method":"POST","status":200}}"#;

/// Captures and logs are found by content wherever they are: in a directory under any name,
/// inside a .tar.gz, inside a zip.
#[test]
fn captures_and_logs_inside_directories_and_archives_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree/sub");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("capture.bin"), sample()).unwrap();
    let (out, r) = scan(&[&dir.path().join("tree")]);
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert!(violations(&r) >= 6, "{r}");
    assert!(r["inputs"][0]["packets"].as_u64().unwrap() > 500, "{r}");

    let tgz = dir.path().join("evidence.tar.gz");
    std::fs::write(&tgz, tar_gz(&[("cap/housing.pcap", &sample())])).unwrap();
    let (out, r) = scan(&[&tgz]);
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert!(violations(&r) >= 6, "{r}");

    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("eve.json"), format!("{EVE_LINE}\n")).unwrap();
    let (out, r) = scan(&[&logs]);
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert!(
        r["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["device"] == "10.30.0.9"),
        "{r}"
    );

    let zip = dir.path().join("logs.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
    z.start_file(
        "var/log/suricata/eve.json",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    z.write_all(format!("{EVE_LINE}\n").as_bytes()).unwrap();
    z.finish().unwrap();
    let (out, r) = scan(&[&zip]);
    assert_eq!(out.status.code(), Some(1), "{r}");
}

/// Content decides what a container is, and every entry is examined: a zip with a `data.pkl`
/// entry (which once made it "a PyTorch checkpoint", not walked) still shows the face
/// recognition ONNX model beside it.
#[test]
fn every_entry_of_a_container_is_examined() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("bundle.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
    let o = zip::write::SimpleFileOptions::default();
    // A pickle protocol 2 empty dict: `\x80\x02}q\x00.`
    z.start_file("archive/data.pkl", o).unwrap();
    z.write_all(b"\x80\x02}q\x00.").unwrap();
    z.start_file("models/fr_feature.onnx", o).unwrap();
    z.write_all(&fixture(FR_FEATURE)).unwrap();
    z.finish().unwrap();
    let (out, r) = scan(&[&zip]);
    assert_eq!(out.status.code(), Some(1), "{r}");
    let arts = r["artifacts"].as_array().unwrap();
    assert!(
        arts.iter().any(|a| a["path"]
            .as_str()
            .unwrap()
            .ends_with("models/fr_feature.onnx")
            && a["technique"] == "face_recognition"),
        "{r}"
    );
}

/// Logs are recognised however long their first line: Suricata's `stats` records run to tens
/// of kilobytes, and a Zeek JSON log may start with a long record too.
#[test]
fn logs_with_a_long_first_line_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let counters: Vec<String> = (0..2000).map(|i| format!("\"c{i}\":{i}")).collect();
    let stats = format!(
        r#"{{"timestamp":"2026-11-02T08:59:59.000000+0000","event_type":"stats","stats":{{{}}}}}"#,
        counters.join(",")
    );
    assert!(stats.len() > 16 << 10);
    let eve = dir.path().join("eve.json");
    std::fs::write(&eve, format!("{stats}\n{EVE_LINE}\n")).unwrap();
    let zeek = dir.path().join("http.log");
    let long_uri = format!("/static/{}", "a".repeat(20_000));
    std::fs::write(
        &zeek,
        format!(
            concat!(
                r#"{{"ts":1793610000.1,"uid":"C0","id.orig_h":"10.30.0.7","id.orig_p":40099,"id.resp_h":"10.30.0.8","id.resp_p":80,"method":"GET","host":"10.30.0.8","uri":"{}"}}"#,
                "\n",
                r#"{{"ts":1793610000.5,"uid":"C1","id.orig_h":"10.30.0.7","id.orig_p":40100,"id.resp_h":"10.30.0.8","id.resp_p":80,"method":"GET","host":"10.30.0.8","uri":"/ISAPI/Intelligent/FDLib/FDSearch?format=json"}}"#,
                "\n"
            ),
            long_uri
        ),
    )
    .unwrap();
    let (out, r) = scan(&[&eve, &zeek]);
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert_eq!(r["inputs"][0]["kind"], "eve", "{r}");
    assert_eq!(r["inputs"][1]["kind"], "zeek", "{r}");
    for device in ["10.30.0.9", "10.30.0.8"] {
        assert!(
            r["violations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["device"] == device),
            "{device}: {r}"
        );
    }
}

/// A model its parser refuses is not "nothing banned": the fuzz finding (a TFLite shape whose
/// element count overflows) is a clear error naming the file, and the scan exits 2.
#[test]
fn a_model_that_cannot_be_read_is_not_clean() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/cases/fuzz/tflite-shape-product-overflow.tflite");
    let (out, r) = scan(&[&case]);
    assert_eq!(out.status.code(), Some(2), "{r}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tflite-shape-product-overflow.tflite") && err.contains("2^64 elements"),
        "{err}"
    );
}

/// Many zip entries whose extents overlap (all pointing at one deflate stream): the shared
/// bytes count once, so the walk refuses the overlap instead of inflating the stream for every
/// entry, and the scan ends with a clear error.
#[test]
fn zip_entries_sharing_one_stream_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("shared.zip");
    std::fs::write(&bomb, shared_stream_zip(2000, 64 << 20)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = bomb.clone();
    std::thread::spawn(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
            .arg("scan")
            .arg(&path)
            .args(["--format", "json"])
            .output();
        let _ = tx.send(out);
    });
    // A hang guard, not a timing test: the walk must end by itself.
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(300))
        .expect("the scan of a shared-stream zip did not end")
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shared.zip!/z00001.bin: shares its compressed data with another entry"),
        "{err}"
    );
    // Every refusal is counted; the log names the first few, not 2,000.
    assert!(err.lines().count() < 40, "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["inputs"][0]["errors"], 2000, "{r}");
}

/// A zip of `entries` central-directory records, every one naming the same local file whose
/// deflate stream inflates to `size` zero bytes.
fn shared_stream_zip(entries: usize, size: usize) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..size / chunk.len() {
        enc.write_all(&chunk).unwrap();
    }
    let stream = enc.finish().unwrap();
    let crc = {
        let mut h = flate2::Crc::new();
        for _ in 0..size / chunk.len() {
            h.update(&chunk);
        }
        h.sum()
    };
    let name = b"zeros.bin";
    let mut out = Vec::new();
    let local = |out: &mut Vec<u8>| {
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(stream.len() as u32).to_le_bytes());
        out.extend_from_slice(&(size as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
    };
    local(&mut out);
    out.extend_from_slice(&stream);
    let cd_at = out.len();
    for i in 0..entries {
        let n = format!("z{i:05}.bin");
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(stream.len() as u32).to_le_bytes());
        out.extend_from_slice(&(size as u32).to_le_bytes());
        out.extend_from_slice(&(n.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(&0u32.to_le_bytes()); // every entry: the one local header
        out.extend_from_slice(n.as_bytes());
    }
    let cd_len = out.len() - cd_at;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries as u16).to_le_bytes());
    out.extend_from_slice(&(entries as u16).to_le_bytes());
    out.extend_from_slice(&(cd_len as u32).to_le_bytes());
    out.extend_from_slice(&(cd_at as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Names from inside the input (tar members, file names) are escaped for the terminal: a
/// member named with escape sequences cannot clear the inspector's screen or forge lines.
#[test]
fn untrusted_names_are_escaped_in_the_text_report() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = "models/\u{1b}[2J\u{1b}[Hclean\r\nVIOLATIONS: none\u{7}.onnx";
    let tgz = dir.path().join("firmware.tar.gz");
    std::fs::write(&tgz, tar_gz(&[(hostile, &fixture(FR_FEATURE))])).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .arg("scan")
        .arg(&tgz)
        .arg("--no-catalog")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    for stream in [&out.stdout, &out.stderr] {
        let s = String::from_utf8_lossy(stream);
        assert!(!s.contains('\u{1b}'), "raw escape in output: {s:?}");
        assert!(!s.contains('\u{7}') && !s.contains('\r'), "{s:?}");
        assert!(!s.lines().any(|l| l == "VIOLATIONS: none"), "{s}");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("models/\\x1b["), "{text}");
}
