//! Data sharing with immigration enforcement's data networks, from a capture: a device on the
//! camera network that holds a TLS session to the Flock API or a Vigilant LEARN tenant and sends
//! data up is a confirmed data-sharing violation, named apart from biometrics; the nearest
//! negatives — a workstation reading Flock's public site, a device that only looks a host up or
//! fetches a token — are not violations.

use banwatch::sim::{dns_query, tls_client_hello, udp_frame, Host, PcapWriter, TcpSession};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::process::Command;

/// A TLS application-data record of `n` bytes.
fn app_data(n: usize) -> Vec<u8> {
    let mut r = vec![0x17, 0x03, 0x03, (n >> 8) as u8, n as u8];
    r.extend(std::iter::repeat_n(0x5a, n));
    r
}

fn session(
    w: &mut PcapWriter<std::fs::File>,
    client: Host,
    cport: u16,
    server: Host,
    sni: &str,
    upload: usize,
    ts: f64,
) {
    let mut s = TcpSession::new(client, cport, server, 443, ts);
    s.open(w).unwrap();
    s.client_send(w, &tls_client_hello(sni)).unwrap();
    s.server_send(w, &app_data(1200)).unwrap();
    let mut left = upload;
    while left > 0 {
        let n = left.min(16_000);
        s.client_send(w, &app_data(n)).unwrap();
        left -= n;
    }
    s.server_send(w, &app_data(64)).unwrap();
    s.close(w).unwrap();
}

#[test]
fn uploads_to_alpr_networks_are_violations_and_page_reads_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alpr.pcap");
    let mut w = PcapWriter::new(std::fs::File::create(&path).unwrap(), 1).unwrap();
    let alpr_cam = Host::new(Ipv4Addr::new(10, 20, 0, 50));
    let nvr = Host::new(Ipv4Addr::new(10, 20, 0, 51));
    let token_only = Host::new(Ipv4Addr::new(10, 20, 0, 52));
    let browser = Host::new(Ipv4Addr::new(10, 30, 0, 9));
    let resolver = Host::new(Ipv4Addr::new(10, 20, 0, 1));
    let flock = Host::new(Ipv4Addr::new(52, 1, 2, 3));
    let learn = Host::new(Ipv4Addr::new(52, 1, 2, 4));
    let www = Host::new(Ipv4Addr::new(52, 1, 2, 5));
    let mut ts = 1_790_000_000.0;
    for (host, name) in [
        (alpr_cam, "api.flocksafety.com"),
        (browser, "www.flocksafety.com"),
        (token_only, "api.flocksafety.com"),
    ] {
        let q = dns_query(7, name);
        w.packet(ts, &udp_frame(&host, 53000, &resolver, 53, 7, &q))
            .unwrap();
        ts += 0.01;
    }
    session(
        &mut w,
        alpr_cam,
        40001,
        flock,
        "api.flocksafety.com",
        300_000,
        ts,
    );
    session(
        &mut w,
        nvr,
        40002,
        learn,
        "learnfl.vigilantsolutions.com",
        120_000,
        ts + 5.0,
    );
    // Nearest negatives: the public site read by a browser (it sends little), and a device
    // that only fetches a token from the API.
    session(
        &mut w,
        browser,
        40003,
        www,
        "www.flocksafety.com",
        2_000,
        ts + 10.0,
    );
    session(
        &mut w,
        token_only,
        40004,
        flock,
        "api.flocksafety.com",
        3_000,
        ts + 15.0,
    );
    drop(w);

    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["scan", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{r}");
    let mut sharing: Vec<(String, String)> = r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["device"].as_str().unwrap().to_string(),
                v["technique"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    sharing.sort();
    assert_eq!(
        sharing,
        vec![
            ("10.20.0.50".to_string(), "data_sharing".to_string()),
            ("10.20.0.51".to_string(), "data_sharing".to_string()),
        ],
        "{r}"
    );
    let verdict = |dev: &str| {
        r["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["device"] == dev)
            .map(|d| d["verdicts"][0].clone())
            .unwrap_or(Value::Null)
    };
    let cam = verdict("10.20.0.50");
    assert_eq!(cam["status"], "confirmed", "{cam}");
    let orgs: Vec<&str> = cam["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["organisation"].as_str())
        .collect();
    assert!(orgs.contains(&"Flock Safety"), "{cam}");
    // The token fetch is weak evidence only: suspected at most, never a violation.
    let token = verdict("10.20.0.52");
    assert_ne!(token["status"], "confirmed", "{token}");
    let browser = verdict("10.30.0.9");
    assert!(
        browser.is_null() || browser["status"] == "clear",
        "a browser reading the public site: {browser}"
    );

    // The text report names data sharing apart from biometrics, with the destination.
    let text = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .arg("scan")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("VIOLATIONS: none"), "{text}");
    assert!(
        text.contains("DATA SHARING with immigration enforcement"),
        "{text}"
    );
    assert!(text.contains("Flock Safety"), "{text}");
}
