//! MQTT feed against a real mosquitto broker started by the test on a free loopback port
//! (Debian package `mosquitto`; the test fails naming it when absent). Frigate-format payloads
//! (SIGNATURES.md §7.A), a malformed one, a binary snapshot, and a broker restart.

mod live_common;
#[path = "common/mosquitto.rs"]
mod mosquitto;
#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

use banwatch::detect::signatures::SignatureSet;
use banwatch::model::Technique;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::time::Duration;

const FACE: &str = r#"{"type": "face", "id": "1607123955.475377-mxklsc", "name": "John", "score": 0.95, "camera": "front_door_cam", "timestamp": 1607123958.748393}"#;
const EVENTS: &str = r#"{"type": "update", "before": {"id": "1", "camera": "door", "label": "person", "attributes": {"face": 0.86}}, "after": {"id": "1", "camera": "door", "label": "person", "attributes": {"face": 0.86}, "current_attributes": [{"label": "face", "score": 0.86, "box": [1, 2, 3, 4]}]}}"#;

async fn publisher(port: u16) -> AsyncClient {
    let (client, mut ev) = AsyncClient::new(MqttOptions::new("test-pub", "127.0.0.1", port), 64);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frigate_over_mosquitto_with_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = mosquitto::start(dir.path(), port);
    let mut f = live_common::start(vec![
        (
            "face-box".into(),
            Some("nvr".into()),
            live_common::source(
                "mqtt",
                &format!("host = \"127.0.0.1\"\nport = {port}\ntopics = [\"frigate/tracked_object_update\"]"),
            ),
        ),
        (
            "events".into(),
            Some("nvr2".into()),
            live_common::source(
                "mqtt",
                &format!("host = \"127.0.0.1\"\nport = {port}\ntopics = [\"frigate/events\", \"frigate/+/person/snapshot\"]"),
            ),
        ),
    ]);
    assert!(
        f.collect_until(Duration::from_secs(10), |f| f.health["face-box"].is_up()
            && f.health["events"].is_up())
            .await
    );
    let publ = publisher(port).await;
    let send = |c: AsyncClient, topic: &'static str, payload: Vec<u8>| async move {
        c.publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    };
    let mut ok = false;
    for _ in 0..50 {
        send(publ.clone(), "frigate/tracked_object_update", FACE.into()).await;
        send(publ.clone(), "frigate/events", EVENTS.into()).await;
        send(publ.clone(), "frigate/events", b"{\"type\": \"upd".to_vec()).await;
        send(
            publ.clone(),
            "frigate/door/person/snapshot",
            vec![0xff, 0xd8, 0xff, 0xe0, 1, 2, 3],
        )
        .await;
        ok = f
            .collect_until(Duration::from_millis(200), |f| {
                f.has("face-box", "frigate", "update_type", "face")
                    && f.counter("events", "decode_errors") >= 1
                    && f.counter("events", "messages") >= 2
            })
            .await;
        if ok {
            break;
        }
    }
    assert!(ok, "{:?}", f.seen);
    let sigs = SignatureSet::load_dir(&SignatureSet::default_dir()).unwrap();
    let techniques = |feed: &str| -> Vec<Technique> {
        f.events
            .iter()
            .filter(|e| e.feed == feed)
            .flat_map(|e| e.observations.iter())
            .flat_map(|o| sigs.match_value(o.proto, o.field, &o.value))
            .map(|s| s.technique)
            .collect()
    };
    assert!(techniques("face-box").contains(&Technique::FaceRecognition));
    assert!(!techniques("events").contains(&Technique::FaceRecognition));
    for e in &f.events {
        assert!(
            e.observations.iter().all(|o| !o.value.contains("John")),
            "name leaked"
        );
    }

    // Broker restarts: the feed goes down, backs off, comes back, and messages flow again.
    drop(b);
    assert!(
        f.collect_until(Duration::from_secs(10), |f| !f.health["face-box"].is_up())
            .await
    );
    let _b = mosquitto::start(dir.path(), port);
    assert!(
        f.collect_until(Duration::from_secs(20), |f| f.health["face-box"].is_up())
            .await,
        "no reconnect"
    );
    assert!(f.counter("face-box", "reconnects") >= 1);
    let before = f.count("face-box", "frigate", "update_type", "face");
    let publ = publisher(port).await;
    let mut ok = false;
    for _ in 0..50 {
        send(publ.clone(), "frigate/tracked_object_update", FACE.into()).await;
        ok = f
            .collect_until(Duration::from_millis(200), |f| {
                f.count("face-box", "frigate", "update_type", "face") > before
            })
            .await;
        if ok {
            break;
        }
    }
    assert!(ok, "no messages after the broker restart");
    f.stop().await;
}
