//! `banwatch serve` as a process: up with dead feeds, alerts from the loopback demo network
//! (GStreamer RTSP cameras and vendor event servers), alerts surviving SIGKILL without
//! duplicates, and bad configuration refused with file and line.

mod service_common;

use service_common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn stays_up_with_no_reachable_feeds_and_reports_them_down() {
    // The shipped configuration takes the camera passwords from the environment.
    std::env::set_var("BANWATCH_LOBBY_PASSWORD", "lobby-camera-pw");
    std::env::set_var("BANWATCH_NVR_PASSWORD", "nvr-pw");
    let port = free_port();
    let state = tempfile::tempdir().unwrap();
    let _s = serve(&[
        "--config",
        "deploy/banwatch.toml",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    wait_for("/healthz", 20, || {
        get(port, "/healthz").as_deref() == Some("ok\n")
    });
    std::thread::sleep(Duration::from_secs(2));
    let m = get(port, "/metrics").unwrap();
    for (feed, kind) in [
        ("lobby-rtsp", "rtsp"),
        ("lobby-events", "hikvision"),
        ("nvr-events", "dahua"),
        ("lobby-onvif", "onvif_events"),
        ("site-mqtt", "mqtt"),
        ("zeek-http", "zeek"),
        ("suricata", "eve"),
        ("span-port", "capture"),
    ] {
        assert_eq!(
            sample(&m, "banwatch_feed_up", &[("feed", feed), ("kind", kind)]),
            Some(0.0),
            "{feed} not down in\n{m}"
        );
    }
    assert!(alerts(port).is_empty());
    // Still up after the feeds have failed and retried.
    assert_eq!(get(port, "/healthz").as_deref(), Some("ok\n"));
}

#[test]
fn demo_network_alerts_on_recognition_only_and_survives_sigkill() {
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "--listen",
        listen.as_str(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    let mut s = serve(&args);
    wait_for("a face-recognition alert for the lobby camera", 60, || {
        alerts(port).iter().any(|a| {
            a["device"] == "demo-cam-lobby"
                && a["technique"] == "face_recognition"
                && a["state"] == "firing"
        })
    });
    let before = alerts(port);
    for quiet in [
        "demo-cam-stairwell",
        "demo-cam-carpark",
        "demo-dahua-entrance",
    ] {
        assert!(
            !before.iter().any(|a| a["device"] == quiet),
            "{quiet} alerted: {before:?}"
        );
    }
    let m = get(port, "/metrics").unwrap();
    assert!(
        m.contains("banwatch_event_to_alert_seconds_count{technique=\"face_recognition\"}"),
        "{m}"
    );
    let lobby_id = before
        .iter()
        .find(|a| a["device"] == "demo-cam-lobby")
        .unwrap()["id"]
        .clone();

    // SIGKILL while the alert fires, then start again on the same store.
    s.0.kill().unwrap();
    s.0.wait().unwrap();
    let port2 = free_port();
    let listen2 = format!("127.0.0.1:{port2}");
    let _s2 = serve(&[
        "--listen",
        listen2.as_str(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    wait_for("/healthz after restart", 30, || {
        get(port2, "/healthz").is_some()
    });
    // Give the feeds time to deliver the same evidence again.
    std::thread::sleep(Duration::from_secs(8));
    let after = alerts(port2);
    let lobby: Vec<_> = after
        .iter()
        .filter(|a| a["device"] == "demo-cam-lobby" && a["technique"] == "face_recognition")
        .collect();
    assert_eq!(
        lobby.len(),
        1,
        "exactly one lobby alert after restart: {after:?}"
    );
    assert_eq!(lobby[0]["id"], lobby_id, "same alert, same id");
    assert_eq!(lobby[0]["state"], "firing");
}

#[test]
fn bad_configuration_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("site.toml");
    std::fs::write(
        &p,
        "listen = \"127.0.0.1:1\"\n[[site]]\nid = \"s\"\ntype = \"hospital\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["serve", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("site.toml:4:"), "{err}");
    assert!(Path::new(&p).exists());
    // A missing file: named once, its cause said once.
    let missing = dir.path().join("absent.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .args(["serve", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("absent.toml: cannot read: "), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn alerts_reach_a_real_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let am_port = free_port();
    let cfg = dir.path().join("banwatch.toml");
    let port = free_port();
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\nstate_dir = \"{}\"\n[alertmanager]\nurl = \"http://127.0.0.1:{}\"\nresend_secs = 5\n",
            dir.path().join("state").display(),
            am_port
        ),
    )
    .unwrap();
    let _s = serve(&["--config", cfg.to_str().unwrap(), "--demo"]);
    // Alertmanager is not up yet: the alert waits in the disk spool.
    wait_for("the alert to wait in the Alertmanager spool", 90, || {
        get(port, "/metrics").is_some_and(|m| {
            m.lines().any(|l| {
                l.starts_with("banwatch_sink_queue_depth{sink=\"alertmanager\"}")
                    && !l.ends_with(" 0")
            })
        })
    });
    let am = alertmanager(dir.path(), am_port);
    let mut seen = Vec::new();
    wait_for("the lobby alert at Alertmanager", 60, || {
        seen = get(am.1, "/api/v2/alerts")
            .and_then(|b| serde_json::from_str::<Vec<serde_json::Value>>(&b).ok())
            .unwrap_or_default();
        seen.iter().any(|a| {
            a["labels"]["alertname"] == "BiometricBanViolation"
                && a["labels"]["device"] == "demo-cam-lobby"
                && a["labels"]["technique"] == "face_recognition"
        })
    });
    assert!(
        !seen
            .iter()
            .any(|a| a["labels"]["device"] == "demo-cam-stairwell"),
        "detection-only camera alerted: {seen:?}"
    );
    let lobby = seen
        .iter()
        .find(|a| a["labels"]["device"] == "demo-cam-lobby")
        .unwrap();
    assert_eq!(lobby["status"]["state"], "active");
    assert!(lobby["annotations"]["evidence"]
        .as_str()
        .unwrap()
        .contains("onvif."));
}

#[test]
fn webhook_spools_while_down_eve_lines_and_the_api_wants_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (port, hook) = (free_port(), free_port());
    let eve = dir.path().join("eve.json");
    let cfg = dir.path().join("banwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\nstate_dir = \"{}\"\napi_token = {{ value = \"5f0c2e9a41d7b38e\" }}\n[webhook]\nurl = \"http://127.0.0.1:{hook}/hooks/banwatch\"\nsecret = {{ value = \"hook-key\" }}\n[eve]\npath = \"{}\"\n",
            dir.path().join("state").display(),
            eve.display()
        ),
    )
    .unwrap();
    let _s = serve(&["--config", cfg.to_str().unwrap(), "--demo"]);
    // The receiver is down: the alert waits in the spool, the service goes on.
    wait_for("the webhook delivery to be spooled", 90, || {
        get(port, "/metrics").is_some_and(|m| {
            sample(&m, "banwatch_sink_queue_depth", &[("sink", "webhook")]).is_some_and(|v| v > 0.0)
        })
    });
    wait_for("the lobby camera to be out of compliance", 90, || {
        get(port, "/metrics").is_some_and(|m| {
            sample(
                &m,
                "banwatch_device_compliant",
                &[("device", "demo-cam-lobby")],
            ) == Some(0.0)
        })
    });
    let m = get(port, "/metrics").unwrap_or_default();
    assert!(
        sample(
            &m,
            "banwatch_sink_deliveries_total",
            &[("sink", "webhook"), ("result", "error")]
        )
        .is_some(),
        "{m}"
    );
    // EVE line written at once.
    let text = std::fs::read_to_string(&eve).unwrap_or_default();
    let line: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|v: &serde_json::Value| v["banwatch"]["device"] == "demo-cam-lobby")
        .unwrap_or_else(|| panic!("no EVE line for the lobby camera: {text}"));
    assert_eq!(line["event_type"], "alert");
    assert_eq!(line["banwatch"]["technique"], "face_recognition");
    assert!(line["alert"]["signature_id"].as_u64().is_some());
    // The receiver comes up: the spooled alert arrives, signed.
    let got = dir.path().join("received.txt");
    let script = dir.path().join("receiver.py");
    std::fs::write(&script, RECEIVER).unwrap();
    let mut rx = Command::new("python3")
        .arg(&script)
        .arg(hook.to_string())
        .arg("hook-key")
        .arg(&got)
        .spawn()
        .expect("python3 receiver");
    wait_for("the signed webhook delivery", 60, || {
        std::fs::read_to_string(&got).is_ok_and(|t| t.contains("demo-cam-lobby"))
    });
    let _ = rx.kill();
    let _ = rx.wait();
    let text = std::fs::read_to_string(&got).unwrap_or_default();
    assert!(!text.contains("BAD "), "{text}");
    assert!(text.lines().all(|l| l.starts_with("VERIFIED ")), "{text}");
    wait_for("the spool to drain", 30, || {
        get(port, "/metrics").is_some_and(|m| {
            sample(&m, "banwatch_sink_queue_depth", &[("sink", "webhook")]) == Some(0.0)
        })
    });
    // The API: reading is open, acknowledging needs the token.
    let id = alerts(port)
        .iter()
        .find(|a| a["device"] == "demo-cam-lobby")
        .and_then(|a| a["id"].as_str().map(String::from))
        .expect("lobby alert");
    let path = format!("/api/v1/alerts/{id}/ack");
    assert!(request(port, "POST", &path, None, "").starts_with("HTTP/1.1 401"));
    assert!(request(port, "POST", &path, Some("s3cret-tokeX"), "").starts_with("HTTP/1.1 401"));
    assert!(request(
        port,
        "POST",
        "/api/v1/alerts/nope/ack",
        Some("5f0c2e9a41d7b38e"),
        ""
    )
    .starts_with("HTTP/1.1 404"));
    let r = request(
        port,
        "POST",
        &path,
        Some("5f0c2e9a41d7b38e"),
        "ticket TR-1182",
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let a = alerts(port);
    let lobby = a.iter().find(|a| a["id"] == id.as_str()).unwrap();
    assert_eq!(lobby["acknowledged"]["note"], "ticket TR-1182");
    let ev = get(port, "/api/v1/evidence?device=demo-cam-lobby").unwrap_or_default();
    let ev: serde_json::Value = serde_json::from_str(&ev).unwrap_or_default();
    assert!(
        ev["verdicts"].as_array().is_some_and(|v| !v.is_empty()),
        "{ev}"
    );
    assert!(get(port, "/api/v1/sites").is_some_and(|b| b.starts_with('[')));
}
