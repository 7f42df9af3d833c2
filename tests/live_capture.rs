//! Live capture with libpcap on the loopback interface, of traffic the test itself sends to
//! 127.0.0.1. Needs libpcap (Debian `libpcap0.8`) and the right to capture (root or
//! CAP_NET_RAW): the test fails, naming what is missing, rather than skipping.

mod live_common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_loopback_traffic() {
    let mut f = live_common::start(vec![(
        "lo".into(),
        None,
        live_common::source("capture", "interface = \"lo\""),
    )]);
    let up = f
        .collect_until(Duration::from_secs(5), |f| f.health["lo"].is_up())
        .await;
    assert!(
        up,
        "capture on lo did not start ({:?}): run as root or grant CAP_NET_RAW; needs libpcap0.8",
        f.health["lo"].last_error()
    );
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = [0x42u8; 300];
    let before = f.counter("lo", "messages");
    for _ in 0..50 {
        sock.send_to(&payload, target.local_addr().unwrap())
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ok = f
        .collect_until(Duration::from_secs(5), |f| {
            f.counter("lo", "messages") >= before + 50
        })
        .await;
    assert!(
        ok,
        "captured {} packets of 50",
        f.counter("lo", "messages") - before
    );
    // Whatever the flow engine extracts from loopback traffic is tied to loopback flows.
    for o in f.events.iter().flat_map(|e| e.observations.iter()) {
        if let Some(fl) = o.flow {
            assert!(
                fl.client.ip().is_loopback() && fl.server.ip().is_loopback(),
                "{o:?}"
            );
        }
    }
    // Shutdown is seen within the libpcap read timeout.
    let t = std::time::Instant::now();
    f.stop().await;
    assert!(t.elapsed() < Duration::from_secs(3));
}

/// An inspector's live spot check: `banwatch scan --interface lo --duration 4s` records the
/// loopback while this test calls a CompreFace-style recognition endpoint on it, then reports
/// like a file scan: the violation, the interface named as the input, exit 1.
#[test]
fn scan_on_an_interface_reports_like_a_file_scan() {
    use std::io::{Read, Write};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in server.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            );
        }
    });
    let scan = std::process::Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args([
            "scan",
            "--interface",
            "lo",
            "--duration",
            "4s",
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Calls throughout the capture window (the capture opens within the first second).
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(250));
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"POST /api/v1/recognition/recognize?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\nContent-Length: 0\r\n\r\n");
            let mut r = Vec::new();
            let _ = s.read_to_end(&mut r);
        }
    }
    let out = wait_within(scan, Duration::from_secs(60));
    let err = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {err} (capturing needs root or CAP_NET_RAW and libpcap0.8)")
    });
    assert_eq!(out.status.code(), Some(1), "{report}\n{err}");
    assert_eq!(report["inputs"][0]["path"], "interface lo (4s)", "{report}");
    assert!(
        report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["technique"] == "face_recognition"),
        "{report}"
    );
}

/// The child's output, or a failure naming the hang if it has not ended within `limit`.
fn wait_within(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// A recording ends at its deadline whether or not packets arrive (a quiet interface once
/// blocked libpcap's read for ever), and a wrong interface is an error naming it.
#[test]
fn a_recording_ends_on_time_and_a_wrong_interface_is_named() {
    use banwatch::sources::live::capture::record::record;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lo.pcap");
    let (tx, rx) = std::sync::mpsc::channel();
    let path = file.clone();
    std::thread::spawn(move || {
        let mut ticks = 0;
        let r = record("lo", Duration::from_secs(1), &path, &mut |_, _| ticks += 1);
        let _ = tx.send(r.map(|_| ticks));
    });
    let ticks = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a 1 s recording still running after 10 s")
        .unwrap_or_else(|e| panic!("{e} (capturing needs root or CAP_NET_RAW and libpcap0.8)"));
    assert!(
        ticks >= 5,
        "the progress callback runs while waiting: {ticks}"
    );
    assert!(file.exists());

    let scan = std::process::Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["scan", "--interface", "nosuch0", "--duration", "1s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_within(scan, Duration::from_secs(30));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nosuch0"), "{err}");
    assert!(out.stdout.is_empty());
}
