//! Secrets stay secret: camera passwords (in an RTSP URL or in their own fields), a webhook
//! key, an MQTT password and the API token never reach the log (at trace level), `/metrics`,
//! the API or the state directory, however often the feeds reconnect; and a device that asks
//! for HTTP Basic over plain HTTP never gets the password unless the feed opts in.

mod live_common;
mod service_common;

use service_common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRETS: &[&str] = &[
    "Rtsp-Url-S3cret",
    "Rtsp-Field-S3cret",
    "Hik-S3cret",
    "Mqtt-S3cret",
    "Hook-S3cret",
    "Api-Q7v2k9w4m1x8",
];

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn no_secret_reaches_the_log_metrics_api_or_store() {
    let dir = tempfile::tempdir().unwrap();
    let (port, dead) = (free_port(), free_port());
    let state = dir.path().join("state");
    let cfg = dir.path().join("banwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"listen = "127.0.0.1:{port}"
state_dir = "{state}"
api_token = {{ value = "Api-Q7v2k9w4m1x8" }}
[[site]]
id = "s"
type = "school"
[[device]]
id = "cam"
site = "s"
addresses = ["127.0.0.11"]
[[feed]]
id = "cam-url"
device = "cam"
kind = "rtsp"
url = "rtsp://admin:Rtsp-Url-S3cret@127.0.0.1:{dead}/onvif/profile1?token=Rtsp-Url-S3cret"
[[feed]]
id = "cam-fields"
device = "cam"
kind = "rtsp"
url = "rtsp://127.0.0.1:{dead}/onvif/profile1"
username = "admin"
password = "Rtsp-Field-S3cret"
[[feed]]
id = "cam-events"
device = "cam"
kind = "hikvision"
url = "http://monitor:Hik-S3cret@127.0.0.1:{dead}/ISAPI/Event/notification/alertStream"
username = "monitor"
password = {{ value = "Hik-S3cret" }}
[[feed]]
id = "broker"
device = "cam"
kind = "mqtt"
host = "127.0.0.1"
port = {dead}
username = "bw"
password = "Mqtt-S3cret"
topics = ["frigate/#"]
[webhook]
url = "http://127.0.0.1:{dead}/hook?key=Hook-S3cret"
secret = {{ value = "Hook-S3cret" }}
"#,
            state = state.display()
        ),
    )
    .unwrap();
    let log = {
        let svc = serve_logged_with(&["--config", cfg.to_str().unwrap()], "trace");
        wait_for("the endpoint", 30, || get(port, "/healthz").is_some());
        // Long enough for several reconnects of every feed.
        std::thread::sleep(Duration::from_secs(8));
        let mut seen = vec![("log".to_string(), svc.log())];
        for path in [
            "/metrics",
            "/api/v1/alerts",
            "/api/v1/devices",
            "/api/v1/sites",
            "/readyz",
        ] {
            seen.push((path.to_string(), get(port, path).unwrap_or_default()));
        }
        for f in walk(&state) {
            let bytes = std::fs::read(&f).unwrap_or_default();
            seen.push((
                f.display().to_string(),
                String::from_utf8_lossy(&bytes).into(),
            ));
        }
        for (what, text) in &seen {
            for s in SECRETS {
                assert!(!text.contains(s), "{s} in {what}");
            }
        }
        svc.log()
    };
    // The feeds did reconnect (the test saw what a reconnect logs), and said where to.
    assert!(log.contains("127.0.0.1"), "{log}");
    assert!(log.contains("cam-url"), "{log}");
}

/// A plain-HTTP device that answers 401 with `WWW-Authenticate: Basic`: without
/// `allow_basic`, the feed never sends the password and says why; with it, it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_authentication_over_plain_http_needs_an_opt_in() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let s = s.clone();
        async move {
            if let Some(a) = headers.get("authorization") {
                s.lock().unwrap().push(a.to_str().unwrap_or("").to_string());
            }
            (
                axum::http::StatusCode::UNAUTHORIZED,
                [("www-authenticate", "Basic realm=\"camera\"")],
                "",
            )
        }
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://127.0.0.1:{port}/ISAPI/Event/notification/alertStream");
    let f = live_common::start(vec![(
        "refuses".into(),
        None,
        live_common::source(
            "hikvision",
            &format!("url = {url:?}\nusername = \"admin\"\npassword = \"Basic-S3cret\""),
        ),
    )]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let err = f.health["refuses"].last_error().unwrap_or_default();
    assert!(err.contains("allow_basic"), "{err}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
    f.stop().await;

    let f = live_common::start(vec![(
        "opted-in".into(),
        None,
        live_common::source(
            "hikvision",
            &format!(
                "url = {url:?}\nusername = \"admin\"\npassword = \"Basic-S3cret\"\nallow_basic = true"
            ),
        ),
    )]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = seen.lock().unwrap().clone();
    assert!(got.iter().any(|h| h.starts_with("Basic ")), "{got:?}");
    f.stop().await;
    server.abort();
}
