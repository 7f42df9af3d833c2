//! `banwatch audit` against emulated devices on loopback (the real binary, real HTTP(S) with a
//! certificate made here, HTTP Digest, ONVIF WS-Security, a UniFi OS session): it reports
//! exactly the devices configured for recognition, counts without names, sends nothing but
//! reads, and gives each misbehaving device a clear reason while the others are audited.

mod service_common;
mod tls_common;

use banwatch::sim::live::audit::{AuditDevice, AuditServer, RecordedRequest, PEOPLE};
use std::path::Path;
use std::process::Command;

const USER: &str = "auditor";
const PASSWORD: &str = "audit-pass-7431";

struct Entry<'a> {
    id: &'a str,
    server: &'a AuditServer,
    product: Option<&'a str>,
    extra: String,
}

/// An inventory in the `serve` configuration's format; the password from a file.
fn inventory(dir: &Path, entries: &[Entry], password_file: &Path) -> std::path::PathBuf {
    let mut t = String::from(
        "[[site]]\nid = \"ps-12\"\ntype = \"school\"\ncontractor = \"Acme Security\"\n\n",
    );
    for e in entries {
        t.push_str(&format!(
            "[[device]]\nid = \"{}\"\nsite = \"ps-12\"\n{}audit = {{ url = \"{}\", username = \"{USER}\", password = {{ file = {:?} }}{} }}\n\n",
            e.id,
            e.product.map(|p| format!("product = \"{p}\"\n")).unwrap_or_default(),
            e.server.url(),
            password_file.display().to_string(),
            e.extra,
        ));
    }
    let p = dir.join("inventory.toml");
    std::fs::write(&p, t).unwrap();
    p
}

