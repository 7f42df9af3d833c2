//! Live capture with libpcap on the loopback interface, of traffic the test itself sends to
//! 127.0.0.1. Needs libpcap (Debian `libpcap0.8`) and the right to capture (root or
//! CAP_NET_RAW): the test fails, naming what is missing, rather than skipping.

mod live_common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_loopback_traffic() {
    let mut f = live_common::start(vec![(
        "lo".into(),
        None,
        live_common::source("capture", "interface = \"lo\""),
    )]);
    let up = f
        .collect_until(Duration::from_secs(5), |f| f.health["lo"].is_up())
        .await;
    assert!(
        up,
        "capture on lo did not start ({:?}): run as root or grant CAP_NET_RAW; needs libpcap0.8",
        f.health["lo"].last_error()
    );
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = [0x42u8; 300];
    let before = f.counter("lo", "messages");
    for _ in 0..50 {
        sock.send_to(&payload, target.local_addr().unwrap())
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ok = f
        .collect_until(Duration::from_secs(5), |f| {
            f.counter("lo", "messages") >= before + 50
        })
        .await;
    assert!(
        ok,
        "captured {} packets of 50",
        f.counter("lo", "messages") - before
    );
    // Whatever the flow engine extracts from loopback traffic is tied to loopback flows.
    for o in f.events.iter().flat_map(|e| e.observations.iter()) {
        if let Some(fl) = o.flow {
            assert!(
                fl.client.ip().is_loopback() && fl.server.ip().is_loopback(),
                "{o:?}"
            );
        }
    }
    // Shutdown is seen within the libpcap read timeout.
    let t = std::time::Instant::now();
    f.stop().await;
    assert!(t.elapsed() < Duration::from_secs(3));
}
