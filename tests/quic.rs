//! QUIC (HTTP/3): the server name of a client's Initial packets, decrypted as any on-path
//! observer can (RFC 9001 §5.2), from a real client: Chromium, whose post-quantum ClientHello
//! spans two Initial packets with its CRYPTO frames split and shuffled.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_banwatch"))
}

fn sni_evidence(report: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for d in report["devices"].as_array().into_iter().flatten() {
        for v in d["verdicts"].as_array().into_iter().flatten() {
            for e in v["evidence"].as_array().into_iter().flatten() {
                if e["source"].as_str().is_some_and(|s| s.ends_with("tls.sni")) {
                    out.push(format!("{} {}", e["signature"], e["excerpt"]));
                }
            }
        }
    }
    out
}

/// A capture Chromium 156 made on loopback (`--origin-to-force-quic-on`, its name mapped to
/// 127.0.0.1, a socket swallowing the datagrams): the Face++ host is seen, once per connection
/// although Chromium retransmitted its Initials.
#[test]
fn a_chromium_http3_capture_gives_its_server_name() {
    let cap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/quic/chromium-h3-initials.pcapng");
    let out = bin()
        .args(["scan", "--format", "json"])
        .arg(&cap)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        sni_evidence(&report),
        vec!["\"faceplusplus.host\" \"faceplusplus.com\""],
        "{report}"
    );
    let inspect = bin().arg("inspect").arg(&cap).output().unwrap();
    let lines = String::from_utf8_lossy(&inspect.stdout);
    let of = |field: &str| {
        lines
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|o| {
                format!(
                    "{}.{}",
                    o["proto"].as_str().unwrap_or(""),
                    o["field"].as_str().unwrap_or("")
                ) == field
            })
            .map(|o| o["value"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(of("tls.sni"), vec!["api-us.faceplusplus.com"]);
    assert_eq!(of("tls.alpn"), vec!["h3"]);
    assert_eq!(of("quic.version"), vec!["1"]);
    assert!(of("tls.ja4")[0].starts_with("q13d"), "{lines}");
}

/// End to end on loopback: `scan --interface lo` while headless Chromium opens an HTTP/3
/// connection to a face API's name mapped to 127.0.0.1 (every other name fails to resolve, and
/// background networking is off, so nothing leaves the machine).
#[test]
fn chromium_over_quic_is_seen_on_a_live_interface() {
    // Swallow the datagrams so that no ICMP "port unreachable" cuts the handshake short.
    let sink =
        UdpSocket::bind("127.0.0.1:443").expect("binding UDP 443 needs root, as capture does");
    sink.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let drain = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = sink.recv_from(&mut buf);
        }
    });
    let scan = bin()
        .args([
            "scan",
            "--interface",
            "lo",
            "--duration",
            "6s",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let profile = tempfile::tempdir().unwrap();
    let mut chromium = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--enable-quic",
            "--origin-to-force-quic-on=api-us.faceplusplus.com:443",
            "--host-resolver-rules=MAP api-us.faceplusplus.com 127.0.0.1, MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("https://api-us.faceplusplus.com/")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium (scripts/setup.sh test installs it)");
    std::thread::sleep(Duration::from_secs(3));
    let _ = chromium.kill();
    let _ = chromium.wait();
    let start = Instant::now();
    let out = scan.wait_with_output().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = drain.join();
    assert!(start.elapsed() < Duration::from_secs(30));
    let err = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(
        sni_evidence(&report).contains(&"\"faceplusplus.host\" \"faceplusplus.com\"".to_string()),
        "{report}\n{err}"
    );
}
