//! Live capture on an interface with libpcap, feeding the same flow engine as pcap files
//! (`decode::flow::Decoder`). Capturing runs on a blocking thread. The capture is non-blocking
//! and waits for packets with `poll(2)` bounded by [`TIMEOUT_MS`], so a quiet interface still
//! sees shutdown and deadlines within a fraction of a second: libpcap's own read timeout is not
//! honoured on every kernel (with immediate mode on a quiet interface a read can block forever).

pub mod record;

use super::context::{is_stopping, reconnect_loop, SourceContext, SourceError};
use super::source::{settings, LiveSource, RunFuture, SourceKind};
use crate::decode::flow::{Decoder, DecoderConfig};
use serde::Deserialize;
use std::sync::Arc;

/// The longest wait for a packet, and so the longest shutdown or deadline delay (ms).
pub(crate) const TIMEOUT_MS: i32 = 200;

/// Open `interface` for capture: promiscuous, whole packets, immediate delivery, non-blocking.
/// Errors name the interface (no such device; no permission: root or CAP_NET_RAW).
pub(crate) fn open(interface: &str) -> Result<::pcap::Capture<::pcap::Active>, SourceError> {
    ::pcap::Capture::from_device(interface)
        .and_then(|c| {
            c.promisc(true)
                .snaplen(65_535)
                .immediate_mode(true)
                .timeout(TIMEOUT_MS)
                .open()
        })
        .and_then(|c| c.setnonblock())
        .map_err(|e| SourceError::Connect(format!("{interface}: {e}")))
}

/// Wait until `cap` has packets to read or [`TIMEOUT_MS`] passes (`poll(2)` on its descriptor).
/// An interrupted or failed poll just returns: the caller reads again, which reports real errors.
pub(crate) fn wait_readable(cap: &::pcap::Capture<::pcap::Active>) {
    use std::os::fd::AsRawFd;
    let mut fd = libc::pollfd {
        fd: cap.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call; the descriptor is owned by `cap`,
    // which outlives it.
    unsafe {
        libc::poll(&mut fd, 1, TIMEOUT_MS);
    }
}

/// Live capture on a network interface (a mirror/SPAN port of the camera network).
///
/// ```toml
/// [[feed]]
/// id = "camera-vlan"
/// kind = "capture"
/// interface = "eth1"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// Interface name as libpcap knows it.
    pub interface: String,
}

/// The registry entry.
pub const KIND: SourceKind = SourceKind {
    name: "capture",
    description: "Live capture with libpcap through the same flow engine as pcap files",
    build: |t| {
        let c: Capture = settings(t)?;
        if c.interface.is_empty() {
            return Err("interface: empty".into());
        }
        Ok(Arc::new(c))
    },
};

impl LiveSource for Capture {
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn endpoint(&self) -> String {
        format!("interface {}", self.interface)
    }
    fn run(self: Arc<Self>, ctx: SourceContext) -> RunFuture {
        Box::pin(async move { run(self.interface.clone(), &ctx).await })
    }
}

async fn run(interface: String, ctx: &SourceContext) {
    reconnect_loop(ctx, |_| {
        let iface = interface.clone();
        let handle = ctx.clone_handle();
        async move {
            // A dedicated thread (libpcap blocks in its read timeout); its result comes back
            // through a oneshot so the runtime never waits on it.
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name(format!("capture-{iface}"))
                .spawn(move || {
                    let _ = done_tx.send(capture(&iface, &handle));
                })
                .map_err(SourceError::Io)?;
            done_rx
                .await
                .map_err(|_| SourceError::Protocol("capture thread ended".into()))?
        }
    })
    .await
}

fn capture(interface: &str, ctx: &SourceContext) -> Result<(), SourceError> {
    let mut cap = open(interface)?;
    let linktype = cap.get_datalink().0 as u32;
    let mut decoder = Decoder::new(DecoderConfig::default()).demanding(ctx.demand.clone());
    let mut out = Vec::new();
    ctx.health.set_up(true);
    loop {
        if is_stopping(&ctx.shutdown) {
            return Ok(());
        }
        match cap.next_packet() {
            Ok(p) => {
                let ts = p.header.ts.tv_sec as f64 + p.header.ts.tv_usec as f64 / 1e6;
                decoder.packet(ts, linktype, p.data, &mut out);
                let obs = std::mem::take(&mut out);
                ctx.deliver_blocking(p.data.len(), obs)?;
            }
            Err(::pcap::Error::TimeoutExpired) => wait_readable(&cap),
            Err(e) => return Err(SourceError::Connect(format!("{interface}: {e}"))),
        }
    }
}
