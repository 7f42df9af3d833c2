//! Load for the event-stream capacity benchmark (`scripts/bench-events-capacity.sh`).
//!
//! ```text
//! mqtt_load publish PORT N SECS RATE   # RATE Frigate face results a second on each of N topics
//! mqtt_load subscribe PORT N SECS      # the floor: N bare MQTT subscribers, one per topic
//! ```
//!
//! Topics are `frigate/cam<i>/tracked_object_update`, as the benchmark's feeds subscribe.
//! `subscribe` prints `{"clients":N,"messages":M}` when SECS have passed.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or_else(|| {
        eprintln!("usage: mqtt_load publish PORT N SECS RATE | subscribe PORT N SECS ({what})");
        std::process::exit(2)
    })
}

fn topic(i: usize) -> String {
    format!("frigate/cam{i}/tracked_object_update")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).cloned().unwrap_or_default();
    let port: u16 = arg(&args, 2, "PORT");
    let n: usize = arg(&args, 3, "N");
    let secs: u64 = arg(&args, 4, "SECS");
    match mode.as_str() {
        "publish" => {
            let rate: f64 = arg(&args, 5, "RATE");
            let mut opts = MqttOptions::new("bench-publisher", "127.0.0.1", port);
            opts.set_keep_alive(Duration::from_secs(30));
            let (client, mut ev) = AsyncClient::new(opts, 10_000);
            tokio::spawn(async move { while ev.poll().await.is_ok() {} });
            // One round over every topic each 1/RATE s.
            let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
            let end = tokio::time::Instant::now() + Duration::from_secs(secs);
            let mut tick = tokio::time::interval(period);
            let mut seq = 0u64;
            while tokio::time::Instant::now() < end {
                tick.tick().await;
                for i in 0..n {
                    seq += 1;
                    let body = format!(
                        r#"{{"type": "face", "id": "{seq}", "name": "Bench Person", "score": 0.9, "camera": "cam{i}", "timestamp": {seq}}}"#
                    );
                    if client
                        .publish(topic(i), QoS::AtMostOnce, false, body)
                        .await
                        .is_err()
                    {
                        eprintln!("mqtt_load: the broker went away");
                        return;
                    }
                }
            }
            let _ = client.disconnect().await;
        }
        "subscribe" => {
            let count = Arc::new(AtomicU64::new(0));
            for i in 0..n {
                let mut opts = MqttOptions::new(format!("bench-sub-{i}"), "127.0.0.1", port);
                opts.set_keep_alive(Duration::from_secs(30));
                let (client, mut ev) = AsyncClient::new(opts, 64);
                let c = count.clone();
                tokio::spawn(async move {
                    let _ = client.subscribe(topic(i), QoS::AtMostOnce).await;
                    loop {
                        match ev.poll().await {
                            Ok(Event::Incoming(Packet::Publish(p))) => {
                                // Touch the payload as a decoder would, no more.
                                c.fetch_add(u64::from(!p.payload.is_empty()), Ordering::Relaxed);
                            }
                            Ok(_) => {}
                            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                        }
                    }
                });
            }
            tokio::time::sleep(Duration::from_secs(secs)).await;
            println!(
                "{{\"clients\":{n},\"messages\":{}}}",
                count.load(Ordering::Relaxed)
            );
        }
        _ => {
            eprintln!("usage: mqtt_load publish PORT N SECS RATE | subscribe PORT N SECS");
            std::process::exit(2)
        }
    }
}