fn audit(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_banwatch"))
        .arg("audit")
        .args(args)
        .env_remove("BANWATCH_AUDIT_USERNAME")
        .env_remove("BANWATCH_AUDIT_PASSWORD")
        .output()
        .expect("run banwatch audit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A read: a GET, an ONVIF Get… SOAP call, or the declared UniFi OS login.
fn is_read(r: &RecordedRequest) -> bool {
    match r.method.as_str() {
        "GET" => true,
        "POST" => {
            r.soap_operation
                .as_deref()
                .is_some_and(|o| o.starts_with("Get"))
                || r.target == "/api/auth/login"
        }
        _ => false,
    }
}

fn check_value(report: &serde_json::Value, device: &str, check: &str) -> Option<u64> {
    report["audits"]
        .as_array()?
        .iter()
        .find(|a| a["device"] == device)?["checks"]
        .as_array()?
        .iter()
        .find(|c| c["check"] == check)?["value"]
        .as_u64()
}

/// The seven devices of the issue, each configured as its name says; UniFi over HTTPS with a
/// self-signed certificate.
struct Fleet {
    hik_nvr: AuditServer,
    hik_cam: AuditServer,
    dahua: AuditServer,
    onvif_face: AuditServer,
    onvif_motion: AuditServer,
    frigate: AuditServer,
    unifi: AuditServer,
}

impl Fleet {
    async fn start(pki: &tls_common::Pki) -> Fleet {
        let start = |d| AuditServer::start(d, USER, PASSWORD, None);
        Fleet {
            hik_nvr: start(AuditDevice::HikvisionFaceLibrary).await.unwrap(),
            hik_cam: start(AuditDevice::HikvisionCaptureOnly).await.unwrap(),
            dahua: start(AuditDevice::DahuaFaceGroups).await.unwrap(),
            onvif_face: start(AuditDevice::OnvifFaceRecognition).await.unwrap(),
            onvif_motion: start(AuditDevice::OnvifMotionOnly).await.unwrap(),
            frigate: start(AuditDevice::FrigateFaceOn).await.unwrap(),
            unifi: AuditServer::start(
                AuditDevice::UnifiProtectFaceOff,
                USER,
                PASSWORD,
                Some(pki.self_signed.config.clone()),
            )
            .await
            .unwrap(),
        }
    }

    /// Inventory entries: the product named only for UniFi (the others are identified).
    fn entries<'a>(&'a self, pki: &tls_common::Pki) -> Vec<Entry<'a>> {
        let e = |id, server| Entry {
            id,
            server,
            product: None,
            extra: String::new(),
        };
        vec![
            e("hik-nvr", &self.hik_nvr),
            e("hik-cam", &self.hik_cam),
            e("dahua-nvr", &self.dahua),
            e("onvif-face", &self.onvif_face),
            e("onvif-motion", &self.onvif_motion),
            e("frigate", &self.frigate),
            Entry {
                id: "unifi",
                server: &self.unifi,
                product: Some("unifi_protect"),
                extra: format!(", tls = {{ pin_sha256 = {:?} }}", pki.self_signed.pin()),
            },
        ]
    }

    fn all(&self) -> [&AuditServer; 7] {
        [
            &self.hik_nvr,
            &self.hik_cam,
            &self.dahua,
            &self.onvif_face,
            &self.onvif_motion,
            &self.frigate,
            &self.unifi,
        ]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_reports_exactly_the_devices_configured_for_recognition() {
    let pki = tls_common::pki();
    let fleet = Fleet::start(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("audit-password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let inv = inventory(dir.path(), &fleet.entries(&pki), &pw);
    let inv_arg = inv.display().to_string();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || audit(&["--inventory", &inv_arg, "--format", "json"]))
            .await
            .unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    assert_eq!(code, 1, "{err}\n{out}");

    let products: Vec<(String, String)> = report["audits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["device"].as_str().unwrap().to_string(),
                a["product"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let want_products = [
        ("hik-nvr", "hikvision"),
        ("hik-cam", "hikvision"),
        ("dahua-nvr", "dahua"),
        ("onvif-face", "onvif"),
        ("onvif-motion", "onvif"),
        ("frigate", "frigate"),
        ("unifi", "unifi_protect"),
    ];
    for (d, p) in want_products {
        assert!(
            products.contains(&(d.to_string(), p.to_string())),
            "{d} should be {p}: {products:?}\n{err}"
        );
    }
    // Every device was audited completely: no device or check error.
    for a in report["audits"].as_array().unwrap() {
        assert!(a.get("error").is_none(), "{a}");
        for c in a["checks"].as_array().unwrap() {
            assert_ne!(c["outcome"], "error", "{}: {c}", a["device"]);
        }
    }

    let mut violating: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["technique"], "face_recognition", "{v}");
            assert_eq!(v["status"], "confirmed", "{v}");
            assert_eq!(v["banned_at"], serde_json::json!(["school"]), "{v}");
            v["device"].as_str().unwrap()
        })
        .collect();
    violating.sort();
    assert_eq!(
        violating,
        vec!["dahua-nvr", "frigate", "hik-nvr", "onvif-face"],
        "{out}"
    );
    // Counts, not names.
    let v = |d, c| check_value(&report, d, c);
    assert_eq!(
        v("hik-nvr", "hikvision.audit.face_library_records"),
        Some(12)
    );
    assert_eq!(v("hik-nvr", "hikvision.audit.face_libraries"), Some(2));
    assert_eq!(v("dahua-nvr", "dahua.audit.face_groups"), Some(2));
    assert_eq!(v("dahua-nvr", "dahua.audit.face_group_records"), Some(80));
    assert_eq!(v("frigate", "frigate.audit.registered_faces"), Some(2));
    assert_eq!(
        v("onvif-face", "onvif.audit.face_recognition_rule"),
        Some(1)
    );
    assert_eq!(
        v("onvif-motion", "onvif.audit.face_recognition_rule"),
        Some(0)
    );
    assert_eq!(v("unifi", "unifi_protect.audit.face_recognition"), Some(0));
    // The capture-only camera shows face detection, which is not a violation, and its missing
    // face library reads as "not offered", not as an error.
    let cam = report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == "hik-cam")
        .expect("hik-cam verdicts");
    assert!(
        cam["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["technique"] == "face_detection"),
        "{cam}"
    );
    let cam_audit = report["audits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["device"] == "hik-cam")
        .unwrap();
    assert!(cam_audit["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["check"] == "hikvision.audit.face_library_records"
            && c["outcome"] == "unavailable"));
    let evidence = report["devices"].to_string();
    assert!(
        evidence.contains("12 face records in face libraries"),
        "{evidence}"
    );
    assert!(evidence.contains("\"source\":\"audit:/ISAPI/Intelligent/FDLib/Count?format=json\""));

    // Nothing about people, and no password, anywhere in the output.
    let (tcode, text, terr) = {
        let inv_arg = inv.display().to_string();
        tokio::task::spawn_blocking(move || audit(&["--inventory", &inv_arg]))
            .await
            .unwrap()
    };
    assert_eq!(tcode, 1);
    assert!(text.contains("AUDIT (7 devices)"), "{text}");
    for shown in [&out, &err, &text, &terr] {
        for name in PEOPLE {
            assert!(!shown.contains(name), "{name} leaked:\n{shown}");
        }
        assert!(!shown.contains(PASSWORD));
    }

    // Only reads reached the devices.
    for s in fleet.all() {
        let got = s.received();
        assert!(!got.is_empty(), "{:?} received nothing", s.device);
        for r in &got {
            assert!(is_read(r), "{:?} received a non-read: {r:?}", s.device);
        }
    }
    // The login went only to the device named as UniFi.
    for s in &fleet.all()[..6] {
        assert!(
            s.received().iter().all(|r| r.target != "/api/auth/login"),
            "{:?}",
            s.device
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_misbehaving_device_gets_a_clear_reason_and_the_others_are_audited() {
    let pki = tls_common::pki();
    let start = |d| AuditServer::start(d, USER, PASSWORD, None);
    let garbage = start(AuditDevice::Garbage).await.unwrap();
    let huge = start(AuditDevice::HugeBody).await.unwrap();
    let redirect = start(AuditDevice::RedirectLoop).await.unwrap();
    let drip = start(AuditDevice::SlowDrip).await.unwrap();
    let wrong = AuditServer::start(AuditDevice::HikvisionFaceLibrary, USER, "other", None)
        .await
        .unwrap();
    let untrusted = AuditServer::start(
        AuditDevice::HikvisionFaceLibrary,
        USER,
        PASSWORD,
        Some(pki.self_signed.config.clone()),
    )
    .await
    .unwrap();
    let good = start(AuditDevice::FrigateFaceOn).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let e = |id, server, product| Entry {
        id,
        server,
        product: Some(product),
        extra: String::new(),
    };
    let inv = inventory(
        dir.path(),
        &[
            e("garbage", &garbage, "hikvision"),
            e("huge", &huge, "frigate"),
            e("redirect", &redirect, "dahua"),
            e("drip", &drip, "hikvision"),
            e("wrong-password", &wrong, "hikvision"),
            e("untrusted", &untrusted, "hikvision"),
            e("good", &good, "frigate"),
        ],
        &pw,
    );
    let inv_arg = inv.display().to_string();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        audit(&[
            "--inventory",
            &inv_arg,
            "--format",
            "json",
            "--timeout",
            "2",
        ])
    })
    .await
    .unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    // A device that could not be audited makes the report incomplete: exit 2, as scan.
    assert_eq!(code, 2, "{err}");
    let error_of = |d: &str| -> String {
        report["audits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["device"] == d)
            .and_then(|a| a["error"].as_str())
            .unwrap_or_else(|| panic!("{d} has no error: {out}"))
            .to_string()
    };
    for (device, why) in [
        ("garbage", "not XML"),
        ("huge", "body larger than"),
        ("redirect", "redirects are not followed"),
        ("drip", "no complete answer within 2 s"),
        ("wrong-password", "credentials rejected"),
        ("untrusted", "certificate"),
    ] {
        let e = error_of(device);
        assert!(e.contains(why), "{device}: {e}");
        assert!(
            err.contains(&format!("banwatch: {device}: ")),
            "stderr names {device}:\n{err}"
        );
    }
    // The good device was audited and found.
    let violations = report["violations"].to_string();
    assert!(violations.contains("\"device\":\"good\""), "{violations}");
    for name in PEOPLE {
        assert!(!out.contains(name) && !err.contains(name));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_audits_on_schedule_and_audit_alerts_outlast_the_window_and_a_restart() {
    let pki = tls_common::pki();
    let fleet = Fleet::start(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let inv = inventory(dir.path(), &fleet.entries(&pki), &pw);
    let port = service_common::free_port();
    // A short evidence window: traffic evidence would be gone in 2 s; the audit's must stand.
    let config = |first_after: u64| {
        format!(
            "listen = \"127.0.0.1:{port}\"\nstate_dir = {:?}\n[judge]\nwindow_secs = 2\nresolve_after_secs = 6\n[audit]\nfirst_after_secs = {first_after}\nevery_secs = 3600\n\n{}",
            dir.path().join("state").display().to_string(),
            std::fs::read_to_string(&inv).unwrap()
        )
    };
    let cfg_path = dir.path().join("serve.toml");
    std::fs::write(&cfg_path, config(0)).unwrap();
    // After the restart, the next round is an hour away: the alerts rest on the stored audits.
    let later = dir.path().join("serve-later.toml");
    std::fs::write(&later, config(3600)).unwrap();
    let (cfg_arg, later_arg) = (cfg_path.display().to_string(), later.display().to_string());
    let want = vec![
        "dahua-nvr".to_string(),
        "frigate".to_string(),
        "hik-nvr".to_string(),
        "onvif-face".to_string(),
    ];
    let want2 = want.clone();
    let (before, after, audits, metrics) = tokio::task::spawn_blocking(move || {
        let firing = |port| {
            let mut v = service_common::alerts(port)
                .into_iter()
                .filter(|a| a["state"] == "firing")
                .map(|a| a["device"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>();
            v.sort();
            v
        };
        let mut serve = service_common::serve(&["--config", &cfg_arg]);
        service_common::wait_for("the audit's alerts", 60, || firing(port) == want2);
        // Three evidence windows and more than the resolve delay later, they still fire.
        std::thread::sleep(std::time::Duration::from_secs(9));
        let before = firing(port);
        let metrics = service_common::get(port, "/metrics").unwrap_or_default();
        let _ = serve.0.kill();
        let _ = serve.0.wait();
        let _serve = service_common::serve(&["--config", &later_arg]);
        service_common::wait_for("the restarted service", 30, || {
            service_common::get(port, "/healthz").is_some()
        });
        std::thread::sleep(std::time::Duration::from_secs(9));
        let after = firing(port);
        let audits = service_common::get(port, "/api/v1/audits").unwrap_or_default();
        (before, after, audits, metrics)
    })
    .await
    .unwrap();
    assert_eq!(before, want, "before the restart");
    assert_eq!(
        after, want,
        "after a SIGKILL and restart, with no new audit"
    );
    let audits: serde_json::Value = serde_json::from_str(&audits).unwrap();
    assert_eq!(audits.as_array().map(Vec::len), Some(7), "{audits}");
    for name in PEOPLE {
        assert!(!audits.to_string().contains(name));
    }
    assert_eq!(
        service_common::sample(
            &metrics,
            "banwatch_audit_devices_total",
            &[("result", "audited")]
        ),
        Some(7.0),
        "{metrics}"
    );
    assert!(
        service_common::sample(
            &metrics,
            "banwatch_audit_checks_total",
            &[("product", "hikvision"), ("outcome", "fired")]
        )
        .unwrap_or(0.0)
            >= 4.0
    );
    for s in fleet.all() {
        assert!(s.received().iter().all(is_read), "{:?}", s.device);
    }
}
