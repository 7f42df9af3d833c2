//! Loopback ports for services a test starts as processes.
//!
//! A port from `bind(127.0.0.1:0)` is in the kernel's ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`): once the probe socket closes, the same port can
//! be handed to another test's `bind(0)` (the demo network binds dozens) or taken as the source
//! port of an outgoing connection before the process under test binds it, and that process
//! then fails to start or a test talks to the wrong server. So ports come from just below that
//! range, which the kernel never hands out on its own, and none is given twice in one test
//! process.

use std::sync::atomic::{AtomicU32, Ordering};

/// A free port on 127.0.0.1 below the ephemeral range, never the same twice in this process.
///
/// Panics when none is free (a test helper: the test fails naming the reason).
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = below_ephemeral();
    let span = u32::from(high - low);
    // Start where another test process (sequential test binaries) most likely did not.
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = low + u16::try_from((start + n) % span).expect("span fits a port");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}

/// `[low, high)`: the 12,000 ports below the ephemeral range's low end, or a fixed band when
/// that range starts too low to leave room.
fn below_ephemeral() -> (u16, u16) {
    let low_end = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if low_end >= 14_000 {
        (low_end - 12_000, low_end)
    } else {
        (2_000, low_end.max(2_100))
    }
}
