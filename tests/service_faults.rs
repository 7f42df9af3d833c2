//! `banwatch serve` under bad luck, on loopback: the state directory full (a file-size limit
//! put on the running service, so every write past it fails as on a full disk), a sink that
//! cannot take alerts across a SIGKILL, every feed down, and a flood of API connections.
//! Nothing is lost, nothing is duplicated, nothing stays stuck, and readiness tells the truth.

mod service_common;

use service_common::*;
use std::io::Write;
use std::path::Path;

/// A Suricata EVE record of a CompreFace recognition call to 10.30.0.9 (the `cam-a` box).
fn eve_line(second: u32) -> String {
    format!(
        r#"{{"timestamp":"2026-11-02T09:00:{second:02}.000000+0000","event_type":"http","src_ip":"10.30.0.5","src_port":40000,"dest_ip":"10.30.0.9","dest_port":8000,"proto":"TCP","http":{{"hostname":"10.30.0.9","url":"/api/v1/recognition/recognize?limit=1","http_method":"POST","status":200}}}}"#
    )
}

fn append(path: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

struct Setup {
    dir: tempfile::TempDir,
    port: u16,
    hook: u16,
    eve: std::path::PathBuf,
    cfg: std::path::PathBuf,
}

fn setup(resolve_after_secs: u32) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (port, hook) = (free_port(), free_port());
    let eve = dir.path().join("eve.json");
    std::fs::write(&eve, "").unwrap();
    let cfg = dir.path().join("banwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"listen = "127.0.0.1:{port}"
state_dir = "{state}"
[judge]
resolve_after_secs = {resolve_after_secs}
[[site]]
id = "estate"
type = "housing"
[[device]]
id = "cam-a"
site = "estate"
addresses = ["10.30.0.9"]
[[feed]]
id = "suricata"
kind = "eve"
path = "{eve}"
[webhook]
url = "http://127.0.0.1:{hook}/hooks/banwatch"
secret = {{ value = "hook-key" }}
"#,
            state = dir.path().join("state").display(),
            eve = eve.display(),
        ),
    )
    .unwrap();
    Setup {
        dir,
        port,
        hook,
        eve,
        cfg,
    }
}

