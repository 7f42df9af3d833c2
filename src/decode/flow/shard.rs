//! What spreading flows over several engines needs from the engine: which worker owns a frame's
//! flow, and one order for flows closed at the same moment.

use super::{ip, link, Key};
use std::net::IpAddr;

/// Where a flow closed by a sweep or at the end of input falls among the flows closed at the
/// same moment: by the capture time of its last packet, then by its addresses. Closing in
/// this order, rather than the flow table's, makes the output the same however the flows are
/// spread over workers.
#[derive(Debug, Clone, Copy)]
pub struct CloseOrder {
    pub(super) last_ts: f64,
    pub(super) key: Key,
}

impl PartialEq for CloseOrder {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o).is_eq()
    }
}
impl Eq for CloseOrder {}
impl PartialOrd for CloseOrder {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for CloseOrder {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.last_ts
            .total_cmp(&o.last_ts)
            .then_with(|| self.key.cmp(&o.key))
    }
}

/// Seconds of capture time between sweeps for idle flows: the engine sweeps after a packet
/// that comes more than this after the last sweep.
pub const SWEEP_INTERVAL: f64 = 30.0;

/// Where the flow-table marks closed flows' observations: (order, end of the flow's
/// observations in `out`), one entry per closed flow.
pub type CloseMarks = Vec<(CloseOrder, usize)>;

/// Which of `n` workers a frame's flow belongs to: a hash of its two (address, port) ends
/// taken in either order, so both directions of a flow meet in one worker, as in Suricata's
/// workers mode. Frames without a transport header of their own (non-IP, non-first
/// fragments, malformed) go to worker 0, which counts them. A tunnel's inner flows follow
/// the tunnel's outer flow.
pub fn worker_of(linktype: u32, data: &[u8], n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let ends = if linktype == 1 {
        ethernet_ipv4_ends(data)
    } else {
        None
    };
    let Some((a, b)) = ends.or_else(|| transport_ends(linktype, data)) else {
        return 0;
    };
    // Symmetric: the two ends' hashes added. The high bits of the product are the mixed ones.
    let h = end_hash(a).wrapping_add(end_hash(b));
    ((h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % n as u64) as usize
}

fn end_hash((ip, port): (IpAddr, u16)) -> u64 {
    let ip = match ip {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    };
    let x = (ip as u64) ^ ((ip >> 64) as u64).rotate_left(17) ^ (u64::from(port) << 48);
    x.wrapping_mul(0xff51_afd7_ed55_8ccd) ^ (x >> 29)
}

/// The two (address, port) ends of a frame's TCP or UDP header, through the full decoders.
fn transport_ends(linktype: u32, data: &[u8]) -> Option<((IpAddr, u16), (IpAddr, u16))> {
    let f = link::decode(linktype, data).ok()?;
    let pkt = ip::decode(f.ip, f.payload).ok()?;
    let (sport, dport) = match pkt.proto {
        6 => ip::tcp(pkt.payload).ok().map(|t| (t.sport, t.dport)),
        17 => ip::udp(pkt.payload).ok().map(|u| (u.sport, u.dport)),
        _ => None,
    }?;
    Some(((pkt.src, sport), (pkt.dst, dport)))
}

/// The same for the common frame (Ethernet, up to two VLAN tags, IPv4 not a later fragment,
/// TCP or UDP), read in place: the reader does this for every frame. `None` sends the frame
/// to [`transport_ends`], which gives the same ends for the same flow.
fn ethernet_ipv4_ends(d: &[u8]) -> Option<((IpAddr, u16), (IpAddr, u16))> {
    let be16 = |at: usize| Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]));
    let mut at = 12;
    let mut ethertype = be16(at)?;
    for _ in 0..2 {
        if ethertype != 0x8100 && ethertype != 0x88a8 {
            break;
        }
        at += 4;
        ethertype = be16(at)?;
    }
    if ethertype != 0x0800 {
        return None;
    }
    let ip = at + 2;
    let vihl = *d.get(ip)?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < 20 || be16(ip + 6)? & 0x1fff != 0 {
        return None;
    }
    if !matches!(d.get(ip + 9)?, 6 | 17) {
        return None;
    }
    let addr = |at: usize| -> Option<IpAddr> {
        let b = d.get(at..at + 4)?;
        Some(IpAddr::from([b[0], b[1], b[2], b[3]]))
    };
    let t = ip + ihl;
    Some(((addr(ip + 12)?, be16(t)?), (addr(ip + 16)?, be16(t + 2)?)))
}
