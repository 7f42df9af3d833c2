//! HTTPS end to end, with certificates made in the test: a camera's event stream over HTTPS
//! (a self-signed certificate trusted by its SHA-256 pin, a certificate signed by a CA given as
//! `ca_file`, and the refusals: a wrong pin, an unknown issuer), and `banwatch serve` delivering
//! alerts to a real Alertmanager serving HTTPS and to an HTTPS webhook receiver.

mod live_common;
mod service_common;
mod tls_common;

use banwatch::sim::live::{EventServer, EventServerOptions, Vendor};
use service_common::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_event_streams_over_https_are_trusted_only_as_configured() {
    let pki = tls_common::pki();
    let mut opts = EventServerOptions::demo(Vendor::Hikvision);
    opts.interval = Duration::from_millis(50);
    let own = EventServer::start_with(
        Vendor::Hikvision,
        opts.clone(),
        Some(pki.self_signed.config.clone()),
    )
    .await
    .unwrap();
    let signed = EventServer::start_with(
        Vendor::Hikvision,
        opts.clone(),
        Some(pki.signed.config.clone()),
    )
    .await
    .unwrap();
    assert!(own.url().starts_with("https://"));
    let creds = "username = \"admin\"\npassword = \"demo-password\"";
    let feed = |url: String, tls: String| {
        live_common::source("hikvision", &format!("url = {url:?}\n{creds}\n{tls}"))
    };
    let wrong_pin = "ab".repeat(32);
    let mut f = live_common::start(vec![
        (
            "pinned".into(),
            None,
            feed(
                own.url(),
                format!("tls = {{ pin_sha256 = {:?} }}", pki.self_signed.pin()),
            ),
        ),
        (
            "ca".into(),
            None,
            feed(
                signed.url(),
                format!(
                    "tls = {{ ca_file = {:?} }}",
                    pki.ca_pem.display().to_string()
                ),
            ),
        ),
        (
            "wrong-pin".into(),
            None,
            feed(own.url(), format!("tls = {{ pin_sha256 = {wrong_pin:?} }}")),
        ),
        ("system-roots".into(), None, feed(own.url(), String::new())),
    ]);
    let ok = f
        .collect_until(Duration::from_secs(20), |f| {
            ["pinned", "ca"]
                .iter()
                .all(|feed| f.has(feed, "hikvision", "event_type", "blackListFaceContrast"))
                && ["wrong-pin", "system-roots"]
                    .iter()
                    .all(|b| f.health[*b].last_error().is_some())
        })
        .await;
    assert!(ok, "{:?}", f.seen.keys().collect::<Vec<_>>());
    for bad in ["wrong-pin", "system-roots"] {
        assert!(!f.health[bad].is_up(), "{bad}");
        assert!(!f.seen.contains_key(bad), "{bad} delivered events");
        let e = f.health[bad].last_error().unwrap();
        assert!(e.to_lowercase().contains("certificate"), "{bad}: {e}");
    }
    // Digest authentication happened inside TLS: the servers saw 401s, then streams.
    assert!(own.stats.streams.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    f.stop().await;
}

/// A real Alertmanager serving HTTPS with `--web.config.file`.
fn alertmanager_tls(
    dir: &std::path::Path,
    port: u16,
    cert: &tls_common::ServerCert,
) -> Alertmanager {
    let bin = std::path::Path::new("/usr/bin/prometheus-alertmanager");
    assert!(
        bin.exists(),
        "prometheus-alertmanager is missing: install the Debian package prometheus-alertmanager (scripts/setup.sh test does)"
    );
    let cfg = dir.join("am.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            cert.cert_pem.display(),
            cert.key_pem.display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--web.config.file={}", web.display()))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus-alertmanager");
    Alertmanager(child, port)
}

/// GET over HTTPS with banwatch's own client, trusting `ca`.
fn https_get(url: &str, ca: &std::path::Path) -> Option<String> {
    let rt = tokio::runtime::Runtime::new().ok()?;
    rt.block_on(async {
        let tls = banwatch::net::tls::TlsSettings {
            ca_file: Some(ca.to_path_buf()),
            ..Default::default()
        };
        let client = banwatch::net::http::client(&tls).ok()?;
        let url = url::Url::parse(url).ok()?;
        let resp = banwatch::net::http::send(
            &client,
            reqwest::Method::GET,
            &url,
            &Default::default(),
            &[],
            None,
        )
        .await
        .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body = banwatch::net::http::read_bounded(resp, 4 << 20)
            .await
            .ok()?;
        String::from_utf8(body).ok()
    })
}

const TLS_RECEIVER: &str = r#"
import hashlib, hmac, http.server, ssl, sys, time
port, secret, out, cert, key = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4], sys.argv[5]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts = self.headers["X-Banwatch-Timestamp"]
        want = "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(want, self.headers["X-Banwatch-Signature"])
        with open(out, "ab") as f:
            f.write((b"VERIFIED " if ok else b"BAD ") + body + b"\n")
        self.send_response(204 if ok else 401)
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"#;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn alerts_reach_alertmanager_and_a_webhook_over_https() {
    let pki = tls_common::pki();
    let dir = tempfile::tempdir().unwrap();
    let (am_port, hook, port) = (free_port(), free_port(), free_port());
    let _am = alertmanager_tls(dir.path(), am_port, &pki.signed);
    let am_url = format!("https://127.0.0.1:{am_port}");
    wait_for("Alertmanager to answer over HTTPS", 30, || {
        https_get(&format!("{am_url}/-/ready"), &pki.ca_pem).is_some()
    });
    let got = dir.path().join("received.txt");
    let script = dir.path().join("receiver.py");
    std::fs::write(&script, TLS_RECEIVER).unwrap();
    let _rx = Killed(
        Command::new("python3")
            .arg(&script)
            .arg(hook.to_string())
            .arg("hook-key")
            .arg(&got)
            .arg(&pki.self_signed.cert_pem)
            .arg(&pki.self_signed.key_pem)
            .spawn()
            .expect("python3 receiver"),
    );
    let cfg = dir.path().join("banwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\nstate_dir = {:?}\n\
             [alertmanager]\nurl = \"{am_url}\"\nresend_secs = 5\ntls = {{ ca_file = {:?} }}\n\
             [webhook]\nurl = \"https://127.0.0.1:{hook}/hooks/banwatch\"\nsecret = \"hook-key\"\n\
             tls = {{ pin_sha256 = {:?} }}\n",
            dir.path().join("state").display().to_string(),
            pki.ca_pem.display().to_string(),
            pki.self_signed.pin(),
        ),
    )
    .unwrap();
    let _s = serve(&["--config", cfg.to_str().unwrap(), "--demo"]);
    wait_for("the lobby alert in Alertmanager, over HTTPS", 90, || {
        https_get(&format!("{am_url}/api/v2/alerts"), &pki.ca_pem).is_some_and(|b| {
            serde_json::from_str::<Vec<serde_json::Value>>(&b).is_ok_and(|v| {
                v.iter().any(|a| {
                    a["labels"]["device"] == "demo-cam-lobby"
                        && a["labels"]["technique"] == "face_recognition"
                })
            })
        })
    });
    wait_for("the signed webhook delivery over HTTPS", 60, || {
        std::fs::read_to_string(&got).is_ok_and(|t| t.contains("demo-cam-lobby"))
    });
    let text = std::fs::read_to_string(&got).unwrap_or_default();
    assert!(text.lines().all(|l| l.starts_with("VERIFIED ")), "{text}");
    let m = get(port, "/metrics").unwrap_or_default();
    assert!(
        sample(
            &m,
            "banwatch_sink_deliveries_total",
            &[("sink", "alertmanager"), ("result", "ok")]
        )
        .is_some_and(|v| v >= 1.0),
        "{m}"
    );
}
