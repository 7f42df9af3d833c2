//! Vendor event streams against loopback servers speaking the documented formats (Hikvision
//! alertStream multipart XML, Dahua eventManager attach text parts), with HTTP Digest challenges
//! and servers that drop the connection; plus feeds that are broken in different ways running
//! next to a healthy one.

mod live_common;

use banwatch::detect::signatures::SignatureSet;
use banwatch::model::{Strength, Technique};
use banwatch::sim::live::{EventServer, EventServerOptions, Vendor};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn strong(f: &live_common::Feeds, sigs: &SignatureSet, feed: &str) -> BTreeSet<Technique> {
    f.events
        .iter()
        .filter(|e| e.feed == feed)
        .flat_map(|e| e.observations.iter())
        .flat_map(|o| sigs.match_value(o.proto, o.field, &o.value))
        .filter(|s| s.strength == Strength::Strong)
        .map(|s| s.technique)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hikvision_and_dahua_streams_with_digest_and_reconnects() {
    let mut hik_opts = EventServerOptions::demo(Vendor::Hikvision);
    hik_opts.interval = Duration::from_millis(50);
    // [videoloss, faceContrast, picture, videoloss] then the server hangs up.
    hik_opts.drop_after = Some(4);
    let mut dahua_opts = EventServerOptions::demo(Vendor::Dahua);
    dahua_opts.interval = Duration::from_millis(50);
    dahua_opts.drop_after = Some(3);
    let hik = EventServer::start(Vendor::Hikvision, hik_opts.clone())
        .await
        .unwrap();
    let dahua = EventServer::start(Vendor::Dahua, dahua_opts.clone())
        .await
        .unwrap();
    let mut f = live_common::start(vec![
        (
            "hik".into(),
            Some("terminal".into()),
            hik.feed(&hik_opts).unwrap(),
        ),
        (
            "dahua".into(),
            Some("ipc".into()),
            dahua.feed(&dahua_opts).unwrap(),
        ),
    ]);
    let ok = f
        .collect_until(Duration::from_secs(30), |f| {
            f.count("hik", "hikvision", "event_type", "blackListFaceContrast") >= 3
                && f.count("dahua", "dahua", "code", "FaceDetection") >= 3
        })
        .await;
    assert!(
        ok,
        "events did not keep coming across reconnects: {:?}",
        f.seen
    );
    // One event per connection: three of them means the tap came back at least twice.
    assert!(f.counter("hik", "reconnects") >= 2);
    assert!(f.counter("dahua", "reconnects") >= 2);
    for s in [&hik.stats, &dahua.stats] {
        // Each connection is first challenged (401 Digest), then answered correctly.
        assert!(s.unauthorized.load(Relaxed) >= 3, "{s:?}");
        assert!(s.streams.load(Relaxed) >= 3, "{s:?}");
    }
    assert!(f.has("hik", "hikvision", "event_type", "videoloss"));
    assert!(f.has("dahua", "dahua", "code", "VideoMotion"));
    assert_eq!(f.counter("hik", "decode_errors"), 0);
    // Every part counted, pictures included (and never decoded).
    assert!(f.counter("hik", "messages") >= 9);
    for e in &f.events {
        assert_eq!(
            e.device.as_deref(),
            Some(if e.feed == "hik" { "terminal" } else { "ipc" })
        );
        for o in &e.observations {
            assert!(!o.value.contains("fp-7f31"), "person id leaked: {o:?}");
            let flow = o.flow.expect("stream observations carry the connection");
            assert!(flow.server.ip().is_loopback());
        }
    }
    let sigs = SignatureSet::load_dir(&SignatureSet::default_dir()).unwrap();
    assert!(strong(&f, &sigs, "hik").contains(&Technique::FaceRecognition));
    assert_eq!(
        strong(&f, &sigs, "dahua"),
        BTreeSet::from([Technique::FaceDetection])
    );
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_reported_and_retried_with_backoff() {
    let opts = EventServerOptions::demo(Vendor::Dahua);
    let server = EventServer::start(Vendor::Dahua, opts.clone())
        .await
        .unwrap();
    let mut f = live_common::start(vec![(
        "dahua".into(),
        None,
        live_common::source(
            "dahua",
            &format!(
                "url = {:?}\nusername = \"admin\"\npassword = \"wrong\"",
                server.url()
            ),
        ),
    )]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = f.collect_until(Duration::from_millis(100), |_| false).await;
    assert!(f.events.is_empty());
    assert!(!f.health["dahua"].is_up());
    let err = f.health["dahua"].last_error().unwrap_or_default();
    assert!(err.contains("401"), "{err}");
    let r = f.counter("dahua", "reconnects");
    // Backoff 0.5 s doubling: a few attempts in 3 s, not hundreds.
    assert!((1..=5).contains(&r), "{r} reconnects in 3 s");
    f.stop().await;
}

/// A server that answers 200 with a multipart head, then sends broken parts and junk.
async fn garbage_server() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let t = tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
                    )
                    .await;
                let _ = s.write_all(b"--b\r\nContent-Length: zz\r\n\r\n\x00\xff--b\r\nContent-Length: 99999999999\r\n\r\njunk").await;
                let _ = s.write_all(&vec![0xa5u8; 2 << 20]).await;
                // A good part after all that.
                let body = b"Code=FaceRecognition;action=Start;index=0";
                let _ = s
                    .write_all(
                        format!(
                            "--b\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                let _ = s.write_all(body).await;
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    (port, t)
}

/// A server that accepts and never answers.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let t = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (port, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_feeds_do_not_stall_a_healthy_one() {
    let mut opts = EventServerOptions::demo(Vendor::Dahua);
    opts.interval = Duration::from_millis(50);
    let good = EventServer::start(Vendor::Dahua, opts.clone())
        .await
        .unwrap();
    let (gport, _g) = garbage_server().await;
    let (sport, _s) = silent_server().await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut f = live_common::start(vec![
        ("good".into(), None, good.feed(&opts).unwrap()),
        (
            "garbage".into(),
            None,
            live_common::source("hikvision", &format!("url = \"http://127.0.0.1:{gport}/\"")),
        ),
        (
            "silent".into(),
            None,
            live_common::source("dahua", &format!("url = \"http://127.0.0.1:{sport}/\"")),
        ),
        (
            "refused".into(),
            None,
            live_common::source(
                "hikvision",
                &format!("url = \"http://127.0.0.1:{closed}/\""),
            ),
        ),
        (
            "nofile".into(),
            None,
            live_common::source("eve", "path = \"/nonexistent/eve.json\""),
        ),
        (
            "badrtsp".into(),
            None,
            live_common::source("rtsp", &format!("url = \"rtsp://127.0.0.1:{closed}/x\"")),
        ),
    ]);
    // A pipeline template that does not exist is refused when the feed is built (the config
    // does not load), not found out at run time.
    let mut t = toml::Table::new();
    t.insert("url".into(), format!("rtsp://127.0.0.1:{closed}/x").into());
    t.insert("pipeline".into(), "no-such-template".into());
    let e = banwatch::sources::live::registry::build("rtsp", t).unwrap_err();
    assert!(e.contains("no-such-template"), "{e}");
    let ok = f
        .collect_until(Duration::from_secs(20), |f| {
            f.count("good", "dahua", "code", "FaceDetection") >= 15
                && f.has("garbage", "dahua", "code", "FaceRecognition")
                && ["refused", "badrtsp"]
                    .iter()
                    .all(|b| f.health[*b].last_error().is_some())
        })
        .await;
    assert!(
        ok,
        "healthy feed stalled or garbage feed never resynced: {:?}",
        f.seen.keys().collect::<Vec<_>>()
    );
    assert!(
        f.counter("garbage", "decode_errors") >= 2,
        "{}",
        f.counter("garbage", "decode_errors")
    );
    for bad in ["refused", "badrtsp"] {
        assert!(!f.health[bad].is_up(), "{bad}");
        assert!(f.health[bad].last_error().is_some(), "{bad}");
    }
    assert!(!f.health["silent"].is_up());
    assert!(f.health["good"].is_up());
    f.stop().await;
}
