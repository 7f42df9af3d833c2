//! The dashboard in a real headless Chromium, driven through chromedriver (WebDriver, with the
//! `fantoccini` crate): `banwatch serve` with the demo network and an API token. The page loads
//! with no console error and no external asset, the demo network's violations appear, and
//! acknowledging works with the token and fails without. A screenshot is left in
//! `target/tmp/test-artifacts/dashboard.png`.

mod service_common;

use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};
use service_common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "5f1e9a7c3b2d4e6f8a9b0c1d2e3f4a5b";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver(port: u16) -> Driver {
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; scripts/setup.sh test installs it)");
    wait_for("chromedriver", 20, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Driver(child)
}

fn artifacts() -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-artifacts");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// The browser's console messages at level SEVERE (ChromeDriver's log endpoint).
async fn console_errors(driver_port: u16, session: &str) -> Vec<String> {
    let url = format!("http://127.0.0.1:{driver_port}/session/{session}/se/log");
    let client = banwatch::net::http::client(&Default::default()).expect("an HTTP client");
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .body(json!({"type": "browser"}).to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("chromedriver log endpoint");
    let v: Value =
        serde_json::from_str(&answer.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    v["value"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["level"] == "SEVERE")
                .map(|e| e["message"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn click(c: &fantoccini::Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The text of the element `at`.
async fn text_of(c: &fantoccini::Client, at: Locator<'_>) -> String {
    c.find(at).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_demo_network_and_acknowledges_only_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("serve.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\nstate_dir = {:?}\napi_token = \"{TOKEN}\"\n{}",
            dir.path().join("state").display().to_string(),
            banwatch::sim::live::DEMO_INVENTORY
        ),
    )
    .unwrap();
    let _serve = serve(&["--config", cfg.to_str().unwrap(), "--demo"]);
    tokio::task::spawn_blocking(move || {
        wait_for("a firing alert of the demo network", 90, || {
            alerts(port).iter().any(|a| a["state"] == "firing")
        })
    })
    .await
    .unwrap();
    let driver_port = free_port();
    let _driver = chromedriver(driver_port);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1800",
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-sync", "--disable-default-apps", "--disable-domain-reliability"
        ]}),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session");
    let page = format!("http://127.0.0.1:{port}/");
    c.goto(&page).await.unwrap();
    let ready: Value = c
        .execute("return window.banwatchReady === true;", vec![])
        .await
        .unwrap();
    assert_eq!(ready, json!(true), "the page script did not run to its end");
    let external: Value = c
        .execute(
            "return document.querySelectorAll('script[src], link[href]:not([href^=\"data:\"]), img[src], iframe').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(external, json!(0), "the dashboard loads external assets");
    let session = c.session_id().await.unwrap().unwrap_or_default();
    let errors = console_errors(driver_port, &session).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // The demo network's violation, at its site, with the site in violation.
    let alerts_table = text_of(&c, Locator::Id("alerts")).await;
    assert!(alerts_table.contains("demo-"), "{alerts_table}");
    assert!(alerts_table.contains("face_recognition"), "{alerts_table}");
    let sites = text_of(&c, Locator::Id("sites")).await;
    assert!(sites.contains("in violation"), "{sites}");
    assert!(sites.contains("Acme Security Ltd"), "{sites}");
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join("dashboard.png"), &png).unwrap();

    // Acknowledge: refused with a wrong token, taken with the right one.
    let id = c
        .find(Locator::Css("button.ack"))
        .await
        .unwrap()
        .attr("data-id")
        .await
        .unwrap()
        .expect("an alert to acknowledge");
    let token = c.find(Locator::Id("token")).await.unwrap();
    token.send_keys("not-the-token-at-all").await.unwrap();
    click(&c, &format!("button.ack[data-id='{id}']")).await;
    let status = |c: fantoccini::Client| async move {
        let t = Instant::now();
        loop {
            let s = text_of(&c, Locator::Id("ack-status")).await;
            if !s.is_empty() || t.elapsed() > Duration::from_secs(10) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let refused = status(c.clone()).await;
    assert!(refused.contains("token refused"), "{refused}");
    let acked = |port| {
        service_common::alerts(port)
            .iter()
            .any(|a| a["id"] == id.as_str() && a.get("acknowledged").is_some())
    };
    assert!(!acked(port), "acknowledged with a wrong token");
    token.clear().await.unwrap();
    token.send_keys(TOKEN).await.unwrap();
    c.execute(
        "document.getElementById('ack-status').textContent = '';",
        vec![],
    )
    .await
    .unwrap();
    click(&c, &format!("button.ack[data-id='{id}']")).await;
    let done = status(c.clone()).await;
    assert!(done.contains("acknowledged"), "{done}");
    assert!(acked(port), "the store has no acknowledgement");
    let errors = console_errors(driver_port, &session).await;
    // The refused request is the one expected console entry (a 401 answer).
    assert!(
        errors.iter().all(|e| e.contains("401")),
        "console errors: {errors:?}"
    );
    c.close().await.unwrap();
}