fn status(port: u16, path: &str) -> String {
    raw(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Cap the running service's file size (soft limit): every write past `bytes` fails.
fn limit_files(pid: i32, bytes: u64) {
    rlimit::prlimit(
        pid,
        rlimit::Resource::FSIZE,
        Some((bytes, rlimit::INFINITY)),
        None,
    )
    .expect("prlimit (the tests run as root or with CAP_SYS_RESOURCE)");
}

fn cam_alerts(port: u16) -> Vec<serde_json::Value> {
    alerts(port)
        .into_iter()
        .filter(|a| a["device"] == "cam-a")
        .collect()
}

/// The state directory fills up while a violation fires, and again while it resolves. The
/// violation is logged at once, counts against compliance, readiness says the store cannot be
/// written; when space returns the alert is stored (one row, one id) and delivered, and its
/// resolution is stored and delivered too. (Before: never logged nor sent, resolved alerts
/// stuck `firing`, two rows, `/metrics` compliant, `/readyz` 200.)
#[test]
fn a_full_state_directory_loses_nothing_and_readiness_says_so() {
    let s = setup(4);
    let got = s.dir.path().join("received.txt");
    let _rx = receiver(s.dir.path(), s.hook, "hook-key", &got);
    let svc = serve_logged(&["--config", s.cfg.to_str().unwrap()]);
    wait_for("ready", 30, || {
        status(s.port, "/readyz").starts_with("HTTP/1.1 200")
    });

    limit_files(svc.pid(), 1);
    append(&s.eve, &eve_line(0));
    wait_for(
        "the violation in the log while the disk is full",
        30,
        || {
            svc.log()
                .contains("ban violation: alert firing, not yet stored")
        },
    );
    let log = svc.log();
    assert!(log.contains("cam-a"), "{log}");
    wait_for("readiness to fail on the store", 20, || {
        let r = status(s.port, "/readyz");
        r.starts_with("HTTP/1.1 503") && r.contains("alert store")
    });
    let m = get(s.port, "/metrics").unwrap();
    assert_eq!(
        sample(&m, "banwatch_device_compliant", &[("device", "cam-a")]),
        Some(0.0),
        "{m}"
    );
    assert!(
        sample(&m, "banwatch_store_errors_total", &[]).is_some_and(|v| v > 0.0),
        "{m}"
    );
    assert!(cam_alerts(s.port).is_empty(), "nothing can be stored yet");
    assert!(!got.exists(), "nothing is sent before it is stored");

    // Space returns: stored once, delivered once, ready again.
    limit_files(svc.pid(), rlimit::INFINITY);
    wait_for("the alert stored", 30, || cam_alerts(s.port).len() == 1);
    let a = cam_alerts(s.port);
    let id = a[0]["id"].as_str().unwrap().to_string();
    wait_for("the webhook delivery", 30, || {
        std::fs::read_to_string(&got).is_ok_and(|t| t.contains(&id))
    });
    wait_for("ready again", 20, || {
        status(s.port, "/readyz").starts_with("HTTP/1.1 200")
    });

    // Full again while the alert goes quiet: it cannot resolve in the store, so it stays
    // firing (not lost); when space returns it resolves, still one row.
    limit_files(svc.pid(), 1);
    std::thread::sleep(std::time::Duration::from_secs(7));
    assert_eq!(cam_alerts(s.port)[0]["state"], "firing");
    limit_files(svc.pid(), rlimit::INFINITY);
    wait_for("the resolution stored", 30, || {
        let a = cam_alerts(s.port);
        a.len() == 1 && a[0]["state"] == "resolved" && a[0]["id"] == id.as_str()
    });
    wait_for("the resolution delivered", 30, || {
        std::fs::read_to_string(&got).is_ok_and(|t| t.contains("\"resolved\""))
    });
    let text = std::fs::read_to_string(&got).unwrap();
    assert!(text.lines().all(|l| l.starts_with("VERIFIED ")), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains(&id)).count(),
        2,
        "one firing, one resolved: {text}"
    );
}

/// The webhook's spool cannot take the alert (its directory replaced by a file), then the
/// service is killed with SIGKILL. The store still owes the webhook that state change: the
/// next start hands it over, and it arrives exactly once.
#[test]
fn a_state_change_a_sink_did_not_take_is_delivered_after_sigkill() {
    let s = setup(3600);
    let got = s.dir.path().join("received.txt");
    let spool = s.dir.path().join("state/spool/webhook");
    let mut svc = serve_logged(&["--config", s.cfg.to_str().unwrap()]);
    wait_for("ready", 30, || {
        status(s.port, "/readyz").starts_with("HTTP/1.1 200")
    });
    std::fs::remove_dir_all(&spool).unwrap();
    std::fs::write(&spool, "not a directory").unwrap();
    append(&s.eve, &eve_line(0));
    wait_for("the alert stored", 30, || cam_alerts(s.port).len() == 1);
    wait_for("the refusal logged", 20, || {
        svc.log().contains("kept in the outbox")
    });
    let id = cam_alerts(s.port)[0]["id"].as_str().unwrap().to_string();
    svc.child.kill().unwrap();
    svc.child.wait().unwrap();
    std::fs::remove_file(&spool).unwrap();

    let _rx = receiver(s.dir.path(), s.hook, "hook-key", &got);
    let svc = serve_logged(&["--config", s.cfg.to_str().unwrap()]);
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&got).is_ok_and(|t| t.contains(&id)) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "timed out after 30 s waiting for the owed delivery after restart; the service said:\n{}",
            svc.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    // Handed over once: a while later, still one delivery, and nothing left in the spool.
    std::thread::sleep(std::time::Duration::from_secs(7));
    let text = std::fs::read_to_string(&got).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.contains(&id)).count(),
        1,
        "{text}"
    );
    let m = get(s.port, "/metrics").unwrap();
    assert_eq!(
        sample(&m, "banwatch_sink_queue_depth", &[("sink", "webhook")]),
        Some(0.0),
        "{m}"
    );
}

