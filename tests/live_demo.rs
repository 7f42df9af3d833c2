//! The bundled demo network (what `banwatch serve` runs with no configuration): every feed it
//! lists comes up, and face recognition shows on exactly the devices meant to run it.

mod live_common;

use banwatch::detect::signatures::SignatureSet;
use banwatch::model::{Strength, Technique};
use banwatch::sim::live::DemoNetwork;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_network_feeds_find_recognition_where_planted() {
    let demo = DemoNetwork::start().await.expect("demo network");
    let feeds = demo.feeds().expect("demo feeds");
    assert_eq!(feeds.len(), 5);
    let ids: Vec<String> = feeds.iter().map(|f| f.id.clone()).collect();
    let mut f = live_common::start(
        feeds
            .into_iter()
            .map(|f| (f.id, f.device, f.source))
            .collect(),
    );
    let sigs = SignatureSet::load_dir(&SignatureSet::default_dir()).unwrap();
    let strong = |f: &live_common::Feeds| -> BTreeMap<String, BTreeSet<Technique>> {
        let mut m: BTreeMap<String, BTreeSet<Technique>> = BTreeMap::new();
        for e in &f.events {
            for o in &e.observations {
                for s in sigs.match_value(o.proto, o.field, &o.value) {
                    if s.strength == Strength::Strong {
                        m.entry(e.device.clone().unwrap_or_default())
                            .or_default()
                            .insert(s.technique);
                    }
                }
            }
        }
        m
    };
    let ok = f
        .collect_until(Duration::from_secs(90), |f| {
            let s = strong(f);
            ids.iter().all(|id| f.health[id].is_up())
                && s.get("demo-cam-lobby")
                    .is_some_and(|t| t.contains(&Technique::FaceRecognition))
                && s.get("demo-hik-terminal")
                    .is_some_and(|t| t.contains(&Technique::FaceRecognition))
                && s.get("demo-cam-stairwell")
                    .is_some_and(|t| t.contains(&Technique::FaceDetection))
                && s.get("demo-dahua-entrance")
                    .is_some_and(|t| t.contains(&Technique::FaceDetection))
        })
        .await;
    let s = strong(&f);
    assert!(ok, "{s:?}");
    let recognising: BTreeSet<&str> = s
        .iter()
        .filter(|(_, t)| t.contains(&Technique::FaceRecognition))
        .map(|(d, _)| d.as_str())
        .collect();
    assert_eq!(
        recognising,
        BTreeSet::from(["demo-cam-lobby", "demo-hik-terminal"])
    );
    assert!(!s.contains_key("demo-cam-carpark"));
    f.stop().await;
    drop(demo);
}
