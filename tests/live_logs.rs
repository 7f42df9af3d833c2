//! Zeek JSON and Suricata EVE logs followed while they grow: lines appended later, a partial
//! line completed by a later write, garbage and truncated lines (counted, skipped), rotation
//! (and the last lines of a file rotated away before they were read).

mod live_common;

use std::io::Write;
use std::time::Duration;

fn append(path: &std::path::Path, s: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
    f.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeek_and_eve_logs_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let dns = dir.path().join("dns.log");
    let eve = dir.path().join("eve.json");
    append(&dns, "{\"ts\":1700000000.0,\"id.orig_h\":\"10.0.0.7\",\"id.orig_p\":5353,\"id.resp_h\":\"10.0.0.1\",\"id.resp_p\":53,\"proto\":\"udp\",\"query\":\"api-us.faceplusplus.com\"}\n");
    let mut f = live_common::start(vec![
        (
            "zeek".into(),
            None,
            live_common::source("zeek", &format!("path = {:?}", dns.display().to_string())),
        ),
        // The EVE file does not exist yet: the feed waits for it.
        (
            "eve".into(),
            None,
            live_common::source("eve", &format!("path = {:?}", eve.display().to_string())),
        ),
    ]);
    assert!(
        f.collect_until(Duration::from_secs(5), |f| f.has(
            "zeek",
            "dns",
            "query",
            "api-us.faceplusplus.com"
        ))
        .await
    );

    // Garbage, a truncated line (completed later by nothing: the next line starts fresh), and a
    // line written in two pieces.
    append(
        &dns,
        "this is not json\n{\"ts\":1700000001.0,\"query\":\"trunc\n",
    );
    append(&dns, "{\"ts\":1700000002.0,\"id.orig_h\":\"10.0.0.8\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.1\",\"id.resp_p\":53,\"qu");
    tokio::time::sleep(Duration::from_millis(500)).await;
    append(&dns, "ery\":\"api.kairos.com\"}\n");
    assert!(
        f.collect_until(Duration::from_secs(5), |f| f.has(
            "zeek",
            "dns",
            "query",
            "api.kairos.com"
        ))
        .await
    );
    assert_eq!(f.counter("zeek", "decode_errors"), 2);
    let o = f
        .events
        .iter()
        .flat_map(|e| e.observations.iter())
        .find(|o| o.value == "api.kairos.com")
        .unwrap();
    assert_eq!(o.flow.unwrap().client.ip().to_string(), "10.0.0.8");

    append(&eve, "{\"timestamp\":\"2026-11-02T09:00:01.000000+0000\",\"event_type\":\"http\",\"src_ip\":\"10.0.0.9\",\"src_port\":40000,\"dest_ip\":\"10.0.0.20\",\"dest_port\":80,\"proto\":\"TCP\",\"http\":{\"hostname\":\"10.0.0.20\",\"url\":\"/ISAPI/Intelligent/FDLib/FDSearch?format=json\",\"http_method\":\"POST\",\"status\":200}}\n\u{1}\u{2}garbage\n");
    assert!(
        f.collect_until(Duration::from_secs(5), |f| f.has(
            "eve",
            "http",
            "path",
            "/ISAPI/Intelligent/FDLib/FDSearch"
        ))
        .await
    );
    assert!(
        f.collect_until(Duration::from_secs(2), |f| f
            .counter("eve", "decode_errors")
            == 1)
            .await
    );

    // Rotation: the file is replaced by a new, shorter one.
    std::fs::rename(&eve, dir.path().join("eve.json.1")).unwrap();
    append(&eve, "{\"timestamp\":\"2026-11-02T09:00:02+0000\",\"event_type\":\"tls\",\"src_ip\":\"10.0.0.9\",\"dest_ip\":\"52.1.2.3\",\"tls\":{\"sni\":\"rekognition.eu-west-1.amazonaws.com\"}}\n");
    assert!(
        f.collect_until(Duration::from_secs(5), |f| f.has(
            "eve",
            "tls",
            "sni",
            "rekognition.eu-west-1.amazonaws.com"
        ))
        .await,
        "rotation not followed"
    );
    // A line appended just before the file is rotated away (within one poll) is still read:
    // the old file is read to its end before the new one is opened.
    append(&eve, "{\"timestamp\":\"2026-11-02T09:00:03+0000\",\"event_type\":\"tls\",\"src_ip\":\"10.0.0.9\",\"dest_ip\":\"52.1.2.4\",\"tls\":{\"sni\":\"api.luxand.cloud\"}}\n");
    std::fs::rename(&eve, dir.path().join("eve.json.2")).unwrap();
    append(&eve, "");
    assert!(
        f.collect_until(Duration::from_secs(5), |f| f.has(
            "eve",
            "tls",
            "sni",
            "api.luxand.cloud"
        ))
        .await,
        "the line written just before the rotation was lost"
    );
    assert!(f.health["zeek"].is_up() && f.health["eve"].is_up());
    f.stop().await;
}