/// Liveness is the event loop; readiness is "can store and deliver, and hears something":
/// with the only feed down, `/healthz` is 200 and `/readyz` 503 naming why, until the feed
/// comes up; a followed log that disappears takes the feed down again.
#[test]
fn readiness_follows_the_feeds() {
    let s = setup(3600);
    std::fs::remove_file(&s.eve).unwrap();
    let _svc = serve_logged(&["--config", s.cfg.to_str().unwrap()]);
    wait_for("live", 30, || {
        status(s.port, "/healthz").starts_with("HTTP/1.1 200")
    });
    wait_for("not ready: the feed is down", 20, || {
        let r = status(s.port, "/readyz");
        r.starts_with("HTTP/1.1 503") && r.contains("every feed is down")
    });
    std::fs::write(&s.eve, "").unwrap();
    wait_for("ready once the log exists", 60, || {
        status(s.port, "/readyz").starts_with("HTTP/1.1 200")
    });
    // The log deleted (a sensor stopped, a rotation gone wrong): down, not ready; back when
    // it is recreated.
    std::fs::remove_file(&s.eve).unwrap();
    wait_for("not ready once the log is gone", 20, || {
        status(s.port, "/readyz").starts_with("HTTP/1.1 503")
    });
    std::fs::write(&s.eve, "").unwrap();
    wait_for("ready again once the log is back", 30, || {
        status(s.port, "/readyz").starts_with("HTTP/1.1 200")
    });
}

/// The endpoint under abuse: a 1 MB body gets 413, 100 KB of headers 431, two Authorization
/// headers 400, a lowercase `bearer` scheme is accepted; 3,000 half-open connections from one
/// address take neither `/healthz` (asked from another address) nor the feed down.
#[test]
fn the_api_survives_floods_and_answers_oversize_requests_properly() {
    let s = setup(3600);
    let cfg = std::fs::read_to_string(&s.cfg).unwrap();
    std::fs::write(
        &s.cfg,
        format!("api_token = {{ value = \"9b1e4c7d2a6f8e03\" }}\n{cfg}"),
    )
    .unwrap();
    let _svc = serve_logged(&["--config", s.cfg.to_str().unwrap()]);
    wait_for("ready", 30, || {
        status(s.port, "/readyz").starts_with("HTTP/1.1 200")
    });
    let ack = "/api/v1/alerts/none/ack";
    let body = vec![b'x'; 1 << 20];
    let mut req = format!(
        "POST {ack} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 9b1e4c7d2a6f8e03\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    assert!(raw(s.port, &req).starts_with("HTTP/1.1 413"), "1 MB body");
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(100 << 10)
    );
    assert!(
        raw(s.port, big.as_bytes()).starts_with("HTTP/1.1 431"),
        "100 KB head"
    );
    let two = format!(
        "POST {ack} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nAuthorization: Bearer 9b1e4c7d2a6f8e03\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert!(
        raw(s.port, two.as_bytes()).starts_with("HTTP/1.1 400"),
        "two Authorization headers"
    );
    let lower = format!(
        "POST {ack} HTTP/1.1\r\nHost: x\r\nAuthorization: bearer 9b1e4c7d2a6f8e03\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    // Authorised (the alert does not exist): 404, not 401.
    assert!(
        raw(s.port, lower.as_bytes()).starts_with("HTTP/1.1 404"),
        "lowercase bearer"
    );

    // The flood: 3,000 connections from 127.0.0.2 that never send a byte.
    let _ = rlimit::increase_nofile_limit(8192);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = s.port;
    let held = rt.block_on(async move {
        let mut held = Vec::new();
        for _ in 0..3000 {
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
            if let Ok(Ok(c)) = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                sock.connect(([127, 0, 0, 1], port).into()),
            )
            .await
            {
                held.push(c);
            }
        }
        held
    });
    assert!(held.len() > 1000, "{} connections opened", held.len());
    for _ in 0..5 {
        let r = status(s.port, "/healthz");
        assert!(r.starts_with("HTTP/1.1 200"), "healthz under flood: {r:?}");
    }
    let m = get(s.port, "/metrics").unwrap();
    assert_eq!(
        sample(&m, "banwatch_feed_up", &[("feed", "suricata")]),
        Some(1.0),
        "{m}"
    );
    // And the service still alerts.
    append(&s.eve, &eve_line(1));
    wait_for("an alert during the flood", 30, || {
        cam_alerts(s.port).len() == 1
    });
    drop(held);
}
